/**
 * The editable mapping widget for `application/vnd.chlab.migration-plan+json`: the analysis, a table of
 * columns with editable destination name / type / transformation / NULL handling / skip, ORDER BY and
 * PARTITION BY, warnings, the value check, the DDL (recomputed in the browser as you edit) and Run.
 *
 * The cell source is the truth: every edit is written into the YAML after `%%migrate` (only overrides
 * that differ from the suggestion), and edits typed into the cell show up in the widget.
 */
import { stringify } from 'yaml';

import type { CellHandle } from './cell.js';
import { formatDecimal, formatInteger, h } from './dom.js';
import { type ColumnState, MigrationEditModel } from './model.js';
import {
  MIGRATE_MAGIC,
  type OptionKey,
  type OverrideKey,
  readOverrides,
  readSpec,
  setColumnOverride,
  setOption,
  splitCellSource,
  SpecSyntaxError,
  withRunMagic,
  joinCellSource
} from './spec.js';
import { type MigrationPlan, NULL_HANDLINGS, type NullHandling, splitTopLevel } from './types.js';

/** Offered in the destination type's datalist; any ClickHouse type may be typed. */
export const COMMON_CLICKHOUSE_TYPES = [
  'String',
  'LowCardinality(String)',
  'FixedString(16)',
  'Bool',
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'Int128',
  'UInt8',
  'UInt16',
  'UInt32',
  'UInt64',
  'Float32',
  'Float64',
  'Decimal(18, 2)',
  'Decimal(38, 10)',
  'Date',
  'Date32',
  'DateTime',
  "DateTime('UTC')",
  'DateTime64(3)',
  'DateTime64(6)',
  "DateTime64(6, 'UTC')",
  'UUID',
  'IPv4',
  'IPv6',
  'JSON',
  'Array(String)',
  'Array(Int64)',
  'Map(String, String)'
];

const NULL_LABELS: Record<NullHandling, string> = {
  nullable: 'Nullable',
  default: 'default',
  fail: 'fail'
};

const NULL_TITLES: Record<NullHandling, string> = {
  nullable: 'keep NULLs: the column becomes Nullable(T)',
  default: "a NULL becomes the type's default value (0, '', 1970-01-01)",
  fail: 'a NULL stops the migration with an error'
};

let instances = 0;

interface RowControls {
  row: HTMLTableRowElement;
  rename: HTMLInputElement;
  type: HTMLInputElement;
  transform: HTMLInputElement;
  nulls: HTMLSelectElement;
  skip: HTMLInputElement;
  columnType: HTMLElement;
}

export class MigrationPlanView {
  readonly node: HTMLElement;
  private readonly model: MigrationEditModel;
  private readonly rows = new Map<string, RowControls>();
  private readonly orderBy: HTMLInputElement;
  private readonly partitionBy: HTMLInputElement;
  private readonly ddl: HTMLElement;
  private readonly ddlNote: HTMLElement;
  private readonly message: HTMLElement;
  private readonly runButton: HTMLButtonElement;
  private readonly analyzeButton: HTMLButtonElement;
  private cell: CellHandle | undefined;
  private disconnect: (() => void) | undefined;
  /** The source edited when the output is not in a notebook cell. */
  private localSource: string;
  private readonly id = ++instances;
  /** A message about the last action (an error, a run) shown instead of the default hint. */
  private notice: { text: string; kind: 'info' | 'error' } | undefined;
  private running = false;

