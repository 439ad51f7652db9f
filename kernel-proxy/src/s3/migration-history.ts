import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import { MigrationHistory } from '../migration/history.js';

export interface ImportRecordStart {
  /** `s3:<connection>`. */
  source: string;
  /** The ClickHouse table. */
  destination: string;
  /** The s3:// URL (or glob). */
  source_table: string;
  deskripsi: string;
  tabel_fields: string[];
  field_mappings: unknown;
  created_by: string;
  metadata: Record<string, unknown>;
  started: Date;
}

export interface ImportRecordEnd {
  status: 'completed' | 'failed';
  records_migrated: number;
  error_message: string | null;
  duration_seconds: number;
  metadata: Record<string, unknown>;
}

/**
 * S3 imports in `migration_history`, the same table (and the same code: migration/history.ts) as PostgreSQL
 * migrations: a `running` row when the copy starts, completed or failed with the row count when it ends.
 * History failures are logged, never fail the import.
 */
export class MigrationHistoryWriter {
  private readonly history: MigrationHistory;

  constructor(
    engine: ClickHouseEngine,
    private readonly log: Logger,
  ) {
    this.history = new MigrationHistory(engine);
  }

  /** Records a running import; returns its id. */
  async start(entry: ImportRecordStart): Promise<string> {
    const id = randomUUID();
    try {
      await this.history.insert({
        id,
        source: entry.source,
        destination: entry.destination,
        source_table: entry.source_table,
        deskripsi: entry.deskripsi,
        tabel_fields: entry.tabel_fields,
        field_mappings: JSON.stringify(entry.field_mappings),
        status: 'running',
        created_by: entry.created_by,
        metadata: JSON.stringify(entry.metadata),
        total_records: 0,
        spec_key: '',
        started_at: entry.started,
      });
    } catch (error) {
      this.log.warn({ err: error }, 'could not record the S3 import in migration_history');
    }
    return id;
  }

  async finish(id: string, end: ImportRecordEnd): Promise<void> {
    try {
      await this.history.update(id, {
        status: end.status,
        records_migrated: end.records_migrated,
        total_records: end.records_migrated,
        error_message: end.error_message,
        duration_seconds: Math.max(0, Math.round(end.duration_seconds)),
        metadata: JSON.stringify(end.metadata),
        finished_at: new Date(),
      });
    } catch (error) {
      this.log.warn({ err: error }, 'could not update the S3 import in migration_history');
    }
  }
}
