/**
 * The migration history panel: past migrations from `GET /api/migration/history` with filters
 * (status, date range, text), sorting, paging, details (mapping, errors, metadata) and Re-run.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { formatDuration, formatInteger, h, statusBadge } from './dom.js';
import {
  formatTime,
  HISTORY_STATUSES,
  type HistoryPage,
  type HistoryQuery,
  type HistoryRecord,
  historyParams,
  mappingRows,
  readHistoryRecord,
  rerunCellSource,
  type SortField
} from './history-model.js';
import { renderValidation } from './summary-view.js';
import { asNumber, asObject, asString, readSummary } from './types.js';
import { hasPermission } from '../permissions.js';

export * from './history-model.js';

export async function fetchHistory(query: HistoryQuery, settings = ServerConnection.makeSettings()): Promise<HistoryPage> {
  const url = `${URLExt.join(settings.baseUrl, 'api', 'migration', 'history')}?${historyParams(query).toString()}`;
  const response = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    const object = asObject(body);
    const error = asObject(object.error);
    const message = asString(error.message) ?? asString(object.message) ?? response.statusText;
    throw new Error(`HTTP ${response.status}: ${message}`);
  }
  const object = asObject(body);
  const list = Array.isArray(object.migrations) ? object.migrations : Array.isArray(body) ? (body as unknown[]) : [];
  const records = list.map(readHistoryRecord);
  // The dates are filtered here too, in case the server ignores from/to.
  const day = (record: HistoryRecord) => record.migrationTime.slice(0, 10);
  const filtered = records.filter(
    record => (!query.from || !record.migrationTime || day(record) >= query.from) && (!query.to || !record.migrationTime || day(record) <= query.to)
  );
  return { records: filtered, total: asNumber(object.total) ?? filtered.length };
}

/** A JSON request to `/api/migration/<path…>`; a non-2xx answer throws with the server's message. */
async function migrationRequest(method: 'GET' | 'POST', path: string[], settings: ServerConnection.ISettings): Promise<Record<string, unknown>> {
  const url = URLExt.join(settings.baseUrl, 'api', 'migration', ...path.map(encodeURIComponent));
  const response = await ServerConnection.makeRequest(url, { method }, settings);
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}: ${asString(asObject(body.error).message) ?? response.statusText}`);
  }
  return body;
}

/** `POST /api/migration/cancel/:id`: whether a run of this server was told to stop (false: it is not running here). */
export async function cancelMigration(id: string, settings = ServerConnection.makeSettings()): Promise<boolean> {
  return (await migrationRequest('POST', ['cancel', id], settings)).cancelled === true;
}

/** `GET /api/migration/history/:id`: the record with its stored plan (spec_yaml, mappings, validation, …). */
export async function fetchHistoryRecord(id: string, settings = ServerConnection.makeSettings()): Promise<HistoryRecord> {
  return readHistoryRecord(await migrationRequest('GET', ['history', id], settings));
}

/** A run still pending or running (its record not final yet). */
function inProgress(record: HistoryRecord): boolean {
  return record.status === 'running' || record.status === 'pending';
}

export interface HistoryActions {
  /** Puts a cell with `source` below the active cell of the current notebook; false when there is none. */
  insertInCurrentNotebook(source: string): Promise<boolean>;
  /** Opens a new ClickHouse notebook with one cell holding `source`. */
  openInNewNotebook(source: string): Promise<void>;
  hasCurrentNotebook(): boolean;
}

const COLUMNS: { title: string; sort?: SortField; numeric?: boolean }[] = [
  { title: 'Time', sort: 'migration_time' },
  { title: 'Source', sort: 'source_table' },
  { title: 'Destination', sort: 'destination' },
  { title: 'Status', sort: 'status' },
  { title: 'Rows', sort: 'records_migrated', numeric: true },
  { title: 'Duration', sort: 'duration_seconds', numeric: true },
  { title: 'By' },
  { title: 'Description' }
];

export const HISTORY_PAGE_SIZE = 50;

/** The output of `%%migrate history`: the recent migrations as a read-only table. */
export function renderHistoryOutput(raw: unknown): HTMLElement {
  const object = asObject(raw);
  const records = (Array.isArray(object.migrations) ? object.migrations : []).map(readHistoryRecord);
  const total = asNumber(object.total) ?? records.length;
  const table = h('table', { className: 'chlab-MigrationTable chlab-MigrationHistory-table', attrs: { 'aria-label': 'Migrations' } });
  const head = table.createTHead().insertRow();
  for (const column of [...COLUMNS.slice(0, 6), { title: 'ID' }]) {
    head.append(h('th', { text: column.title, className: 'numeric' in column && column.numeric ? 'chlab-mod-numeric' : '' }));
  }
  const body = table.createTBody();
  for (const record of records) {
    const row = body.insertRow();
    row.dataset.id = record.id;
    row.append(
      h('td', { text: formatTime(record.migrationTime), title: record.migrationTime }),
      h('td', {}, h('code', { text: record.sourceTable || record.source })),
      h('td', {}, h('code', { text: record.destination })),
      h('td', { title: record.errorMessage ?? '' }, statusBadge(record.status)),
      h('td', { className: 'chlab-mod-numeric', text: record.recordsMigrated !== undefined ? formatInteger(record.recordsMigrated) : '' }),
      h('td', { className: 'chlab-mod-numeric', text: record.durationSeconds !== undefined ? formatDuration(record.durationSeconds) : '' }),
      h('td', {}, h('code', { text: record.id }))
    );
  }
  return h(
    'div',
    'chlab-MigrationHistoryOutput',
    h('div', { className: 'chlab-MigrationPlan-facts', text: `${formatInteger(total)} ${total === 1 ? 'migration' : 'migrations'}${records.length < total ? `, the latest ${records.length} shown` : ''} · Migration history panel: command “Migration history”` }),
    records.length > 0 ? h('div', 'chlab-MigrationMapping-scroller', table) : null
  );
}

export class MigrationHistoryWidget extends Widget {
  private readonly query: HistoryQuery = { limit: HISTORY_PAGE_SIZE, offset: 0, sort: 'migration_time', order: 'desc' };
  private readonly statusSelect: HTMLSelectElement;
  private readonly fromInput: HTMLInputElement;
  private readonly toInput: HTMLInputElement;
  private readonly searchInput: HTMLInputElement;
  private readonly table: HTMLTableElement;
  private readonly info: HTMLElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly details: HTMLElement;
  private readonly message: HTMLElement;
  private page: HistoryPage = { records: [], total: 0 };
  private selected: string | undefined;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  /** Whether this user may stop and resume runs (admins): until the server says so, neither button shows. */
  private canRunMigrations = false;
  /** Per record, what the details' status line says; kept when the details are drawn again. */
  private readonly notes = new Map<string, string>();
  /** Records being stopped, and records left running by a server that no longer runs them. */
  private readonly stopping = new Set<string>();
  private readonly notRunningHere = new Set<string>();

  /** Full records (with the stored spec), fetched when a row is selected. */
  private readonly full = new Map<string, HistoryRecord>();

  constructor(
    private readonly actions: HistoryActions,
    private readonly fetcher: (query: HistoryQuery) => Promise<HistoryPage> = query => fetchHistory(query),
    private readonly fetchOne: (id: string) => Promise<HistoryRecord> = id => fetchHistoryRecord(id),
    private readonly cancel: (id: string) => Promise<boolean> = id => cancelMigration(id),
    private readonly mayRunMigrations: () => Promise<boolean> = () => hasPermission('chlab:migrations', 'run')
  ) {
    super();
    this.addClass('chlab-MigrationHistory');
    this.id = 'chlab-migration-history';

    this.statusSelect = h('select', { className: 'chlab-MigrationSelect', attrs: { 'aria-label': 'Status' } });
    this.statusSelect.append(h('option', { text: 'All statuses', attrs: { value: '' } }));
    for (const status of HISTORY_STATUSES) {
      this.statusSelect.append(h('option', { text: status, attrs: { value: status } }));
    }
    this.fromInput = h('input', { className: 'chlab-MigrationInput', attrs: { type: 'date', 'aria-label': 'From date' } });
    this.toInput = h('input', { className: 'chlab-MigrationInput', attrs: { type: 'date', 'aria-label': 'To date' } });
    this.searchInput = h('input', {
      className: 'chlab-MigrationInput chlab-MigrationHistory-search',
      attrs: { type: 'search', placeholder: 'Search tables, descriptions, errors…', 'aria-label': 'Search' }
    });
    const refresh = h('button', { className: 'jp-Button jp-mod-styled', text: 'Refresh', attrs: { type: 'button' } });

    this.statusSelect.addEventListener('change', () => this.applyFilters());
    this.fromInput.addEventListener('change', () => this.applyFilters());
    this.toInput.addEventListener('change', () => this.applyFilters());
    this.searchInput.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.applyFilters(), 300);
    });
    refresh.addEventListener('click', () => void this.load());

    this.table = h('table', { className: 'chlab-MigrationTable chlab-MigrationHistory-table', attrs: { 'aria-label': 'Migrations' } });
    const head = this.table.createTHead().insertRow();
    for (const column of COLUMNS) {
      const th = h('th', { text: column.title, className: column.numeric ? 'chlab-mod-numeric' : '' });
      if (column.sort) {
        const field = column.sort;
        th.classList.add('chlab-mod-sortable');
        th.dataset.sort = field;
        th.tabIndex = 0;
        const sort = () => this.sortBy(field);
        th.addEventListener('click', sort);
        th.addEventListener('keydown', event => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            sort();
          }
        });
      }
      head.append(th);
    }
    this.table.createTBody();

    this.info = h('span', 'chlab-MigrationHistory-info');
    this.prev = h('button', { className: 'jp-Button jp-mod-styled', text: '‹ Newer', attrs: { type: 'button' } });
    this.next = h('button', { className: 'jp-Button jp-mod-styled', text: 'Older ›', attrs: { type: 'button' } });
    this.prev.addEventListener('click', () => this.turnPage(-1));
    this.next.addEventListener('click', () => this.turnPage(1));
    this.message = h('div', { className: 'chlab-MigrationHistory-message', attrs: { role: 'status' } });
    this.details = h('div', 'chlab-MigrationHistory-details');

    this.node.append(
      h(
        'div',
        'chlab-MigrationHistory-toolbar',
        h('label', {}, 'Status ', this.statusSelect),
        h('label', {}, 'From ', this.fromInput),
        h('label', {}, 'To ', this.toInput),
        this.searchInput,
        refresh
      ),
      this.message,
      h('div', 'chlab-MigrationHistory-scroller', this.table),
      h('div', 'chlab-MigrationHistory-pager', this.prev, this.info, this.next),
      this.details
    );
    this.showSort();
    void this.mayRunMigrations().then(
      may => {
        this.canRunMigrations = may;
        this.node.dataset.mayRun = String(may);
        if (may) this.renderRows();
      },
      () => undefined
    );
  }

  /** Loads the current page; later calls win over slower earlier ones. */
  async load(): Promise<void> {
    const generation = ++this.generation;
    this.full.clear();
    this.node.dataset.loading = 'true';
    this.message.textContent = 'Loading…';
    this.message.classList.remove('chlab-mod-error');
    try {
      const page = await this.fetcher({ ...this.query });
      if (generation !== this.generation) return;
      this.page = page;
      this.message.textContent = page.records.length === 0 ? 'No migrations match.' : '';
      this.renderRows();
    } catch (reason) {
      if (generation !== this.generation) return;
      this.page = { records: [], total: 0 };
      this.renderRows();
      this.message.textContent = `Could not load the migration history: ${reason instanceof Error ? reason.message : String(reason)}`;
      this.message.classList.add('chlab-mod-error');
    } finally {
      if (generation === this.generation) {
        delete this.node.dataset.loading;
      }
    }
  }

  private applyFilters(): void {
    this.query.status = this.statusSelect.value || undefined;
    this.query.from = this.fromInput.value || undefined;
    this.query.to = this.toInput.value || undefined;
    this.query.search = this.searchInput.value.trim() || undefined;
    this.query.offset = 0;
    void this.load();
  }

  private sortBy(field: SortField): void {
    if (this.query.sort === field) {
      this.query.order = this.query.order === 'asc' ? 'desc' : 'asc';
    } else {
      this.query.sort = field;
      this.query.order = field === 'migration_time' || field === 'records_migrated' || field === 'duration_seconds' ? 'desc' : 'asc';
    }
    this.query.offset = 0;
    this.showSort();
    void this.load();
  }

  private showSort(): void {
    for (const th of this.table.tHead!.querySelectorAll<HTMLElement>('th[data-sort]')) {
      const active = th.dataset.sort === this.query.sort;
      th.setAttribute('aria-sort', active ? (this.query.order === 'asc' ? 'ascending' : 'descending') : 'none');
    }
  }

  private turnPage(direction: number): void {
    const offset = this.query.offset + direction * this.query.limit;
    if (offset < 0 || offset >= Math.max(this.page.total, 1)) return;
    this.query.offset = offset;
    void this.load();
  }

  private renderRows(): void {
    const body = this.table.tBodies[0];
    body.replaceChildren();
    for (const record of this.page.records) {
      const row = body.insertRow();
      row.dataset.id = record.id;
      row.tabIndex = 0;
      row.classList.toggle('chlab-mod-selected', record.id === this.selected);
      row.append(
        h('td', { text: formatTime(record.migrationTime), title: record.migrationTime }),
        h('td', {}, h('code', { text: record.sourceTable || record.source })),
        h('td', {}, h('code', { text: record.destination })),
        h('td', {}, statusBadge(record.status)),
        h('td', { className: 'chlab-mod-numeric', text: record.recordsMigrated !== undefined ? formatInteger(record.recordsMigrated) : '' }),
        h('td', { className: 'chlab-mod-numeric', text: record.durationSeconds !== undefined ? formatDuration(record.durationSeconds) : '' }),
        h('td', { text: record.createdBy }),
        h('td', { className: 'chlab-MigrationHistory-description', text: record.description, title: record.description })
      );
      const select = () => this.select(record.id);
      row.addEventListener('click', select);
      row.addEventListener('keydown', event => {
        if (event.key === 'Enter') select();
      });
    }
    const { offset } = this.query;
    const shown = this.page.records.length;
    this.info.textContent = shown > 0 ? `${formatInteger(offset + 1)}–${formatInteger(offset + shown)} of ${formatInteger(this.page.total)}` : '';
    this.prev.disabled = offset === 0;
    this.next.disabled = offset + this.query.limit >= this.page.total;
    const current = this.page.records.find(record => record.id === this.selected);
    if (current) {
      this.renderDetails(this.full.get(current.id) ?? current);
    } else {
      this.selected = undefined;
      this.details.replaceChildren();
    }
  }

  select(id: string): void {
    this.selected = id;
    for (const row of this.table.tBodies[0].rows) {
      row.classList.toggle('chlab-mod-selected', row.dataset.id === id);
    }
    const record = this.page.records.find(item => item.id === id);
    if (!record) return;
    this.renderDetails(this.full.get(id) ?? record);
    if (!this.full.has(id) && id) {
      void this.fetchOne(id)
        .then(full => {
          // Keep what the list had should the record endpoint leave something out.
          const merged: HistoryRecord = { ...record, ...Object.fromEntries(Object.entries(full).filter(([, v]) => v !== '' && v !== undefined)), raw: { ...record.raw, ...full.raw } };
          this.full.set(id, merged);
          if (this.selected === id) this.renderDetails(merged);
        })
        .catch(() => undefined);
    }
  }

  private renderDetails(record: HistoryRecord): void {
    const rerunHere = h('button', {
      className: 'jp-Button jp-mod-styled jp-mod-accept chlab-MigrationHistory-rerunHere',
      text: 'Re-run in current notebook',
      attrs: { type: 'button' }
    });
    const rerunNew = h('button', {
      className: 'jp-Button jp-mod-styled chlab-MigrationHistory-rerunNew',
      text: 'Re-run in new notebook',
      attrs: { type: 'button' }
    });
    const note = h('span', { className: 'chlab-MigrationHistory-note', text: this.notes.get(record.id) ?? '', attrs: { role: 'status' } });
    rerunHere.disabled = !this.actions.hasCurrentNotebook();
    rerunHere.title = rerunHere.disabled ? 'Open a notebook first' : 'Adds a %%migrate run --rerun cell below the active cell';
    rerunHere.addEventListener('click', () => {
      void this.actions.insertInCurrentNotebook(rerunCellSource(record)).then(done => {
        this.say(record.id, done ? 'Added a %%migrate run --rerun cell to the notebook: review it and run it.' : 'No notebook is open.');
      });
    });
    rerunNew.addEventListener('click', () => {
      void this.actions.openInNewNotebook(rerunCellSource(record)).catch(reason => {
        this.say(record.id, `Could not open a notebook: ${reason instanceof Error ? reason.message : String(reason)}`);
      });
    });

    const lifecycle = this.lifecycleButton(record);

    const facts = h('dl', 'chlab-MigrationHistory-facts');
    const fact = (term: string, value: Node | string | undefined) => {
      if (value === undefined || value === '') return;
      facts.append(h('dt', { text: term }), h('dd', {}, value));
    };
    fact('ID', h('code', { text: record.id }));
    fact('Status', statusBadge(record.status));
    fact('Started', formatTime(record.migrationTime));
    fact('Source', record.source && record.source !== record.sourceTable ? `${record.sourceTable} (connection ${record.source})` : record.sourceTable);
    fact('Destination', record.destination);
    fact('Rows', record.recordsMigrated !== undefined ? formatInteger(record.recordsMigrated) : undefined);
    fact('Duration', record.durationSeconds !== undefined ? formatDuration(record.durationSeconds) : undefined);
    fact('By', record.createdBy);
    fact('Description', record.description);

    const sections: HTMLElement[] = [];
    if (record.errorMessage) {
      sections.push(h('div', 'chlab-MigrationPlan-section', h('div', 'chlab-MigrationPlan-sectionTitle', 'Error'), h('pre', { className: 'chlab-MigrationSummary-error', text: record.errorMessage })));
    }
    const validation = record.raw.validation && typeof record.raw.validation === 'object' ? readSummary({ validation: record.raw.validation }).validation : undefined;
    if (validation) {
      sections.push(h('div', 'chlab-MigrationPlan-section', renderValidation(validation)));
    }
    const rows = mappingRows(record.mappings);
    if (rows.length > 0) {
      const table = h('table', 'chlab-MigrationTable');
      const head = table.createTHead().insertRow();
      for (const title of ['Source field', 'Source type', 'Destination', 'Type', 'Transformation', 'NULLs', 'Skipped']) {
        head.append(h('th', { text: title }));
      }
      const body = table.createTBody();
      for (const row of rows) {
        body.insertRow().append(
          h('td', {}, h('code', { text: asString(row.source_field) ?? '' })),
          h('td', { text: asString(row.source_type) ?? '' }),
          h('td', {}, h('code', { text: asString(row.destination_field) ?? '' })),
          h('td', { text: asString(row.destination_type) ?? '' }),
          h('td', {}, h('code', { text: asString(row.transformation) ?? '' })),
          h('td', { text: asString(row.nulls) ?? '' }),
          h('td', { text: row.skip === true ? 'yes' : '' })
        );
      }
      sections.push(h('div', 'chlab-MigrationPlan-section', h('div', 'chlab-MigrationPlan-sectionTitle', 'Mapping'), table));
    } else if (record.fields.length > 0) {
      sections.push(h('div', 'chlab-MigrationPlan-section', h('div', 'chlab-MigrationPlan-sectionTitle', 'Fields'), h('code', { text: record.fields.join(', ') })));
    }
    sections.push(
      h('div', 'chlab-MigrationPlan-section', h('div', 'chlab-MigrationPlan-sectionTitle', 'Spec'), h('pre', { className: 'chlab-MigrationPlan-ddl', text: rerunCellSource(record) }))
    );
    const ddl = asString(record.raw.ddl);
    if (ddl) {
      sections.push(
        h('details', 'chlab-MigrationPlan-section', h('summary', { text: 'DDL' }), h('pre', { className: 'chlab-MigrationPlan-ddl', text: ddl }))
      );
    }
    // Everything else the server recorded (times, ranges, phases, the stored metadata), as JSON.
    const shown = new Set(['id', 'source', 'destination', 'source_table', 'migration_time', 'deskripsi', 'description', 'tabel_fields', 'field_mappings', 'mappings', 'status', 'records_migrated', 'error_message', 'duration_seconds', 'created_by', 'spec', 'spec_yaml', 'ddl', 'validation']);
    const metadata: Record<string, unknown> = Object.fromEntries(Object.entries(record.raw).filter(([key, value]) => !shown.has(key) && key !== 'metadata' && value !== undefined));
    if (record.metadata !== undefined && record.metadata !== null && record.metadata !== '') {
      metadata.metadata = record.metadata;
    }
    if (Object.keys(metadata).length > 0) {
      sections.push(
        h(
          'details',
          'chlab-MigrationPlan-section chlab-MigrationHistory-metadata',
          h('summary', { text: 'Metadata' }),
          h('pre', { className: 'chlab-MigrationPlan-ddl', text: JSON.stringify(metadata, null, 2) })
        )
      );
    }
    this.details.replaceChildren(
      h('div', 'chlab-MigrationHistory-detailsHead', h('strong', { text: 'Migration details' }), lifecycle, rerunHere, rerunNew, note),
      facts,
      ...sections
    );
    this.details.dataset.id = record.id;
  }

  /** Waits (up to 30 s) for a stopped run's record to leave running. */
  private async untilEnded(id: string): Promise<void> {
    for (let attempt = 0; attempt < 60; attempt++) {
      await new Promise(resolve => setTimeout(resolve, 500));
      const record = await this.fetchOne(id).catch(() => undefined);
      if (record && !inProgress(record)) {
        return;
      }
    }
  }

  /** Sets the status line of record `id`'s details (shown now if they are, and whenever they are drawn again). */
  private say(id: string, text: string | undefined): void {
    if (text) this.notes.set(id, text);
    else this.notes.delete(id);
    const note = this.details.dataset.id === id ? this.details.querySelector('.chlab-MigrationHistory-note') : null;
    if (note) note.textContent = text ?? '';
  }

  /** Stop for a run in progress; Resume (a `%%migrate resume <id>` cell) for one that failed or was interrupted. */
  private lifecycleButton(record: HistoryRecord): HTMLButtonElement | null {
    if (!this.canRunMigrations) {
      return null;
    }
    if (record.status === 'failed' || this.notRunningHere.has(record.id)) {
      return this.resumeButton(record);
    }
    if (!inProgress(record)) {
      return null;
    }
    const stop = h('button', {
      className: 'jp-Button jp-mod-styled jp-mod-warn chlab-MigrationHistory-stop',
      text: 'Stop',
      attrs: { type: 'button', title: 'Stops the run: the ranges already loaded stay, and Resume finishes it later' }
    });
    stop.disabled = this.stopping.has(record.id);
    stop.addEventListener('click', () => {
      stop.disabled = true;
      this.stopping.add(record.id);
      void this.cancel(record.id)
        .then(async cancelled => {
          if (!cancelled) {
            // A record left running by a server that stopped (killed mid-run): only a resume can finish it.
            this.notRunningHere.add(record.id);
            this.say(record.id, 'This run is not in progress on this server (its server may have stopped): Resume finishes it.');
            return;
          }
          this.say(record.id, 'Stopping: the run ends after the ranges being copied.');
          await this.untilEnded(record.id);
          this.say(record.id, undefined);
          await this.load();
        })
        .catch(reason => {
          this.say(record.id, `Could not stop it: ${reason instanceof Error ? reason.message : String(reason)}`);
        })
        .finally(() => {
          this.stopping.delete(record.id);
          this.redrawDetails(record);
        });
    });
    return stop;
  }

  /** Draws the details of `record` again if they are shown. */
  private redrawDetails(record: HistoryRecord): void {
    if (this.selected === record.id) {
      this.renderDetails(this.full.get(record.id) ?? this.page.records.find(r => r.id === record.id) ?? record);
    }
  }

  private resumeButton(record: HistoryRecord): HTMLButtonElement {
    const resume = h('button', {
      className: 'jp-Button jp-mod-styled chlab-MigrationHistory-resume',
      text: 'Resume in current notebook',
      attrs: { type: 'button' }
    });
    resume.disabled = !this.actions.hasCurrentNotebook();
    resume.title = resume.disabled
      ? 'Open a notebook first'
      : `Adds a %%migrate resume ${record.id} cell below the active cell: it loads the ranges not loaded yet`;
    resume.addEventListener('click', () => {
      void this.actions.insertInCurrentNotebook(`%%migrate resume ${record.id}`).then(done => {
        this.say(record.id, done ? 'Added a %%migrate resume cell to the notebook: run it to finish the migration.' : 'No notebook is open.');
      });
    });
    return resume;
  }

  override dispose(): void {
    clearTimeout(this.searchTimer);
    super.dispose();
  }
}
