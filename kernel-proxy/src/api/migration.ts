import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { readBodiesAsJson, requestUser } from './rest-conventions.js';
import type { AuditLog, AuditOutcome } from '../access/audit.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import { planBundle, publicMappings, type MigrationService, type StoredPlan } from '../migration/service.js';
import { NULLS, type SpecDoc } from '../migration/spec.js';
import { MigrationError } from '../migration/sql.js';

export interface MigrationApiOptions {
  service: MigrationService;
  audit?: AuditLog;
}

/** Audits a migration started over REST when it ends. */
function auditRun(audit: AuditLog | undefined, request: FastifyRequest, run: { id: string; done: Promise<unknown> }, target: string): void {
  const user = request.user;
  if (!audit || !user) return;
  const record = (outcome: AuditOutcome, detail: string) =>
    audit.record({ user: user.username, role: user.role, address: request.ip, action: 'migration', target, outcome, detail });
  run.done.then(
    () => record('ok', `migration ${run.id}`),
    (error: unknown) => record('error', `migration ${run.id}: ${error instanceof Error ? error.message : String(error)}`),
  );
}

const name = (field: string) => z.string({ error: `${field} must be a string` }).min(1, `${field} must not be empty`).max(300, `${field} is too long`);

const AnalyzeBody = z.object({ schema: name('schema').default('public'), table: name('table'), connection: z.string().max(100).optional() }).strict();

const MappingItem = z
  .object({
    source_field: name('source_field'),
    source_type: z.string().optional(),
    destination_field: z.string().min(1).max(200).optional(),
    destination_type: z.string().min(1).max(1000).optional(),
    transformation: z.string().max(10_000).nullable().optional(),
    nulls: z.enum(NULLS).optional(),
    skip: z.boolean().optional(),
  })
  .passthrough();

const OptionsBody = z.record(z.string(), z.unknown()).optional();

const SuggestBody = z
  .object({
    source_schema: z.union([name('source_schema'), z.object({ schema: z.string().optional(), table: name('source_schema.table') }).passthrough()]).optional(),
    source_table: name('source_table').optional(),
    destination_table: name('destination_table').optional(),
    connection: z.string().max(100).optional(),
    mappings: z.array(MappingItem).max(2000).optional(),
    options: OptionsBody,
    spec: z.union([z.string().max(200_000), z.record(z.string(), z.unknown())]).optional(),
    value_check: z.boolean().optional(),
  })
  .strict();

const ExecuteBody = z
  .object({
    source_schema: name('source_schema').optional(),
    source_table: name('source_table').optional(),
    destination_table: name('destination_table').optional(),
    connection: z.string().max(100).optional(),
    mappings: z.array(MappingItem).max(2000).optional(),
    create_table: z.boolean().optional(),
    batch_size: z.number().int().optional(),
    parallelism: z.number().int().optional(),
    description: z.string().max(10_000).optional(),
    options: OptionsBody,
    spec: z.union([z.string().max(200_000), z.record(z.string(), z.unknown())]).optional(),
    rerun: z.boolean().default(true),
  })
  .strict();

const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  status: z.enum(['pending', 'running', 'completed', 'failed']).optional(),
  search: z.string().max(1000).optional(),
  from: z.string().max(40).regex(/^[0-9T:.+\-Z ]+$/, 'from must be a date or date-time').optional(),
  to: z.string().max(40).regex(/^[0-9T:.+\-Z ]+$/, 'to must be a date or date-time').optional(),
  sort: z.enum(['migration_time', 'records_migrated', 'duration_seconds', 'status', 'source_table', 'destination']).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

const IdParams = z.object({ id: z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'id must be a migration id (UUID)') });

