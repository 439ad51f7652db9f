import type { DuckEngine } from './duckdb/engine.js';
import { getDuckDB, quoteIdent } from './duckdb/engine.js';

export type ChartKind = 'bar' | 'line' | 'scatter' | 'histogram';
export type Aggregate = 'count' | 'sum' | 'avg' | 'min' | 'max';

export interface ChartColumn {
  name: string;
  /** DuckDB's type of the column in the result table. */
  duckdbType: string;
}

export interface ChartSpec {
  kind: ChartKind;
  x: string;
  /** The measured column (bar, line, scatter); unused by count and histogram. */
  y?: string;
  aggregate: Aggregate;
}

/** What the plot draws: at most a few thousand points, whatever the size of the result. */
export interface ChartData {
  kind: ChartKind;
  xLabel: string;
  yLabel: string;
  /** x is a category (bar) or a number / time (epoch ms when `temporal`). */
  points: { x: number | string; y: number; x2?: number }[];
  temporal: boolean;
  /** The aggregate SQL and how long DuckDB took. */
  sql: string;
  elapsedMs: number;
  /** Rows the aggregate read. */
  rows: number;
}

export const MAX_BARS = 50;
export const LINE_BUCKETS = 400;
export const HISTOGRAM_BINS = 40;
export const SCATTER_SAMPLE = 2000;

export function isNumericType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL)/i.test(
    type
  );
}

export function isTemporalType(type: string): boolean {
  return /^(DATE|TIMESTAMP)/i.test(type);
}

/** A column as a DOUBLE for binning (times as epoch milliseconds). */
function numeric(column: ChartColumn): string {
  const ident = quoteIdent(column.name);
  if (isTemporalType(column.duckdbType)) {
    return `CAST(epoch_ms(CAST(${ident} AS TIMESTAMP)) AS DOUBLE)`;
  }
  return `CAST(${ident} AS DOUBLE)`;
}

function aggregateSql(aggregate: Aggregate, column: ChartColumn | undefined): string {
  if (aggregate === 'count' || !column) {
    return 'CAST(count(*) AS DOUBLE)';
  }
  return `CAST(${aggregate}(${numeric(column)}) AS DOUBLE)`;
}

/** The DuckDB aggregate that feeds a chart: GROUP BY, bins or a sample, never the raw rows. */
export function chartSql(tableRef: string, spec: ChartSpec, columns: ChartColumn[]): string {
  const x = columns.find(c => c.name === spec.x);
  const y = columns.find(c => c.name === spec.y);
  if (!x) {
    throw new Error(`no column ${spec.x}`);
  }
  const yExpr = aggregateSql(spec.aggregate, y);
  switch (spec.kind) {
    case 'bar':
      return (
        `SELECT coalesce(CAST(${quoteIdent(x.name)} AS VARCHAR), 'NULL') AS x, ${yExpr} AS y, count(*) AS n, sum(count(*)) OVER () AS total ` +
        `FROM ${tableRef} GROUP BY 1 ORDER BY y DESC NULLS LAST, x LIMIT ${MAX_BARS}`
      );
    case 'line': {
      const value = numeric(x);
      const bucket = `CASE WHEN __hi = __lo THEN 0 ELSE least(${LINE_BUCKETS - 1}, floor((${value} - __lo) / (__hi - __lo) * ${LINE_BUCKETS})) END`;
      return (
        `WITH __bounds AS (SELECT min(${value}) AS __lo, max(${value}) AS __hi FROM ${tableRef}), ` +
        `__binned AS (SELECT ${bucket} AS __bucket, __lo, __hi, __t.* FROM ${tableRef} AS __t, __bounds WHERE ${value} IS NOT NULL) ` +
        `SELECT any_value(__lo) + (__bucket + 0.5) * (any_value(__hi) - any_value(__lo)) / ${LINE_BUCKETS} AS x, ${yExpr} AS y, count(*) AS n ` +
        `FROM __binned GROUP BY __bucket ORDER BY __bucket`
      );
    }
    case 'scatter': {
      if (!y) {
        throw new Error('a scatter plot needs a y column');
      }
      return (
        `SELECT x, y, 1 AS n, (SELECT count(*) FROM ${tableRef}) AS total FROM (SELECT ${numeric(x)} AS x, ${numeric(y)} AS y FROM ${tableRef} ` +
        `WHERE ${quoteIdent(x.name)} IS NOT NULL AND ${quoteIdent(y.name)} IS NOT NULL) USING SAMPLE ${SCATTER_SAMPLE} ROWS`
      );
    }
    case 'histogram': {
      const value = numeric(x);
      const bin = `CASE WHEN __hi = __lo THEN 0 ELSE least(${HISTOGRAM_BINS - 1}, floor((${value} - __lo) / (__hi - __lo) * ${HISTOGRAM_BINS})) END`;
      return (
        `WITH __bounds AS (SELECT min(${value}) AS __lo, max(${value}) AS __hi FROM ${tableRef}), ` +
        `__binned AS (SELECT ${bin} AS __bin, __lo, __hi FROM ${tableRef}, __bounds WHERE ${value} IS NOT NULL) ` +
        `SELECT any_value(__lo) + __bin * (any_value(__hi) - any_value(__lo)) / ${HISTOGRAM_BINS} AS x, ` +
        `any_value(__lo) + (__bin + 1) * (any_value(__hi) - any_value(__lo)) / ${HISTOGRAM_BINS} AS x2, CAST(count(*) AS DOUBLE) AS y, count(*) AS n ` +
        `FROM __binned GROUP BY __bin ORDER BY __bin`
      );
    }
  }
}

