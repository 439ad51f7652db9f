import type { GridSource, RowPage } from './source.js';

/** Pixel sizes; the CSS uses the same numbers. */
export const ROW_HEIGHT = 22;
const HEADER_HEIGHT = 40;
const FILTER_HEIGHT = 28;
const PAGE_ROWS = 256;
const MAX_CACHED_PAGES = 48;
const OVERSCAN_ROWS = 12;
/** Browsers cap element heights (Chromium near 33.5M px); past this the rows are mapped onto the scroll range. */
const MAX_BODY_HEIGHT = 15_000_000;
const MIN_COLUMN_WIDTH = 48;
const MAX_AUTO_WIDTH = 360;
let charWidth: number | undefined;

/** The width of a digit in the notebook's code font (what the cells use), measured once. */
function codeCharWidth(): number {
  if (charWidth === undefined) {
    const style = getComputedStyle(document.body);
    const size = style.getPropertyValue('--jp-code-font-size').trim() || '13px';
    const family = style.getPropertyValue('--jp-code-font-family').trim() || 'monospace';
    const context = document.createElement('canvas').getContext('2d');
    if (context) {
      context.font = `${size} ${family}`;
      charWidth = context.measureText('0000000000').width / 10 || 8;
    } else {
      charWidth = 8;
    }
  }
  return charWidth;
}

export interface SortState {
  column: number;
  descending: boolean;
}

export interface GridCallbacks {
  /** Header click: the next sort (undefined to clear). */
  sort?(next: SortState | undefined): void;
  /** A column filter was typed (empty text clears it). */
  filter?(column: number, text: string): void;
}

