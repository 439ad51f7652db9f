/** Small DOM helpers: every text goes in as a text node, never as HTML. */

type Child = Node | string | null | undefined | false;

export interface ElementOptions {
  className?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string | undefined>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElementOptions | string = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const opts: ElementOptions = typeof options === 'string' ? { className: options } : options;
  if (opts.className) {
    node.className = opts.className;
  }
  if (opts.text !== undefined) {
    node.textContent = opts.text;
  }
  if (opts.title !== undefined) {
    node.title = opts.title;
  }
  for (const [name, value] of Object.entries(opts.attrs ?? {})) {
    if (value !== undefined) {
      node.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function formatInteger(value: number): string {
  return integer.format(value);
}

export function formatDecimal(value: number): string {
  return oneDecimal.format(value);
}

/** 42 s, 3 min 05 s, 1 h 02 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 10) {
    return `${oneDecimal.format(seconds)} s`;
  }
  const total = Math.round(seconds);
  if (total < 60) {
    return `${total} s`;
  }
  const minutes = Math.floor(total / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(total % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** The status badge used by the progress, summary and history views. */
export function statusBadge(status: string | undefined): HTMLElement {
  const value = status || 'unknown';
  const known = ['pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted'].includes(value) ? value : 'unknown';
  return h('span', { className: `chlab-MigrationStatus chlab-mod-${known}`, text: value });
}
