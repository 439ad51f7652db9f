// One engine behind the %%migrate cell and the REST API: plan (analyze + mapping + DDL + value check),
// start/resume a run (history record, ranges, transfer, validation), status and history.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { ClickHouseHttpConfig } from '../config.js';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import { analyzeTable, type SourceTable } from '../postgres/analyze.js';
import { connectPostgres, withPostgres } from '../postgres/connect.js';
import type { PostgresConnections, ResolvedConnection } from '../postgres/connections.js';
import { MigrationHistory, type HistoryFilter, type HistoryRecord, type MigrationStatus } from './history.js';
import { activeColumns, buildDdl, DEDUP_WINDOW, planColumns, resolveOrderBy, selectForCheck, type ColumnPlan, type MigrationPlan } from './plan.js';
import { planRanges, type CopyRange, type RangePlan } from './planner.js';
import { errorMessage, RangeLoadError, transfer, type TransferJob } from './runner.js';
import { parseSpec, parseSpecDoc, resolveSpec, serializeSpec, specKey, type ResolvedSpec, type SpecDoc } from './spec.js';
import { checkPgName, chTable, MigrationError, redact } from './sql.js';
import { describeProblems, rowCheckExpression, runValueCheck, valueConditions, type ValueCheckResult } from './value-check.js';
import { describeMismatches, validate, validationQueries, type ValidationResult } from './validation.js';
import { SourceSide } from './source-side.js';

export interface ProgressSnapshot {
  migration_id: string;
  status: MigrationStatus;
  phase: 'preparing' | 'value_check' | 'copying' | 'validating' | 'done';
  processed_records: number;
  total_records: number;
  total_exact: boolean;
  percentage: number;
  rows_per_second: number;
  eta_seconds: number | null;
  started_at: string;
  ranges_done: number;
  ranges_total: number;
}

export interface MigrationSummary {
  migration_id: string;
  status: MigrationStatus;
  records_migrated: number;
  duration_seconds: number;
  /** duration_seconds unrounded: since the migration first started (a resumed one included). */
  elapsed_ms: number;
  destination: string;
  validation: ValidationResult | null;
  value_check: ValueCheckResult | null;
  error_message: string | null;
  phases_ms: Record<string, number>;
}

/** What is stored in migration_history.metadata: enough to resume without re-planning. */
export interface StoredPlan {
  version: 1;
  spec: SpecDoc;
  spec_yaml: string;
  connection: string;
  source: SourceTable;
  target: { database: string; table: string };
  mappings: ColumnPlan[];
  order_by: string[];
  ddl: string;
  warnings: string[];
  rows_before?: number;
  value_check?: ValueCheckResult;
  validation?: ValidationResult;
  phases_ms?: Record<string, number>;
  ranges?: { kind: string; count: number };
}

export interface PlanView extends MigrationPlan {
  value_check: ValueCheckResult | null;
  ranges?: { kind: string; count: number };
}

export interface MigrationServiceOptions {
  engine: ClickHouseEngine;
  connections: PostgresConnections;
  /** Database for unqualified target names. */
  database: string;
  http?: ClickHouseHttpConfig;
  log?: Logger;
}

export class ActiveMigration {
  readonly controller = new AbortController();
  phase: ProgressSnapshot['phase'] = 'preparing';
  status: MigrationStatus = 'pending';
  processed = 0;
  total = 0;
  totalExact = false;
  rangesDone = 0;
  rangesTotal = 0;
  readonly startedAt = new Date();
  private readonly rate: { t: number; rows: number }[] = [];
  private readonly listeners = new Set<(p: ProgressSnapshot) => void>();
  done!: Promise<MigrationSummary>;

  constructor(readonly id: string) {}

