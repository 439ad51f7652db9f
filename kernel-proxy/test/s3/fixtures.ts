import type { ClickHouseEngine } from '../../src/clickhouse/engine.js';
import type { S3Service } from '../../src/s3/service.js';

/** Test files in bucket `lake`, written through ClickHouse s3() (rows known exactly). */
export const FIXTURES: { key: string; format: string; rows: number; select: string }[] = [
  ...[1, 2, 3].map((m) => ({
    key: `sales/2024/0${m}.parquet`,
    format: 'Parquet',
    rows: m * 100,
    select: `SELECT toUInt32(${m * 1000} + number) AS id, toDate('2024-0${m}-01') + toUInt32(number % 28) AS day,
       ['north', 'south'][1 + number % 2] AS region, round(number * 1.5, 2) AS amount FROM numbers(${m * 100})`,
  })),
  { key: 'sales/2023/12.parquet', format: 'Parquet', rows: 50, select: `SELECT toUInt32(number) AS id, toDate('2023-12-01') AS day, 'west' AS region, 1.0 AS amount FROM numbers(50)` },
  { key: 'csv/people.csv', format: 'CSVWithNames', rows: 25, select: `SELECT number AS id, concat('name ', toString(number)) AS name, ['Oslo', 'Lima'][1 + number % 2] AS city FROM numbers(25)` },
  { key: 'csv/people_noheader.csv', format: 'CSV', rows: 25, select: `SELECT number AS id, concat('name ', toString(number)) AS name, ['Oslo', 'Lima'][1 + number % 2] AS city FROM numbers(25)` },
  { key: 'tsv/cities.tsv', format: 'TSVWithNames', rows: 10, select: `SELECT number AS city_id, concat('city ', toString(number)) AS city, number * 1000 AS population FROM numbers(10)` },
  { key: 'json/events.jsonl', format: 'JSONEachRow', rows: 40, select: `SELECT toDateTime('2024-01-01 00:00:00', 'UTC') + number AS ts, concat('u', toString(number % 4)) AS user, toInt64(number) - 10 AS n FROM numbers(40)` },
  { key: 'json/events.jsonl.gz', format: 'JSONEachRow', rows: 70, select: `SELECT toDateTime('2024-01-02 00:00:00', 'UTC') + number AS ts, concat('u', toString(number % 4)) AS user, toInt64(number) AS n FROM numbers(70)` },
  { key: 'json/events.ndjson.zst', format: 'JSONEachRow', rows: 60, select: `SELECT toDateTime('2024-01-03 00:00:00', 'UTC') + number AS ts, concat('u', toString(number % 4)) AS user, toInt64(number) AS n FROM numbers(60)` },
  { key: 'csv/people.csv.zst', format: 'CSVWithNames', rows: 33, select: `SELECT number AS id, concat('name ', toString(number)) AS name, 'Rome' AS city FROM numbers(33)` },
  { key: 'odd/data.bin', format: 'CSVWithNames', rows: 7, select: `SELECT number AS k, 'v' AS v FROM numbers(7)` },
  { key: `weird/it's a "file" + more.csv`, format: 'CSVWithNames', rows: 3, select: `SELECT number AS q FROM numbers(3)` },
  ...Array.from({ length: 25 }, (_, i) => ({
    key: `many/f-${String(i).padStart(2, '0')}.csv`,
    format: 'CSVWithNames',
    rows: i + 1,
    select: `SELECT number AS x FROM numbers(${i + 1})`,
  })),
];

export async function writeFixtures(engine: ClickHouseEngine, s3: S3Service, bucket = 'lake'): Promise<void> {
  const { collection, filenamePrefix } = await s3.collections.forBucket(s3.connection(), bucket);
  for (const f of FIXTURES) {
    const filename = `${filenamePrefix}${f.key}`
      .split('/')
      .map((part) => encodeURIComponent(part))
      .join('/');
    await engine.command(`INSERT INTO FUNCTION s3(${collection}, filename = {filename:String}, format = {format:String}) ${f.select} SETTINGS s3_truncate_on_insert = 1`, {
      params: { filename, format: f.format },
    });
  }
}
