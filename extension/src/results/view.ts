import { type Table, tableFromIPC } from 'apache-arrow';

import { ChartPanel } from './chart-panel.js';
import type { ChartColumn } from './chart.js';
import { getDuckDB, resultTableRef } from './duckdb/engine.js';
import { filterPredicate, orderBy } from './duckdb/sql.js';
import {
  BROWSER_FORMATS,
  EXPORT_FORMATS,
  type ExportFormat,
  exportFileName,
  exportFromClickHouse,
  exportFromDuckDB
} from './export.js';
import { ResultGrid, type SortState } from './grid/grid.js';
import { ArrowSource, DuckSource, type GridColumn, type GridSource, gridColumns } from './grid/source.js';
import { decodeBase64Payload, readResultMetadata, type ResultMetadata } from './metadata.js';
import { type ResultRecord, type ResultRegistry, resultRegistry, savedPreviewNote } from './registry.js';
import { formatBytes, formatCount, formatRowCount, summarizeResult } from './summary.js';

/** Arrow field metadata key that may carry the ClickHouse type name. */
export const CLICKHOUSE_TYPE_FIELD_KEY = 'clickhouse.type';

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function button(label: string, className: string, title: string): HTMLButtonElement {
  const node = element('button', `chlab-ResultToolbar-button ${className}`, label);
  node.type = 'button';
  node.title = title;
  return node;
}

/** What the kernel (or the `%%duckdb` executor) says about an Arrow output, beyond {@link ResultMetadata}. */
interface OutputDetails {
  resultId?: string;
  streaming: boolean;
  streamed: boolean;
  query?: string;
  engine: 'clickhouse' | 'duckdb';
  /** Notes the `%%duckdb` executor put on its output (e.g. a table read held only a saved preview). */
  notes: string[];
}

function outputDetails(raw: unknown): OutputDetails {
  const source = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  return {
    resultId: typeof source.result_id === 'string' ? source.result_id : undefined,
    streaming: source.streaming === true,
    streamed: source.streamed === true,
    query: typeof source.query === 'string' ? source.query : undefined,
    engine: source.engine === 'duckdb' ? 'duckdb' : 'clickhouse',
    notes: Array.isArray(source.notes) ? source.notes.filter((n): n is string => typeof n === 'string') : []
  };
}

let viewCounter = 0;

/** What the grid of a result dropped to keep within the memory budget says. */
function evictedNote(record: ResultRecord, previewRows: number, budget: number): string {
  const names = record.evictedNames.length ? ` (${record.evictedNames.join(', ')} no longer in DuckDB)` : '';
  return (
    `Dropped from the browser to keep results within their memory budget (${formatBytes(budget)}; older results go first)${names}. ` +
    `The grid shows the ${formatRowCount(previewRows)} the notebook keeps: run the cell again to browse and re-query all of it.`
  );
}

/** Marks and measures for tests and the bench: when each result first painted rows. */
export const paintTimes = new Map<string, number>();

/**
 * One result output: toolbar (filter, chart, export, DuckDB names), the virtual grid, a chart beside it,
 * the summary line and notes. It starts from the Arrow preview in the output and switches to the result's
 * table in DuckDB-WASM as soon as that holds more rows; sorting and filtering run in DuckDB.
 */
export class ResultView {
  readonly node: HTMLDivElement;
  private readonly toolbar: HTMLDivElement;
  private readonly main: HTMLDivElement;
  private readonly summary: HTMLDivElement;
  private readonly notes: HTMLDivElement;
  private readonly names: HTMLSpanElement;
  private readonly status: HTMLSpanElement;
  private readonly filterButton: HTMLButtonElement;
  private readonly chartButton: HTMLButtonElement;
  private readonly exportButton: HTMLButtonElement;
  private grid: ResultGrid | undefined;
  private chart: ChartPanel | undefined;
  private exportMenu: HTMLDivElement | undefined;
  private preview: Table | undefined;
  private columns: GridColumn[] = [];
  private metadata: ResultMetadata = { truncated: false, columns: [] };
  private details: OutputDetails = { streaming: false, streamed: false, engine: 'clickhouse', notes: [] };
  private record: ResultRecord | undefined;
  /** The preview loaded into DuckDB, when there is no result table to sort or chart. */
  private previewRecord: ResultRecord | undefined;
  private sortState: SortState | undefined;
  private filters = new Map<number, string>();
  private viewTable: string | undefined;
  private viewRows = 0;
  private viewBuiltWhileReceiving = false;
  private readonly id = ++viewCounter;
  private recordTimer = 0;
  private disposed = false;
  private painted = false;
  private switching: Promise<void> = Promise.resolve();
  private duckTypes = new Map<string, Map<string, string>>();
  private viewGeneration = 0;