  onProgress(listener: (p: ProgressSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(): void {
    const snapshot = this.snapshot();
    for (const l of this.listeners) l(snapshot);
  }

  addRows(n: number): void {
    this.processed += n;
    this.emit();
  }

  snapshot(): ProgressSnapshot {
    const now = performance.now();
    this.rate.push({ t: now, rows: this.processed });
    while (this.rate.length > 2 && now - this.rate[0]!.t > 5000) this.rate.shift();
    const first = this.rate[0]!;
    const windowRate = now - first.t > 200 ? ((this.processed - first.rows) * 1000) / (now - first.t) : 0;
    const elapsed = (Date.now() - this.startedAt.getTime()) / 1000;
    const rate = windowRate || (elapsed > 0 ? this.processed / elapsed : 0);
    const total = Math.max(this.total, this.processed);
    const remaining = Math.max(0, total - this.processed);
    return {
      migration_id: this.id,
      status: this.status,
      phase: this.phase,
      processed_records: this.processed,
      total_records: total,
      total_exact: this.totalExact,
      percentage: total > 0 ? Math.min(100, Math.round((this.processed / total) * 10_000) / 100) : this.phase === 'done' ? 100 : 0,
      rows_per_second: Math.round(rate),
      eta_seconds: this.phase === 'done' ? 0 : rate > 0 ? Math.round(remaining / rate) : null,
      started_at: this.startedAt.toISOString(),
      ranges_done: this.rangesDone,
      ranges_total: this.rangesTotal,
    };
  }
}

export class MigrationService {
  readonly history: MigrationHistory;
  private readonly active = new Map<string, ActiveMigration>();
  private clickhouseTimezone: string | undefined;

  constructor(private readonly options: MigrationServiceOptions) {
    this.history = new MigrationHistory(options.engine);
  }

  get engine(): ClickHouseEngine {
    return this.options.engine;
  }

  private secrets(): string[] {
    const s = this.options.connections.secrets();
    if (this.options.http?.password) s.push(this.options.http.password);
    return s;
  }

  /** A user-facing message for any error (credentials scrubbed). */
  message(error: unknown): string {
    return redact(errorMessage(error), this.secrets());
  }

  async analyzeSource(schema: string, table: string, connection = 'default'): Promise<SourceTable> {
    checkPgName('schema', schema);
    checkPgName('table', table);
    const conn = await this.options.connections.resolve(connection);
    return withPostgres(conn.config, (client) => analyzeTable(client, schema, table));
  }

  private async timezone(): Promise<string> {
    if (this.clickhouseTimezone === undefined) {
      const [row] = await this.engine.json<{ tz: string }>('SELECT timezone() AS tz');
      this.clickhouseTimezone = row?.tz ?? 'UTC';
    }
    return this.clickhouseTimezone;
  }

  private async checkEngine(): Promise<void> {
    if (this.engine.kind !== 'http') return;
    const [row] = await this.engine.json<{ v: string }>('SELECT version() AS v').catch((error: unknown) => {
      throw new MigrationError('', toClickHouseError(error).display, 502);
    });
    const [major, minor] = (row?.v ?? '0.0').split('.').map(Number);
    if (major! < 22 || (major === 22 && minor! < 8)) {
      throw new MigrationError('', `migrations need ClickHouse 22.8 or newer (input(), query parameters, insert_deduplication_token); the server is ${row?.v}`);
    }
  }

  /** Analysis + mapping + DDL (+ value check). `spec` is YAML text or a parsed spec. */
  async plan(spec: string | SpecDoc, options: { valueCheck?: boolean } = {}): Promise<PlanView> {
    const doc = typeof spec === 'string' ? parseSpec(spec).doc : parseSpecDoc(spec).doc;
    const resolved = resolveSpec(doc);
    const conn = await this.options.connections.resolve(resolved.connection);
    return withPostgres(conn.config, async (client) => {
      const plan = await this.buildPlan(client, conn, doc, resolved);
      const check = options.valueCheck ?? resolved.options.value_check;
      const valueCheck = check ? await runValueCheck(client, plan.source, plan.mappings) : null;
      return { ...plan, value_check: valueCheck };
    });
  }

  private async buildPlan(client: pg.Client, conn: ResolvedConnection, doc: SpecDoc, resolved: ResolvedSpec, exactCountBelow?: number): Promise<MigrationPlan> {
    const database = resolved.target.database ?? this.options.database;
    // (ClickHouse's side of the plan is read while PostgreSQL analyzes the source)
    const timezone = this.timezone();
    const targetInfo = this.targetInfo(database, resolved.target.table);
    timezone.catch(() => undefined);
    targetInfo.catch(() => undefined);
    const source = await analyzeTable(client, resolved.source.schema, resolved.source.table, { exactCountBelow });
    const mappings = planColumns(source, resolved, {
      unboundedNumeric: resolved.options.unbounded_numeric,
      clickhouseTimezone: await timezone,
      moneyScale: source.money_scale,
    });
    const { orderBy, warnings: orderWarnings } = resolveOrderBy(mappings, resolved, source);
    const target = await targetInfo;
    const ddl = buildDdl({ database, table: resolved.target.table }, mappings, orderBy, resolved.options.partition_by);
    const warnings = [...orderWarnings];
    // (a run that skips counting, its copy counting the rows, shows the estimate as such: "≈", no warning)
    if (!source.row_count_exact && exactCountBelow !== 0) warnings.push(`row count ≈ ${source.row_count.toLocaleString('en-US')} is PostgreSQL's estimate (table too large to count quickly)`);
    if (conn.demo && resolved.options.parallelism > 1) warnings.push('the embedded demo PostgreSQL is a single backend: copying with parallelism 1');
    if (target.exists && resolved.options.on_existing_rows !== 'replace') {
      const existing = await this.engine.json<{ name: string; type: string }>('SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}', {
        params: { db: database, t: resolved.target.table },
      });
      const have = new Map(existing.map((c) => [c.name, c.type]));
      const missing = activeColumns(mappings).filter((p) => !have.has(p.destination_field));
      if (missing.length) {
        throw new MigrationError(
          'target',
          `${target.qualified} exists without column${missing.length > 1 ? 's' : ''} ${missing.map((p) => p.destination_field).join(', ')}: set options.on_existing_rows: replace to drop and recreate it from the mapping, or change the mapping`,
        );
      }
      for (const p of activeColumns(mappings)) {
        const type = have.get(p.destination_field)!;
        if (type.replace(/\s/g, '') !== p.destination_type.replace(/\s/g, '')) warnings.push(`${p.destination_field}: the existing column is ${type}, the mapping says ${p.destination_type} (values are converted on insert)`);
      }
    }
    if (target.exists && resolved.options.on_existing_rows === 'replace') {
      warnings.push(`target ${target.qualified} exists: on_existing_rows: replace drops it and creates it from the mapping`);
    } else if (target.exists) {
      warnings.push(`target ${target.qualified} exists (${target.rows.toLocaleString('en-US')} rows, ${target.engine})${resolved.options.create_table ? ': CREATE TABLE IF NOT EXISTS leaves it as it is' : ''}`);
      if (target.engine && !/MergeTree/.test(target.engine)) warnings.push(`${target.engine} has no insert deduplication: a resumed run may duplicate rows of ranges that were in flight when it stopped`);
    } else if (!resolved.options.create_table) {
      throw new MigrationError('options.create_table', `target ${target.qualified} does not exist: set create_table: true or create it first`);
    }
    if (resolved.options.method === 'pull') {
      const unsupported = activeColumns(mappings).filter((p) => !PULL_CATEGORIES.has(p.category) || (p.category === 'array' && !PULL_CATEGORIES.has(p.element_category ?? 'array')) || p.read_type.includes('String') && p.category === 'decimal');
      if (unsupported.length) throw new MigrationError('options.method', `pull (postgresql()) does not convert ${unsupported.map((p) => `${p.source_field} (${p.source_type})`).join(', ')} faithfully: use method: copy`);
      if (conn.demo) warnings.push('pull: ClickHouse connects to the demo PostgreSQL itself');
    }
    // ClickHouse type-checks every conversion, transform and CAST before anything is created.
    try {
      await this.engine.json(selectForCheck(mappings));
    } catch (error) {
      throw await this.attributeCheckError(mappings, error);
    }
    return { spec: doc, resolved, source, source_description: conn.description, target, mappings, order_by: orderBy, ddl, warnings };
  }

  private async attributeCheckError(mappings: ColumnPlan[], error: unknown): Promise<MigrationError> {
    const text = toClickHouseError(error).display;
    for (const p of activeColumns(mappings)) {
      if (!p.transformation && p.base_type === p.suggested_type) continue;
      const single = mappings.map((m) => (m === p ? m : { ...m, skip: true }));
      try {
        await this.engine.json(selectForCheck(single));
      } catch (e) {
        const field = p.transformation ? `columns.${p.source_field}.transform` : `columns.${p.source_field}.type`;
        return new MigrationError(field, `ClickHouse rejects it: ${toClickHouseError(e).display}`);
      }
    }
    return new MigrationError('columns', `ClickHouse rejects the mapping: ${text}`);
  }

  private async targetInfo(database: string, table: string): Promise<MigrationPlan['target']> {
    const rows = await this.engine.json<{ engine: string; rows: string | number | null }>(
      'SELECT engine, total_rows AS rows FROM system.tables WHERE database = {db:String} AND name = {t:String}',
      { params: { db: database, t: table } },
    );
    const row = rows[0];
    let count = 0;
    if (row) {
      const [c] = await this.engine.json<{ n: string | number }>(`SELECT count() AS n FROM ${chTable(database, table)}`);
      count = Number(c?.n ?? 0);
    }
    return { database, table, qualified: `${database}.${table}`, exists: !!row, rows: count, engine: row?.engine };
  }

  isActive(id: string): boolean {
    return this.active.has(id);
  }

  activeRun(id: string): ActiveMigration | undefined {
    return this.active.get(id);
  }

  /**
   * Starts a migration: plans it, records it (status pending) and returns at once; the value check, table
   * creation, copy and validation go on in `run.done`.
   */
  async start(spec: string | SpecDoc, options: { user?: string; rerun?: boolean } = {}): Promise<{ run: ActiveMigration; plan: MigrationPlan; previous?: HistoryRecord }> {
    await this.checkEngine();
    const doc = typeof spec === 'string' ? parseSpec(spec).doc : parseSpecDoc(spec).doc;
    const resolved = resolveSpec(doc);
    const key = specKey(doc);
    // The history tables (ClickHouse) and the plan (PostgreSQL first) side by side; a history problem is told first.
    const history = (async () => {
      await this.history.ensureTables();
      if (!options.rerun) {
        const previous = await this.history.findCompleted(key);
        if (previous) throw new AlreadyCompletedError(previous);
      }
    })();
    const planning = (async () => {
      const conn = await this.options.connections.resolve(resolved.connection);
      // No exact count here: the run's value check counts the rows (in the snapshot the copy reads).
      const plan = await withPostgres(conn.config, (client) => this.buildPlan(client, conn, doc, resolved, resolved.options.value_check ? 0 : undefined));
      return { conn, plan };
    })();
    const [historyReady, planned] = await Promise.allSettled([history, planning]);
    if (historyReady.status === 'rejected') throw historyReady.reason;
    if (planned.status === 'rejected') throw planned.reason;
    const { conn, plan } = planned.value;
    const id = randomUUID();
    const stored: StoredPlan = {
      version: 1,
      spec: doc,
      spec_yaml: serializeSpec(doc),
      connection: resolved.connection,
      source: plan.source,
      target: { database: plan.target.database, table: plan.target.table },
      mappings: plan.mappings,
      order_by: plan.order_by,
      ddl: plan.ddl,
      warnings: plan.warnings,
    };
    await this.history.insert({
      id,
      source: conn.description,
      destination: plan.target.qualified,
      source_table: `${resolved.source.schema}.${resolved.source.table}`,
      deskripsi: resolved.description,
      tabel_fields: plan.source.columns.map((c) => c.name),
      field_mappings: JSON.stringify(publicMappings(plan.mappings)),
      status: 'pending',
      created_by: options.user ?? 'analyst',
      metadata: JSON.stringify(stored),
      total_records: plan.source.row_count,
      spec_key: key,
      started_at: new Date(),
    });
    const run = new ActiveMigration(id);
    run.total = plan.source.row_count;
    run.totalExact = plan.source.row_count_exact;
    this.active.set(id, run);
    run.done = this.execute(run, conn, stored, resolved, false).finally(() => this.active.delete(id));
    return { run, plan };
  }

  /** Finishes an interrupted migration: only ranges not recorded as done are copied. */
  async resume(id: string): Promise<ActiveMigration> {
    await this.checkEngine();
    const record = await this.history.get(id);
    if (!record) throw new MigrationError('migration_id', `no migration ${id}`, 404);
    if (this.active.has(id)) throw new MigrationError('migration_id', `migration ${id} is running in this server`, 409);
    if (record.status === 'completed') throw new MigrationError('migration_id', `migration ${id} is already completed`, 409);
    const stored = JSON.parse(record.metadata) as StoredPlan;
    const resolved = resolveSpec(stored.spec);
    const conn = await this.options.connections.resolve(stored.connection);
    const run = new ActiveMigration(id);
    run.total = record.total_records;
    this.active.set(id, run);
    run.done = this.execute(run, conn, stored, resolved, true).finally(() => this.active.delete(id));
    return run;
  }

  private async execute(run: ActiveMigration, conn: ResolvedConnection, stored: StoredPlan, resolved: ResolvedSpec, resuming: boolean): Promise<MigrationSummary> {
    const id = run.id;
    const started = performance.now();
    const phases: Record<string, number> = { ...(stored.phases_ms ?? {}) };
    const target = stored.target;
    const options = resolved.options;
    let coordinator: pg.Client | undefined;
    // A resume re-checks when the stored check found problems (the source may have been fixed since).
    let valueCheck: ValueCheckResult | null = stored.value_check && stored.value_check.problems.length === 0 ? stored.value_check : null;
    let validation: ValidationResult | null = null;
    /** The `running` record's update, which no later update of the record may overtake. */
    let recorded: Promise<void> | undefined;
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await fn();
      } finally {
        phases[name] = Math.round((phases[name] ?? 0) + performance.now() - t);
      }
    };
    try {
      // One snapshot for the value check, the ranges and the validation (exported to the copy workers).
      coordinator = await connectPostgres(conn.config, { applicationName: 'chlab-migration-coordinator' });
      let snapshot: string | undefined;
      if (!conn.demo) {
        await coordinator.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        snapshot = await coordinator.query<{ s: string }>('SELECT pg_export_snapshot() AS s').then((r) => r.rows[0]?.s, () => undefined);
      }
      const utcClickHouse = /^(UTC|Etc\/UTC)$/i.test(await this.timezone());
      const queries = validationQueries(stored.source, stored.mappings, { utcClickHouse });
      // A COPY run into a table it creates checks values as they stream (one more column computed by PostgreSQL,
      // refused by ClickHouse per range) instead of scanning the source once more before loading: on a problem the
      // new table is dropped, so nothing stays. A pull, and a run into a table that already exists (whose rows
      // must not change), still scan before touching anything.
      const before = await this.targetInfo(target.database, target.table);
      const existingTarget = !resuming && before.exists;
      const copyCheck = options.value_check && options.method === 'copy' && !existingTarget;
      const check = copyCheck ? rowCheckExpression(stored.source, stored.mappings) : null;
      let createdTable = false;
      if (options.value_check && !valueCheck && !copyCheck) {
        run.phase = 'value_check';
        run.emit();
        valueCheck = await timed('value_check', () => runValueCheck(coordinator!, stored.source, stored.mappings));
        if (valueCheck.scanned) {
          run.total = valueCheck.checked_rows;
          run.totalExact = true;
        }
        stored.value_check = valueCheck;
        if (valueCheck.problems.length) {
          throw new MigrationError('value_check', `${valueCheck.problems.reduce((n, p) => n + p.count, 0).toLocaleString('en-US')} value(s) would not fit: ${describeProblems(valueCheck)}. Nothing was loaded: change the mapping (type, nulls, transform) and run again`);
        }
      }
      run.phase = 'preparing';
      createdTable = await this.prepareTarget(stored, options, before, resuming);
      const { ranges, done } = await this.rangesFor(id, coordinator, stored, options, resuming);
      stored.ranges = { kind: ranges.kind, count: ranges.ranges.length };
      const pending: CopyRange[] = ranges.ranges.filter((r) => !done.has(r.id));
      run.rangesTotal = ranges.ranges.length;
      run.rangesDone = done.size;
      run.processed = [...done.values()].reduce((n, r) => n + r.rows, 0);
      run.status = 'running';
      run.phase = 'copying';
      // (settled before any range loads, as the transfer's `ready`: a resume after a crash trusts this metadata,
      // rows_before included; the copy workers connect meanwhile)
      recorded = this.history.update(id, { status: 'running', metadata: JSON.stringify(stored), error_message: null });
      recorded.catch(() => undefined);
      run.emit();

      const job: TransferJob = {
        migrationId: id,
        source: resolved.source,
        target,
        mappings: stored.mappings,
        ranges,
        pending,
        parallelism: jobParallelism(conn, options),
        retries: options.retries,
        method: options.method,
        snapshot,
        // (not in append mode: rows already in the target may share the key range)
        resuming: resuming && !stored.rows_before,
        check,
        ready: recorded,
      };
      const rangeByRange = !!snapshot && options.method === 'copy' && pending.length === ranges.ranges.length && (await isoDateStyle(coordinator));
      const sourceSide = snapshot
        ? new SourceSide(coordinator, stored.source, queries, ranges, { rangeByRange, aggregateWorkers: Math.floor(job.parallelism / 3) })
        : undefined;
      if (rangeByRange) job.afterCopy = sourceSide!.afterCopy;
      else sourceSide?.startBesideCopy();
      const copying = timed('copy', () =>
        transfer(
          job,
          /* deps */ {
            engine: this.engine,
            history: this.history,
            connection: conn,
            http: this.options.http,
            signal: run.controller.signal,
            onRows: (n) => run.addRows(n),
            onRangeDone: (_range, rows, reported) => {
              run.rangesDone++;
              run.addRows(rows - reported);
            },
            onRangeRetry: (range, reported, error) => {
              this.options.log?.warn({ migration: id, range: range.id, err: this.message(error) }, 'range failed, retrying on a new connection');
              run.addRows(-reported);
            },
          },
        ),
      );
      try {
        await copying;
        await recorded;
      } catch (error) {
        // A range refused by ClickHouse while values were checked during the copy: the value check says why.
        if (!check || !(error instanceof RangeLoadError) || run.controller.signal.aborted) throw error;
        await sourceSide?.idle();
        const found = await timed('value_check', () => runValueCheck(coordinator!, stored.source, stored.mappings));
        if (!found.problems.length) throw error;
        valueCheck = found;
        stored.value_check = found;
        throw await this.valueCheckFailure(id, run, target, found, error.range, createdTable);
      }
      if (copyCheck) {
        // Every copied row passed the check (ClickHouse would have refused its range otherwise).
        valueCheck = { checked_rows: 0, scanned: !!check, during_copy: !!check, problems: [], skipped: valueConditions(stored.source, stored.mappings).skipped, elapsed_ms: 0 };
      }

      run.phase = 'validating';
      run.emit();
      // No (or a lost) shared snapshot: the source is read now (in validate).
      const sourceRow = job.snapshot ? await timed('validation', () => sourceSide!.result()) : undefined;
      validation = await timed('validation', async () => {
        let client = coordinator!;
        if (!sourceRow && !(await client.query('SELECT 1').then(() => true, () => false))) {
          await coordinator!.end().catch(() => undefined);
          client = coordinator = await connectPostgres(conn.config, { applicationName: 'chlab-migration-coordinator' });
        }
        return validate(client, this.engine, stored.source, stored.mappings, target, { rowsBefore: stored.rows_before, queries, sourceRow });
      });
      stored.validation = validation;
      stored.phases_ms = phases;
      const status: MigrationStatus = validation.ok ? 'completed' : 'failed';
      const error = validation.ok ? null : `validation failed: ${describeMismatches(validation)}`;
      const record = await this.history.get(id);
      const elapsed = record ? Date.now() - new Date(record.started_at).getTime() : performance.now() - started;
      await this.history.update(id, {
        status,
        records_migrated: validation.row_count.destination,
        error_message: error,
        duration_seconds: Math.round(elapsed / 1000),
        metadata: JSON.stringify(stored),
        validation_ok: validation.ok,
        finished_at: new Date(),
      });
      // Only now, with the history record final, does status report the end.
      run.status = status;
      run.phase = 'done';
      run.processed = validation.row_count.destination;
      run.total = validation.row_count.source;
      run.totalExact = true;
      if (valueCheck?.during_copy) valueCheck.checked_rows = validation.row_count.source;
      stored.value_check = valueCheck ?? undefined;
      run.emit();
      return this.summary(id, status, validation.row_count.destination, elapsed, target, validation, valueCheck, error, phases);
    } catch (error) {
      const aborted = run.controller.signal.aborted;
      const message = aborted ? `interrupted: resume with %%migrate resume ${id}` : this.message(error);
      stored.phases_ms = phases;
      await recorded?.catch(() => undefined);
      const record = await this.history.get(id).catch(() => undefined);
      const elapsed = record ? Date.now() - new Date(record.started_at).getTime() : 0;
      await this.history
        .update(id, { status: 'failed', error_message: message, records_migrated: run.processed, duration_seconds: Math.round(elapsed / 1000), metadata: JSON.stringify(stored), finished_at: new Date() })
        .catch((e: unknown) => this.options.log?.error({ err: e }, 'could not record a failed migration'));
      run.status = 'failed';
      run.phase = 'done';
      run.emit();
      return this.summary(id, 'failed', run.processed, elapsed, target, validation, valueCheck, message, phases);
    } finally {
      if (coordinator) {
        await coordinator.query('ROLLBACK').catch(() => undefined);
        await coordinator.end().catch(() => undefined);
      }
    }
  }

