/**
 * The live progress bar for `application/vnd.chlab.migration-progress+json`. The kernel replaces the
 * output in place (update_display_data), and JupyterLab calls renderModel again on the same renderer:
 * `update` changes the existing nodes so the bar moves smoothly instead of being rebuilt.
 * While its cell runs the migration, a Stop button interrupts the kernel (the run can be resumed).
 */
import type { CellHandle } from './cell.js';
import { formatDecimal, formatDuration, formatInteger, h, statusBadge } from './dom.js';
import type { MigrationProgress } from './types.js';

const PHASES: Record<string, string> = {
  preparing: 'preparing…',
  value_check: 'checking values…',
  copying: 'copying…',
  validating: 'validating…'
};

export class MigrationProgressView {
  readonly node: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly percent: HTMLElement;
  private readonly rows: HTMLElement;
  private readonly speed: HTMLElement;
  private readonly eta: HTMLElement;
  private readonly status: HTMLElement;
  private readonly phase: HTMLElement;
  private readonly ranges: HTMLElement;
  private readonly id: HTMLElement;
  private readonly stopButton: HTMLButtonElement;
  private cell: CellHandle | undefined;
  private disconnectCell: (() => void) | undefined;
  private finished = false;
  private migrationId = '';

  constructor() {
    this.fill = h('div', 'chlab-MigrationProgress-fill');
    this.bar = h(
      'div',
      { className: 'chlab-MigrationProgress-bar', attrs: { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' } },
      this.fill
    );
    this.percent = h('span', 'chlab-MigrationProgress-percent');
    this.rows = h('span', 'chlab-MigrationProgress-rows');
    this.speed = h('span', 'chlab-MigrationProgress-speed');
    this.eta = h('span', 'chlab-MigrationProgress-eta');
    this.status = h('span', 'chlab-MigrationProgress-status');
    this.phase = h('span', 'chlab-MigrationProgress-phase');
    this.ranges = h('span', 'chlab-MigrationProgress-ranges');
    this.id = h('span', 'chlab-MigrationProgress-id');
    this.stopButton = h('button', { className: 'jp-Button jp-mod-styled chlab-MigrationProgress-stop', text: 'Stop', attrs: { type: 'button' } });
    this.stopButton.hidden = true;
    this.stopButton.addEventListener('click', () => void this.stop());
    this.node = h(
      'div',
      'chlab-MigrationProgress',
      h('div', 'chlab-MigrationProgress-head', this.status, this.percent, this.phase, this.id, this.stopButton),
      this.bar,
      h('div', 'chlab-MigrationProgress-stats', this.rows, this.speed, this.eta, this.ranges)
    );
  }

  /** Connects the view to the cell it is shown in (for Stop); undefined outside a notebook. */
  attach(cell: CellHandle | undefined): void {
    this.detach();
    this.cell = cell;
    this.disconnectCell = cell?.onExecutionChanged(() => this.showStop());
    this.showStop();
  }

  detach(): void {
    this.disconnectCell?.();
    this.disconnectCell = undefined;
    this.cell = undefined;
    this.showStop();
  }

  update(progress: MigrationProgress): void {
    const percentage = progress.percentage;
    const known = percentage !== undefined;
    this.node.classList.toggle('chlab-mod-indeterminate', !known);
    this.node.dataset.status = progress.status ?? '';
    this.node.dataset.percentage = known ? percentage.toFixed(1) : '';
    this.node.dataset.processed = progress.processed !== undefined ? String(progress.processed) : '';
    this.fill.style.width = known ? `${percentage}%` : '';
    if (known) {
      this.bar.setAttribute('aria-valuenow', percentage.toFixed(1));
    } else {
      this.bar.removeAttribute('aria-valuenow');
    }
    this.percent.textContent = known ? `${formatDecimal(percentage)}%` : '';
    this.status.replaceChildren(statusBadge(progress.status ?? 'running'));
    this.id.textContent = progress.migrationId ? `migration ${progress.migrationId}` : '';
    this.node.dataset.phase = progress.phase ?? '';
    this.phase.textContent = progress.phase && progress.phase !== 'done' ? PHASES[progress.phase] ?? progress.phase : '';
    this.ranges.textContent =
      progress.rangesTotal && progress.rangesTotal > 1
        ? `${formatInteger(progress.rangesDone ?? 0)} / ${formatInteger(progress.rangesTotal)} ranges`
        : '';

    const processed = progress.processed !== undefined ? formatInteger(progress.processed) : undefined;
    this.rows.textContent =
      processed !== undefined
        ? progress.total !== undefined
          ? `${processed} / ${progress.totalExact === false ? '≈ ' : ''}${formatInteger(progress.total)} rows`
          : `${processed} rows`
        : (progress.message ?? '');
    this.speed.textContent =
      progress.rowsPerSecond !== undefined ? `${formatInteger(progress.rowsPerSecond)} rows/s` : '';
    const finished = progress.status === 'completed' || progress.status === 'failed';
    this.finished = finished;
    this.migrationId = progress.migrationId ?? '';
    this.showStop();
    this.eta.textContent =
      !finished && progress.etaSeconds !== undefined && progress.etaSeconds > 0
        ? `ETA ${formatDuration(progress.etaSeconds)}`
        : '';
  }

  /** Stop is offered while the run is live in this cell: not for a saved output, nor once the run ended. */
  private showStop(): void {
    const live = !this.finished && !!this.cell?.canRun && this.cell.isExecuting();
    this.stopButton.hidden = !live;
    if (!live) {
      this.stopButton.disabled = false;
      this.stopButton.textContent = 'Stop';
    }
    this.stopButton.title = `Interrupt the kernel: the ranges being copied stop, the ranges already loaded stay. Resume later with %%migrate resume ${this.migrationId || '<id>'}`;
  }

  private async stop(): Promise<void> {
    if (!this.cell) {
      return;
    }
    this.stopButton.disabled = true;
    this.stopButton.textContent = 'Stopping…';
    if (!(await this.cell.interrupt().catch(() => false))) {
      this.stopButton.disabled = false;
      this.stopButton.textContent = 'Stop';
    }
  }
}