  constructor(private readonly registry: ResultRegistry = resultRegistry) {
    this.node = element('div', 'chlab-ArrowResult');
    this.toolbar = element('div', 'chlab-ResultToolbar');
    this.filterButton = button('Filter', 'chlab-ResultToolbar-filter', 'Filter columns (in DuckDB)');
    this.chartButton = button('Chart', 'chlab-ResultToolbar-chart', 'Chart beside the table (aggregated in DuckDB)');
    this.exportButton = button('Export ▾', 'chlab-ResultToolbar-export', 'Download as CSV, TSV, JSON Lines or Parquet');
    this.names = element('span', 'chlab-ResultToolbar-names');
    this.status = element('span', 'chlab-ResultToolbar-status');
    this.main = element('div', 'chlab-ArrowResult-main');
    this.summary = element('div', 'chlab-ArrowResult-summary');
    this.notes = element('div', 'chlab-ArrowResult-notes');
    // One line under the grid: the summary, then what can be done with the result.
    this.toolbar.append(this.summary, this.status, this.names, this.filterButton, this.chartButton, this.exportButton);
    this.node.append(this.main, this.toolbar, this.notes);
    this.filterButton.addEventListener('click', () => this.toggleFilters());
    this.chartButton.addEventListener('click', () => void this.toggleChart());
    this.exportButton.addEventListener('click', event => {
      event.stopPropagation();
      this.toggleExportMenu();
    });
    // A saved notebook's results are loaded into DuckDB after their outputs render.
    this.registry.namesChanged.connect(this.onNamesChanged, this);
  }

  private onNamesChanged(): void {
    if (!this.disposed && !this.record && this.details.resultId && this.attachRecord()) {
      this.onRecordChanged();
    }
  }

  get gridWidget(): ResultGrid | undefined {
    return this.grid;
  }

  /** Shows (or updates, for `update_display_data`) the output. */
  render(data: unknown, rawMetadata: unknown): void {
    let preview: Table;
    try {
      preview = tableFromIPC(decodeBase64Payload(data));
    } catch (reason) {
      const message = reason instanceof Error ? reason.message : String(reason);
      this.node.replaceChildren(element('div', 'chlab-ArrowResult-error', `Could not read the Arrow result: ${message}`));
      return;
    }
    this.preview = preview;
    this.metadata = readResultMetadata(rawMetadata);
    this.details = outputDetails(rawMetadata);
    this.columns = gridColumns(preview, this.metadata.columns, this.details.engine);
    this.attachRecord();
    if (this.details.streaming && !this.record) {
      // JupyterLab renders an output before the kernel connection's other listeners (the results comm) see
      // the message: look again once they have.
      setTimeout(() => {
        if (!this.disposed && this.attachRecord()) {
          this.onRecordChanged();
        }
      }, 0);
    }
    if (!this.grid) {
      this.grid = new ResultGrid(this.baseSource(), {
        sort: next => void this.setSort(next),
        filter: (column, text) => void this.setFilter(column, text)
      });
      this.main.prepend(this.grid.node);
      this.markPaint();
    } else if (!this.hasView() && this.grid.currentSource instanceof ArrowSource) {
      this.switchSource(this.baseSource());
    } else {
      this.grid.refresh();
    }
    this.updateText();
    this.onRecordChanged();
  }

  /** Follows the result's record in the registry (once it exists); true when it changed. */
  private attachRecord(): boolean {
    const record = this.registry.get(this.details.resultId);
    if (record === this.record) {
      return false;
    }
    this.record?.changed.disconnect(this.onRecordChanged, this);
    this.record = record;
    record?.changed.connect(this.onRecordChanged, this);
    return true;
  }

