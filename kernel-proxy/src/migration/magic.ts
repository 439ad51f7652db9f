// %%migrate: the migration cell. The cell source is the spec; the first line picks the action.
//   %%migrate                  analyze: plan bundle (analysis, mapping, DDL, value check); moves no data
//   %%migrate run [--rerun]    plan, then progress (updated in place, ≤ 4 updates/s), then the summary
//   %%migrate resume <id>      finish an interrupted run
//   %%migrate history [n]      recent migrations
import { CellError, type CellContext, type CellMagic } from '../kernel/cell-magic.js';
import { historyOutput, planOutput, progressOutput, summaryOutput } from './render.js';
import { AlreadyCompletedError, planBundle, type ActiveMigration, type MigrationService, type MigrationSummary } from './service.js';
import { parseMigrateArgs } from './spec.js';
import { MigrationError } from './sql.js';
import { requireCapability } from '../access/roles.js';

const UPDATE_INTERVAL_MS = 250;

export class MigrateMagic implements CellMagic {
  readonly name = 'migrate';

  constructor(private readonly service: MigrationService) {}

  async run(context: CellContext): Promise<void> {
    try {
      await this.dispatch(context);
    } catch (error) {
      if (error instanceof CellError) throw error;
      if (error instanceof MigrationError) throw new CellError(error.inSpec ? 'MigrationSpecError' : 'MigrationError', error.message);
      throw new CellError('MigrationError', this.service.message(error));
    }
  }

  private async dispatch(context: CellContext): Promise<void> {
    const action = parseMigrateArgs(context.args);
    if (action.action !== 'history') {
      try {
        requireCapability(context.principal, 'migrate', 'running %%migrate');
      } catch (error) {
        context.audit('denied', `%%migrate ${action.action}`, 'denied', (error as Error).message);
        throw new CellError('PermissionDenied', (error as Error).message);
      }
    }
    switch (action.action) {
      case 'analyze': {
        const plan = await this.service.plan(context.body);
        context.display(planOutput(planBundle(plan)));
        return;
      }
      case 'history': {
        const history = await this.service.list({ limit: action.limit, offset: 0 });
        context.display(historyOutput(history));
        return;
      }
      case 'run': {
        let started;
        try {
          started = await this.service.start(context.body, { user: context.user, rerun: action.rerun });
        } catch (error) {
          if (error instanceof AlreadyCompletedError) {
            context.stream('stdout', `${error.message}\n`);
            return;
          }
          throw error;
        }
        context.display(planOutput(planBundle({ ...started.plan, value_check: null })));
        auditRun(context, started.run, started.plan.target.qualified);
        return this.follow(context, started.run);
      }
      case 'resume': {
        const run = await this.service.resume(action.migrationId);
        auditRun(context, run, `resume ${action.migrationId}`);
        return this.follow(context, run);
      }
    }
  }

  private async follow(context: CellContext, run: ActiveMigration): Promise<void> {
    const displayId = `chlab-migration-${run.id}`;
    context.display(progressOutput(run.snapshot()), displayId);
    let dirty = false;
    const unsubscribe = run.onProgress(() => (dirty = true));
    const timer = setInterval(() => {
      if (!dirty) return;
      dirty = false;
      context.update(displayId, progressOutput(run.snapshot()));
    }, UPDATE_INTERVAL_MS);
    const onAbort = () => this.service.interrupt(run.id);
    context.signal.addEventListener('abort', onAbort, { once: true });
    let summary: MigrationSummary;
    try {
      summary = await run.done;
    } finally {
      clearInterval(timer);
      unsubscribe();
      context.signal.removeEventListener('abort', onAbort);
    }
    context.update(displayId, progressOutput(run.snapshot()));
    context.display(summaryOutput(summary));
    if (summary.status !== 'completed') {
      if (context.signal.aborted) throw new CellError('Interrupted', (summary.error_message ?? 'interrupted').replace(/^interrupted: /, 'migration stopped; '));
      throw new CellError('MigrationFailed', summary.error_message ?? 'the migration failed');
    }
  }
}

function auditRun(context: CellContext, run: { id: string; done: Promise<unknown> }, target: string): void {
  run.done.then(
    () => context.audit('migration', target, 'ok', `migration ${run.id}`),
    (error: unknown) => context.audit('migration', target, 'error', `migration ${run.id}: ${error instanceof Error ? error.message : String(error)}`),
  );
}
