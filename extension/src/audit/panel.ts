/** The audit log panel: filters (user, action, outcome, text), newest first, paged with "Load more". */
import { Widget } from '@lumino/widgets';

import { h } from '../migration/dom.js';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, type AuditEvent, fetchAudit } from './api.js';

const PAGE = 100;

export class AuditLogWidget extends Widget {
  private readonly user = h('input', { className: 'chlab-AuditLog-user', attrs: { type: 'search', placeholder: 'user', 'aria-label': 'User' } });
  private readonly search = h('input', { className: 'chlab-AuditLog-search', attrs: { type: 'search', placeholder: 'search target and detail', 'aria-label': 'Search' } });
  private readonly action = select('Action', AUDIT_ACTIONS);
  private readonly outcome = select('Outcome', AUDIT_OUTCOMES);
  private readonly body = h('tbody');
  private readonly status = h('p', 'chlab-AuditLog-status');
  private readonly more = h('button', { className: 'jp-Button chlab-AuditLog-more', text: 'Load more' });
  private loaded = 0;
  private generation = 0;

  constructor() {
    super();
    this.addClass('chlab-AuditLog');
    const refresh = h('button', { className: 'jp-Button chlab-AuditLog-refresh', text: 'Refresh' });
    const table = h(
      'table',
      'chlab-AuditLog-table',
      h('thead', {}, h('tr', {}, ...['time', 'user', 'role', 'address', 'action', 'target', 'outcome', 'detail'].map(name => h('th', { text: name })))),
      this.body
    );
    this.node.append(h('div', 'chlab-AuditLog-filters', this.user, this.action, this.outcome, this.search, refresh), this.status, table, this.more);
    for (const control of [this.action, this.outcome]) {
      control.addEventListener('change', () => void this.load());
    }
    for (const input of [this.user, this.search]) {
      input.addEventListener('keydown', event => {
        if (event.key === 'Enter') {
          void this.load();
        }
      });
    }
    refresh.addEventListener('click', () => void this.load());
    this.more.addEventListener('click', () => void this.load(true));
  }

  async load(append = false): Promise<void> {
    const generation = ++this.generation;
    const offset = append ? this.loaded : 0;
    this.status.textContent = 'Loading…';
    try {
      const page = await fetchAudit({
        user: this.user.value.trim(),
        action: this.action.value,
        outcome: this.outcome.value,
        search: this.search.value.trim(),
        limit: PAGE,
        offset
      });
      if (generation !== this.generation) {
        return;
      }
      if (!append) {
        this.body.replaceChildren();
      }
      this.body.append(...page.events.map(row));
      this.loaded = offset + page.events.length;
      this.status.textContent = `${this.loaded.toLocaleString('en-US')} of ${page.total.toLocaleString('en-US')} events`;
      this.more.style.display = this.loaded >= page.total ? 'none' : '';
    } catch (error) {
      if (generation === this.generation) {
        this.status.textContent = `Could not load the audit log: ${(error as Error).message}`;
      }
    }
  }
}

function select(label: string, values: readonly string[]): HTMLSelectElement {
  const node = h('select', { className: `chlab-AuditLog-${label.toLowerCase()}`, attrs: { 'aria-label': label } }, h('option', { text: `any ${label.toLowerCase()}`, attrs: { value: '' } }));
  for (const value of values) {
    node.append(h('option', { text: value, attrs: { value } }));
  }
  return node;
}

function row(event: AuditEvent): HTMLTableRowElement {
  return h(
    'tr',
    { className: `chlab-AuditLog-row chlab-mod-${event.outcome}` },
    h('td', { text: event.time.replace('T', ' ').replace(/\.\d+Z$/, '') }),
    h('td', { text: event.user }),
    h('td', { text: event.role }),
    h('td', { text: event.address }),
    h('td', { text: event.action }),
    h('td', { className: 'chlab-AuditLog-target', text: event.target, title: event.target }),
    h('td', { text: event.outcome }),
    h('td', { className: 'chlab-AuditLog-detail', text: event.detail, title: event.detail })
  );
}