  dispose(): void {
    this.disposed = true;
    this.registry.namesChanged.disconnect(this.onNamesChanged, this);
    this.record?.changed.disconnect(this.onRecordChanged, this);
    this.grid?.dispose();
    this.closeExportMenu();
    clearTimeout(this.recordTimer);
    this.dropViewTable();
  }

  private markPaint(): void {
    if (this.painted || !this.details.resultId) {
      return;
    }
    this.painted = true;
    const id = this.details.resultId;
    requestAnimationFrame(() => {
      if (!paintTimes.has(id)) {
        paintTimes.set(id, performance.now());
        performance.mark(`chlab:grid-paint:${id}`);
      }
    });
  }

  /** The result's DuckDB table is usable (all or part of its rows are in). */
  private recordUsable(record = this.record): record is ResultRecord {
    return !!record && record.created && !record.loadError && record.state !== 'evicted' && record.state !== 'failed';
  }

  /** Rows of the result are received and still on their way into DuckDB (which may be starting). */
  private recordPending(record = this.record): boolean {
    return (
      !!record && !record.loadError && record.state !== 'evicted' && record.state !== 'failed' && record.received > 0 && record.rows < record.received
    );
  }

  private hasView(): boolean {
    return this.sortState !== undefined || this.filters.size > 0;
  }

  /** What the grid shows without sort or filter: the DuckDB table once it has more than the preview. */
  private baseSource(): GridSource {
    const preview = new ArrowSource(this.preview!, this.columns);
    const record = this.record;
    if (this.recordUsable(record) && record.rows > preview.rowCount) {
      return new DuckSource(record.tableRef, this.columns, () => record.rows);
    }
    return preview;
  }

  private switchSource(source: GridSource, options: { resetScroll?: boolean } = {}): Promise<void> {
    this.switching = this.switching.then(() => this.grid?.setSource(source, options)).then(() => this.updateText());
    return this.switching;
  }

  private readonly onRecordChanged = (): void => {
    if (this.disposed) {
      return;
    }
    if (this.record && this.record.state !== 'receiving') {
      // The end of a result shows at once, never a beat after the kernel's own end of the cell.
      clearTimeout(this.recordTimer);
      this.recordTimer = 0;
      this.syncWithRecord();
      return;
    }
    if (this.recordTimer) {
      return;
    }
    // Batches land every few milliseconds: update at most ten times a second.
    this.recordTimer = window.setTimeout(() => {
      this.recordTimer = 0;
      this.syncWithRecord();
    }, 100);
  };

  private syncWithRecord(): void {
    if (this.disposed || !this.grid) {
      return;
    }
    const record = this.record;
    if (!this.hasView()) {
      const current = this.grid.currentSource;
      if (current instanceof ArrowSource) {
        const next = this.baseSource();
        if (next instanceof DuckSource) {
          void this.switchSource(next);
        }
      } else if (!this.recordUsable(record)) {
        void this.switchSource(this.baseSource());
      } else {
        this.grid.refresh();
      }
    } else if (record?.complete && this.viewBuiltWhileReceiving) {
      void this.applyView();
    }
    this.updateText();
  }