  /**
   * Empties, drops or keeps an existing target as on_existing_rows says (a resume keeps what it loaded), or creates
   * it. Returns whether this run created the table.
   */
  private async prepareTarget(stored: StoredPlan, options: ResolvedSpec['options'], info: MigrationPlan['target'], resuming: boolean): Promise<boolean> {
    const target = stored.target;
    if (!resuming && info.exists && options.on_existing_rows === 'replace') {
      await this.engine.command(`DROP TABLE ${chTable(target.database, target.table)} SYNC`);
      info.exists = false;
      info.rows = 0;
    }
    if (!resuming && info.exists && info.rows > 0) {
      if (options.on_existing_rows === 'fail') throw new MigrationError('options.on_existing_rows', `target ${info.qualified} already has ${info.rows.toLocaleString('en-US')} rows: set on_existing_rows: truncate (empty it first), append, or replace (drop and recreate it)`);
      if (options.on_existing_rows === 'truncate') await this.engine.command(`TRUNCATE TABLE ${chTable(target.database, target.table)}`);
      else stored.rows_before = info.rows;
    }
    if (info.exists) {
      await this.ensureDeduplication(target, info.engine ?? '');
      return false;
    }
    if (!options.create_table) throw new MigrationError('options.create_table', `target ${info.qualified} does not exist`);
    if (target.database !== 'default') await this.engine.command(`CREATE DATABASE IF NOT EXISTS ${chTable(undefined, target.database)}`);
    await this.engine.command(stored.ddl);
    return true;
  }

