/**
 * Migration history records as `GET /api/migration/history` (and `/history/:id`) return them, the query
 * string of the list, and the cell that re-runs a past migration. No DOM: unit-testable in Node.
 */
import { stringify } from 'yaml';

import { MIGRATE_MAGIC } from './spec.js';
import { asNumber, asObject, asString } from './types.js';

export const HISTORY_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;

export interface HistoryRecord {
  id: string;
  source: string;
  destination: string;
  sourceTable: string;
  migrationTime: string;
  description: string;
  fields: string[];
  /** `field_mappings` parsed from its JSON text (or as sent). */
  mappings: unknown;
  status: string;
  recordsMigrated?: number;
  errorMessage?: string;
  durationSeconds?: number;
  createdBy: string;
  /** `metadata` parsed from its JSON text (or as sent). */
  metadata: unknown;
  raw: Record<string, unknown>;
}

/** The sort keys of `GET /api/migration/history` (kernel-proxy/src/migration/history.ts). */
export type SortField = 'migration_time' | 'source_table' | 'destination' | 'status' | 'records_migrated' | 'duration_seconds';

export interface HistoryQuery {
  limit: number;
  offset: number;
  status?: string;
  search?: string;
  /** Inclusive dates, `YYYY-MM-DD`. */
  from?: string;
  to?: string;
  sort: SortField;
  order: 'asc' | 'desc';
}

export interface HistoryPage {
  records: HistoryRecord[];
  total: number;
}

function parseJsonText(value: unknown): unknown {
  if (typeof value !== 'string') {
    return value;
  }
  const text = value.trim();
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return value;
  }
}

export function readHistoryRecord(raw: unknown): HistoryRecord {
  const record = asObject(raw);
  const fields = Array.isArray(record.tabel_fields)
    ? record.tabel_fields.flatMap(field => (asString(field) !== undefined ? [asString(field)!] : []))
    : [];
  return {
    id: asString(record.id) ?? '',
    source: asString(record.source) ?? '',
    destination: asString(record.destination) ?? '',
    sourceTable: asString(record.source_table) ?? '',
    migrationTime: asString(record.migration_time) ?? asString(record.started_at) ?? '',
    description: asString(record.deskripsi) ?? asString(record.description) ?? '',
    fields,
    mappings: parseJsonText(record.field_mappings),
    status: asString(record.status) ?? '',
    recordsMigrated: asNumber(record.records_migrated),
    errorMessage: asString(record.error_message) || undefined,
    durationSeconds: measuredSeconds(record) ?? asNumber(record.duration_seconds),
    createdBy: asString(record.created_by) ?? '',
    metadata: parseJsonText(record.metadata),
    raw: record
  };
}

/** finished_at − started_at (chlab's millisecond columns): `duration_seconds` unrounded, so a 0.4 s run is not "0 s". */
function measuredSeconds(record: Record<string, unknown>): number | undefined {
  const started = Date.parse(asString(record.started_at) ?? '');
  const finished = Date.parse(asString(record.finished_at) ?? '');
  return Number.isFinite(started) && Number.isFinite(finished) && finished >= started ? (finished - started) / 1000 : undefined;
}

/** Query string for the history endpoint (SPEC §4: limit, offset, status, search, sort; plus from/to). */
export function historyParams(query: HistoryQuery): URLSearchParams {
  const params = new URLSearchParams();
  params.set('limit', String(query.limit));
  params.set('offset', String(query.offset));
  if (query.status) params.set('status', query.status);
  if (query.search) params.set('search', query.search);
  // Whole days, in UTC like the recorded times.
  if (query.from) params.set('from', `${query.from}T00:00:00Z`);
  if (query.to) params.set('to', `${query.to}T23:59:59.999Z`);
  params.set('sort', query.sort);
  params.set('order', query.order);
  return params;
}

export interface MappingRow {
  source_field?: unknown;
  destination_field?: unknown;
  destination_type?: unknown;
  source_type?: unknown;
  transformation?: unknown;
  skip?: unknown;
  nulls?: unknown;
}

export function mappingRows(mappings: unknown): MappingRow[] {
  const object = asObject(mappings);
  const list = Array.isArray(mappings) ? mappings : Array.isArray(object.mappings) ? object.mappings : [];
  return list.map(item => asObject(item) as MappingRow);
}

/**
 * The YAML spec of a past migration: the spec the kernel recorded in `metadata` (`spec_yaml`,
 * `cell_source` or `spec`) when there is one, else one rebuilt from the recorded source, target and mapping.
 */
export function specFromHistory(record: HistoryRecord): string {
  const metadata = { ...asObject(record.metadata), ...pick(record.raw, ['spec_yaml', 'spec']) };
  const yamlText = asString(metadata.spec_yaml) ?? asString(metadata.cell_source);
  if (yamlText) {
    return yamlText.replace(/^\s*%%migrate[^\n]*\n?/, '').replace(/\s+$/, '');
  }
  const recorded = metadata.spec && typeof metadata.spec === 'object' ? asObject(metadata.spec) : undefined;
  if (recorded && Object.keys(recorded).length > 0) {
    return stringify(recorded).replace(/\s+$/, '');
  }
  const spec: Record<string, unknown> = {
    source: record.sourceTable || record.source,
    target: record.destination
  };
  if (record.description) {
    spec.description = record.description;
  }
  const columns: Record<string, Record<string, unknown>> = {};
  for (const row of mappingRows(record.mappings)) {
    const field = asString(row.source_field);
    if (!field) continue;
    const entry: Record<string, unknown> = {};
    const destination = asString(row.destination_field);
    if (destination && destination !== field) entry.rename = destination;
    const type = asString(row.destination_type);
    if (type) entry.type = type;
    const transform = asString(row.transformation);
    if (transform && transform !== field) entry.transform = transform;
    if (row.skip === true) entry.skip = true;
    const nulls = asString(row.nulls);
    if (nulls) entry.nulls = nulls;
    if (Object.keys(entry).length > 0) columns[field] = entry;
  }
  if (Object.keys(columns).length > 0) {
    spec.columns = columns;
  }
  return stringify(spec).replace(/\s+$/, '');
}

function pick(object: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter(key => object[key] !== undefined && object[key] !== null).map(key => [key, object[key]]));
}

/** The cell that runs a past migration again. */
export function rerunCellSource(record: HistoryRecord): string {
  return `${MIGRATE_MAGIC} run --rerun\n${specFromHistory(record)}`;
}

/** `2026-03-01T10:00:00.000Z` → `2026-03-01 10:00:00 UTC`; other text unchanged. */
export function formatTime(value: string): string {
  const time = Date.parse(value);
  if (!value || Number.isNaN(time)) {
    return value;
  }
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