  private updateText(): void {
    const record = this.record;
    const previewRows = this.preview?.numRows ?? 0;
    const meta = this.metadata;
    const inBrowser = this.recordUsable(record) ? Math.max(record.rows, previewRows) : previewRows;
    let line: string;
    const receiving = this.details.streaming && record?.state === 'receiving';
    if (receiving) {
      line = `Receiving… ${formatRowCount(Math.max(record!.received, previewRows))}${record?.bytes ? ` · ${formatBytes(record.bytes)}` : ''}`;
    } else if (this.details.streaming) {
      // The first rows of a result that never ended (stopped, failed, or saved while streaming): the same
      // text live and after a reload.
      line = `${formatRowCount(previewRows)} · the query stopped before the result ended`;
    } else {
      line = summarizeResult(inBrowser, inBrowser, meta).line;
    }
    this.summary.textContent = line;
    this.summary.classList.toggle('chlab-mod-streaming', receiving);

    const notes: HTMLElement[] = [];
    const total = meta.totalRows ?? previewRows;
    if (meta.truncated || record?.truncated) {
      notes.push(
        element(
          'div',
          'chlab-ArrowResult-note chlab-mod-warning chlab-ArrowResult-truncated',
          `Cut at the result cap: only the first ${formatRowCount(total)} were read (CHLAB_MAX_RESULT_ROWS / CHLAB_MAX_RESULT_BYTES). ` +
            'Add a LIMIT or aggregate to see the rest here — Export › Whole result streams every row from ClickHouse.'
        )
      );
    }
    const pending = this.recordPending(record);
    if (record?.loadError) {
      notes.push(element('div', 'chlab-ArrowResult-note chlab-mod-warning', `DuckDB could not load this result (${record.loadError}); the grid shows the preview.`));
    } else if (record?.state === 'evicted') {
      notes.push(element('div', 'chlab-ArrowResult-note chlab-mod-warning chlab-ArrowResult-evicted', evictedNote(record, previewRows, this.registry.memoryBudget)));
    } else if (this.details.streaming && !receiving) {
      notes.push(element('div', 'chlab-ArrowResult-note chlab-mod-warning', 'Only the first rows arrived: the query was interrupted or failed (see below). Run the cell again for the whole result.'));
    } else if (record?.partialPreview && this.recordUsable(record)) {
      notes.push(
        element(
          'div',
          'chlab-ArrowResult-note chlab-mod-warning chlab-ArrowResult-previewNote',
          `${savedPreviewNote(record.rows, record.saved!.totalRows)} (DuckDB holds the rows this saved notebook kept)`
        )
      );
    } else if (!this.details.streaming && inBrowser < total) {
      if (pending) {
        notes.push(element('div', 'chlab-ArrowResult-note', `Loading into DuckDB… ${formatCount(record!.rows)} of ${formatRowCount(record!.received)}`));
      } else if (!this.recordUsable(record)) {
        notes.push(
          element(
            'div',
            'chlab-ArrowResult-note chlab-ArrowResult-previewNote',
            `The notebook keeps the first ${formatCount(previewRows)} of ${formatRowCount(total)}. Run the cell again to page, sort and re-query all of them.`
          )
        );
      }
    }
    for (const note of this.details.notes) {
      notes.push(element('div', 'chlab-ArrowResult-note chlab-mod-warning', note));
    }
    this.notes.replaceChildren(...notes);

    const names = this.recordUsable(record) ? record.names : [];
    this.names.textContent = names.length ? `DuckDB: ${names.join(', ')}` : '';
    this.names.title = names.length ? `Query it in a %%duckdb cell: SELECT … FROM ${names[names.length - 1]}` : '';
    const shown = this.grid?.rowCount ?? 0;
    this.node.dataset.rows = String(shown);
    // For tests and the bench: `complete` once every row is in DuckDB and the grid pages from it.
    const settled = this.hasView() || shown === inBrowser;
    this.node.dataset.state = receiving
      ? 'streaming'
      : this.details.streaming
        ? 'stopped'
      : pending
        ? 'loading'
        : this.recordUsable(record)
        ? record.complete && settled
          ? 'complete'
          : 'loading'
        : 'preview';
  }

  // Sort and filter: a view table in DuckDB, paged like the result itself.

  private async setSort(next: SortState | undefined): Promise<void> {
    this.sortState = next;
    await this.applyView();
  }

  private async setFilter(column: number, text: string): Promise<void> {
    if (text) {
      this.filters.set(column, text);
    } else {
      this.filters.delete(column);
    }
    await this.applyView();
  }

  private toggleFilters(): void {
    if (!this.grid) {
      return;
    }
    this.grid.filtersVisible = !this.grid.filtersVisible;
    this.filterButton.classList.toggle('chlab-mod-active', this.grid.filtersVisible);
    if (this.grid.filtersVisible) {
      (this.grid.node.querySelector('.chlab-Grid-filter') as HTMLInputElement | null)?.focus({ preventScroll: true });
    }
  }

  /** The DuckDB table holding the whole result (or, without one, the preview loaded into DuckDB). */
  private async baseTable(): Promise<string> {
    if (this.recordUsable(this.record)) {
      return this.record.tableRef;
    }
    if (!this.previewRecord) {
      this.previewRecord = this.registry.ensure(`preview-view-${this.id}-${Date.now()}`);
      await this.registry.loadTable(this.previewRecord, this.preview!);
    }
    if (this.previewRecord.loadError) {
      throw new Error(this.previewRecord.loadError);
    }
    return this.previewRecord.tableRef;
  }

