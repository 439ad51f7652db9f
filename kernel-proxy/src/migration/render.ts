// text/html and text/plain fallbacks of the migration bundles (the widget renders the JSON MIME types).
import type { DisplayBundle } from '../kernel/cell-output.js';
import type { MigrationSummary, ProgressSnapshot } from './service.js';
import type { planBundle } from './service.js';

export const PLAN_MIME = 'application/vnd.chlab.migration-plan+json';
export const PROGRESS_MIME = 'application/vnd.chlab.migration-progress+json';
export const SUMMARY_MIME = 'application/vnd.chlab.migration-summary+json';
export const HISTORY_MIME = 'application/vnd.chlab.migration-history+json';

type PlanJson = ReturnType<typeof planBundle>;

const esc = (value: unknown) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const n = (value: number) => value.toLocaleString('en-US');

export function planOutput(plan: PlanJson): DisplayBundle {
  const rows = `${plan.source.row_count_exact ? '' : '≈ '}${n(plan.source.row_count)}`;
  const text = [
    `Migration plan: ${plan.source.schema}.${plan.source.table} (${plan.source.description}) → ${plan.target.qualified}`,
    `${rows} rows${plan.source.row_count_exact ? '' : ' (estimate)'}, ${plan.source.estimated_size_mb} MB, primary key: ${plan.source.primary_key.join(', ') || 'none'}`,
    '',
    ...plan.mappings.map((m) => `  ${m.skip ? '(skip) ' : ''}${m.source_field} ${m.source_type}${m.source_nullable ? '' : ' NOT NULL'} → ${m.destination_field} ${m.destination_type}${m.transformation ? ` = ${m.transformation}` : ''}${m.warnings.length ? `  ⚠ ${m.warnings.join('; ')}` : ''}`),
    '',
    plan.ddl,
    ...(plan.warnings.length ? ['', 'Warnings:', ...plan.warnings.map((w) => `  - ${w}`)] : []),
    ...valueCheckText(plan.value_check),
  ].join('\n');
  const html = `<div class="chlab-migration-plan">
<p><b>${esc(plan.source.schema)}.${esc(plan.source.table)}</b> (${esc(plan.source.description)}) → <b>${esc(plan.target.qualified)}</b>${plan.target.exists ? ' (exists)' : ''}<br>
${esc(rows)} rows${plan.source.row_count_exact ? '' : ' <i>(estimate)</i>'} · ${esc(plan.source.estimated_size_mb)} MB · primary key: ${esc(plan.source.primary_key.join(', ') || 'none')}</p>
<table><thead><tr><th>source</th><th>type</th><th>null</th><th>destination</th><th>type</th><th>nulls</th><th>transformation</th><th>warnings</th></tr></thead><tbody>
${plan.mappings.map((m) => `<tr${m.skip ? ' style="opacity:.5"' : ''}><td>${esc(m.source_field)}${m.primary_key ? ' 🔑' : ''}</td><td><code>${esc(m.source_type)}</code></td><td>${m.source_nullable ? 'yes' : 'no'}</td><td>${m.skip ? '<i>skipped</i>' : esc(m.destination_field)}</td><td><code>${esc(m.destination_type)}</code></td><td>${esc(m.nulls)}</td><td><code>${esc(m.transformation ?? '')}</code></td><td>${m.warnings.map(esc).join('<br>')}</td></tr>`).join('\n')}
</tbody></table>
<pre>${esc(plan.ddl)}</pre>
${plan.warnings.length ? `<ul>${plan.warnings.map((w) => `<li>⚠ ${esc(w)}</li>`).join('')}</ul>` : ''}
${valueCheckHtml(plan.value_check)}
</div>`;
  return { data: { [PLAN_MIME]: plan, 'text/html': html, 'text/plain': text }, metadata: {} };
}

function valueCheckText(check: PlanJson['value_check']): string[] {
  if (!check) return [];
  if (!check.scanned) return ['', 'Value check: no column needs one'];
  if (!check.problems.length) return ['', `Value check: ${n(check.checked_rows)} rows scanned, every value fits`];
  return ['', `Value check: ${n(check.checked_rows)} rows scanned, problems:`, ...check.problems.map((p) => `  - ${p.column}: ${n(p.count)} × ${p.description}; e.g. ${p.examples.map((e) => `${JSON.stringify(e.row)} = ${e.value ?? 'NULL'}`).join(', ')}`)];
}