/** Runs the aggregate of a chart in DuckDB-WASM. */
export async function chartData(
  tableRef: string,
  spec: ChartSpec,
  columns: ChartColumn[],
  engine: Promise<DuckEngine> = getDuckDB()
): Promise<ChartData> {
  const db = await engine;
  const sql = chartSql(tableRef, spec, columns);
  const started = performance.now();
  const table = await db.query(sql);
  const elapsedMs = performance.now() - started;
  const xs = table.getChild('x');
  const x2s = table.getChild('x2');
  const ys = table.getChild('y');
  const ns = table.getChild('n');
  const totals = table.getChild('total');
  const points: ChartData['points'] = [];
  let rows = 0;
  for (let i = 0; i < table.numRows; i++) {
    const x = xs?.get(i);
    const y = ys?.get(i);
    rows = totals ? Number(totals.get(i) ?? 0) : rows + Number(ns?.get(i) ?? 0);
    if (x === null || x === undefined || y === null || y === undefined) {
      continue;
    }
    points.push({
      x: spec.kind === 'bar' ? String(x) : Number(x),
      y: Number(y),
      ...(x2s ? { x2: Number(x2s.get(i)) } : {})
    });
  }
  const xColumn = columns.find(c => c.name === spec.x);
  const measure = spec.kind === 'histogram' || spec.aggregate === 'count' || !spec.y ? 'count' : `${spec.aggregate}(${spec.y})`;
  return {
    kind: spec.kind,
    xLabel: spec.x,
    yLabel: spec.kind === 'scatter' ? (spec.y ?? '') : measure,
    points,
    temporal: !!xColumn && isTemporalType(xColumn.duckdbType) && spec.kind !== 'bar',
    sql,
    elapsedMs,
    rows
  };
}

/** Draws chart data with Observable Plot (SVG, in the theme's colors). */
export async function drawChart(data: ChartData, width: number, height: number): Promise<SVGSVGElement | HTMLElement> {
  const Plot = await import('@observablehq/plot');
  const x = (value: number | string) => (data.temporal && typeof value === 'number' ? new Date(value) : value);
  const points = data.points.map(p => ({ ...p, x: x(p.x), x2: p.x2 !== undefined ? x(p.x2) : undefined }));
  const color = 'var(--jp-brand-color1, steelblue)';
  const marks: unknown[] = [Plot.ruleY([0], { stroke: 'currentColor', strokeOpacity: 0.3 })];
  switch (data.kind) {
    case 'bar':
      marks.push(Plot.barY(points, { x: 'x', y: 'y', fill: color, tip: true, sort: { x: '-y' } }));
      break;
    case 'line':
      marks.push(Plot.lineY(points, { x: 'x', y: 'y', stroke: color, strokeWidth: 1.5 }), Plot.dot(points, { x: 'x', y: 'y', r: 1.2, fill: color, tip: true }));
      break;
    case 'scatter':
      marks.push(Plot.dot(points, { x: 'x', y: 'y', r: 2, fill: color, fillOpacity: 0.6, tip: true }));
      break;
    case 'histogram':
      marks.push(Plot.rectY(points, { x1: 'x', x2: 'x2', y: 'y', fill: color, inset: 0.5, tip: true }));
      break;
  }
  return Plot.plot({
    width,
    height,
    marginLeft: 56,
    marginBottom: data.kind === 'bar' ? 64 : 36,
    style: { background: 'transparent', color: 'var(--jp-ui-font-color1)', fontSize: '11px', overflow: 'visible' },
    x: {
      label: data.xLabel,
      ...(data.kind === 'bar' ? { type: 'band' as const, tickRotate: -35 } : {}),
      ...(data.temporal ? { type: 'utc' as const } : {})
    },
    y: { label: data.yLabel, grid: true },
    marks: marks as import('@observablehq/plot').Markish[]
  }) as SVGSVGElement | HTMLElement;
}