  /** The run's ranges: planned once and stored; a resume takes the stored plan and the ranges it finished. */
  private async rangesFor(id: string, coordinator: pg.Client, stored: StoredPlan, options: ResolvedSpec['options'], resuming: boolean): Promise<{ ranges: RangePlan; done: Map<number, { rows: number; bytes: number }> }> {
    const existing = resuming ? await this.history.ranges(id) : undefined;
    if (existing && existing.plan.ranges.length) {
      const ranges = existing.plan;
      if (ranges.kind === 'key') ranges.column = stored.source.primary_key[0];
      return { ranges, done: existing.done };
    }
    const ranges = await planRanges(coordinator, stored.source, options, options.method === 'pull');
    await this.history.recordPlannedRanges(id, ranges);
    return { ranges, done: new Map() };
  }

  /**
   * A value that does not fit was found during the copy. The refused range loaded nothing (one insert block). When
   * this run created the target, it is dropped and the loaded ranges forgotten: as with the check before loading,
   * nothing stays; a resume after fixing the source loads every range. An existing target keeps the ranges loaded
   * before (recorded: a resume after fixing the source finishes the rest).
   */
  private async valueCheckFailure(id: string, run: ActiveMigration, target: { database: string; table: string }, found: ValueCheckResult, range: CopyRange, createdTable: boolean): Promise<MigrationError> {
    const values = `${found.problems.reduce((n, p) => n + p.count, 0).toLocaleString('en-US')} value(s) would not fit: ${describeProblems(found)}`;
    const where = `range ${range.id}${range.lo !== null || range.hi !== null ? ` [${range.lo ?? '…'}, ${range.hi ?? '…'})` : ''}`;
    const { done } = await this.history.ranges(id);
    const loaded = [...done.values()].reduce((n, r) => n + r.rows, 0);
    run.processed = loaded;
    if (createdTable) {
      await this.engine.command(`DROP TABLE IF EXISTS ${chTable(target.database, target.table)} SYNC`);
      await this.history.forgetDoneRanges(id);
      run.processed = 0;
      return new MigrationError('value_check', `${values}. Found while copying ${where}; nothing was loaded: change the mapping (type, nulls, transform) and run again, or fix the source rows and resume ${id}`);
    }
    return new MigrationError(
      'value_check',
      `${values}. Found while copying ${where}, which was not loaded; the ranges loaded before it stay in ${target.database}.${target.table} (${loaded.toLocaleString('en-US')} rows): fix the source rows and resume ${id}, or change the mapping and run again`,
    );
  }

