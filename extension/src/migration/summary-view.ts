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
      h('td', { text: check }),
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
      addRow(check.ok, check.name, column.column, check.source, check.destination, renamed);
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
