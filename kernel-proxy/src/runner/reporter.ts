import { ARROW_MIME } from '../kernel/spec.js';
import type { Output } from './outputs.js';

export const MIGRATION_PROGRESS_MIME = 'application/vnd.chlab.migration-progress+json';
export const MIGRATION_SUMMARY_MIME = 'application/vnd.chlab.migration-summary+json';

export interface CellInfo {
  /** 0-based index in the notebook. */
  index: number;
  /** 1-based position among the code cells that run. */
  step: number;
  steps: number;
  /** `SQL`, `%%duckdb`, `%%migrate run`, … */
  kind: string;
  /** The first meaningful line of the cell. */
  title: string;
}

export interface CellOutcome {
  status: 'ok' | 'error';
  executionCount: number | null;
  elapsedMs: number;
  outputs: Output[];
  ename?: string;
  evalue?: string;
}

export interface MigrationProgress {
  migration_id?: string;
  status?: string;
  processed_records?: number;
  total_records?: number;
  percentage?: number;
  rows_per_second?: number;
  eta_seconds?: number | null;
}

/** What `chlab run` shows while it works. */
export interface RunReporter {
  begin(info: { notebook: string; codeCells: number; engine: string; parameters: ReadonlyMap<string, string> }): void;
  note(text: string): void;
  cellStart(cell: CellInfo): void;
  progress(cell: CellInfo, progress: MigrationProgress): void;
  cellEnd(cell: CellInfo, outcome: CellOutcome): void;
  end(result: { ok: boolean; written?: string; elapsedMs: number; failed?: { cell: CellInfo; ename: string; evalue: string } }): void;
}

export const silentReporter: RunReporter = { begin() {}, note() {}, cellStart() {}, progress() {}, cellEnd() {}, end() {} };

const n = (value: number | undefined) => (value ?? 0).toLocaleString('en-US');