  private summary(id: string, status: MigrationStatus, records: number, elapsedMs: number, target: { database: string; table: string }, validation: ValidationResult | null, valueCheck: ValueCheckResult | null, error: string | null, phases: Record<string, number>): MigrationSummary {
    const elapsed = Math.max(0, Math.round(elapsedMs));
    return { migration_id: id, status, records_migrated: records, duration_seconds: Math.round(elapsed / 1000), elapsed_ms: elapsed, destination: `${target.database}.${target.table}`, validation, value_check: valueCheck, error_message: error, phases_ms: phases };
  }

  /** An existing MergeTree target gets insert deduplication (what makes a retried range exact). */
  private async ensureDeduplication(target: { database: string; table: string }, engine: string): Promise<void> {
    if (!/MergeTree$/.test(engine) || /^Replicated/.test(engine)) return;
    const [row] = await this.engine.json<{ value: string }>(
      "SELECT extract(create_table_query, 'non_replicated_deduplication_window\\\\s*=\\\\s*(\\\\d+)') AS value FROM system.tables WHERE database = {db:String} AND name = {t:String}",
      { params: { db: target.database, t: target.table } },
    );
    if (Number(row?.value || 0) > 0) return;
    await this.engine.command(`ALTER TABLE ${chTable(target.database, target.table)} MODIFY SETTING non_replicated_deduplication_window = ${DEDUP_WINDOW}`);
  }