  constructor(plan: MigrationPlan) {
    this.model = new MigrationEditModel(plan);
    this.localSource = `${MIGRATE_MAGIC}\n${Object.keys(plan.spec).length > 0 ? stringify(plan.spec) : ''}`;
    this.node = h('div', 'chlab-MigrationPlan');

    this.node.append(this.renderHeader(plan));
    if (plan.warnings.length > 0) {
      this.node.append(
        h(
          'ul',
          { className: 'chlab-MigrationPlan-warnings', attrs: { 'aria-label': 'Warnings' } },
          ...plan.warnings.map(warning => h('li', { text: warning }))
        )
      );
    }

    const datalistId = `chlab-migration-types-${this.id}`;
    this.node.append(
      h('datalist', { attrs: { id: datalistId } }, ...COMMON_CLICKHOUSE_TYPES.map(type => h('option', { attrs: { value: type } })))
    );
    this.node.append(this.renderMapping(plan, datalistId));

    this.orderBy = h('input', {
      className: 'chlab-MigrationInput',
      attrs: { type: 'text', 'data-option': 'order_by', 'aria-label': 'ORDER BY', spellcheck: 'false' }
    });
    this.partitionBy = h('input', {
      className: 'chlab-MigrationInput',
      attrs: { type: 'text', 'data-option': 'partition_by', 'aria-label': 'PARTITION BY', spellcheck: 'false' }
    });
    this.orderBy.addEventListener('input', () => this.editOption('order_by', this.orderBy.value));
    this.partitionBy.addEventListener('input', () => this.editOption('partition_by', this.partitionBy.value));
    this.node.append(
      h(
        'div',
        'chlab-MigrationPlan-options',
        h('label', {}, h('span', { text: 'ORDER BY' }), this.orderBy),
        h('label', {}, h('span', { text: 'PARTITION BY' }), this.partitionBy)
      )
    );

    const valueCheck = this.renderValueCheck(plan);
    if (valueCheck) {
      valueCheck.append(this.renderValueCheckNotes(plan) ?? '');
      this.node.append(valueCheck);
    }

    this.ddl = h('code', { className: 'chlab-MigrationPlan-ddlCode' });
    this.ddlNote = h('span', 'chlab-MigrationPlan-ddlNote');
    this.node.append(
      h(
        'div',
        'chlab-MigrationPlan-section',
        h('div', 'chlab-MigrationPlan-sectionTitle', 'DDL', this.ddlNote),
        h('pre', { className: 'chlab-MigrationPlan-ddl', attrs: { 'aria-label': 'Generated DDL' } }, this.ddl)
      )
    );

    this.message = h('div', { className: 'chlab-MigrationPlan-message', attrs: { role: 'status' } });
    this.runButton = h('button', {
      className: 'jp-Button jp-mod-styled jp-mod-accept chlab-MigrationPlan-run',
      text: 'Run migration',
      attrs: { type: 'button' }
    });
    this.analyzeButton = h('button', {
      className: 'jp-Button jp-mod-styled chlab-MigrationPlan-analyze',
      text: 'Analyze again',
      attrs: { type: 'button', title: 'Run the analysis again with the current spec (moves no data)' }
    });
    this.runButton.addEventListener('click', () => void this.run(true));
    this.analyzeButton.addEventListener('click', () => void this.run(false));
    this.node.append(h('div', 'chlab-MigrationPlan-footer', this.runButton, this.analyzeButton, this.message));
    this.refresh();
  }

  /** Connects the view to its cell (or to nothing: then edits stay in the widget). */
  attach(cell: CellHandle | undefined): void {
    this.detach();
    this.cell = cell;
    if (cell) {
      this.disconnect = cell.onSourceChanged(() => this.refresh());
    }
    this.refresh();
  }

  detach(): void {
    this.disconnect?.();
    this.disconnect = undefined;
    this.cell = undefined;
  }

  private get source(): string {
    return this.cell ? this.cell.getSource() : this.localSource;
  }

  private set source(value: string) {
    if (this.cell) {
      this.cell.setSource(value);
    } else {
      this.localSource = value;
    }
  }

  private renderHeader(plan: MigrationPlan): HTMLElement {
    const sourceName = [plan.source.schema, plan.source.table].filter(Boolean).join('.') || String(plan.spec.source ?? 'source');
    const facts: string[] = [];
    if (plan.source.rowCount !== undefined) {
      facts.push(`${plan.source.rowCountExact === false ? '≈ ' : ''}${formatInteger(plan.source.rowCount)} rows`);
    }
    if (plan.source.estimatedSizeMb !== undefined) {
      facts.push(`${formatDecimal(plan.source.estimatedSizeMb)} MB`);
    }
    facts.push(`${plan.mappings.length} ${plan.mappings.length === 1 ? 'column' : 'columns'}`);
    return h(
      'div',
      'chlab-MigrationPlan-header',
      h('span', 'chlab-MigrationPlan-title', 'Migration plan: ', h('code', { text: sourceName }), ' → ', h('code', { className: 'chlab-MigrationPlan-target', text: plan.target || '?' })),
      h('span', { className: 'chlab-MigrationPlan-facts', text: facts.join(' · ') }),
      plan.targetInfo.exists
        ? h('span', {
            className: 'chlab-MigrationPlan-facts',
            text: `target exists${plan.targetInfo.rows !== undefined ? ` (${formatInteger(plan.targetInfo.rows)} rows)` : ''}`
          })
        : null
    );
  }

