// Source table analysis from pg_catalog: columns with their resolved types (arrays, enums, domains,
// numeric precision/scale, char length), nullability, primary key, row count (exact or labelled estimate), size.
import type pg from 'pg';
import { MigrationError } from '../migration/sql.js';

export type TypeKind = 'base' | 'enum' | 'range' | 'multirange' | 'composite' | 'pseudo';

/** A column type after walking domains and arrays down to the scalar it stores. */
export interface ResolvedPgType {
  /** pg_type.typname of the scalar, e.g. int4, numeric, bpchar, timestamptz, or an enum's name. */
  base: string;
  /** Schema of the scalar type (pg_catalog for built-ins). */
  baseSchema: string;
  kind: TypeKind;
  /** Type modifier of the scalar (-1 when none): numeric precision/scale, char length, timestamp precision. */
  typmod: number;
  /** Array dimensions: 0 for a scalar. */
  dims: number;
  /** Domains passed through, outermost first. */
  domains: { name: string; hasChecks: boolean; notNull: boolean }[];
  enumLabels?: string[];
}

export interface SourceColumn {
  name: string;
  position: number;
  /** format_type(): numeric(12,2), character varying(40), text[], public.mood … */
  type: string;
  /** pg_type.typname of the column's own type (_text for text[], the domain name for a domain). */
  udt_name: string;
  nullable: boolean;
  primary_key: boolean;
  default: string | null;
  generated: boolean;
  comment: string | null;
  precision?: number;
  scale?: number;
  max_length?: number;
  array_dims: number;
  enum_labels?: string[];
  domain?: string;
  resolved: ResolvedPgType;
}

export interface SourceTable {
  schema: string;
  table: string;
  /** r table, p partitioned table, v view, m materialized view, f foreign table */
  relkind: string;
  columns: SourceColumn[];
  primary_key: string[];
  row_count: number;
  row_count_exact: boolean;
  estimated_size_mb: number;
  relpages: number;
  block_size: number;
  money_scale?: number;
  server_version: string;
}

interface TypeRow {
  oid: number;
  typname: string;
  nspname: string;
  typtype: string;
  typcategory: string;
  typelem: number;
  typbasetype: number;
  typtypmod: number;
  typnotnull: boolean;
  checks: number;
}

const EXACT_COUNT_BELOW = 5_000_000;

