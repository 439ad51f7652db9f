import { z } from 'zod';
import { badRequest } from './http.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const NotebookSchema = z.looseObject({
  nbformat: z.number().int(),
  nbformat_minor: z.number().int(),
  metadata: z.record(z.string(), z.unknown()),
  cells: z.array(
    z.looseObject({
      cell_type: z.string(),
      source: z.union([z.string(), z.array(z.string())]),
      metadata: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});

export interface Notebook extends JsonObject {
  nbformat: number;
  nbformat_minor: number;
  metadata: JsonObject;
  cells: JsonObject[];
}

const NON_TEXT_SPLIT_MIMES = new Set(['application/javascript', 'image/svg+xml']);
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

const isJsonMime = (mime: string) => mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (const match of text.matchAll(LINE_BREAK)) {
    const end = match.index + match[0].length;
    lines.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function rejoinBundle(bundle: Json | undefined): void {
  if (!isObject(bundle)) return;
  for (const [mime, value] of Object.entries(bundle)) {
    if (!isJsonMime(mime) && Array.isArray(value) && value.every((line) => typeof line === 'string')) {
      bundle[mime] = value.join('');
    }
  }
}

function splitBundle(bundle: Json | undefined): void {
  if (!isObject(bundle)) return;
  for (const [mime, value] of Object.entries(bundle)) {
    if (typeof value === 'string' && (mime.startsWith('text/') || NON_TEXT_SPLIT_MIMES.has(mime))) {
      bundle[mime] = splitLines(value);
    }
  }
}

function eachCell(nb: Notebook, visit: (cell: JsonObject) => void): void {
  for (const cell of nb.cells) if (isObject(cell)) visit(cell);
}

function eachOutput(cell: JsonObject, visit: (output: JsonObject) => void): void {
  if (cell.cell_type !== 'code' || !Array.isArray(cell.outputs)) return;
  for (const output of cell.outputs) if (isObject(output)) visit(output);
}

function eachAttachment(cell: JsonObject, visit: (bundle: Json) => void): void {
  if (isObject(cell.attachments)) for (const bundle of Object.values(cell.attachments)) visit(bundle);
}

export function rejoinLines(nb: Notebook): Notebook {
  eachCell(nb, (cell) => {
    if (Array.isArray(cell.source)) cell.source = cell.source.join('');
    eachAttachment(cell, rejoinBundle);
    eachOutput(cell, (output) => {
      if (output.output_type === 'stream' && Array.isArray(output.text)) output.text = output.text.join('');
      else rejoinBundle(output.data);
    });
  });
  return nb;
}

function splitNotebookLines(nb: Notebook): Notebook {
  eachCell(nb, (cell) => {
    if (typeof cell.source === 'string') cell.source = splitLines(cell.source);
    eachAttachment(cell, splitBundle);
    eachOutput(cell, (output) => {
      if (output.output_type === 'stream' && typeof output.text === 'string') output.text = splitLines(output.text);
      else if (output.output_type === 'execute_result' || output.output_type === 'display_data') splitBundle(output.data);
    });
  });
  return nb;
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  const sorted: JsonObject = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key]!);
  return sorted;
}

export function parseNotebook(text: string, apiPath: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw badRequest(`Unreadable Notebook: ${apiPath} ${(err as Error).message}`);
  }
  const result = NotebookSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw badRequest(`Unreadable Notebook: ${apiPath} ${issue.path.join('.')}: ${issue.message}`);
  }
  if (result.data.nbformat !== 4) {
    throw badRequest(`Unreadable Notebook: ${apiPath} nbformat ${result.data.nbformat} is not supported (only 4)`);
  }
  return rejoinLines(raw as Notebook);
}

export function stripTransient(nb: Notebook): Notebook {
  const copy = structuredClone(nb);
  delete copy.metadata.orig_nbformat;
  delete copy.metadata.orig_nbformat_minor;
  delete copy.metadata.signature;
  eachCell(copy, (cell) => {
    if (isObject(cell.metadata)) delete cell.metadata.trusted;
  });
  return copy;
}

export function serializeNotebook(nb: Notebook): string {
  return `${JSON.stringify(sortKeys(splitNotebookLines(stripTransient(nb))), null, 1)}\n`;
}

export function newNotebook(): Notebook {
  return { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
}

export function allCellsTrusted(nb: Notebook): boolean {
  let trusted = true;
  eachCell(nb, (cell) => {
    if (cell.cell_type !== 'code') return;
    if (isObject(cell.metadata) && cell.metadata.trusted === true) return;
    eachOutput(cell, (output) => {
      if (output.output_type !== 'execute_result' && output.output_type !== 'display_data') return;
      const unsafe = Object.keys(output).some((key) => !['output_type', 'execution_count', 'metadata'].includes(key));
      if (unsafe) trusted = false;
    });
  });
  return trusted;
}

export function markCells(nb: Notebook, trusted: boolean): Notebook {
  eachCell(nb, (cell) => {
    if (cell.cell_type !== 'code') return;
    if (!isObject(cell.metadata)) cell.metadata = {};
    (cell.metadata as JsonObject).trusted = trusted;
  });
  return nb;
}
