import { type Table, type Vector, makeVector } from 'apache-arrow';

import { type ClickHouseType, parseClickHouseType } from '../clickhouse-type.js';
import { type ColumnFormat, columnFormat } from '../format.js';
import { CLICKHOUSE_TYPE_KEY } from '../duckdb/prepare.js';
import { type DuckEngine, getDuckDB } from '../duckdb/engine.js';

/** One column as the grid shows it. */
export interface GridColumn {
  name: string;
  /** Shown under the name: the ClickHouse type, or DuckDB's for `%%duckdb` results. */
  typeLabel: string;
  /** Fills Arrow's gaps when formatting (ClickHouse results only). */
  clickhouse?: ClickHouseType;
  numeric: boolean;
  /** DuckDB results: times without an all-zero fraction (`12:00:00`, not `12:00:00.000000`). */
  trimFraction?: boolean;
}

/** Rows [start, start + count) of a source, formatted on demand. */
export interface RowPage {
  readonly start: number;
  readonly count: number;
  /** Text of a cell, `null` for NULL. */
  text(row: number, column: number): string | null;
}

/** What the grid pages rows from: the Arrow preview in memory, or a table in DuckDB-WASM. */
export interface GridSource {
  readonly columns: GridColumn[];
  readonly rowCount: number;
  /** Rows [start, end); a page for a source in memory comes back at once. */
  fetch(start: number, end: number): RowPage | Promise<RowPage>;
  /** Whether the source is a table in DuckDB (sorting, filtering and charts work on it directly). */
  readonly tableRef?: string;
}

/** Collapses the whitespace ClickHouse puts into long type names (named Tuples). */
export function typeLabel(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\(\s+/g, '(').replace(/\s+\)/g, ')');
}

const NUMERIC_DUCKDB = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL(\(.*\))?)$/i;

/** Grid columns of a result from its Arrow schema and the kernel's (or DuckDB's) column types. */
export function gridColumns(
  table: { schema: Table['schema'] },
  declared: { name: string; type: string }[],
  engine: 'clickhouse' | 'duckdb'
): GridColumn[] {
  return table.schema.fields.map((field, index) => {
    const column = declared[index]?.name === field.name ? declared[index] : declared.find(c => c.name === field.name);
    if (engine === 'duckdb') {
      const label = column?.type ?? String(field.type);
      // Arrow has no 128-bit integers: DuckDB sends UHUGEINT as 16 little-endian bytes.
      const clickhouse = /^UHUGEINT$/i.test(label) ? parseClickHouseType('UInt128') : /^HUGEINT$/i.test(label) ? parseClickHouseType('Int128') : undefined;
      const format = columnFormat(field.type, clickhouse);
      return { name: field.name, typeLabel: label, clickhouse, numeric: NUMERIC_DUCKDB.test(label) || format.numeric, trimFraction: true };
    }
    const text = column?.type ?? field.metadata.get(CLICKHOUSE_TYPE_KEY);
    const clickhouse = text ? parseClickHouseType(text) : undefined;
    return {
      name: field.name,
      typeLabel: text ? typeLabel(text) : String(field.type),
      clickhouse,
      numeric: columnFormat(field.type, clickhouse).numeric
    };
  });
}

/** A page over an Arrow table (a slice of it), texts made when first asked for. */
export class ArrowPage implements RowPage {
  /** Per column: its chunks as single-chunk vectors, and the row each starts at. */
  private readonly chunks: { vector: Vector; start: number }[][];
  private readonly formats: ColumnFormat[];
  private readonly cache: (string | null | undefined)[][];
  readonly count: number;

  constructor(
    readonly start: number,
    table: Table,
    columns: GridColumn[]
  ) {
    this.count = table.numRows;
    this.chunks = columns.map((_, index) => {
      const vector = table.getChildAt(index);
      let offset = 0;
      return (vector?.data ?? []).map(data => {
        const chunk = { vector: makeVector(data) as Vector, start: offset };
        offset += data.length;
        return chunk;
      });
    });
    this.formats = columns.map((column, index) => {
      const type = table.schema.fields[index]?.type;
      return type ? columnFormat(type, column.clickhouse) : { numeric: false, text: () => '' };
    });
    this.cache = columns.map(() => new Array(this.count));
    this.trim = columns.map(column => column.trimFraction === true);
  }

  private readonly trim: boolean[];

  text(row: number, column: number): string | null {
    const cached = this.cache[column]?.[row];
    if (cached !== undefined) {
      return cached;
    }
    const chunks = this.chunks[column];
    if (!chunks || row < 0 || row >= this.count) {
      return null;
    }
    let index = chunks.length - 1;
    while (index > 0 && chunks[index].start > row) {
      index--;
    }
    const { vector, start } = chunks[index];
    let text: string | null;
    if (!vector.isValid(row - start)) {
      text = null;
    } else {
      try {
        text = this.formats[column].text(vector, row - start);
        if (this.trim[column]) {
          text = text.replace(/(\d\d:\d\d:\d\d)\.(\d*?)0+(?!\d)/g, (_, time: string, digits: string) => (digits ? `${time}.${digits}` : time));
        }
      } catch (reason) {
        text = `⚠ ${reason instanceof Error ? reason.message : String(reason)}`;
      }
    }
    this.cache[column][row] = text;
    return text;
  }
}

/** The Arrow preview of a result, all in memory. */
export class ArrowSource implements GridSource {
  readonly rowCount: number;

  constructor(
    readonly table: Table,
    readonly columns: GridColumn[]
  ) {
    this.rowCount = table.numRows;
  }

  fetch(start: number, end: number): RowPage {
    const from = Math.max(0, Math.min(start, this.rowCount));
    const to = Math.max(from, Math.min(end, this.rowCount));
    return new ArrowPage(from, this.table.slice(from, to), this.columns);
  }
}

/**
 * A table in DuckDB-WASM, paged by rowid windows (DuckDB pushes `rowid` bounds into the scan, so a page
 * costs the same at row 10 and at row 900,000). Tables are append-only, so rowids are 0…n-1 in order.
 */
export class DuckSource implements GridSource {
  constructor(
    readonly tableRef: string,
    readonly columns: GridColumn[],
    private readonly count: () => number,
    private readonly engine: () => Promise<DuckEngine> = getDuckDB
  ) {}

  get rowCount(): number {
    return this.count();
  }

  async fetch(start: number, end: number): Promise<RowPage> {
    const db = await this.engine();
    const from = Math.max(0, Math.floor(start));
    const to = Math.max(from, Math.floor(end));
    const table = await db.query(`SELECT * FROM ${this.tableRef} WHERE rowid >= ${from} AND rowid < ${to} ORDER BY rowid`);
    return new ArrowPage(from, table, this.columns);
  }
}
