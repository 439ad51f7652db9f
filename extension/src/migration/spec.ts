/**
 * The `%%migrate` cell source: a magic line, then the migration spec in YAML
 * (docs/contracts/migration.md). Edits go through the `yaml` Document API so that
 * comments, key order and formatting of untouched parts survive.
 */
import { type Document, isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';

import { asNullHandling, asObject, asString, type NullHandling } from './types.js';

export const MIGRATE_MAGIC = '%%migrate';

/** The keys of one entry under `columns:`. */
export type OverrideKey = 'rename' | 'type' | 'transform' | 'skip' | 'nulls';
/** In the order the kernel writes them (kernel-proxy/src/migration/spec.ts COLUMN_ORDER). */
export const OVERRIDE_KEYS: readonly OverrideKey[] = ['rename', 'type', 'transform', 'nulls', 'skip'];

export interface ColumnOverride {
  rename?: string;
  type?: string;
  transform?: string;
  skip?: boolean;
  nulls?: NullHandling;
}

export type OverrideValue = string | boolean;

/** Table options the widget edits, under `options:`. */
export type OptionKey = 'order_by' | 'partition_by';

export interface CellSource {
  /** Text before the magic line (normally empty). */
  prefix: string;
  /** The `%%migrate …` line without its newline. */
  magicLine: string;
  /** The words after `%%migrate`. */
  args: string[];
  /** The YAML after the magic line. */
  body: string;
}

const MAGIC_LINE = /^(\s*)(%%migrate\b[^\n]*)(?:\n|$)/;

/** Splits a cell source; undefined when it is not a `%%migrate` cell. */
export function splitCellSource(source: string): CellSource | undefined {
  const match = MAGIC_LINE.exec(source);
  if (!match) {
    return undefined;
  }
  const magicLine = match[2].replace(/\s+$/, '');
  return {
    prefix: match[1],
    magicLine,
    args: magicLine.slice(MIGRATE_MAGIC.length).trim().split(/\s+/).filter(Boolean),
    body: source.slice(match[0].length)
  };
}

export function joinCellSource(parts: CellSource): string {
  return `${parts.prefix}${parts.magicLine}\n${parts.body}`;
}

/** The magic line for running: `%%migrate run`, keeping `--rerun` and other flags of a run line. */
export function runMagicLine(magicLine: string): string {
  const args = magicLine.slice(MIGRATE_MAGIC.length).trim().split(/\s+/).filter(Boolean);
  if (args[0] === 'run') {
    return [MIGRATE_MAGIC, ...args].join(' ');
  }
  return `${MIGRATE_MAGIC} run`;
}

/** The cell source with its magic line switched to `run`; other cells come back unchanged. */
export function withRunMagic(source: string): string {
  const parts = splitCellSource(source);
  if (!parts) {
    return source;
  }
  return joinCellSource({ ...parts, magicLine: runMagicLine(parts.magicLine) });
}

export class SpecSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecSyntaxError';
  }
}

function parseBody(body: string): Document {
  const doc = parseDocument(body, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    throw new SpecSyntaxError(doc.errors[0].message.split('\n')[0]);
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new SpecSyntaxError('the migration spec must be a YAML mapping (key: value lines)');
  }
  return doc;
}

/** The spec as plain data (`{}` for an empty body). Throws SpecSyntaxError for invalid YAML. */
export function readSpec(source: string): Record<string, unknown> {
  const parts = splitCellSource(source);
  if (!parts) {
    throw new SpecSyntaxError('the cell does not start with %%migrate');
  }
  return asObject(parseBody(parts.body).toJS());
}

function readOverride(raw: unknown): ColumnOverride {
  const entry = asObject(raw);
  const override: ColumnOverride = {};
  const rename = asString(entry.rename);
  const type = asString(entry.type);
  const transform = entry.transform === null ? '' : asString(entry.transform);
  const nulls = asNullHandling(entry.nulls);
  if (rename !== undefined) override.rename = rename;
  if (type !== undefined) override.type = type;
  if (transform !== undefined) override.transform = transform;
  if (typeof entry.skip === 'boolean') override.skip = entry.skip;
  if (nulls !== undefined) override.nulls = nulls;
  return override;
}

/** `columns:` of a spec object, by source field. */
export function readOverrides(spec: Record<string, unknown>): Record<string, ColumnOverride> {
  const columns = asObject(spec.columns);
  const overrides: Record<string, ColumnOverride> = {};
  for (const [field, entry] of Object.entries(columns)) {
    overrides[field] = readOverride(entry);
  }
  return overrides;
}

/** `options.order_by` as a list (a string is split at top-level commas by the caller), or undefined. */
export function readOption(spec: Record<string, unknown>, key: OptionKey): unknown {
  return asObject(spec.options)[key];
}

function printBody(doc: Document): string {
  const empty = doc.contents === null || (isMap(doc.contents) && doc.contents.items.length === 0 && !doc.commentBefore && !doc.comment);
  return empty ? '' : doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}

function rewriteBody(source: string, edit: (doc: Document) => void): string {
  const parts = splitCellSource(source);
  if (!parts) {
    throw new SpecSyntaxError('the cell does not start with %%migrate');
  }
  const doc = parseBody(parts.body);
  const before = printBody(doc);
  edit(doc);
  let body = keepUntouchedLines(parts.body, before, printBody(doc));
  // Keep the cell's own ending: the yaml printer always ends with a newline.
  if (!parts.body.endsWith('\n')) {
    body = body.replace(/\n+$/, '');
  }
  return joinCellSource({ ...parts, body });
}

