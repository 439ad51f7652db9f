import type { ClickHouseEngine } from '../clickhouse/engine.js';

interface ColumnRow {
  database: string;
  table: string;
  name: string;
  type: string;
}

interface Snapshot {
  databases: string[];
  tables: Map<string, string[]>;
  columns: ColumnRow[];
  functions: string[];
  keywords: string[];
  currentDatabase: string;
  loadedAt: number;
}

const TTL_MS = 30_000;
const MAX_COLUMNS = 50_000;

const FALLBACK_KEYWORDS = `SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT OFFSET WITH AS AND OR NOT IN IS NULL JOIN LEFT RIGHT
INNER OUTER FULL CROSS ON USING UNION ALL DISTINCT INSERT INTO VALUES CREATE TABLE DATABASE VIEW MATERIALIZED DROP ALTER
ADD COLUMN MODIFY RENAME TRUNCATE ENGINE PARTITION PRIMARY KEY SETTINGS FORMAT DESCRIBE SHOW EXPLAIN OPTIMIZE FINAL
SAMPLE PREWHERE ARRAY CASE WHEN THEN ELSE END BETWEEN LIKE ILIKE ASC DESC TTL IF EXISTS`.split(/\s+/);

export interface CompletionMatch {
  text: string;
  type: 'keyword' | 'function' | 'database' | 'table' | 'column';
  signature?: string;
}

/** The live schema (databases, tables, columns, functions, keywords) for completion and inspect. */
export class SchemaCatalog {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;

  constructor(private readonly engine: ClickHouseEngine) {}

  invalidate(): void {
    this.snapshot = undefined;
  }

  private async load(): Promise<Snapshot> {
    if (this.snapshot && Date.now() - this.snapshot.loadedAt < TTL_MS) return this.snapshot;
    this.loading ??= (async () => {
      try {
        const [databases, tables, columns, functions, keywords, current] = await Promise.all([
          this.engine.json<{ name: string }>('SELECT name FROM system.databases ORDER BY name'),
          this.engine.json<{ database: string; name: string }>('SELECT database, name FROM system.tables ORDER BY database, name'),
          this.engine.json<ColumnRow>(`SELECT database, table, name, type FROM system.columns WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') LIMIT ${MAX_COLUMNS}`),
          this.engine.json<{ name: string }>('SELECT name FROM system.functions ORDER BY name').catch(() => []),
          this.engine.json<{ keyword: string }>('SELECT keyword FROM system.keywords').catch(() => []),
          this.engine.json<{ db: string }>('SELECT currentDatabase() AS db'),
        ]);
        const byDatabase = new Map<string, string[]>();
        for (const t of tables) byDatabase.set(t.database, [...(byDatabase.get(t.database) ?? []), t.name]);
        const snapshot: Snapshot = {
          databases: databases.map((d) => d.name),
          tables: byDatabase,
          columns,
          functions: functions.map((f) => f.name),
          keywords: keywords.length ? [...new Set(keywords.flatMap((k) => k.keyword.split(' ')))] : FALLBACK_KEYWORDS,
          currentDatabase: current[0]?.db ?? 'default',
          loadedAt: Date.now(),
        };
        this.snapshot = snapshot;
        return snapshot;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  async complete(prefix: string): Promise<CompletionMatch[]> {
    const s = await this.load();
    const lower = prefix.toLowerCase();
    const starts = (name: string) => name.toLowerCase().startsWith(lower);
    const dot = prefix.lastIndexOf('.');
    if (dot !== -1) {
      const qualifier = prefix.slice(0, dot);
      const rest = prefix.slice(dot + 1).toLowerCase();
      const matches: CompletionMatch[] = [];
      for (const t of s.tables.get(qualifier) ?? []) if (t.toLowerCase().startsWith(rest)) matches.push({ text: `${qualifier}.${t}`, type: 'table' });
      const [db, table] = qualifier.includes('.') ? qualifier.split('.', 2) : [s.currentDatabase, qualifier];
      for (const c of s.columns) {
        if (c.database === db && c.table === table && c.name.toLowerCase().startsWith(rest)) {
          matches.push({ text: `${qualifier}.${c.name}`, type: 'column', signature: c.type });
        }
      }
      return matches;
    }
    const seen = new Set<string>();
    const matches: CompletionMatch[] = [];
    const add = (m: CompletionMatch) => {
      if (!seen.has(m.text)) {
        seen.add(m.text);
        matches.push(m);
      }
    };
    for (const c of s.columns) if (c.database === s.currentDatabase && starts(c.name)) add({ text: c.name, type: 'column', signature: c.type });
    for (const t of s.tables.get(s.currentDatabase) ?? []) if (starts(t)) add({ text: t, type: 'table' });
    for (const d of s.databases) if (starts(d)) add({ text: d, type: 'database' });
    for (const k of s.keywords) if (starts(k)) add({ text: k.toUpperCase(), type: 'keyword' });
    for (const f of s.functions) if (starts(f)) add({ text: f, type: 'function' });
    return matches.slice(0, 500);
  }

  /** Describes `db.table`, `table`, `table.column` or a column name, or undefined if unknown. */
  async inspect(name: string): Promise<string | undefined> {
    const s = await this.load();
    const parts = name.split('.');
    const tableText = (db: string, table: string) => {
      const cols = s.columns.filter((c) => c.database === db && c.table === table);
      if (!(s.tables.get(db) ?? []).includes(table)) return undefined;
      const width = Math.max(4, ...cols.map((c) => c.name.length));
      return [`table ${db}.${table}`, ...cols.map((c) => `  ${c.name.padEnd(width)}  ${c.type}`)].join('\n');
    };
    const columnText = (c: ColumnRow) => `column ${c.database}.${c.table}.${c.name}: ${c.type}`;
    if (parts.length === 3) {
      const c = s.columns.find((x) => x.database === parts[0] && x.table === parts[1] && x.name === parts[2]);
      return c && columnText(c);
    }
    if (parts.length === 2) {
      const asTable = tableText(parts[0]!, parts[1]!);
      if (asTable) return asTable;
      const c = s.columns.find((x) => x.database === s.currentDatabase && x.table === parts[0] && x.name === parts[1]);
      return c && columnText(c);
    }
    const asTable = tableText(s.currentDatabase, name);
    if (asTable) return asTable;
    const columns = s.columns.filter((c) => c.name === name && c.database === s.currentDatabase);
    if (columns.length) return columns.map(columnText).join('\n');
    if (s.databases.includes(name)) return `database ${name}: ${(s.tables.get(name) ?? []).length} tables`;
    if (s.functions.includes(name)) return `function ${name}`;
    return undefined;
  }
}

/** The identifier (with dots) that ends at the cursor, and where it starts. */
export function tokenBefore(code: string, cursor: number): { text: string; start: number } {
  let start = cursor;
  while (start > 0 && /[\w.]/.test(code[start - 1]!)) start--;
  return { text: code.slice(start, cursor), start };
}

/** The identifier (with dots) around the cursor. */
export function tokenAround(code: string, cursor: number): string {
  let start = cursor;
  while (start > 0 && /[\w.]/.test(code[start - 1]!)) start--;
  let end = cursor;
  while (end < code.length && /\w/.test(code[end]!)) end++;
  return code.slice(start, end).replace(/^\.+|\.+$/g, '');
}