  private renderMapping(plan: MigrationPlan, datalistId: string): HTMLElement {
    const table = h('table', { className: 'chlab-MigrationMapping', attrs: { 'aria-label': 'Column mapping' } });
    const head = table.createTHead().insertRow();
    for (const title of ['Source field', 'Source type', 'Destination name', 'Destination type', 'Transformation', 'NULLs', 'Skip']) {
      head.append(h('th', { text: title }));
    }
    const body = table.createTBody();
    const sourceColumns = new Map(plan.source.columns.map(column => [column.name, column]));
    for (const mapping of plan.mappings) {
      const field = mapping.sourceField;
      const source = sourceColumns.get(field);
      const row = body.insertRow();
      row.dataset.field = field;
      const input = (key: OverrideKey, label: string, extra: Record<string, string> = {}): HTMLInputElement => {
        const node = h('input', {
          className: 'chlab-MigrationInput',
          attrs: { type: 'text', 'data-key': key, 'aria-label': `${label} of ${field}`, spellcheck: 'false', ...extra }
        });
        node.addEventListener('input', () => this.editColumn(field, key, node.value));
        return node;
      };
      const rename = input('rename', 'Destination name', { placeholder: field });
      const type = input('type', 'Destination type', { list: datalistId });
      const transform = input('transform', 'Transformation', { placeholder: field });
      const nulls = h('select', {
        className: 'chlab-MigrationSelect',
        attrs: { 'data-key': 'nulls', 'aria-label': `NULL handling of ${field}` }
      });
      for (const option of NULL_HANDLINGS) {
        nulls.append(h('option', { text: NULL_LABELS[option], title: NULL_TITLES[option], attrs: { value: option } }));
      }
      nulls.addEventListener('change', () => this.editColumn(field, 'nulls', nulls.value));
      const skip = h('input', { attrs: { type: 'checkbox', 'data-key': 'skip', 'aria-label': `Skip ${field}` } });
      skip.addEventListener('change', () => this.editColumn(field, 'skip', skip.checked));
      const columnType = h('div', 'chlab-MigrationMapping-columnType');

      const badges = h('span', 'chlab-MigrationMapping-badges');
      if (source?.primaryKey) {
        badges.append(h('span', { className: 'chlab-MigrationBadge chlab-mod-pk', text: 'PK', title: 'primary key' }));
      }
      if (source?.nullable) {
        badges.append(h('span', { className: 'chlab-MigrationBadge chlab-mod-nullable', text: 'NULL', title: 'nullable in the source' }));
      }
      if (mapping.warnings.length > 0) {
        row.classList.add('chlab-mod-warning');
        badges.append(h('span', { className: 'chlab-MigrationBadge chlab-mod-warning', text: '⚠', title: mapping.warnings.join('\n') }));
      }

      row.append(
        h('td', 'chlab-MigrationMapping-source', h('span', { className: 'chlab-MigrationMapping-field', text: field }), badges),
        h('td', { className: 'chlab-MigrationMapping-sourceType', text: mapping.sourceType || source?.type || '' }),
        h('td', {}, rename),
        h('td', {}, type, columnType),
        h('td', {}, transform),
        h('td', {}, nulls),
        h('td', 'chlab-MigrationMapping-skip', skip)
      );
      if (mapping.warnings.length > 0 || mapping.notes.length > 0) {
        // The column's warnings and notes, in a row of their own under it.
        const detailRow = body.insertRow();
        detailRow.className = 'chlab-MigrationMapping-warningRow';
        detailRow.dataset.warningsFor = field;
        row.classList.add('chlab-mod-hasDetails');
        const cell = h(
          'td',
          {},
          mapping.warnings.length > 0 ? h('ul', 'chlab-MigrationMapping-warnings', ...mapping.warnings.map(warning => h('li', { text: warning }))) : null,
          mapping.notes.length > 0 ? h('ul', 'chlab-MigrationMapping-notes', ...mapping.notes.map(note => h('li', { text: note }))) : null
        );
        cell.colSpan = 7;
        detailRow.append(cell);
      }
      this.rows.set(field, { row, rename, type, transform, nulls, skip, columnType });
    }
    return h('div', 'chlab-MigrationMapping-scroller', table);
  }