  /** `chlab start`: bring the embedded demo PostgreSQL up in the background when it is the default source. */
  warmUp(): void {
    this.options.connections.warmUp().catch((error: unknown) => this.options.log?.warn({ err: this.message(error) }, 'the demo PostgreSQL did not start'));
  }

  interrupt(id: string): boolean {
    const run = this.active.get(id);
    if (!run) return false;
    run.controller.abort();
    return true;
  }

  async status(id: string): Promise<Record<string, unknown>> {
    const run = this.active.get(id);
    if (run) {
      const p = run.snapshot();
      return {
        id,
        status: p.status,
        phase: p.phase,
        active: true,
        progress: { total_records: p.total_records, processed_records: p.processed_records, percentage: p.percentage, rows_per_second: p.rows_per_second, eta_seconds: p.eta_seconds, ranges_done: p.ranges_done, ranges_total: p.ranges_total },
        started_at: p.started_at,
        estimated_completion: p.eta_seconds === null ? null : new Date(Date.now() + p.eta_seconds * 1000).toISOString(),
      };
    }
    const record = await this.history.get(id);
    if (!record) throw new MigrationError('id', `no migration ${id}`, 404);
    let processed = record.records_migrated;
    if (record.status === 'running' || record.status === 'pending' || (record.status === 'failed' && processed === 0)) {
      const { done } = await this.history.ranges(id);
      processed = Math.max(processed, [...done.values()].reduce((n, r) => n + r.rows, 0));
    }
    const total = Math.max(record.total_records, processed);
    return {
      id,
      status: record.status,
      active: false,
      progress: { total_records: total, processed_records: processed, percentage: total ? Math.min(100, Math.round((processed / total) * 10_000) / 100) : record.status === 'completed' ? 100 : 0 },
      started_at: record.started_at,
      finished_at: record.finished_at,
      estimated_completion: record.finished_at,
      error_message: record.error_message,
      ...(record.status === 'running' ? { note: 'not running in this server: it was interrupted; resume it to finish' } : {}),
    };
  }

