import {
  type Aggregate,
  type ChartColumn,
  type ChartKind,
  type ChartSpec,
  chartData,
  drawChart,
  isNumericType,
  isTemporalType
} from './chart.js';
import { formatCount, formatElapsed } from './summary.js';

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function select(label: string, className: string, options: [string, string][], value: string): HTMLSelectElement {
  const node = element('select', `chlab-Chart-select ${className}`);
  node.setAttribute('aria-label', label);
  node.title = label;
  for (const [optionValue, text] of options) {
    const option = document.createElement('option');
    option.value = optionValue;
    option.textContent = text;
    node.appendChild(option);
  }
  node.value = value;
  return node;
}

const KINDS: [ChartKind, string][] = [
  ['bar', 'Bar'],
  ['line', 'Line'],
  ['scatter', 'Scatter'],
  ['histogram', 'Histogram']
];
const AGGREGATES: [Aggregate, string][] = [
  ['count', 'count'],
  ['sum', 'sum'],
  ['avg', 'avg'],
  ['min', 'min'],
  ['max', 'max']
];

/** A first chart that says something: counts per category, or the distribution of the first number. */
export function defaultSpec(columns: ChartColumn[]): ChartSpec | undefined {
  const numbers = columns.filter(c => isNumericType(c.duckdbType));
  const times = columns.filter(c => isTemporalType(c.duckdbType));
  const categories = columns.filter(c => !isNumericType(c.duckdbType) && !isTemporalType(c.duckdbType) && /^(VARCHAR|BOOLEAN)/i.test(c.duckdbType));
  if (categories.length > 0) {
    return { kind: 'bar', x: categories[0].name, y: numbers[0]?.name, aggregate: 'count' };
  }
  if (times.length > 0 && numbers.length > 0) {
    return { kind: 'line', x: times[0].name, y: numbers[0].name, aggregate: 'avg' };
  }
  if (numbers.length > 0) {
    return { kind: 'histogram', x: numbers[0].name, aggregate: 'count' };
  }
  return columns.length > 0 ? { kind: 'bar', x: columns[0].name, aggregate: 'count' } : undefined;
}

/**
 * The chart beside the grid: a kind, the columns, an aggregate; DuckDB computes the aggregate over the whole
 * result (or its filtered view) and Observable Plot draws the few hundred points that come back.
 */
export class ChartPanel {
  readonly node: HTMLDivElement;
  private readonly controls: HTMLDivElement;
  private readonly plot: HTMLDivElement;
  private readonly caption: HTMLDivElement;
  private spec: ChartSpec | undefined;
  private columns: ChartColumn[] = [];
  private tableRef = '';
  private drawing = 0;

  constructor() {
    this.node = element('div', 'chlab-Chart');
    this.controls = element('div', 'chlab-Chart-controls');
    this.plot = element('div', 'chlab-Chart-plot');
    this.caption = element('div', 'chlab-Chart-caption');
    this.node.append(this.controls, this.plot, this.caption);
  }

  get currentSpec(): ChartSpec | undefined {
    return this.spec;
  }

  /** Draws from `tableRef` (a result or its view), keeping the chosen spec where the columns allow. */
  async show(tableRef: string, columns: ChartColumn[]): Promise<void> {
    this.tableRef = tableRef;
    const sameColumns = columns.length === this.columns.length && columns.every((c, i) => c.name === this.columns[i].name);
    this.columns = columns;
    if (!this.spec || !sameColumns) {
      this.spec = defaultSpec(columns);
    }
    this.renderControls();
    await this.draw();
  }

  async setSpec(spec: ChartSpec): Promise<void> {
    this.spec = spec;
    this.renderControls();
    await this.draw();
  }