  private renderValueCheck(plan: MigrationPlan): HTMLElement | undefined {
    const check = plan.valueCheck;
    if (!check) {
      return undefined;
    }
    const section = h('div', 'chlab-MigrationPlan-section chlab-MigrationValueCheck');
    const checked = check.checkedRows !== undefined ? `${formatInteger(check.checkedRows)} rows checked` : 'Value check';
    if (check.problems.length === 0) {
      section.append(h('div', 'chlab-MigrationPlan-sectionTitle', `Value check: no problems (${checked})`));
      section.classList.add('chlab-mod-ok');
      return section;
    }
    section.append(
      h('div', 'chlab-MigrationPlan-sectionTitle', `Value check: ${check.problems.length} ${check.problems.length === 1 ? 'problem' : 'problems'} (${checked})`)
    );
    const table = h('table', 'chlab-MigrationTable');
    const head = table.createTHead().insertRow();
    for (const title of ['Column', 'Problem', 'Rows', 'Examples']) {
      head.append(h('th', { text: title }));
    }
    const body = table.createTBody();
    for (const problem of check.problems) {
      const row = body.insertRow();
      row.dataset.column = problem.column;
      row.append(
        h('td', {}, h('code', { text: problem.column })),
        h('td', { text: problem.message || problem.kind, title: problem.kind }),
        h('td', { className: 'chlab-mod-numeric', text: problem.count !== undefined ? formatInteger(problem.count) : '' }),
        h(
          'td',
          {},
          ...problem.examples.slice(0, 5).map(example => h('code', { className: 'chlab-MigrationExample', text: example.text, title: example.detail }))
        )
      );
    }
    section.append(table);
    return section;
  }

  private renderValueCheckNotes(plan: MigrationPlan): HTMLElement | undefined {
    const skipped = plan.valueCheck?.skipped ?? [];
    return skipped.length > 0
      ? h('ul', 'chlab-MigrationPlan-notes', ...skipped.map(note => h('li', { text: `not checked: ${note}` })))
      : undefined;
  }

  private showMessage(text: string, kind: 'info' | 'error' = 'info'): void {
    this.message.textContent = text;
    this.message.classList.toggle('chlab-mod-error', kind === 'error');
  }

  private editColumn(field: string, key: OverrideKey, value: string | boolean): void {
    this.write(source => setColumnOverride(source, field, key, this.model.overrideFor(field, key, value, readOverrides(readSpec(source)))));
  }

  private editOption(key: OptionKey, value: string): void {
    const trimmed = value.trim();
    if (key === 'order_by') {
      // Destination column names: `(a, b)`, `a, b` and `` `a` `` all work.
      const names = splitTopLevel(trimmed.replace(/^\((.*)\)$/s, '$1')).map(name => name.replace(/^`(.*)`$/s, '$1'));
      this.write(source => setOption(source, key, names.length > 0 ? names : undefined));
    } else {
      this.write(source => setOption(source, key, trimmed || undefined));
    }
  }

  private write(edit: (source: string) => string): void {
    try {
      this.source = edit(this.source);
    } catch (reason) {
      this.notice = { text: this.errorText(reason), kind: 'error' };
      this.showMessage(this.notice.text, 'error');
      return;
    }
    this.notice = undefined;
    this.refresh();
  }

  private errorText(reason: unknown): string {
    if (reason instanceof SpecSyntaxError) {
      return `The cell's YAML has an error (${reason.message}): fix it in the cell to edit here.`;
    }
    return reason instanceof Error ? reason.message : String(reason);
  }