/**
 * The yaml printer normalizes what it prints (spaces before comments, quoting). Lines the edit did not
 * touch keep the user's text: the printed document before and after the edit are compared line by
 * line, and the changed lines are patched into the original text. When the printer changed the line
 * structure itself (so lines cannot be matched), the printed result is used as is.
 */
export function keepUntouchedLines(original: string, printedBefore: string, printedAfter: string): string {
  const originalLines = splitLines(original);
  const beforeLines = splitLines(printedBefore);
  const afterLines = splitLines(printedAfter);
  if (originalLines.length !== beforeLines.length) {
    return printedAfter;
  }
  const out: string[] = [];
  for (const step of diffLines(beforeLines, afterLines)) {
    if (step.kind === 'same') {
      out.push(originalLines[step.before]);
    } else if (step.kind === 'add') {
      out.push(afterLines[step.after]);
    }
  }
  return out.join('\n') + (printedAfter.endsWith('\n') || printedAfter === '' ? (out.length > 0 ? '\n' : '') : '');
}

function splitLines(text: string): string[] {
  if (text === '') {
    return [];
  }
  return text.replace(/\n$/, '').split('\n');
}

type DiffStep = { kind: 'same'; before: number; after: number } | { kind: 'add'; after: number } | { kind: 'remove'; before: number };

/** A longest-common-subsequence line diff (specs are small). */
function diffLines(a: string[], b: string[]): DiffStep[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const steps: DiffStep[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      steps.push({ kind: 'same', before: i++, after: j++ });
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      steps.push({ kind: 'add', after: j++ });
    } else {
      steps.push({ kind: 'remove', before: i++ });
    }
  }
  return steps;
}

function mapAt(doc: Document, path: string[]): YAMLMap | undefined {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  return isMap(node) ? node : undefined;
}

/** Removes the map at `path` if it has no entries left, then its parents likewise. */
function pruneEmpty(doc: Document, path: string[]): void {
  for (let depth = path.length; depth > 0; depth--) {
    const at = path.slice(0, depth);
    const node = mapAt(doc, at);
    if (node && node.items.length === 0) {
      doc.deleteIn(at);
    } else {
      break;
    }
  }
}

/**
 * Sets (`value` given) or removes (`undefined`) one override of one column under `columns:`.
 * A new column entry is written as a flow map (`email: { rename: user_email }`).
 */
export function setColumnOverride(
  source: string,
  field: string,
  key: OverrideKey,
  value: OverrideValue | undefined
): string {
  return rewriteBody(source, doc => {
    if (value === undefined) {
      if (doc.hasIn(['columns', field, key])) {
        doc.deleteIn(['columns', field, key]);
        pruneEmpty(doc, ['columns', field]);
      }
      return;
    }
    const columns = doc.getIn(['columns'], true);
    if (columns !== undefined && columns !== null && !isMap(columns)) {
      // `columns:` with nothing after it parses as null: replace it with a mapping.
      if (!(isScalar(columns) && columns.value === null)) {
        throw new SpecSyntaxError('`columns:` must be a mapping of source field → overrides');
      }
      doc.setIn(['columns'], doc.createNode({}));
    }
    const entry = doc.getIn(['columns', field], true);
    if (isMap(entry)) {
      if (entry.has(key)) {
        entry.set(key, value);
      } else {
        // New keys go where the kernel's canonical order puts them: rename, type, transform, nulls, skip.
        const rank = (name: unknown) => {
          const index = OVERRIDE_KEYS.indexOf(String(isScalar(name) ? name.value : name) as OverrideKey);
          return index < 0 ? OVERRIDE_KEYS.length : index;
        };
        const at = entry.items.findIndex(pair => rank(pair.key) > rank(key));
        const pair = doc.createPair(key, value);
        entry.items.splice(at < 0 ? entry.items.length : at, 0, pair as (typeof entry.items)[number]);
      }
    } else {
      doc.setIn(['columns', field], doc.createNode({ [key]: value }, { flow: true }));
    }
  });
}

/**
 * Sets or removes `options.order_by` (a list, written in flow style) or `options.partition_by`.
 */
export function setOption(source: string, key: OptionKey, value: string | string[] | undefined): string {
  return rewriteBody(source, doc => {
    if (value === undefined) {
      if (doc.hasIn(['options', key])) {
        doc.deleteIn(['options', key]);
        pruneEmpty(doc, ['options']);
      }
      return;
    }
    const options = doc.getIn(['options'], true);
    if (options !== undefined && options !== null && !isMap(options)) {
      if (!(isScalar(options) && options.value === null)) {
        throw new SpecSyntaxError('`options:` must be a mapping');
      }
      doc.setIn(['options'], doc.createNode({}));
    }
    const existing = doc.getIn(['options', key], true);
    if (Array.isArray(value)) {
      const node = doc.createNode(value, { flow: !isSeq(existing) || existing.flow === true });
      doc.setIn(['options', key], node);
    } else {
      doc.setIn(['options', key], value);
    }
  });
}
