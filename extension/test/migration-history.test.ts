// History records as the REST API returns them → the re-run cell, the query string, and the time format.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { formatTime, historyParams, readHistoryRecord, rerunCellSource, specFromHistory } from '../src/migration/history-model.js';

const LISTED = {
  id: '3f2a0000-0000-4000-8000-000000000001',
  source: 'default',
  destination: 'analytics.events',
  source_table: 'public.events',
  migration_time: '2026-03-01T10:00:00.000Z',
  deskripsi: 'Nightly events copy',
  tabel_fields: ['id', 'email', 'legacy'],
  field_mappings: [
    { source_field: 'id', destination_field: 'id', destination_type: 'Int64', transformation: null, nulls: 'fail', skip: false },
    { source_field: 'email', destination_field: 'user_email', destination_type: 'Nullable(String)', transformation: 'lower(email)', nulls: 'nullable', skip: false },
    { source_field: 'legacy', destination_field: 'legacy', destination_type: 'Nullable(String)', transformation: null, nulls: 'nullable', skip: true },
  ],
  status: 'completed',
  records_migrated: '200000',
  error_message: null,
  duration_seconds: 4,
  created_by: 'analyst',
};

describe('the migration history', () => {
  it('reads records defensively', () => {
    const record = readHistoryRecord(LISTED);
    expect(record).toMatchObject({ id: LISTED.id, sourceTable: 'public.events', recordsMigrated: 200000, description: 'Nightly events copy', errorMessage: undefined });
    expect(readHistoryRecord({ field_mappings: '[{"source_field":"a"}]', metadata: 'not json' })).toMatchObject({ mappings: [{ source_field: 'a' }], metadata: 'not json', id: '' });
    expect(readHistoryRecord(null).status).toBe('');
  });

  it('takes the duration from started_at and finished_at where both are recorded (a 0.4 s run is not "0 s")', () => {
    expect(readHistoryRecord(LISTED).durationSeconds).toBe(4);
    expect(readHistoryRecord({ ...LISTED, duration_seconds: 0, started_at: '2026-12-01T03:50:44.780Z', finished_at: '2026-12-01T03:50:45.176Z' }).durationSeconds).toBeCloseTo(0.396, 6);
    expect(readHistoryRecord({ ...LISTED, started_at: '2026-12-01T03:50:44.780Z', finished_at: null }).durationSeconds).toBe(4);
  });

  it('re-runs the recorded spec (spec_yaml of GET /api/migration/history/:id) as %%migrate run --rerun', () => {
    const full = readHistoryRecord({ ...LISTED, spec_yaml: 'source: public.events\ntarget: analytics.events\ncolumns:\n  email: { rename: user_email, transform: lower(email) }\n' });
    expect(rerunCellSource(full)).toBe('%%migrate run --rerun\nsource: public.events\ntarget: analytics.events\ncolumns:\n  email: { rename: user_email, transform: lower(email) }');
    const fromMetadata = readHistoryRecord({ ...LISTED, metadata: JSON.stringify({ spec: { source: 'public.events', target: 'x' } }) });
    expect(specFromHistory(fromMetadata)).toBe('source: public.events\ntarget: x');
  });

  it('rebuilds a spec from the recorded mapping when no spec was stored', () => {
    const spec = parse(specFromHistory(readHistoryRecord(LISTED)));
    expect(spec).toEqual({
      source: 'public.events',
      target: 'analytics.events',
      description: 'Nightly events copy',
      columns: {
        id: { type: 'Int64', nulls: 'fail' },
        email: { rename: 'user_email', type: 'Nullable(String)', transform: 'lower(email)', nulls: 'nullable' },
        legacy: { type: 'Nullable(String)', skip: true, nulls: 'nullable' },
      },
    });
  });

  it('asks the API for a page, filters and a sort', () => {
    expect(historyParams({ limit: 50, offset: 100, status: 'failed', search: 'events', from: '2026-03-01', to: '2026-03-02', sort: 'records_migrated', order: 'asc' }).toString()).toBe(
      'limit=50&offset=100&status=failed&search=events&from=2026-03-01T00%3A00%3A00Z&to=2026-03-02T23%3A59%3A59.999Z&sort=records_migrated&order=asc',
    );
    expect(formatTime('2026-03-01T10:00:00.000Z')).toBe('2026-03-01 10:00:00 UTC');
    expect(formatTime('yesterday')).toBe('yesterday');
  });
});