  private async columnTypes(tableRef: string): Promise<Map<string, string>> {
    let types = this.duckTypes.get(tableRef);
    if (!types) {
      const db = await getDuckDB();
      const table = await db.query(`DESCRIBE SELECT * FROM ${tableRef}`);
      types = new Map();
      for (let i = 0; i < table.numRows; i++) {
        types.set(String(table.getChild('column_name')!.get(i)), String(table.getChild('column_type')!.get(i)));
      }
      this.duckTypes.set(tableRef, types);
    }
    return types;
  }

  private setStatus(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('chlab-mod-error', error);
  }

  private async applyView(): Promise<void> {
    const grid = this.grid;
    if (!grid) {
      return;
    }
    grid.setViewState(this.sortState, this.filters);
    if (!this.hasView()) {
      ++this.viewGeneration;
      this.dropViewTable();
      this.setStatus('');
      await this.switchSource(this.baseSource(), { resetScroll: true });
      await this.refreshChart();
      this.updateText();
      return;
    }
    const generation = ++this.viewGeneration;
    const busy = this.sortState && this.filters.size === 0 ? 'Sorting in DuckDB…' : 'Filtering in DuckDB…';
    this.setStatus(busy);
    this.node.classList.add('chlab-mod-busy');
    try {
      const base = await this.baseTable();
      const types = await this.columnTypes(base);
      const where = [...this.filters].map(([index, text]) => {
        const column = this.columns[index];
        return `(${filterPredicate(column.name, types.get(column.name) ?? 'VARCHAR', text)})`;
      });
      const sort = this.sortState ? orderBy(this.columns[this.sortState.column].name, this.sortState.descending) : '';
      const db = await getDuckDB();
      const started = performance.now();
      const previous = this.viewTable;
      const name = `v${this.id}_${Date.now().toString(36)}`;
      const ref = resultTableRef(name);
      this.viewBuiltWhileReceiving = !!this.record && !this.record.complete && this.recordUsable(this.record);
      await db.query(`CREATE TABLE ${ref} AS SELECT * FROM ${base}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ${sort}`);
      const count = Number((await db.query(`SELECT count(*) AS n FROM ${ref}`)).getChildAt(0)?.get(0) ?? 0);
      if (generation !== this.viewGeneration || this.disposed) {
        // A newer sort or filter was asked for meanwhile.
        void db.query(`DROP TABLE IF EXISTS ${ref}`).catch(() => undefined);
        return;
      }
      this.viewTable = name;
      this.viewRows = count;
      const elapsed = performance.now() - started;
      await this.switchSource(new DuckSource(ref, this.columns, () => this.viewRows), { resetScroll: true });
      if (previous) {
        void db.query(`DROP TABLE IF EXISTS ${resultTableRef(previous)}`).catch(() => undefined);
      }
      const what = [
        this.filters.size ? `${formatRowCount(count)} match` : '',
        this.sortState ? `sorted by ${this.columns[this.sortState.column].name}${this.sortState.descending ? ' ↓' : ' ↑'}` : ''
      ].filter(Boolean);
      this.setStatus(`${what.join(', ')} · ${Math.round(elapsed)} ms`);
      await this.refreshChart();
    } catch (reason) {
      this.setStatus(reason instanceof Error ? reason.message.split('\n')[0] : String(reason), true);
    } finally {
      this.node.classList.remove('chlab-mod-busy');
      this.updateText();
    }
  }

  private dropViewTable(): void {
    const table = this.viewTable;
    this.viewTable = undefined;
    if (table) {
      void getDuckDB()
        .then(db => db.query(`DROP TABLE IF EXISTS ${resultTableRef(table)}`))
        .catch(() => undefined);
    }
  }

  /** The DuckDB table the grid shows now (view or result), loading the preview when needed. */
  private async currentTable(): Promise<string> {
    return this.viewTable ? resultTableRef(this.viewTable) : this.baseTable();
  }

  // Chart