function zodMessage(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.map(String).join('.') || 'body';
      if (i.code === 'unrecognized_keys') return `${i.keys.join(', ')}: unknown field${i.keys.length > 1 ? 's' : ''}`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

/** A REST body (legacy SPEC §4 fields, or a spec) as a spec document. */
export function specFromBody(body: z.infer<typeof ExecuteBody> | z.infer<typeof SuggestBody>): SpecDoc | string {
  if (body.spec !== undefined) return typeof body.spec === 'string' ? body.spec : (body.spec as SpecDoc);
  let schema = 'public';
  let table: string | undefined = body.source_table;
  if (typeof body.source_schema === 'object') {
    schema = body.source_schema.schema ?? 'public';
    table = body.source_schema.table;
  } else if (typeof body.source_schema === 'string') {
    schema = body.source_schema;
  }
  if (!table) throw new MigrationError('source_table', 'source_table is required (or spec)');
  const quote = (s: string) => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  const doc: SpecDoc = { source: `${quote(schema)}.${quote(table)}` };
  if (body.destination_table) doc.target = body.destination_table;
  if (body.connection) doc.connection = body.connection;
  const b = body as z.infer<typeof ExecuteBody>;
  if (b.description) doc.description = b.description;
  const options: Record<string, unknown> = { ...(body.options ?? {}) };
  if (b.create_table !== undefined) options.create_table = b.create_table;
  if (b.batch_size !== undefined) options.batch_size = b.batch_size;
  if (b.parallelism !== undefined) options.parallelism = b.parallelism;
  if (Object.keys(options).length) doc.options = options as SpecDoc['options'];
  if (body.mappings?.length) {
    const columns: NonNullable<SpecDoc['columns']> = {};
    for (const m of body.mappings) {
      const o: Record<string, unknown> = {};
      if (m.destination_field && m.destination_field !== m.source_field) o.rename = m.destination_field;
      if (m.destination_type) o.type = m.destination_type;
      if (m.transformation) o.transform = m.transformation;
      if (m.nulls) o.nulls = m.nulls;
      if (m.skip) o.skip = true;
      if (Object.keys(o).length) columns[m.source_field] = o;
    }
    if (Object.keys(columns).length) doc.columns = columns;
  }
  return doc;
}

/** REST for scripts and the history view: /api/migration/* (SPEC §4), driving the same engine as %%migrate. */
export const migrationApiPlugin: FastifyPluginAsync<MigrationApiOptions> = async (app, { service, audit }) => {
  readBodiesAsJson(app);

  const fail = (reply: FastifyReply, error: unknown) => {
    if (error instanceof MigrationError) {
      return reply.code(error.status).send({ success: false, error: { message: error.message, field: error.field || null } });
    }
    const e = error as { statusCode?: number; message?: string; severity?: string; code?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return reply.code(e.statusCode).send({ success: false, error: { message: e.message } });
    const message = service.message(error);
    if (typeof e.severity === 'string' || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|unreachable|password authentication/i.test(message)) {
      return reply.code(502).send({ success: false, error: { message } });
    }
    if (/Code: \d+/.test(message) || error instanceof Error && error.name === 'ClickHouseQueryError') {
      const ch = toClickHouseError(error);
      return reply.code(400).send({ success: false, error: { code: ch.code ?? null, type: ch.type ?? null, message: service.message(ch.display) } });
    }
    app.log.error({ err: message }, 'migration API failed');
    return reply.code(500).send({ success: false, error: { message } });
  };
  app.setErrorHandler((error, _request, reply) => fail(reply, error));

  const parse = <T>(schema: z.ZodType<T>, value: unknown): T => {
    const parsed = schema.safeParse(value ?? {});
    if (!parsed.success) throw new MigrationError('', zodMessage(parsed.error));
    return parsed.data;
  };

  app.post('/api/migration/analyze-source', async (request) => {
    const body = parse(AnalyzeBody, request.body);
    const source = await service.analyzeSource(body.schema, body.table, body.connection);
    return {
      table: source.table,
      schema: source.schema,
      columns: source.columns.map(({ resolved: _r, ...c }) => c),
      primary_key: source.primary_key,
      row_count: source.row_count,
      row_count_exact: source.row_count_exact,
      estimated_size_mb: source.estimated_size_mb,
    };
  });

  app.post('/api/migration/suggest-mapping', async (request) => {
    const body = parse(SuggestBody, request.body);
    const plan = await service.plan(specFromBody(body), { valueCheck: body.value_check ?? false });
    const bundle = planBundle(plan);
    return { suggested_ddl: plan.ddl, mappings: bundle.mappings, warnings: bundle.warnings, value_check: bundle.value_check, target: plan.target, order_by: plan.order_by, spec_yaml: bundle.spec_yaml };
  });

  app.post('/api/migration/plan', async (request) => {
    const body = parse(SuggestBody, request.body);
    return planBundle(await service.plan(specFromBody(body), { valueCheck: body.value_check }));
  });

  app.post('/api/migration/execute', async (request, reply) => {
    const body = parse(ExecuteBody, request.body);
    const { run, plan } = await service.start(specFromBody(body), { user: requestUser(request), rerun: body.rerun });
    run.done.catch(() => undefined);
    auditRun(audit, request, run, plan.target.qualified);
    return reply.code(202).send({ migration_id: run.id, status: 'running' });
  });

  app.post('/api/migration/resume/:id', async (request, reply) => {
    const { id } = parse(IdParams, request.params);
    const run = await service.resume(id.toLowerCase());
    run.done.catch(() => undefined);
    auditRun(audit, request, run, `resume ${run.id}`);
    return reply.code(202).send({ migration_id: run.id, status: 'running' });
  });

  app.post('/api/migration/cancel/:id', async (request) => {
    const { id } = parse(IdParams, request.params);
    return { migration_id: id, cancelled: service.interrupt(id.toLowerCase()) };
  });

  app.get('/api/migration/status/:id', async (request) => {
    const { id } = parse(IdParams, request.params);
    return service.status(id.toLowerCase());
  });

  app.get('/api/migration/history', async (request) => {
    const filter = parse(HistoryQuery, request.query);
    const { migrations, total } = await service.list(filter);
    return {
      migrations: migrations.map(({ metadata: _m, field_mappings, ...m }) => ({ ...m, field_mappings: safeJson(field_mappings), active: service.isActive(m.id) })),
      total,
    };
  });

  app.get('/api/migration/history/:id', async (request) => {
    const { id } = parse(IdParams, request.params);
    const record = await service.history.get(id.toLowerCase());
    if (!record) throw new MigrationError('id', `no migration ${id}`, 404);
    const stored = safeJson(record.metadata) as Partial<StoredPlan> | null;
    return {
      ...record,
      metadata: undefined,
      field_mappings: safeJson(record.field_mappings),
      active: service.isActive(record.id),
      spec: stored?.spec ?? null,
      spec_yaml: stored?.spec_yaml ?? null,
      ddl: stored?.ddl ?? null,
      warnings: stored?.warnings ?? [],
      mappings: stored?.mappings ? publicMappings(stored.mappings) : [],
      value_check: stored?.value_check ?? null,
      validation: stored?.validation ?? null,
      phases_ms: stored?.phases_ms ?? null,
      ranges: stored?.ranges ?? null,
    };
  });
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
