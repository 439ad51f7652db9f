import { splitStatements } from '../clickhouse/sql-split.js';
import type { Notebook } from '../jupyter/nbformat.js';
import { cellSource, cellTags, INJECTED_TAG, PARAMETERS_TAG, type NotebookCell } from './notebook-io.js';

/**
 * Notebook parameters are ClickHouse query parameters.
 *
 * The cell tagged `parameters` (as in papermill) is an ordinary SQL cell of `SET param_<name> = <value>`
 * statements; later cells use `{name:Type}` placeholders, which ClickHouse binds and type-checks
 * (`{start:Date}`, `{ids:Array(UInt32)}`, `{table:Identifier}`). `chlab run -p name=value` inserts a cell
 * tagged `injected-parameters` right after it that sets the overrides, so the executed notebook shows
 * what it ran with, and the notebook still runs cell by cell in the browser with its defaults.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SET_PARAM = /^SET\s+param_([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([\s\S]+?)\s*$/i;

export class ParameterError extends Error {}

export interface ParameterDefault {
  name: string;
  /** The value as written in the cell (a SQL literal). */
  literal: string;
}

/** Parses `name=value` (from `-p name=value`). */
export function parseAssignment(text: string): { name: string; value: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ParameterError(`-p expects name=value, got "${text}"`);
  const name = text.slice(0, eq).trim();
  if (!NAME.test(name)) throw new ParameterError(`-p ${text}: "${name}" is not a parameter name (letters, digits and _, not starting with a digit)`);
  return { name, value: text.slice(eq + 1) };
}

/** The `SET param_x = …` statements of a parameters cell, in order; comments and blank lines ignored. */
export function parameterDefaults(source: string): ParameterDefault[] {
  const defaults: ParameterDefault[] = [];
  for (const statement of splitStatements(source)) {
    const match = SET_PARAM.exec(stripComments(statement));
    if (match) defaults.push({ name: match[1]!, literal: match[2]! });
  }
  return defaults;
}

function stripComments(sql: string): string {
  return sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
    .trim();
}

/**
 * A query parameter's value as a SQL string literal for `SET param_x = …`. ClickHouse reads a parameter's
 * text in its escaped format (`\t`, `\n`, `\\`), so the value is escaped for that first, then quoted.
 */
export function parameterLiteral(value: string): string {
  const escaped = value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `'${escaped.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function injectedSource(values: ReadonlyMap<string, string>): string {
  const lines = ['-- Parameters injected by chlab run (-p)'];
  for (const [name, value] of values) lines.push(`SET param_${name} = ${parameterLiteral(value)};`);
  return lines.join('\n');
}

export interface ParameterPlan {
  notebook: Notebook;
  /** Index of the parameters cell, if the notebook has one. */
  parametersCell?: number;
  /** Index of the injected cell, if one was added. */
  injectedCell?: number;
  defaults: ParameterDefault[];
  /** Overrides naming no default of the parameters cell (a typo, or a parameter the notebook does not declare). */
  unknown: string[];
}

/**
 * Applies `-p` overrides as papermill does: a previous run's injected cell is removed, and a new one is
 * inserted after the `parameters` cell (at the top when there is none).
 */
export function applyParameters(nb: Notebook, overrides: ReadonlyMap<string, string>): ParameterPlan {
  const notebook = structuredClone(nb);
  notebook.cells = notebook.cells.filter((cell) => !cellTags(cell).includes(INJECTED_TAG));
  const index = notebook.cells.findIndex((cell) => cellTags(cell).includes(PARAMETERS_TAG));
  const defaults = index >= 0 ? parameterDefaults(cellSource(notebook.cells[index]!)) : [];
  const known = new Set(defaults.map((d) => d.name));
  const unknown = [...overrides.keys()].filter((name) => !known.has(name));
  const plan: ParameterPlan = { notebook, defaults, unknown, parametersCell: index >= 0 ? index : undefined };
  if (overrides.size === 0) return plan;
  const cell: NotebookCell = {
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: [INJECTED_TAG] },
    outputs: [],
    source: injectedSource(overrides),
  };
  // nbformat 4.5 gives cells ids; a fixed one keeps the executed notebook's diff small.
  if (notebook.nbformat_minor >= 5) cell.id = INJECTED_TAG;
  const at = index >= 0 ? index + 1 : 0;
  notebook.cells.splice(at, 0, cell);
  plan.injectedCell = at;
  if (plan.parametersCell !== undefined && plan.parametersCell >= at) plan.parametersCell++;
  return plan;
}
