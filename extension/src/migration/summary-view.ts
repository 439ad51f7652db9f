/** The end-of-run summary for `application/vnd.chlab.migration-summary+json`, with the validation table. */
import { formatDuration, formatInteger, h, statusBadge } from './dom.js';
import type { MigrationSummary } from './types.js';

function mark(ok: boolean | undefined): HTMLElement {
  if (ok === undefined) {
    return h('span', { className: 'chlab-MigrationCheck chlab-mod-unknown', text: '–', title: 'not checked' });
  }
  return h('span', {
    className: `chlab-MigrationCheck ${ok ? 'chlab-mod-ok' : 'chlab-mod-failed'}`,
    text: ok ? '✓' : '✗',
    title: ok ? 'matches' : 'differs'
  });
}

export function renderSummary(summary: MigrationSummary): HTMLElement {
  const root = h('div', 'chlab-MigrationSummary');
  root.dataset.status = summary.status ?? '';
  const seconds = summary.elapsedMs !== undefined ? summary.elapsedMs / 1000 : summary.durationSeconds;
  const took = seconds !== undefined ? ` in ${formatDuration(seconds)}` : '';
  const facts: string[] = [];
  if (summary.recordsMigrated !== undefined) {
    facts.push(`${formatInteger(summary.recordsMigrated)} rows migrated${took}`);
  } else if (took) {
    facts.push(took.trim());
  }
  if (summary.recordsMigrated && seconds) {
    facts.push(`${formatInteger(summary.recordsMigrated / seconds)} rows/s`);
  }
  root.append(
    h(
      'div',
      'chlab-MigrationSummary-head',
      statusBadge(summary.status),
      summary.destination ? h('span', {}, 'into ', h('code', { text: summary.destination })) : null,
      h('span', { className: 'chlab-MigrationSummary-facts', text: facts.join(' · ') }),
      summary.migrationId ? h('span', { className: 'chlab-MigrationSummary-id', text: `migration ${summary.migrationId}` }) : null
    )
  );
  if (summary.errorMessage) {
    root.append(h('pre', { className: 'chlab-MigrationSummary-error', text: summary.errorMessage }));
  }
  if (summary.validation) {
    root.append(renderValidation(summary.validation));
  }
  if (summary.valueProblems.length > 0) {
    root.append(
      h(
        'div',
        'chlab-MigrationSummary-problems',
        h('div', 'chlab-MigrationPlan-sectionTitle', 'Value check'),
        h(
          'ul',
          'chlab-MigrationPlan-warnings',
          ...summary.valueProblems.map(problem =>
            h(
              'li',
              {},
              h('code', { text: problem.column }),
              ` ${problem.message ?? problem.kind}${problem.count !== undefined ? ` (${formatInteger(problem.count)} rows)` : ''}`,
              problem.examples.length > 0 ? `: ${problem.examples.slice(0, 3).map(example => example.text).join(', ')}` : ''
            )
          )
        )
      )
    );
  }
  return root;
}

/** What each validation check (its contract name) compares, as the table labels it. */
const CHECK_LABELS: Record<string, { label: string; title: string }> = {
  non_null: { label: 'non-NULL values', title: 'how many values are not NULL' },
  sum: { label: 'sum', title: 'the sum of the values' },
  min: { label: 'minimum', title: 'the smallest value' },
  max: { label: 'maximum', title: 'the largest value' },
  count_true: { label: 'true values', title: 'how many values are true' },
  total_bytes: { label: 'total bytes', title: "the values' lengths in bytes, added up" },
  min_md5: { label: 'minimum (md5)', title: 'the md5 of the smallest value, in byte order' },
  max_md5: { label: 'maximum (md5)', title: 'the md5 of the largest value, in byte order' },
  sum_days: { label: 'sum of days', title: 'the dates as days since 1970-01-01, added up' },
  sum_epoch_us: { label: 'sum of µs since 1970', title: 'the instants as microseconds since 1970-01-01 00:00 UTC, added up' },
  total_elements: { label: 'array elements', title: 'how many elements the arrays hold in all' }
};

/** A number of any size with thousands separators (worked on the text: sums outgrow a double); other values as they are. */
function grouped(value: string | undefined): string | undefined {
  const number = value === undefined ? null : /^(-?\d{4,})(\.\d+)?$/.exec(value);
  return number ? `${number[1]!.replace(/\B(?=(\d{3})+$)/g, ',')}${number[2] ?? ''}` : value;
}

/** The validation table: ✓/✗ per check (row count, then per column). */
export function renderValidation(validation: NonNullable<MigrationSummary['validation']>): HTMLElement {
  const table = h('table', { className: 'chlab-MigrationTable chlab-MigrationValidation', attrs: { 'aria-label': 'Validation' } });
  const head = table.createTHead().insertRow();
  for (const title of ['', 'Check', 'Column', 'Source', 'Destination']) {
    head.append(h('th', { text: title }));
  }
  const body = table.createTBody();
  const addRow = (ok: boolean | undefined, check: string, column: string, source?: string, destination?: string, renamed?: string) => {
    const row = body.insertRow();
    row.dataset.ok = ok === undefined ? '' : String(ok);
    row.append(
      h('td', {}, mark(ok)),
      h('td', { text: CHECK_LABELS[check]?.label ?? check, title: CHECK_LABELS[check] ? `${check}: ${CHECK_LABELS[check].title}` : undefined }),
      h('td', {}, column ? h('code', { text: column }) : '', renamed ? h('span', { className: 'chlab-MigrationSummary-renamed', text: ` → ${renamed}` }) : ''),
      h('td', { className: 'chlab-mod-numeric', text: source ?? '' }),
      h('td', { className: 'chlab-mod-numeric', text: destination ?? '' })
    );
  };
  if (validation.rowCount) {
    const { source, destination } = validation.rowCount;
    addRow(
      source !== undefined && destination !== undefined ? source === destination : undefined,
      'row count',
      '',
      source !== undefined ? formatInteger(source) : undefined,
      destination !== undefined ? formatInteger(destination) : undefined
    );
  }
  const notes: string[] = validation.note ? [validation.note] : [];
  for (const column of validation.columns) {
    const renamed = column.destinationColumn && column.destinationColumn !== column.column ? column.destinationColumn : undefined;
    for (const check of column.checks) {
      addRow(check.ok, check.name, column.column, grouped(check.source), grouped(check.destination), renamed);
    }
    if (column.note) {
      notes.push(`${column.column}: ${column.note}`);
    }
  }
  return h(
    'div',
    'chlab-MigrationSummary-validation',
    h(
      'div',
      'chlab-MigrationPlan-sectionTitle',
      mark(validation.ok),
      validation.ok === undefined ? ' Validation' : validation.ok ? ' Validation passed' : ' Validation failed'
    ),
    body.rows.length > 0 ? table : null,
    notes.length > 0 ? h('ul', 'chlab-MigrationPlan-notes', ...notes.map(note => h('li', { text: note }))) : null
  );
}