function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function elapsed(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function percentOf(p: MigrationProgress): number {
  if (typeof p.percentage === 'number' && Number.isFinite(p.percentage)) return Math.max(0, Math.min(100, p.percentage));
  if (p.total_records) return Math.min(100, ((p.processed_records ?? 0) / p.total_records) * 100);
  return 0;
}

export function progressText(p: MigrationProgress): string {
  const rows = p.total_records ? `${n(p.processed_records)}/${n(p.total_records)} rows` : `${n(p.processed_records)} rows`;
  const rate = p.rows_per_second ? ` · ${n(Math.round(p.rows_per_second))} rows/s` : '';
  const eta = p.status === 'running' || p.status === undefined ? ` · ETA ${duration(p.eta_seconds)}` : '';
  return `${percentOf(p).toFixed(0).padStart(3)}% ${rows}${rate}${eta}${p.status && p.status !== 'running' ? ` · ${p.status}` : ''}`;
}

export function progressBar(p: MigrationProgress, width = 24): string {
  const filled = Math.round((percentOf(p) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** One line on what a cell produced: rows of its last result, or its last text line. */
export function outcomeSummary(outcome: CellOutcome): string {
  if (outcome.status === 'error') return `${outcome.ename}: ${firstLine(outcome.evalue ?? '')}`;
  // A migration's summary says it all (the plan before it is the spec the reader already has).
  const migrated = outcome.outputs.filter((o) => (o.data as Record<string, unknown> | undefined)?.[MIGRATION_SUMMARY_MIME]);
  const parts: string[] = [];
  for (const output of migrated.length ? migrated : outcome.outputs) {
    const data = (output.data ?? {}) as Record<string, unknown>;
    const metadata = (output.metadata ?? {}) as Record<string, unknown>;
    if (data[MIGRATION_SUMMARY_MIME] && typeof data[MIGRATION_SUMMARY_MIME] === 'object') {
      const s = data[MIGRATION_SUMMARY_MIME] as { status?: string; records_migrated?: number; validation?: { ok?: boolean } };
      parts.push(`migration ${s.status ?? '?'}: ${n(s.records_migrated)} rows${s.validation ? (s.validation.ok ? ', validated' : ', VALIDATION FAILED') : ''}`);
    } else if (data[ARROW_MIME] !== undefined) {
      const meta = (metadata[ARROW_MIME] ?? {}) as { rows?: number; truncated?: boolean };
      parts.push(`${n(meta.rows)} row${meta.rows === 1 ? '' : 's'}${meta.truncated ? ' (cut at the cap)' : ''}`);
    } else if (output.output_type === 'stream') {
      const line = lastLine(String(output.text ?? ''));
      if (line) parts.push(line);
    } else if (typeof data['text/plain'] === 'string' && !data[MIGRATION_PROGRESS_MIME]) {
      parts.push(firstLine(data['text/plain']).replace(/ · \d[\d,]* ms$/, ''));
    }
  }
  const shown = parts.slice(-3);
  const text = shown.join('; ');
  return `${parts.length > shown.length ? '…; ' : ''}${text.length > 100 ? `${text.slice(0, 99)}…` : text}`;
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim()) ?? '').trim();
}

function lastLine(text: string): string {
  return (text.split('\n').filter((l) => l.trim()).at(-1) ?? '').trim();
}

/**
 * Terminal output. On a TTY a migration's progress is one line redrawn in place (a bar); elsewhere
 * (CI logs) plain lines, one per 10 % of progress, so a log stays readable.
 */
export class TerminalReporter implements RunReporter {
  private liveLine = false;
  private lastStep = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly tty = out.isTTY === true,
  ) {}

  private write(text: string): void {
    this.clearLive();
    this.out.write(`${text}\n`);
  }

  private clearLive(): void {
    if (!this.liveLine) return;
    this.out.write('\r\x1b[2K');
    this.liveLine = false;
  }

  begin(info: { notebook: string; codeCells: number; engine: string; parameters: ReadonlyMap<string, string> }): void {
    this.write(`chlab run ${info.notebook}: ${info.codeCells} code cell${info.codeCells === 1 ? '' : 's'} on ${info.engine}`);
    if (info.parameters.size) this.write(`  parameters: ${[...info.parameters].map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }

  note(text: string): void {
    this.write(`  ${text}`);
  }

  private label(cell: CellInfo): string {
    return `[${cell.step}/${cell.steps}] cell ${cell.index + 1} ${cell.kind}`;
  }

  cellStart(cell: CellInfo): void {
    if (this.tty) {
      this.clearLive();
      this.out.write(`${this.label(cell)}: ${cell.title} …`);
      this.liveLine = true;
    } else {
      this.write(`${this.label(cell)}: ${cell.title}`);
    }
  }

  progress(cell: CellInfo, p: MigrationProgress): void {
    if (this.tty) {
      const width = Math.max(40, (this.out.columns || 100) - 2);
      const line = `  ${progressBar(p)} ${progressText(p)}`;
      this.clearLive();
      this.out.write(line.length > width ? line.slice(0, width) : line);
      this.liveLine = true;
      return;
    }
    const key = `${cell.index}:${p.migration_id ?? ''}`;
    const step = p.status && p.status !== 'running' ? p.status : String(Math.floor(percentOf(p) / 10));
    if (this.lastStep.get(key) === step) return;
    this.lastStep.set(key, step);
    this.write(`  ${progressText(p)}`);
  }

  cellEnd(cell: CellInfo, outcome: CellOutcome): void {
    const count = outcome.executionCount === null ? '' : ` In [${outcome.executionCount}]`;
    const mark = outcome.status === 'ok' ? 'ok' : 'FAILED';
    const summary = outcomeSummary(outcome);
    this.write(`${this.label(cell)}${count}: ${mark} (${elapsed(outcome.elapsedMs)})${summary ? ` — ${summary}` : ''}`);
  }

  end(result: { ok: boolean; written?: string; elapsedMs: number; failed?: { cell: CellInfo; ename: string; evalue: string } }): void {
    if (result.written) this.write(`executed notebook written to ${result.written}`);
    if (result.ok) this.write(`done in ${elapsed(result.elapsedMs)}`);
  }
}