function div(className: string, text?: string): HTMLDivElement {
  const node = document.createElement('div');
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

interface PageSlot {
  page?: RowPage;
  pending?: Promise<void>;
  error?: string;
  used: number;
}

/**
 * A virtual grid over a {@link GridSource}: only the rows and columns in view (plus a margin) are in the DOM,
 * rows come in pages from the source and a bounded number of pages is cached, so a million rows cost what a
 * screenful does. Sticky header with each column's type, NULL shown as NULL, column resize, sort and filter
 * requests, a selected cell to copy (Ctrl+C) with its row (Ctrl+Shift+C) or from the context menu.
 */
export class ResultGrid {
  readonly node: HTMLDivElement;
  private readonly sizer: HTMLDivElement;
  private readonly header: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private source: GridSource;
  private widths: number[] = [];
  private lefts: number[] = [];
  private totalWidth = 0;
  private gutter = 48;
  private pages = new Map<number, PageSlot>();
  private rows = new Map<number, HTMLDivElement>();
  private columnRange: [number, number] = [0, -1];
  private frame = 0;
  private useCounter = 0;
  private generation = 0;
  private selected: { row: number; column: number } | undefined;
  private sortState: SortState | undefined;
  private filters = new Map<number, string>();
  private showFilters = false;
  private menu: HTMLDivElement | undefined;
  private resizing: { column: number; startX: number; startWidth: number } | undefined;
  private disposed = false;
  private lastRowCount = -1;

  constructor(
    source: GridSource,
    private readonly callbacks: GridCallbacks = {}
  ) {
    this.source = source;
    this.node = div('chlab-Grid');
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'grid');
    // Keys typed in the grid (arrows, Ctrl+C) are the grid's, not notebook shortcuts.
    this.node.setAttribute('data-lm-suppress-shortcuts', '');
    this.sizer = div('chlab-Grid-sizer');
    this.header = div('chlab-Grid-header');
    this.header.setAttribute('role', 'row');
    this.body = div('chlab-Grid-body');
    this.sizer.append(this.header, this.body);
    this.node.append(this.sizer);
    this.node.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.node.addEventListener('mousedown', this.onMouseDown);
    this.node.addEventListener('click', this.onClick);
    this.node.addEventListener('keydown', this.onKeyDown);
    this.node.addEventListener('contextmenu', this.onContextMenu);
    this.autoWidths();
    this.layout();
    // Rows are drawn once the grid has a size: when it is attached, shown (notebook windowing) or resized.
    this.resizeObserver = new ResizeObserver(() => {
      this.columnRange = [0, -1];
      this.schedule();
    });
    this.resizeObserver.observe(this.node);
  }

  private readonly resizeObserver: ResizeObserver;

  get rowCount(): number {
    return this.source.rowCount;
  }

  get currentSource(): GridSource {
    return this.source;
  }

  get sort(): SortState | undefined {
    return this.sortState;
  }

  get filterTexts(): ReadonlyMap<number, string> {
    return this.filters;
  }

  /** Shows the filter inputs under the column names. */
  set filtersVisible(visible: boolean) {
    this.showFilters = visible;
    this.node.classList.toggle('chlab-mod-filtering', visible);
    this.layout();
    this.renderHeader(true);
  }

  get filtersVisible(): boolean {
    return this.showFilters;
  }

  setViewState(sort: SortState | undefined, filters: ReadonlyMap<number, string>): void {
    this.sortState = sort;
    this.filters = new Map(filters);
    this.updateHeaderState();
  }

  /** Sort marks and filter state on the header cells in place (inputs keep focus and what is typed). */
  private updateHeaderState(): void {
    for (const cell of this.header.querySelectorAll<HTMLElement>('.chlab-Grid-headerCell')) {
      const index = Number(cell.dataset.col);
      const sorted = this.sortState?.column === index;
      cell.classList.toggle('chlab-mod-sorted', sorted);
      cell.classList.toggle('chlab-mod-filtered', !!this.filters.get(index));
      const title = cell.querySelector('.chlab-Grid-title')!;
      title.querySelector('.chlab-Grid-sortMark')?.remove();
      if (sorted) {
        cell.setAttribute('aria-sort', this.sortState!.descending ? 'descending' : 'ascending');
        title.append(div('chlab-Grid-sortMark', this.sortState!.descending ? '▼' : '▲'));
      } else {
        cell.removeAttribute('aria-sort');
      }
    }
  }

  /**
   * Switches to another source (the DuckDB table once rows arrived, or a sorted or filtered view). The rows
   * in view are fetched before the switch, so the grid never blinks empty.
   */
  async setSource(source: GridSource, options: { resetScroll?: boolean } = {}): Promise<void> {
    const generation = ++this.generation;
    const count = source.rowCount;
    const [first, last] = options.resetScroll ? [0, Math.min(count - 1, this.viewportRows())] : this.visibleRows(count);
    const ready = new Map<number, RowPage>();
    if (count > 0 && last >= first) {
      const firstPage = Math.floor(Math.max(0, first - OVERSCAN_ROWS) / PAGE_ROWS);
      const lastPage = Math.floor(Math.min(count - 1, last + OVERSCAN_ROWS) / PAGE_ROWS);
      try {
        await Promise.all(
          Array.from({ length: lastPage - firstPage + 1 }, async (_, i) => {
            const index = firstPage + i;
            const start = index * PAGE_ROWS;
            ready.set(index, await source.fetch(start, Math.min(start + PAGE_ROWS, count)));
          })
        );
      } catch {
        ready.clear();
      }
    }
    if (generation !== this.generation || this.disposed) {
      return;
    }
    const sameColumns =
      source.columns.length === this.source.columns.length &&
      source.columns.every((column, i) => column.name === this.source.columns[i].name);
    this.source = source;
    this.pages.clear();
    for (const [index, page] of ready) {
      this.pages.set(index, { page, used: ++this.useCounter });
    }
    if (!sameColumns) {
      this.autoWidths();
    }
    if (options.resetScroll) {
      this.node.scrollTop = 0;
    }
    this.clearRows();
    this.layout();
    this.renderHeader(true);
    this.update();
  }

  /** The source got more rows (streaming): grows the scroll range, refreshes the last page. */
  refresh(): void {
    const count = this.source.rowCount;
    if (count === this.lastRowCount) {
      return;
    }
    // A cached page that ended at the old end may have grown.
    for (const [index, slot] of this.pages) {
      if (slot.page && slot.page.count < PAGE_ROWS) {
        this.pages.delete(index);
      }
    }
    this.layout();
    this.renderHeader(false);
    this.schedule();
  }

  dispose(): void {
    this.disposed = true;
    this.resizeObserver.disconnect();
    cancelAnimationFrame(this.frame);
    this.closeMenu();
    window.removeEventListener('mousemove', this.onResizeMove);
    window.removeEventListener('mouseup', this.onResizeEnd);
  }

  /** Fetches what is in view now (for tests and the bench: resolves once the visible rows are painted). */
  async settle(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      this.update();
      const pending = [...this.pages.values()].map(slot => slot.pending).filter(Boolean);
      if (pending.length === 0) {
        return;
      }
      await Promise.all(pending);
    }
  }

  /** Scrolls so that `row` is at the top. */
  scrollToRow(row: number): void {
    const count = this.source.rowCount;
    if (this.scaled(count)) {
      const viewport = this.viewportRows();
      const range = Math.max(1, count - viewport);
      this.node.scrollTop = (Math.min(row, range) / range) * (this.bodyHeight(count) - this.viewportHeight());
    } else {
      this.node.scrollTop = row * ROW_HEIGHT;
    }
    this.update();
  }

  private get headerHeight(): number {
    return HEADER_HEIGHT + (this.showFilters ? FILTER_HEIGHT : 0);
  }

  private scaled(count: number): boolean {
    return count * ROW_HEIGHT > MAX_BODY_HEIGHT;
  }

  private bodyHeight(count: number): number {
    return Math.min(count * ROW_HEIGHT, MAX_BODY_HEIGHT);
  }

  private viewportHeight(): number {
    return Math.max(ROW_HEIGHT, (this.node.clientHeight || 400) - this.headerHeight);
  }

  private viewportRows(): number {
    return Math.ceil(this.viewportHeight() / ROW_HEIGHT);
  }

  /** The first (fractional) row at the top of the view. */
  private topRow(count: number): number {
    const scrollTop = this.node.scrollTop;
    if (!this.scaled(count)) {
      return scrollTop / ROW_HEIGHT;
    }
    const range = Math.max(1, this.bodyHeight(count) - this.viewportHeight());
    return (Math.min(scrollTop, range) / range) * Math.max(0, count - this.viewportRows());
  }

  private rowTop(row: number, count: number): number {
    if (!this.scaled(count)) {
      return row * ROW_HEIGHT;
    }
    return this.node.scrollTop + (row - this.topRow(count)) * ROW_HEIGHT;
  }

  private visibleRows(count: number): [number, number] {
    const top = Math.floor(this.topRow(count));
    return [Math.max(0, top), Math.min(count - 1, top + this.viewportRows())];
  }

  private autoWidths(): void {
    const columns = this.source.columns;
    let sample: RowPage | undefined;
    const fetched = this.source.rowCount > 0 ? this.source.fetch(0, Math.min(50, this.source.rowCount)) : undefined;
    if (fetched && !(fetched instanceof Promise)) {
      sample = fetched;
    }
    this.widths = columns.map((column, index) => {
      let chars = Math.max(column.name.length + 2, Math.min(column.typeLabel.length, 28) * 0.85);
      if (sample) {
        for (let row = 0; row < sample.count; row++) {
          chars = Math.max(chars, (sample.text(row, index) ?? 'NULL').length);
        }
      } else {
        chars = Math.max(chars, 10);
      }
      return Math.round(Math.min(MAX_AUTO_WIDTH, Math.max(MIN_COLUMN_WIDTH + 24, chars * codeCharWidth() + 24)));
    });
  }

  private layout(): void {
    const count = this.source.rowCount;
    this.lastRowCount = count;
    this.gutter = Math.max(40, String(count).length * 8 + 18);
    this.lefts = [];
    let left = 0;
    for (const width of this.widths) {
      this.lefts.push(left);
      left += width;
    }
    this.totalWidth = this.gutter + left;
    const bodyHeight = this.bodyHeight(count);
    this.node.style.setProperty('--chlab-grid-gutter', `${this.gutter}px`);
    this.sizer.style.width = `${this.totalWidth}px`;
    this.sizer.style.height = `${this.headerHeight + bodyHeight}px`;
    this.header.style.width = `${this.totalWidth}px`;
    this.header.style.height = `${this.headerHeight}px`;
    this.body.style.top = `${this.headerHeight}px`;
    this.body.style.height = `${bodyHeight}px`;
    this.body.style.width = `${this.totalWidth}px`;
    this.node.classList.toggle('chlab-mod-empty', count === 0);
  }

  private schedule(): void {
    if (this.frame || this.disposed) {
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.update();
    });
  }

  private visibleColumns(): [number, number] {
    const left = this.node.scrollLeft;
    const width = (this.node.clientWidth || 800) - this.gutter;
    let first = 0;
    while (first < this.widths.length - 1 && this.lefts[first] + this.widths[first] < left) {
      first++;
    }
    let last = first;
    while (last < this.widths.length - 1 && this.lefts[last + 1] < left + width) {
      last++;
    }
    return [Math.max(0, first - 1), Math.min(this.widths.length - 1, last + 1)];
  }

  private update(): void {
    if (this.disposed) {
      return;
    }
    if (this.source.rowCount !== this.lastRowCount) {
      this.layout();
    }
    const columns = this.visibleColumns();
    const columnsChanged = columns[0] !== this.columnRange[0] || columns[1] !== this.columnRange[1];
    if (columnsChanged) {
      this.columnRange = columns;
      this.renderHeader(true);
      this.clearRows();
    }
    const count = this.source.rowCount;
    const [firstVisible, lastVisible] = this.visibleRows(count);
    const first = Math.max(0, firstVisible - OVERSCAN_ROWS);
    const last = Math.min(count - 1, lastVisible + OVERSCAN_ROWS);
    for (const [row, node] of this.rows) {
      if (row < first || row > last) {
        node.remove();
        this.rows.delete(row);
      }
    }
    const scaled = this.scaled(count);
    for (let row = first; row <= last; row++) {
      let node = this.rows.get(row);
      if (!node) {
        node = this.renderRow(row);
        this.rows.set(row, node);
        this.body.appendChild(node);
      } else if (node.classList.contains('chlab-mod-loading')) {
        const page = this.pageFor(row);
        if (page) {
          const fresh = this.renderRow(row);
          node.replaceWith(fresh);
          this.rows.set(row, fresh);
          node = fresh;
        }
      }
      if (scaled) {
        node.style.top = `${this.rowTop(row, count)}px`;
      }
    }
    this.trimPages();
  }

  private clearRows(): void {
    for (const node of this.rows.values()) {
      node.remove();
    }
    this.rows.clear();
  }

  /** The page that holds `row`, or undefined while it loads (then it is asked for). */
  private pageFor(row: number): RowPage | undefined {
    const index = Math.floor(row / PAGE_ROWS);
    let slot = this.pages.get(index);
    if (slot?.page && row < slot.page.start + slot.page.count) {
      slot.used = ++this.useCounter;
      return slot.page;
    }
    if (slot?.pending || slot?.error) {
      return undefined;
    }
    const start = index * PAGE_ROWS;
    const end = Math.min(start + PAGE_ROWS, this.source.rowCount);
    const fetched = this.source.fetch(start, end);
    if (!(fetched instanceof Promise)) {
      this.pages.set(index, { page: fetched, used: ++this.useCounter });
      return row < fetched.start + fetched.count ? fetched : undefined;
    }
    const generation = this.generation;
    slot = { used: ++this.useCounter };
    slot.pending = fetched.then(
      page => {
        if (generation !== this.generation) {
          return;
        }
        this.pages.set(index, { page, used: ++this.useCounter });
        this.schedule();
      },
      reason => {
        if (generation !== this.generation) {
          return;
        }
        this.pages.set(index, { error: reason instanceof Error ? reason.message : String(reason), used: ++this.useCounter });
        console.warn('chlab: could not read result rows', reason);
      }
    );
    this.pages.set(index, slot);
    return undefined;
  }

  private trimPages(): void {
    if (this.pages.size <= MAX_CACHED_PAGES) {
      return;
    }
    const byAge = [...this.pages].filter(([, slot]) => !slot.pending).sort((a, b) => a[1].used - b[1].used);
    for (const [index] of byAge.slice(0, this.pages.size - MAX_CACHED_PAGES)) {
      this.pages.delete(index);
    }
  }

  private renderRow(row: number): HTMLDivElement {
    const count = this.source.rowCount;
    const node = div('chlab-Grid-row');
    node.setAttribute('role', 'row');
    node.dataset.row = String(row);
    node.style.top = `${this.rowTop(row, count)}px`;
    node.style.width = `${this.totalWidth}px`;
    if (row % 2 === 1) {
      node.classList.add('chlab-mod-odd');
    }
    const number = div('chlab-Grid-rowNumber', String(row + 1));
    const [first, last] = this.columnRange;
    const spacer = div('chlab-Grid-spacer');
    spacer.style.width = `${this.lefts[first] ?? 0}px`;
    node.append(number, spacer);
    const page = this.pageFor(row);
    if (!page) {
      node.classList.add('chlab-mod-loading');
    }
    for (let column = first; column <= last; column++) {
      const cell = div('chlab-Grid-cell');
      cell.setAttribute('role', 'gridcell');
      cell.dataset.col = String(column);
      cell.style.width = `${this.widths[column]}px`;
      if (this.source.columns[column]?.numeric) {
        cell.classList.add('chlab-mod-numeric');
      }
      if (page) {
        const text = page.text(row - page.start, column);
        if (text === null) {
          cell.classList.add('chlab-ResultTable-null');
          cell.textContent = 'NULL';
        } else {
          cell.textContent = text;
          if (text.length > 40) {
            cell.title = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
          }
        }
      }
      if (this.selected?.row === row && this.selected.column === column) {
        cell.classList.add('chlab-mod-selected');
      }
      node.appendChild(cell);
    }
    return node;
  }

  private renderHeader(full: boolean): void {
    const [first, last] = this.columnRange;
    const corner = div('chlab-Grid-corner');
    corner.title = `${this.source.rowCount.toLocaleString('en-US')} rows`;
    if (!full && this.header.firstChild) {
      (this.header.firstChild as HTMLElement).title = corner.title;
      return;
    }
    const spacer = div('chlab-Grid-spacer');
    spacer.style.width = `${this.lefts[first] ?? 0}px`;
    const cells: HTMLElement[] = [corner, spacer];
    for (let index = first; index <= last && index < this.source.columns.length; index++) {
      const column = this.source.columns[index];
      const cell = div('chlab-Grid-headerCell');
      cell.setAttribute('role', 'columnheader');
      cell.dataset.col = String(index);
      cell.style.width = `${this.widths[index]}px`;
      cell.title = `${column.name} ${column.typeLabel}\nClick to sort`;
      if (column.numeric) {
        cell.classList.add('chlab-mod-numeric');
      }
      const name = document.createElement('span');
      name.className = 'chlab-ResultTable-columnName';
      name.textContent = column.name;
      const type = document.createElement('span');
      type.className = 'chlab-ResultTable-columnType';
      type.textContent = column.typeLabel;
      const title = div('chlab-Grid-title');
      title.append(name);
      if (this.sortState?.column === index) {
        cell.classList.add('chlab-mod-sorted');
        cell.setAttribute('aria-sort', this.sortState.descending ? 'descending' : 'ascending');
        title.append(div('chlab-Grid-sortMark', this.sortState.descending ? '▼' : '▲'));
      }
      cell.append(title, type);
      if (this.showFilters) {
        const input = document.createElement('input');
        input.className = 'chlab-Grid-filter';
        input.type = 'text';
        input.spellcheck = false;
        input.placeholder = column.numeric ? '> 10, 1..5, NULL' : 'contains…';
        input.value = this.filters.get(index) ?? '';
        input.dataset.col = String(index);
        input.setAttribute('aria-label', `Filter ${column.name}`);
        input.addEventListener('keydown', event => {
          event.stopPropagation();
          if (event.key === 'Enter') {
            this.callbacks.filter?.(index, input.value.trim());
          } else if (event.key === 'Escape') {
            input.value = '';
            this.callbacks.filter?.(index, '');
          }
        });
        cell.append(input);
        if (this.filters.get(index)) {
          cell.classList.add('chlab-mod-filtered');
        }
      }
      const handle = div('chlab-Grid-resize');
      handle.dataset.col = String(index);
      handle.title = 'Drag to resize';
      cell.append(handle);
      cells.push(cell);
    }
    this.header.replaceChildren(...cells);
  }

  private readonly onMouseDown = (event: MouseEvent): void => {
    const target = event.target as HTMLElement;
    if (target.classList.contains('chlab-Grid-resize')) {
      event.preventDefault();
      event.stopPropagation();
      const column = Number(target.dataset.col);
      this.resizing = { column, startX: event.clientX, startWidth: this.widths[column] };
      window.addEventListener('mousemove', this.onResizeMove);
      window.addEventListener('mouseup', this.onResizeEnd);
    }
  };

  private readonly onResizeMove = (event: MouseEvent): void => {
    if (!this.resizing) {
      return;
    }
    const { column, startX, startWidth } = this.resizing;
    this.setColumnWidth(column, startWidth + event.clientX - startX);
  };

  private readonly onResizeEnd = (): void => {
    this.resizing = undefined;
    window.removeEventListener('mousemove', this.onResizeMove);
    window.removeEventListener('mouseup', this.onResizeEnd);
  };

  /** Sets a column's width in pixels. */
  setColumnWidth(column: number, width: number): void {
    if (column < 0 || column >= this.widths.length) {
      return;
    }
    this.widths[column] = Math.max(MIN_COLUMN_WIDTH, Math.round(width));
    this.layout();
    this.columnRange = [0, -1];
    this.update();
  }

  columnWidth(column: number): number {
    return this.widths[column];
  }

  private readonly onClick = (event: MouseEvent): void => {
    const target = event.target as HTMLElement;
    this.closeMenu();
    if (target.closest('.chlab-Grid-filter, .chlab-Grid-resize')) {
      return;
    }
    const header = target.closest('.chlab-Grid-headerCell') as HTMLElement | null;
    if (header) {
      const column = Number(header.dataset.col);
      const current = this.sortState;
      const next: SortState | undefined =
        current?.column !== column
          ? { column, descending: false }
          : !current.descending
            ? { column, descending: true }
            : undefined;
      this.callbacks.sort?.(next);
      return;
    }
    const cell = target.closest('.chlab-Grid-cell') as HTMLElement | null;
    const row = cell?.parentElement as HTMLElement | null;
    if (cell && row?.dataset.row !== undefined) {
      this.select(Number(row.dataset.row), Number(cell.dataset.col));
      this.node.focus({ preventScroll: true });
    }
  };

  private select(row: number, column: number): void {
    this.selected = { row, column };
    for (const node of this.node.querySelectorAll('.chlab-Grid-cell.chlab-mod-selected')) {
      node.classList.remove('chlab-mod-selected');
    }
    this.rows.get(row)?.querySelector(`.chlab-Grid-cell[data-col="${column}"]`)?.classList.add('chlab-mod-selected');
  }

  get selection(): { row: number; column: number } | undefined {
    return this.selected;
  }

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    if ((event.target as HTMLElement).closest('.chlab-Grid-filter')) {
      return;
    }
    const accel = event.ctrlKey || event.metaKey;
    if (accel && (event.key === 'c' || event.key === 'C')) {
      if (this.selected) {
        event.preventDefault();
        event.stopPropagation();
        void (event.shiftKey ? this.copyRow('tsv') : this.copyCell());
      }
      return;
    }
    if (event.key === 'Escape') {
      this.closeMenu();
      return;
    }
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      PageUp: [-this.viewportRows(), 0],
      PageDown: [this.viewportRows(), 0]
    };
    const move = moves[event.key];
    if (!move || !this.selected) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    const row = Math.max(0, Math.min(this.source.rowCount - 1, this.selected.row + move[0]));
    const column = Math.max(0, Math.min(this.source.columns.length - 1, this.selected.column + move[1]));
    this.revealCell(row, column);
    this.select(row, column);
  };

  private revealCell(row: number, column: number): void {
    const count = this.source.rowCount;
    if (!this.scaled(count)) {
      const top = row * ROW_HEIGHT;
      const bottom = top + ROW_HEIGHT;
      if (top < this.node.scrollTop) {
        this.node.scrollTop = top;
      } else if (bottom > this.node.scrollTop + this.viewportHeight()) {
        this.node.scrollTop = bottom - this.viewportHeight();
      }
    } else {
      const [first, last] = this.visibleRows(count);
      if (row < first || row >= last) {
        this.scrollToRow(Math.max(0, row - 1));
      }
    }
    const left = this.lefts[column];
    const right = left + this.widths[column];
    const width = this.node.clientWidth - this.gutter;
    if (left < this.node.scrollLeft) {
      this.node.scrollLeft = left;
    } else if (right > this.node.scrollLeft + width) {
      this.node.scrollLeft = right - width;
    }
    this.update();
  }

  /** Texts of a row as shown, `null` for NULL; undefined while the row is not loaded. */
  async rowTexts(row: number): Promise<(string | null)[] | undefined> {
    let page = this.pageFor(row);
    if (!page) {
      const start = Math.floor(row / PAGE_ROWS) * PAGE_ROWS;
      page = await this.source.fetch(start, Math.min(start + PAGE_ROWS, this.source.rowCount));
    }
    if (row >= page.start + page.count) {
      return undefined;
    }
    return this.source.columns.map((_, column) => page!.text(row - page!.start, column));
  }

  async copyCell(): Promise<string | undefined> {
    if (!this.selected) {
      return undefined;
    }
    const texts = await this.rowTexts(this.selected.row);
    const text = texts?.[this.selected.column] ?? 'NULL';
    await copyText(text);
    this.flash(`Copied ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`);
    return text;
  }

  async copyRow(format: 'tsv' | 'json'): Promise<string | undefined> {
    if (!this.selected) {
      return undefined;
    }
    const texts = await this.rowTexts(this.selected.row);
    if (!texts) {
      return undefined;
    }
    const text =
      format === 'json'
        ? JSON.stringify(Object.fromEntries(this.source.columns.map((column, i) => [column.name, texts[i]])))
        : texts.map(value => (value ?? '').replace(/[\t\n]/g, ' ')).join('\t');
    await copyText(text);
    this.flash(`Copied row ${(this.selected.row + 1).toLocaleString('en-US')}`);
    return text;
  }

  private flash(text: string): void {
    const note = div('chlab-Grid-flash', text);
    this.node.parentElement?.appendChild(note);
    setTimeout(() => note.remove(), 1500);
  }

  private readonly onContextMenu = (event: MouseEvent): void => {
    const cell = (event.target as HTMLElement).closest('.chlab-Grid-cell') as HTMLElement | null;
    const row = cell?.parentElement as HTMLElement | null;
    if (!cell || row?.dataset.row === undefined || event.shiftKey) {
      return;
    }
    // Our menu instead of JupyterLab's (Shift+right-click still gives the browser's).
    event.preventDefault();
    event.stopPropagation();
    this.select(Number(row.dataset.row), Number(cell.dataset.col));
    this.closeMenu();
    const menu = div('chlab-Grid-menu');
    menu.setAttribute('role', 'menu');
    const item = (label: string, shortcut: string, action: () => void) => {
      const entry = div('chlab-Grid-menuItem');
      entry.setAttribute('role', 'menuitem');
      entry.append(div('chlab-Grid-menuLabel', label), div('chlab-Grid-menuShortcut', shortcut));
      entry.addEventListener('click', clicked => {
        clicked.stopPropagation();
        this.closeMenu();
        this.node.focus({ preventScroll: true });
        action();
      });
      menu.appendChild(entry);
    };
    item('Copy value', 'Ctrl+C', () => void this.copyCell());
    item('Copy row', 'Ctrl+Shift+C', () => void this.copyRow('tsv'));
    item('Copy row as JSON', '', () => void this.copyRow('json'));
    const host = this.node.parentElement ?? this.node;
    const box = host.getBoundingClientRect();
    menu.style.left = `${event.clientX - box.left}px`;
    menu.style.top = `${event.clientY - box.top}px`;
    host.appendChild(menu);
    this.menu = menu;
    this.menuCloser = (other: Event) => {
      if (!menu.contains(other.target as Node)) {
        this.closeMenu();
      }
    };
    document.addEventListener('mousedown', this.menuCloser, true);
  };

  private menuCloser: ((event: Event) => void) | undefined;

  private closeMenu(): void {
    this.menu?.remove();
    this.menu = undefined;
    if (this.menuCloser) {
      document.removeEventListener('mousedown', this.menuCloser, true);
      this.menuCloser = undefined;
    }
  }
}

/** Copies text, with the async clipboard API where allowed and a copy event otherwise. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Not allowed here (permissions, insecure context): fall back below.
  }
  const onCopy = (event: ClipboardEvent) => {
    event.clipboardData?.setData('text/plain', text);
    event.preventDefault();
  };
  document.addEventListener('copy', onCopy);
  try {
    document.execCommand('copy');
  } finally {
    document.removeEventListener('copy', onCopy);
  }
}
