// The source side of a run's validation, computed in the snapshot the coordinator shares with every copy worker,
// so it describes exactly what the copy read:
//  - a run that copies every range: range by range, by the worker that copied it, right after its COPY (the range's
//    pages are then mapped in that backend and hot in cache; a scan by another backend first maps the whole
//    table's shared buffers again, which cost about 0.7 s of CPU per 1M rows on a 2-core machine), and the partials
//    combined by PostgreSQL at the end (validation.ts combinePartials);
//  - a resumed run (ranges copied by an earlier process), or when a partial could not be computed: over the whole
//    table on the coordinator, beside the copy. It then takes few of PostgreSQL's parallel workers: each is a fresh
//    process that maps the shared buffers again (a parallel scan cost 2.3 s of CPU, a serial one 1.1-1.8 s, taken
//    from the copy). A serial scan is about 0.4× the CPU of copying the same rows, so one helper per three copy
//    workers keeps it from outlasting the copy.
// Each query runs in a savepoint: a failure leaves the snapshot's transaction usable and the result undefined (the
// validation then reads the source itself).
import type pg from 'pg';
import type { SourceTable } from '../postgres/analyze.js';
import { rangeCondition, type CopyRange, type RangePlan } from './planner.js';
import { combinePartials, sourceAggregates, sourcePartials, type ValidationQueries } from './validation.js';

type Row = Record<string, string | null>;

export class SourceSide {
  private readonly partials = new Map<number, Row>();
  private partialsFailed = false;
  private besideCopy: Promise<Row | undefined> | undefined;

  constructor(
    private readonly coordinator: pg.Client,
    private readonly source: SourceTable,
    private readonly queries: ValidationQueries,
    private readonly ranges: RangePlan,
    private readonly options: { rangeByRange: boolean; aggregateWorkers: number },
  ) {}

  /** TransferJob.afterCopy for a range-by-range run: the range's partial, on the connection that copied it. */
  readonly afterCopy = async (client: pg.Client, range: CopyRange): Promise<void> => {
    try {
      await client.query('SAVEPOINT chlab_partial');
      // (serial: a parallel worker would be a fresh process mapping the pages again)
      await client.query('SET LOCAL max_parallel_workers_per_gather = 0');
      this.partials.set(range.id, await sourcePartials(client, this.source, this.queries, rangeCondition(this.ranges, range)));
      await client.query('RELEASE SAVEPOINT chlab_partial');
    } catch {
      this.partialsFailed = true;
      await client.query('ROLLBACK TO SAVEPOINT chlab_partial').catch(() => undefined);
    }
  };

  /** Not range by range: starts the whole-table aggregates on the coordinator, beside the copy. */
  startBesideCopy(): void {
    if (this.options.rangeByRange || this.besideCopy) return;
    this.besideCopy = this.wholeTable();
    this.besideCopy.catch(() => undefined);
  }

  /** Waits for the coordinator to be free (the aggregates beside the copy, if any, finished). */
  async idle(): Promise<void> {
    await this.besideCopy?.catch(() => undefined);
  }

  /** After the copy: the source aggregates of the whole table, or undefined when they could not be computed. */
  async result(): Promise<Row | undefined> {
    if (!this.options.rangeByRange) return this.besideCopy ?? this.wholeTable();
    const complete = !this.partialsFailed && this.partials.size === this.ranges.ranges.length;
    return (complete ? await this.combined() : undefined) ?? this.wholeTable();
  }

  private wholeTable(): Promise<Row | undefined> {
    return this.inSavepoint('chlab_validation', async () => {
      await this.coordinator.query(`SET LOCAL max_parallel_workers_per_gather = ${this.options.aggregateWorkers}`);
      return sourceAggregates(this.coordinator, this.source, this.queries);
    });
  }

  private combined(): Promise<Row | undefined> {
    return this.inSavepoint('chlab_combine', () => combinePartials(this.coordinator, this.source, this.queries, [...this.partials.values()]));
  }

  private async inSavepoint(name: string, fn: () => Promise<Row>): Promise<Row | undefined> {
    await this.coordinator.query(`SAVEPOINT ${name}`);
    try {
      const row = await fn();
      await this.coordinator.query(`RELEASE SAVEPOINT ${name}`);
      return row;
    } catch {
      await this.coordinator.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      return undefined;
    }
  }
}
