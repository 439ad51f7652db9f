// Units of the result grid's DuckDB side: Arrow batches prepared for DuckDB (checked against DuckDB-WASM itself,
// in its Node build: the same engine the browser runs), filter/sort SQL, %%duckdb statement splitting, chart
// aggregates, result names.
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  Field,
  Int8,
  List,
  Schema,
  Struct,
  Table,
  TimestampNanosecond,
  Uint32,
  Utf8,
  makeData,
  makeVector,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  FixedSizeBinary,
  Decimal,
  RecordBatch
} from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { chartSql } from '../src/results/chart.js';
import { convertTable, planDuckDBLoad, uuidText } from '../src/results/duckdb/prepare.js';
import {
  createTableAs,
  duckdbCellBody,
  filterPredicate,
  isDuckDBCell,
  orderBy,
  splitDuckDBStatements,
  statementKind
} from '../src/results/duckdb/sql.js';
import { resultName } from '../src/results/registry.js';

const require = createRequire(import.meta.url);

function field(name: string, type: Field['type'], clickhouse: string, extra: [string, string][] = []): Field {
  return new Field(name, type, true, new Map([['clickhouse.type', clickhouse], ...extra]));
}

/** A one-batch table with explicit fields (ClickHouse types in the metadata). */
function table(fields: Field[], children: ReturnType<typeof makeData>[], length: number): Table {
  const schema = new Schema(fields);
  const data = makeData({ type: new Struct(fields), length, nullCount: 0, children });
  return new Table([new RecordBatch(schema, data)]);
}

function listOf<T extends Field['type']>(child: ReturnType<typeof makeData>, childType: T, offsets: number[]) {
  const type = new List(new Field('item', childType, true));
  return makeData({ type, length: offsets.length - 1, nullCount: 0, valueOffsets: Int32Array.from(offsets), child });
}

describe('preparing ClickHouse Arrow for DuckDB', () => {
  it('passes plain batches through untouched', () => {
    const t = new Table({ n: vectorFromArray([1, 2, 3], new Int8()), s: vectorFromArray(['a', 'b', null], new Utf8()) });
    expect(planDuckDBLoad(t.schema).convert).toBeUndefined();
  });

  it('converts values nested in Array: DateTime, Enum, UUID, IPv4, Int128', () => {
    const uuid = Uint8Array.from(Buffer.from('61f0c4045cb311e7907ba6006ad3dba0', 'hex'));
    const i128 = new Uint8Array(16).fill(0xff); // -1
    const t = table(
      [
        field('times', new List(new Field('item', new Uint32(), true)), "Array(DateTime('Asia/Tokyo'))"),
        field('labels', new List(new Field('item', new Int8(), true)), "Array(Enum8('on' = 1, 'off' = 2))"),
        field('ids', new List(new Field('item', new FixedSizeBinary(16), true)), 'Array(UUID)'),
        field('ips', new List(new Field('item', new Uint32(), true)), 'Array(IPv4)'),
        field('wide', new List(new Field('item', new FixedSizeBinary(16), true)), 'Array(Int128)')
      ],
      [
        listOf(makeData({ type: new Uint32(), length: 2, data: Uint32Array.from([1714532400, 0]) }), new Uint32(), [0, 2]),
        listOf(makeData({ type: new Int8(), length: 2, data: Int8Array.from([2, 1]) }), new Int8(), [0, 2]),
        listOf(makeData({ type: new FixedSizeBinary(16), length: 1, data: uuid }), new FixedSizeBinary(16), [0, 1]),
        listOf(makeData({ type: new Uint32(), length: 1, data: Uint32Array.from([3232235777]) }), new Uint32(), [0, 1]),
        listOf(makeData({ type: new FixedSizeBinary(16), length: 1, data: i128 }), new FixedSizeBinary(16), [0, 1])
      ],
      1
    );
    const plan = planDuckDBLoad(t.schema);
    expect(plan.convert).toBeDefined();
    const converted = tableFromIPC(tableToIPC(convertTable(t, plan), 'stream'));
    expect(String(converted.schema.fields[0].type)).toBe('List<Timestamp<SECOND, Asia/Tokyo>>');
    expect([...(converted.getChild('labels')!.get(0) as Iterable<string>)]).toEqual(['off', 'on']);
    expect([...(converted.getChild('ids')!.get(0) as Iterable<string>)]).toEqual(['61f0c404-5cb3-11e7-907b-a6006ad3dba0']);
    expect([...(converted.getChild('ips')!.get(0) as Iterable<string>)]).toEqual(['192.168.1.1']);
    expect([...(converted.getChild('wide')!.get(0) as Iterable<string>)]).toEqual(['-1']);
    expect(uuidText(uuid)).toBe('61f0c404-5cb3-11e7-907b-a6006ad3dba0');
  });

  it('writes Decimal wider than 38 digits as exact text, keeps nanoseconds (dropping the zone), and drops a stale arrow.uuid tag', () => {
    const words = new Uint32Array(8);
    words[0] = 5; // 0.5 at scale 1
    const t = table(
      [
        field('d', new Decimal(1, 76, 256), 'Decimal(76, 1)'),
        field('ns', new TimestampNanosecond('America/New_York'), "DateTime64(9, 'America/New_York')"),
        field('u', new Utf8(), 'UUID', [['ARROW:extension:name', 'arrow.uuid']])
      ],
      [
        makeData({ type: new Decimal(1, 76, 256), length: 1, data: words }),
        makeData({ type: new TimestampNanosecond('America/New_York'), length: 1, data: BigInt64Array.from([1714579200123456789n]) }),
        vectorFromArray(['61f0c404-5cb3-11e7-907b-a6006ad3dba0'], new Utf8()).data[0]
      ],
      1
    );
    const converted = convertTable(t, planDuckDBLoad(t.schema));
    expect(converted.getChild('d')!.get(0)).toBe('0.5');
    expect(String(converted.schema.fields[1].type)).toBe('Timestamp<NANOSECOND>');
    expect(converted.getChild('ns')!.data[0].values[0]).toBe(1714579200123456789n);
    expect(converted.schema.fields[2].metadata.has('ARROW:extension:name')).toBe(false);
    expect(converted.schema.fields[2].metadata.get('clickhouse.type')).toBe('UUID');
  });

  it('turns Int128 / UInt128 text into HUGEINT / UHUGEINT once the table exists', () => {
    const t = table(
      [field('i', new Utf8(), 'Int128'), field('u', new Utf8(), 'Nullable(UInt128)'), field('s', new Utf8(), 'String')],
      ['1', '2', 'x'].map(v => vectorFromArray([v], new Utf8()).data[0]),
      1
    );
    expect(planDuckDBLoad(t.schema).afterCreate('"chlab"."r1"')).toEqual([
      'ALTER TABLE "chlab"."r1" ALTER COLUMN "i" SET DATA TYPE HUGEINT USING CAST("i" AS HUGEINT)',
      'ALTER TABLE "chlab"."r1" ALTER COLUMN "u" SET DATA TYPE UHUGEINT USING CAST("u" AS UHUGEINT)'
    ]);
  });
});