export async function analyzeTable(client: pg.Client, schema: string, table: string, options: { exactCountBelow?: number } = {}): Promise<SourceTable> {
  const rel = await client.query<{ oid: number; relkind: string; reltuples: number; relpages: number; size: string; block_size: number; server_version: string }>(
    `SELECT c.oid::int AS oid, c.relkind::text AS relkind, c.reltuples::float8 AS reltuples, c.relpages::int AS relpages,
            pg_total_relation_size(c.oid)::text AS size, current_setting('block_size')::int AS block_size,
            current_setting('server_version') AS server_version
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
    [schema, table],
  );
  const relation = rel.rows[0];
  if (!relation) {
    const ns = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (ns.rowCount === 0) throw new MigrationError('source', `schema "${schema}" does not exist in PostgreSQL`, 404);
    throw new MigrationError('source', `table "${schema}"."${table}" does not exist in PostgreSQL (or is not a table, view or materialized view)`, 404);
  }
  const cols = await client.query<{
    attnum: number; attname: string; atttypid: number; atttypmod: number; attndims: number; attnotnull: boolean;
    type: string; udt_name: string; comment: string | null; default_expr: string | null; attgenerated: string;
  }>(
    `SELECT a.attnum::int AS attnum, a.attname, a.atttypid::int AS atttypid, a.atttypmod, a.attndims::int AS attndims, a.attnotnull,
            format_type(a.atttypid, a.atttypmod) AS type, t.typname AS udt_name, col_description(a.attrelid, a.attnum) AS comment,
            pg_get_expr(d.adbin, d.adrelid) AS default_expr, a.attgenerated::text AS attgenerated
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [relation.oid],
  );
  if (cols.rowCount === 0) throw new MigrationError('source', `table "${schema}"."${table}" has no columns`);
  const pk = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [relation.oid],
  );
  const primaryKey = pk.rows.map((r) => r.attname);

  const types = new TypeCache(client);
  const columns: SourceColumn[] = [];
  for (const c of cols.rows) {
    const resolved = await types.resolve(c.atttypid, c.atttypmod, c.attndims);
    const column: SourceColumn = {
      name: c.attname,
      position: c.attnum,
      type: c.type,
      udt_name: c.udt_name,
      nullable: !c.attnotnull && !resolved.domains.some((d) => d.notNull),
      primary_key: primaryKey.includes(c.attname),
      default: c.default_expr,
      generated: c.attgenerated !== '' && c.attgenerated !== undefined && c.attgenerated !== null,
      comment: c.comment,
      array_dims: resolved.dims,
      resolved,
    };
    Object.assign(column, typmodDetails(resolved));
    if (resolved.enumLabels) column.enum_labels = resolved.enumLabels;
    if (resolved.domains.length) column.domain = resolved.domains[0]!.name;
    columns.push(column);
  }

  let rowCount = relation.reltuples;
  let exact = false;
  const limit = options.exactCountBelow ?? EXACT_COUNT_BELOW;
  if (rowCount < 0 || rowCount < limit || (relation.relkind === 'v' && limit > 0)) {
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL statement_timeout = '5s'");
      const count = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`);
      await client.query('COMMIT');
      rowCount = Number(count.rows[0]!.n);
      exact = true;
    } catch {
      await client.query('ROLLBACK').catch(() => undefined);
      rowCount = Math.max(0, rowCount);
    }
  }
  let moneyScale: number | undefined;
  if (columns.some((c) => c.resolved.base === 'money')) {
    const m = await client.query<{ s: number }>("SELECT scale('1'::money::numeric)::int AS s");
    moneyScale = m.rows[0]?.s ?? 2;
  }
  return {
    schema,
    table,
    relkind: relation.relkind,
    columns,
    primary_key: primaryKey,
    row_count: Math.round(rowCount),
    row_count_exact: exact,
    estimated_size_mb: Math.round((Number(relation.size) / (1024 * 1024)) * 100) / 100,
    relpages: relation.relpages,
    block_size: relation.block_size,
    money_scale: moneyScale,
    server_version: relation.server_version,
  };
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** numeric precision/scale, char length, time precision from a type modifier. */
function typmodDetails(t: ResolvedPgType): { precision?: number; scale?: number; max_length?: number } {
  if (t.typmod < 0) return {};
  switch (t.base) {
    case 'numeric': {
      const v = t.typmod - 4;
      const precision = (v >> 16) & 0xffff;
      const scale = (((v & 0x7ff) ^ 1024) - 1024);
      return { precision, scale };
    }
    case 'bpchar':
    case 'varchar':
      return { max_length: t.typmod - 4 };
    case 'bit':
    case 'varbit':
      return { max_length: t.typmod };
    case 'timestamp':
    case 'timestamptz':
    case 'time':
    case 'timetz':
      return { precision: t.typmod };
    default:
      return {};
  }
}

class TypeCache {
  private readonly rows = new Map<number, TypeRow>();
  constructor(private readonly client: pg.Client) {}

  private async row(oid: number): Promise<TypeRow> {
    let row = this.rows.get(oid);
    if (!row) {
      const result = await this.client.query<TypeRow>(
        `SELECT t.oid::int AS oid, t.typname, n.nspname, t.typtype::text AS typtype, t.typcategory::text AS typcategory,
                t.typelem::int AS typelem, t.typbasetype::int AS typbasetype, t.typtypmod, t.typnotnull,
                (SELECT count(*)::int FROM pg_constraint WHERE contypid = t.oid AND contype = 'c') AS checks
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1`,
        [oid],
      );
      row = result.rows[0];
      if (!row) throw new Error(`unknown PostgreSQL type oid ${oid}`);
      this.rows.set(oid, row);
    }
    return row;
  }

  async resolve(oid: number, typmod: number, attndims: number): Promise<ResolvedPgType> {
    const domains: ResolvedPgType['domains'] = [];
    let dims = 0;
    let mod = typmod;
    for (let depth = 0; depth < 20; depth++) {
      const t = await this.row(oid);
      if (t.typtype === 'd') {
        domains.push({ name: t.nspname === 'public' ? t.typname : `${t.nspname}.${t.typname}`, hasChecks: t.checks > 0, notNull: t.typnotnull });
        if (mod < 0) mod = t.typtypmod;
        oid = t.typbasetype;
        continue;
      }
      if (t.typcategory === 'A' && t.typelem !== 0) {
        if (dims === 0) dims = Math.max(1, attndims);
        oid = t.typelem;
        continue;
      }
      const kind: TypeKind = t.typtype === 'e' ? 'enum' : t.typtype === 'r' ? 'range' : t.typtype === 'm' ? 'multirange' : t.typtype === 'c' ? 'composite' : t.typtype === 'p' ? 'pseudo' : 'base';
      const resolved: ResolvedPgType = { base: t.typname, baseSchema: t.nspname, kind, typmod: mod, dims, domains };
      if (kind === 'enum') {
        const labels = await this.client.query<{ enumlabel: string }>('SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder', [oid]);
        resolved.enumLabels = labels.rows.map((r) => r.enumlabel);
      }
      return resolved;
    }
    throw new Error('type nesting too deep');
  }
}