  /** Shows the state of the current source in every control except the one being typed in. */
  refresh(): void {
    let spec: Record<string, unknown>;
    try {
      spec = readSpec(this.source);
    } catch (reason) {
      this.showMessage(this.errorText(reason), 'error');
      return;
    }
    if (this.notice?.kind === 'error' && !this.running) {
      this.notice = undefined;
    }
    const overrides = readOverrides(spec);
    const columns = this.model.columns(overrides);
    for (const column of columns) {
      this.showColumn(column);
    }
    const options = this.model.options(spec);
    const defaultOrder = this.model.defaultOrderBy(columns);
    setValue(this.orderBy, options.orderBy.join(', '));
    this.orderBy.placeholder = defaultOrder.length > 0 ? `${defaultOrder.join(', ')} (primary key)` : 'tuple() (no primary key)';
    setValue(this.partitionBy, options.partitionBy);
    this.partitionBy.placeholder = this.model.defaultPartitionBy() || 'none';

    const analyzed = this.model.plan;
    const unchanged = analyzed.ddl !== undefined && sameEdits(analyzed.spec, spec);
    this.ddl.textContent = unchanged ? analyzed.ddl! : this.model.ddl(spec, overrides);
    this.ddlNote.textContent = unchanged ? '' : ' · preview of your edits';
    this.node.dataset.overrides = String(Object.keys(overrides).length);

    const canRun = this.cell?.canRun ?? false;
    if (!this.running) {
      this.runButton.disabled = !canRun;
      this.analyzeButton.disabled = !canRun;
    }
    if (this.notice) {
      this.showMessage(this.notice.text, this.notice.kind);
    } else if (!this.cell) {
      this.showMessage('Not in a notebook cell: edits stay in this view.');
    } else {
      const edited = Object.keys(overrides).length > 0 || options.orderBy.length > 0 || !!options.partitionBy;
      this.showMessage(edited ? 'Your edits are saved in the cell source.' : 'Edit the mapping here or in the cell: the cell source keeps it.');
    }
  }

  private showColumn(column: ColumnState): void {
    const controls = this.rows.get(column.sourceField);
    if (!controls) {
      return;
    }
    setValue(controls.rename, column.destinationField === column.sourceField ? '' : column.destinationField);
    controls.rename.placeholder = column.sourceField;
    setValue(controls.type, column.destinationType);
    setValue(controls.transform, column.transformation);
    controls.type.title = column.destinationType;
    controls.transform.title = column.transformation || `${column.sourceField} as it is (a ClickHouse expression over the source columns)`;
    setValue(controls.nulls, column.nulls);
    if (document.activeElement !== controls.skip) {
      controls.skip.checked = column.skip;
    }
    controls.columnType.textContent = column.columnType !== column.destinationType ? column.columnType : '';
    controls.row.classList.toggle('chlab-mod-skipped', column.skip);
    for (const control of [controls.rename, controls.type, controls.transform, controls.nulls]) {
      control.disabled = column.skip;
    }
  }

  private async run(migrate: boolean): Promise<void> {
    const cell = this.cell;
    if (!cell) {
      return;
    }
    let source = this.source;
    const parts = splitCellSource(source);
    if (!parts) {
      this.say('The cell no longer starts with %%migrate.', 'error');
      return;
    }
    source = migrate ? withRunMagic(source) : joinCellSource({ ...parts, magicLine: MIGRATE_MAGIC });
    this.running = true;
    this.runButton.disabled = true;
    this.analyzeButton.disabled = true;
    cell.setSource(source);
    this.say(migrate ? 'Starting the migration…' : 'Analyzing…');
    try {
      const started = await cell.run();
      if (!started) {
        this.say('The cell could not be run (is the kernel running?).', 'error');
      }
    } catch (reason) {
      this.say(this.errorText(reason), 'error');
    } finally {
      this.running = false;
      this.runButton.disabled = !cell.canRun;
      this.analyzeButton.disabled = !cell.canRun;
    }
  }

  private say(text: string, kind: 'info' | 'error' = 'info'): void {
    this.notice = { text, kind };
    this.showMessage(text, kind);
  }
}

/** Sets a control's value unless the user is typing in it. */
function setValue(control: HTMLInputElement | HTMLSelectElement, value: string): void {
  if (document.activeElement !== control && control.value !== value) {
    control.value = value;
  }
}

/** Whether the cell's spec has the same overrides and table options as the analyzed spec. */
function sameEdits(analyzed: Record<string, unknown>, current: Record<string, unknown>): boolean {
  const pick = (spec: Record<string, unknown>) => {
    const options = (spec.options ?? {}) as Record<string, unknown>;
    return canonicalJson([spec.target ?? null, spec.columns ?? {}, options.order_by ?? null, options.partition_by ?? null]);
  };
  return Object.keys(analyzed).length > 0 && pick(analyzed) === pick(current);
}

/** JSON with object keys sorted, for comparing parsed specs. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