  async list(filter: HistoryFilter) {
    return this.history.list(filter);
  }

  async close(): Promise<void> {
    for (const run of this.active.values()) run.controller.abort();
    await Promise.allSettled([...this.active.values()].map((r) => r.done));
  }
}

/** Whether dates and times print in ISO style (partials of date/time minimums are read back as text: see validation.ts). */
async function isoDateStyle(client: pg.Client): Promise<boolean> {
  const result = await client.query<{ DateStyle?: string; datestyle?: string }>('SHOW DateStyle').catch(() => undefined);
  const row = result?.rows[0];
  return /^ISO/i.test(row?.DateStyle ?? row?.datestyle ?? '');
}

/** Ranges copied at once: the demo PostgreSQL is one backend, and a pull runs its ranges in turn. */
function jobParallelism(conn: ResolvedConnection, options: ResolvedSpec['options']): number {
  return conn.demo || options.method === 'pull' ? 1 : options.parallelism;
}

const PULL_CATEGORIES = new Set(['int', 'uint', 'float', 'decimal', 'bool', 'string', 'uuid', 'date', 'datetime', 'json', 'array']);

export class AlreadyCompletedError extends MigrationError {
  constructor(readonly previous: HistoryRecord) {
    super('', `this migration already completed (${previous.id}, ${previous.records_migrated.toLocaleString('en-US')} rows, ${previous.finished_at ?? previous.started_at}): run it again with %%migrate run --rerun`, 409);
    this.name = 'AlreadyCompletedError';
  }
}