  private async toggleChart(): Promise<void> {
    if (this.chart) {
      this.chart.node.remove();
      this.chart = undefined;
      this.main.classList.remove('chlab-mod-chart');
      this.node.classList.remove('chlab-mod-charting');
      this.chartButton.classList.remove('chlab-mod-active');
      return;
    }
    this.chart = new ChartPanel();
    this.main.append(this.chart.node);
    this.main.classList.add('chlab-mod-chart');
    this.node.classList.add('chlab-mod-charting');
    this.chartButton.classList.add('chlab-mod-active');
    await this.refreshChart();
  }

  private async refreshChart(): Promise<void> {
    if (!this.chart) {
      return;
    }
    try {
      const ref = await this.currentTable();
      const types = await this.columnTypes(ref);
      const columns: ChartColumn[] = this.columns.map(c => ({ name: c.name, duckdbType: types.get(c.name) ?? 'VARCHAR' }));
      await this.chart.show(ref, columns);
    } catch (reason) {
      this.setStatus(reason instanceof Error ? reason.message.split('\n')[0] : String(reason), true);
    }
  }

  // Export

  private closeExportMenu(): void {
    this.exportMenu?.remove();
    this.exportMenu = undefined;
    if (this.exportMenuCloser) {
      document.removeEventListener('mousedown', this.exportMenuCloser, true);
      this.exportMenuCloser = undefined;
    }
  }

  private exportMenuCloser: ((event: Event) => void) | undefined;

  private toggleExportMenu(): void {
    if (this.exportMenu) {
      this.closeExportMenu();
      return;
    }
    const menu = element('div', 'chlab-ExportMenu');
    menu.setAttribute('role', 'menu');
    const query = this.details.engine === 'clickhouse' ? (this.details.query ?? this.record?.query) : undefined;
    const fileName = exportFileName(
      this.record?.names.find(n => !n.startsWith('_')) ??
        (this.record?.executionCount !== undefined ? `result_${this.record.executionCount}` : 'result')
    );
    const item = (label: string, className: string, action: () => Promise<void> | void) => {
      const entry = element('div', `chlab-ExportMenu-item ${className}`, label);
      entry.setAttribute('role', 'menuitem');
      entry.addEventListener('click', event => {
        event.stopPropagation();
        this.closeExportMenu();
        Promise.resolve(action()).catch(reason => this.setStatus(`Export failed: ${reason instanceof Error ? reason.message : String(reason)}`, true));
      });
      menu.appendChild(entry);
    };
    if (query) {
      const total = this.metadata.truncated ? 'every row' : formatRowCount(this.metadata.totalRows ?? 0);
      menu.appendChild(element('div', 'chlab-ExportMenu-heading', `Whole result (${total}), streamed by ClickHouse`));
      for (const { format, label } of EXPORT_FORMATS) {
        item(label, `chlab-ExportMenu-clickhouse chlab-mod-${format}`, () => {
          exportFromClickHouse(query, format, fileName);
          this.setStatus(`Exporting ${label} from ClickHouse…`);
        });
      }
    }
    const browserRows = this.grid?.rowCount ?? 0;
    const viewNote = this.hasView() ? 'this view' : this.recordUsable(this.record) ? 'all rows' : 'the preview';
    menu.appendChild(element('div', 'chlab-ExportMenu-heading', `${viewNote} in the browser (${formatRowCount(browserRows)})`));
    for (const { format, label } of EXPORT_FORMATS.filter(f => BROWSER_FORMATS.includes(f.format))) {
      item(label, `chlab-ExportMenu-browser chlab-mod-${format}`, async () => {
        this.setStatus(`Writing ${label}…`);
        const ref = await this.currentTable();
        const blob = await exportFromDuckDB(ref, this.columns, format as ExportFormat, fileName);
        this.setStatus(`${label}: ${formatBytes(blob.size)}`);
      });
    }
    this.exportMenuCloser = (event: Event) => {
      if (!menu.contains(event.target as Node) && event.target !== this.exportButton) {
        this.closeExportMenu();
      }
    };
    document.addEventListener('mousedown', this.exportMenuCloser, true);
    this.toolbar.appendChild(menu);
    this.exportMenu = menu;
  }
}