describe('prepared batches in DuckDB-WASM (its Node build)', () => {
  let db: any;
  let conn: any;

  beforeAll(async () => {
    const duckdb = require('@duckdb/duckdb-wasm/dist/duckdb-node-blocking.cjs');
    const dist = path.dirname(require.resolve('@duckdb/duckdb-wasm/dist/duckdb-eh.wasm'));
    db = await duckdb.createDuckDB(
      {
        mvp: { mainModule: path.join(dist, 'duckdb-mvp.wasm'), mainWorker: path.join(dist, 'duckdb-node-mvp.worker.cjs') },
        eh: { mainModule: path.join(dist, 'duckdb-eh.wasm'), mainWorker: path.join(dist, 'duckdb-node-eh.worker.cjs') }
      },
      new duckdb.VoidLogger(),
      duckdb.NODE_RUNTIME
    );
    await db.instantiate(() => undefined);
    db.open({});
    conn = db.connect();
    conn.query('SET autoload_known_extensions = false');
  }, 60_000);

  afterAll(() => {
    conn?.close();
  });

  const rows = (sql: string) => tableFromIPC(db.runQuery(conn._conn, sql)).toArray().map((r: any) => r.toJSON());

  it('loads batch after batch (the first creates the table), with ClickHouse meanings as DuckDB types', () => {
    const batch = (from: number) =>
      table(
        [
          field('id', new Utf8(), 'Int128'),
          field('times', new List(new Field('item', new Uint32(), true)), "Array(DateTime('UTC'))"),
          field('u', new Utf8(), 'UUID', [['ARROW:extension:name', 'arrow.uuid']])
        ],
        [
          vectorFromArray([String(from), '-170141183460469231731687303715884105728'], new Utf8()).data[0],
          listOf(makeData({ type: new Uint32(), length: 2, data: Uint32Array.from([from, from + 1]) }), new Uint32(), [0, 1, 2]),
          vectorFromArray(['61f0c404-5cb3-11e7-907b-a6006ad3dba0', null], new Utf8()).data[0]
        ],
        2
      );
    const first = batch(1);
    const plan = planDuckDBLoad(first.schema);
    conn.insertArrowFromIPCStream(tableToIPC(convertTable(first, plan), 'stream'), { name: 'r', create: true });
    for (const statement of plan.afterCreate('"r"')) conn.query(statement);
    conn.insertArrowFromIPCStream(tableToIPC(convertTable(batch(10), plan), 'stream'), { name: 'r', create: false });
    expect(rows('SELECT column_name, column_type FROM (DESCRIBE r)')).toEqual([
      { column_name: 'id', column_type: 'HUGEINT' },
      { column_name: 'times', column_type: 'TIMESTAMP WITH TIME ZONE[]' },
      { column_name: 'u', column_type: 'VARCHAR' }
    ]);
    expect(rows('SELECT CAST(id AS VARCHAR) AS id, CAST(times AS VARCHAR) AS t, u FROM r ORDER BY rowid')).toEqual([
      { id: '1', t: "['1970-01-01 00:00:01+00']", u: '61f0c404-5cb3-11e7-907b-a6006ad3dba0' },
      { id: '-170141183460469231731687303715884105728', t: "['1970-01-01 00:00:02+00']", u: null },
      { id: '10', t: "['1970-01-01 00:00:10+00']", u: '61f0c404-5cb3-11e7-907b-a6006ad3dba0' },
      { id: '-170141183460469231731687303715884105728', t: "['1970-01-01 00:00:11+00']", u: null }
    ]);
  });

  it('runs the filter and chart SQL it generates', () => {
    conn.query("CREATE TABLE f AS SELECT range AS n, 'k' || (range % 3) AS k, make_timestamp(range * 60000000)::TIMESTAMPTZ AS t FROM range(100)");
    const count = (where: string) => Number(rows(`SELECT count(*) AS c FROM f WHERE ${where}`)[0].c);
    expect(count(filterPredicate('n', 'BIGINT', '> 90'))).toBe(9);
    expect(count(filterPredicate('n', 'BIGINT', '10..19'))).toBe(10);
    expect(count(filterPredicate('k', 'VARCHAR', 'K1'))).toBe(33);
    expect(count(filterPredicate('k', 'VARCHAR', '=k2'))).toBe(33);
    expect(count(filterPredicate('t', 'TIMESTAMP WITH TIME ZONE', '>= 1970-01-01 01:00:00'))).toBe(40);
    expect(rows(`SELECT n FROM f ${orderBy('n', true)} LIMIT 1`)).toEqual([{ n: 99n }]);
    const histogram = rows(chartSql('f', { kind: 'histogram', x: 'n', aggregate: 'count' }, [{ name: 'n', duckdbType: 'BIGINT' }]));
    expect(histogram).toHaveLength(40);
    expect(histogram.reduce((sum: number, r: any) => sum + Number(r.n), 0)).toBe(100);
    const bars = rows(chartSql('f', { kind: 'bar', x: 'k', y: 'n', aggregate: 'sum' }, [{ name: 'k', duckdbType: 'VARCHAR' }, { name: 'n', duckdbType: 'BIGINT' }]));
    expect(bars.map((r: any) => [r.x, r.y, Number(r.total)])).toEqual([
      ['k0', 1683, 100],
      ['k1', 1617, 100],
      ['k2', 1650, 100]
    ].sort((a, b) => (b[1] as number) - (a[1] as number)));
    const line = rows(chartSql('f', { kind: 'line', x: 't', y: 'n', aggregate: 'avg' }, [{ name: 't', duckdbType: 'TIMESTAMP WITH TIME ZONE' }, { name: 'n', duckdbType: 'BIGINT' }]));
    expect(line.length).toBeGreaterThan(50);
    const scatter = rows(chartSql('f', { kind: 'scatter', x: 'n', y: 'n', aggregate: 'count' }, [{ name: 'n', duckdbType: 'BIGINT' }]));
    expect(scatter).toHaveLength(100);
    conn.query(createTableAs('"g"', "-- trailing comment follows\nSELECT 1 AS one -- one\n;"));
    expect(rows('SELECT * FROM g')).toEqual([{ one: 1 }]);
  });
});