/** Mappings as the contract shows them (without transfer internals). */
export function publicMappings(mappings: readonly ColumnPlan[]) {
  return mappings.map((p) => ({
    source_field: p.source_field,
    source_type: p.source_type,
    udt_name: p.udt_name,
    source_nullable: p.source_nullable,
    primary_key: p.primary_key,
    destination_field: p.destination_field,
    destination_type: p.destination_type,
    suggested_type: p.suggested_type,
    transformation: p.transformation,
    nulls: p.nulls,
    skip: p.skip,
    warnings: p.warnings,
    notes: p.notes,
  }));
}

/** The plan as the contract's application/vnd.chlab.migration-plan+json. */
export function planBundle(plan: PlanView) {
  const warnings = [...plan.warnings, ...plan.mappings.filter((m) => !m.skip).flatMap((m) => m.warnings.map((w) => `${m.source_field}: ${w}`))];
  return {
    spec: plan.spec,
    spec_yaml: serializeSpec(plan.spec),
    source: {
      schema: plan.source.schema,
      table: plan.source.table,
      connection: plan.resolved.connection,
      description: plan.source_description,
      columns: plan.source.columns.map(({ resolved: _resolved, ...c }) => c),
      primary_key: plan.source.primary_key,
      row_count: plan.source.row_count,
      row_count_exact: plan.source.row_count_exact,
      estimated_size_mb: plan.source.estimated_size_mb,
      server_version: plan.source.server_version,
    },
    target: plan.target,
    options: plan.resolved.options,
    mappings: publicMappings(plan.mappings),
    order_by: plan.order_by,
    ddl: plan.ddl,
    warnings,
    value_check: plan.value_check ? { checked_rows: plan.value_check.checked_rows, scanned: plan.value_check.scanned, problems: plan.value_check.problems, skipped: plan.value_check.skipped } : null,
  };
}