  private renderControls(): void {
    const spec = this.spec;
    if (!spec) {
      this.controls.replaceChildren(element('span', 'chlab-Chart-empty', 'No columns to chart'));
      return;
    }
    const names: [string, string][] = this.columns.map(c => [c.name, c.name]);
    const measurable: [string, string][] = this.columns.filter(c => isNumericType(c.duckdbType) || isTemporalType(c.duckdbType)).map(c => [c.name, c.name]);
    const kind = select('Chart type', 'chlab-Chart-kind', KINDS, spec.kind);
    const xOptions = spec.kind === 'bar' ? names : measurable.length > 0 ? measurable : names;
    const x = select(spec.kind === 'histogram' ? 'Column' : 'X', 'chlab-Chart-x', xOptions, spec.x);
    const nodes: HTMLElement[] = [kind, element('span', 'chlab-Chart-label', spec.kind === 'histogram' ? 'of' : 'x'), x];
    let aggregate: HTMLSelectElement | undefined;
    let y: HTMLSelectElement | undefined;
    if (spec.kind === 'bar' || spec.kind === 'line') {
      aggregate = select('Aggregate', 'chlab-Chart-aggregate', AGGREGATES, spec.aggregate);
      nodes.push(element('span', 'chlab-Chart-label', 'y'), aggregate);
    }
    if (spec.kind !== 'histogram' && !(aggregate && spec.aggregate === 'count')) {
      const yOptions = measurable.filter(([name]) => name !== spec.x || spec.kind !== 'scatter');
      y = select('Y', 'chlab-Chart-y', yOptions, spec.y && yOptions.some(([n]) => n === spec.y) ? spec.y : (yOptions[0]?.[0] ?? ''));
      nodes.push(y);
    }
    const changed = () => {
      const next: ChartSpec = {
        kind: kind.value as ChartKind,
        x: x.value,
        y: y?.value || spec.y,
        aggregate: (aggregate?.value as Aggregate | undefined) ?? spec.aggregate
      };
      if (next.kind !== spec.kind) {
        const measurableNames = measurable.map(([n]) => n);
        if (next.kind !== 'bar' && !measurableNames.includes(next.x)) {
          next.x = measurableNames[0] ?? next.x;
        }
        if (next.kind === 'line') {
          // Over time, when the result has a time column.
          next.x = this.columns.find(c => isTemporalType(c.duckdbType))?.name ?? next.x;
        }
        if (next.kind === 'scatter' || next.kind === 'line') {
          next.y = this.columns.find(c => c.name !== next.x && isNumericType(c.duckdbType))?.name ?? measurableNames[0];
          next.aggregate = next.kind === 'line' ? 'avg' : next.aggregate;
        }
      }
      void this.setSpec(next);
    };
    for (const control of [kind, x, aggregate, y]) {
      control?.addEventListener('change', changed);
    }
    this.controls.replaceChildren(...nodes);
  }

  private async draw(): Promise<void> {
    const spec = this.spec;
    const drawing = ++this.drawing;
    if (!spec || !this.tableRef) {
      this.plot.replaceChildren();
      return;
    }
    this.node.classList.add('chlab-mod-busy');
    this.caption.textContent = 'Aggregating in DuckDB…';
    try {
      const data = await chartData(this.tableRef, spec, this.columns);
      if (drawing !== this.drawing) {
        return;
      }
      // Laid out by now (the panel was just added): draw at the width it has.
      await new Promise(resolve => requestAnimationFrame(resolve));
      const width = Math.max(280, Math.floor(this.plot.getBoundingClientRect().width || 420) - 4);
      const svg = await drawChart(data, width, 260);
      if (drawing !== this.drawing) {
        return;
      }
      this.plot.replaceChildren(svg);
      const what = spec.kind === 'scatter' ? `a sample of ${formatCount(data.points.length)} points` : `${formatCount(data.points.length)} ${spec.kind === 'bar' ? 'bars' : spec.kind === 'histogram' ? 'bins' : 'points'}`;
      this.caption.textContent = `${what} from ${formatCount(data.rows)} rows · DuckDB ${formatElapsed(data.elapsedMs)}`;
      this.caption.title = data.sql;
      this.node.dataset.points = String(data.points.length);
      this.node.dataset.rows = String(data.rows);
    } catch (reason) {
      if (drawing !== this.drawing) {
        return;
      }
      this.plot.replaceChildren(element('div', 'chlab-ArrowResult-error', `Could not draw the chart: ${reason instanceof Error ? reason.message : String(reason)}`));
      this.caption.textContent = '';
    } finally {
      if (drawing === this.drawing) {
        this.node.classList.remove('chlab-mod-busy');
      }
    }
  }
}