describe('%%duckdb cells and names', () => {
  it('splits statements on ; outside strings, identifiers, comments and $$ strings', () => {
    expect(splitDuckDBStatements("SELECT 'a;b' AS \"x;y\"; -- c;\nSELECT $$;$$ /* ; */; ;\n-- only a comment")).toEqual([
      'SELECT \'a;b\' AS "x;y"',
      '-- c;\nSELECT $$;$$ /* ; */'
    ]);
  });

  it('knows queries from commands', () => {
    expect(['SELECT 1', 'with x as (select 1) select * from x', 'FROM t', '(SELECT 1)', '-- c\nVALUES (1)', 'PIVOT t ON k'].map(statementKind)).toEqual(
      Array(6).fill('query')
    );
    expect(['CREATE TABLE t (a INT)', 'insert into t values (1)', 'SET threads = 1'].map(statementKind)).toEqual(['command', 'command', 'command']);
    expect(['DESCRIBE t', 'SUMMARIZE t', 'SHOW TABLES', 'EXPLAIN SELECT 1'].map(statementKind)).toEqual(['other', 'other', 'other', 'other']);
  });

  it('recognizes the magic and the result name', () => {
    expect(isDuckDBCell('%%duckdb\nSELECT 1')).toBe(true);
    expect(isDuckDBCell('  %%duckdb --x\nSELECT 1')).toBe(true);
    expect(isDuckDBCell('%%duckdbx\nSELECT 1')).toBe(false);
    expect(isDuckDBCell('SELECT 1 -- %%duckdb')).toBe(false);
    expect(duckdbCellBody('%%duckdb\nSELECT 1')).toBe('SELECT 1');
    expect(resultName('%%duckdb\n-- name: by_zone\nSELECT 1')).toBe('by_zone');
    expect(resultName('\n-- name:trips \nSELECT 1')).toBe('trips');
    expect(resultName('SELECT 1\n-- name: late')).toBeUndefined();
    expect(resultName('-- name: bad-name\nSELECT 1')).toBeUndefined();
  });
});
