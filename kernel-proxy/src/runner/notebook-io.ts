import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NotebookSchema, rejoinLines, serializeNotebook, type Notebook } from '../jupyter/nbformat.js';

type Json = Notebook['cells'][number][string];
export type NotebookCell = Notebook['cells'][number];

/** papermill's tags: the cell holding the defaults, and the cell a run adds after it with the overrides. */
export const PARAMETERS_TAG = 'parameters';
export const INJECTED_TAG = 'injected-parameters';

/** A notebook that cannot be read: the message names the file and what is wrong. */
export class NotebookFileError extends Error {}

/** Reads an nbformat 4 notebook, with multi-line strings joined (as the contents API does). */
export async function readNotebookFile(file: string): Promise<Notebook> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new NotebookFileError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseNotebookText(text, file);
}

export function parseNotebookText(text: string, name: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new NotebookFileError(`${name} is not a notebook (invalid JSON: ${(error as Error).message})`);
  }
  const parsed = NotebookSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NotebookFileError(`${name} is not a notebook: ${issue.path.join('.') || 'document'}: ${issue.message}`);
  }
  if (parsed.data.nbformat !== 4) throw new NotebookFileError(`${name}: nbformat ${parsed.data.nbformat} is not supported (only 4)`);
  return rejoinLines(raw as Notebook);
}

/**
 * Writes a notebook the way the contents API saves it (sorted keys, one-space indent, lines split),
 * so a notebook saved from JupyterLab and one written by `chlab run` diff cleanly. Atomic: a crash
 * never leaves half a notebook.
 */
export async function writeNotebookFile(file: string, nb: Notebook): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(temp, serializeNotebook(nb), 'utf8');
  await rename(temp, file);
}

export function cellSource(cell: NotebookCell): string {
  const source = cell.source;
  return Array.isArray(source) ? source.join('') : typeof source === 'string' ? source : '';
}

export function cellTags(cell: NotebookCell): string[] {
  const metadata = cell.metadata;
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return [];
  const tags = (metadata as Record<string, Json>).tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/**
 * Removes every output and execution count, the cells `chlab run -p` injected (tag `injected-parameters`)
 * and per-run UI state: what is left diffs only when the code does.
 */
export function clearOutputs(nb: Notebook): { notebook: Notebook; cleared: number } {
  const copy = structuredClone(nb);
  let cleared = 0;
  copy.cells = copy.cells.filter((cell) => {
    const injected = cellTags(cell).includes(INJECTED_TAG);
    if (injected) cleared++;
    return !injected;
  });
  for (const cell of copy.cells) {
    if (cell.cell_type !== 'code') continue;
    if ((Array.isArray(cell.outputs) && cell.outputs.length > 0) || (cell.execution_count !== null && cell.execution_count !== undefined)) cleared++;
    cell.outputs = [];
    cell.execution_count = null;
    const metadata = cell.metadata;
    if (metadata && typeof metadata === 'object' && !Array.isArray(metadata)) {
      delete metadata.execution;
      delete metadata.collapsed;
      delete metadata.scrolled;
    }
  }
  return { notebook: copy, cleared };
}