function valueCheckHtml(check: PlanJson['value_check']): string {
  if (!check) return '';
  if (!check.scanned) return '<p>Value check: no column needs one.</p>';
  if (!check.problems.length) return `<p>Value check: ${n(check.checked_rows)} rows scanned, every value fits ✔</p>`;
  return `<p><b>Value check: ${n(check.checked_rows)} rows scanned, values that would not fit:</b></p><ul>${check.problems
    .map((p) => `<li>${esc(p.column)}: ${n(p.count)} × ${esc(p.description)} — e.g. ${p.examples.map((e) => `<code>${esc(JSON.stringify(e.row))}</code> = <code>${esc(e.value ?? 'NULL')}</code>`).join(', ')}</li>`)
    .join('')}</ul>`;
}

export function progressOutput(p: ProgressSnapshot): DisplayBundle {
  const width = 30;
  const filled = Math.round((p.percentage / 100) * width);
  const eta = p.eta_seconds === null ? '…' : `${p.eta_seconds} s`;
  const text = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${p.percentage.toFixed(1)}% · ${n(p.processed_records)} / ${p.total_exact ? '' : '≈'}${n(p.total_records)} rows · ${n(p.rows_per_second)} rows/s · ETA ${eta} · ${p.phase}`;
  const html = `<div class="chlab-migration-progress"><progress max="100" value="${p.percentage}" style="width:100%"></progress><div>${esc(p.percentage.toFixed(1))}% · ${n(p.processed_records)} / ${p.total_exact ? '' : '≈'}${n(p.total_records)} rows · ${n(p.rows_per_second)} rows/s · ETA ${esc(eta)} · ${esc(p.phase)}</div></div>`;
  return { data: { [PROGRESS_MIME]: p, 'text/html': html, 'text/plain': text }, metadata: {} };
}

export function summaryOutput(s: MigrationSummary): DisplayBundle {
  const v = s.validation;
  const took = `${(s.elapsed_ms / 1000).toFixed(1)} s`;
  const lines = [
    `Migration ${s.migration_id}: ${s.status} — ${n(s.records_migrated)} rows → ${s.destination} in ${took}`,
    ...(s.error_message ? [`Error: ${s.error_message}`] : []),
    ...(v ? [`Validation: ${v.ok ? 'OK' : 'MISMATCH'} — rows ${n(v.row_count.source)} (PostgreSQL) vs ${n(v.row_count.destination)} (ClickHouse)`, ...v.columns.flatMap((c) => c.checks.filter((k) => !k.ok).map((k) => `  ✗ ${c.column}.${k.name}: ${k.source} vs ${k.destination}`))] : []),
  ];
  const html = `<div class="chlab-migration-summary"><p><b>${esc(s.status)}</b>: ${n(s.records_migrated)} rows → <b>${esc(s.destination)}</b> in ${took} <small>(${esc(s.migration_id)})</small></p>
${s.error_message ? `<p style="color:#b00">${esc(s.error_message)}</p>` : ''}
${v ? `<p>Validation ${v.ok ? '✔' : '✗'}: rows ${n(v.row_count.source)} / ${n(v.row_count.destination)}</p><table><thead><tr><th>column</th><th>check</th><th>PostgreSQL</th><th>ClickHouse</th><th></th></tr></thead><tbody>${v.columns
    .flatMap((c) => c.checks.map((k) => `<tr><td>${esc(c.column)}</td><td>${esc(k.name)}</td><td><code>${esc(k.source)}</code></td><td><code>${esc(k.destination)}</code></td><td>${k.ok ? '✔' : '✗'}</td></tr>`))
    .join('')}</tbody></table>` : ''}</div>`;
  return { data: { [SUMMARY_MIME]: s, 'text/html': html, 'text/plain': lines.join('\n') }, metadata: {} };
}

export function historyOutput(history: { migrations: { id: string; status: string; source_table: string; destination: string; records_migrated: number; started_at: string; duration_seconds: number; error_message: string | null }[]; total: number }): DisplayBundle {
  const text = [`${history.total} migration(s)`, ...history.migrations.map((m) => `${m.started_at}  ${m.status.padEnd(9)} ${m.source_table} → ${m.destination}  ${n(m.records_migrated)} rows  ${m.duration_seconds} s  ${m.id}`)].join('\n');
  const html = `<table class="chlab-migration-history"><thead><tr><th>started</th><th>status</th><th>source</th><th>destination</th><th>rows</th><th>s</th><th>id</th></tr></thead><tbody>${history.migrations
    .map((m) => `<tr><td>${esc(m.started_at)}</td><td>${esc(m.status)}</td><td>${esc(m.source_table)}</td><td>${esc(m.destination)}</td><td>${n(m.records_migrated)}</td><td>${m.duration_seconds}</td><td><code>${esc(m.id)}</code></td></tr>`)
    .join('')}</tbody></table>`;
  return { data: { [HISTORY_MIME]: history, 'text/html': html, 'text/plain': text }, metadata: {} };
}
