/**
 * The S3 file browser (left side panel): buckets → folders (prefixes) → files with size and date, a page at
 * a time ("Load more"), and an action that inserts a `%%s3 preview s3://…` cell into the active notebook.
 */
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { type BucketEntry, type ListPage, type ObjectEntry, S3Api, type S3ConnectionInfo, formatDate, formatSize } from './api.js';

export interface S3BrowserActions {
  /** Inserts (and runs) a `%%s3 preview` cell for the URL; the connection is named when not the default. */
  preview(url: string, connection: string | undefined): Promise<void>;
}

const PAGE_SIZE = 100;

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'className') {
      node.className = value;
    } else if (name === 'text') {
      node.textContent = value;
    } else {
      node.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }
  return node;
}

export class S3BrowserPanel extends Widget {
  private connections: S3ConnectionInfo[] = [];
  private connection: string | undefined;
  private bucket: string | null = null;
  private prefix = '';
  private page: { prefixes: string[]; objects: ObjectEntry[]; nextToken: string | null } = { prefixes: [], objects: [], nextToken: null };
  private buckets: BucketEntry[] = [];
  private loading = false;
  private error = '';
  private generation = 0;

  private readonly toolbar = h('div', { className: 'chlab-S3Browser-toolbar' });
  private readonly connectionSelect = h('select', { className: 'chlab-S3Browser-connection', title: 'S3 connection' });
  private readonly breadcrumbs = h('div', { className: 'chlab-S3Browser-breadcrumbs' });
  private readonly list = h('div', { className: 'chlab-S3Browser-list', role: 'list' });
  private readonly footer = h('div', { className: 'chlab-S3Browser-footer' });

  constructor(
    private readonly actions: S3BrowserActions,
    private readonly api = new S3Api()
  ) {
    super();
    this.id = 'chlab-s3-browser';
    this.addClass('chlab-S3Browser');
    const refresh = h('button', { className: 'chlab-S3Browser-refresh jp-Button jp-mod-minimal', title: 'Refresh', text: '⟳' });
    refresh.addEventListener('click', () => void this.reload());
    this.connectionSelect.addEventListener('change', () => {
      this.connection = this.connectionSelect.value || undefined;
      void this.navigate(null, '');
    });
    this.toolbar.append(h('span', { className: 'chlab-S3Browser-title', text: 'S3' }), this.connectionSelect, refresh);
    this.node.append(this.toolbar, this.breadcrumbs, this.list, this.footer);
  }

  private started: Promise<void> | undefined;

  /** Lists on first show: no S3 traffic for users who never open the panel. */
  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.started ??= this.start();
  }

  /** Where the panel is: `s3://bucket/prefix/`, or `s3://` at the bucket list. */
  get location(): string {
    return this.bucket === null ? 's3://' : `s3://${this.bucket}/${this.prefix}`;
  }

  async start(): Promise<void> {
    try {
      this.connections = await this.api.connections();
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.connectionSelect.replaceChildren(...this.connections.map(c => h('option', { value: c.name, text: `${c.name} · ${c.endpoint}` })));
    this.connectionSelect.hidden = this.connections.length < 2;
    this.connection = this.connections[0]?.name;
    if (this.connections.length === 0 && !this.error) {
      this.error = 'No S3 connection is configured on the server (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).';
    }
    if (this.error) {
      this.render();
      return;
    }
    await this.navigate(null, '');
  }

  async reload(): Promise<void> {
    if (this.connections.length === 0) {
      this.error = '';
      await this.start();
      return;
    }
    await this.navigate(this.bucket, this.prefix);
  }

  /** Opens the bucket list (bucket = null) or a folder of a bucket. */
  async navigate(bucket: string | null, prefix: string): Promise<void> {
    const generation = ++this.generation;
    this.bucket = bucket;
    this.prefix = prefix;
    this.page = { prefixes: [], objects: [], nextToken: null };
    this.buckets = [];
    this.error = '';
    await this.load(generation, async () => {
      if (bucket === null) {
        const buckets = await this.api.buckets(this.connection);
        if (generation === this.generation) {
          this.buckets = buckets;
        }
      } else {
        const page = await this.api.list(bucket, prefix, { connection: this.connection, limit: PAGE_SIZE });
        if (generation === this.generation) {
          this.append(page);
        }
      }
    });
  }

  /** The next page of a large folder. */
  async loadMore(): Promise<void> {
    if (this.bucket === null || !this.page.nextToken || this.loading) {
      return;
    }
    const generation = this.generation;
    const { bucket, prefix, page } = this;
    await this.load(generation, async () => {
      const next = await this.api.list(bucket, prefix, { connection: this.connection, token: page.nextToken!, limit: PAGE_SIZE });
      if (generation === this.generation) {
        this.append(next);
      }
    });
  }

  /** Shows loading while `work` runs; its error, and the end of loading, only if nothing newer was opened since. */
  private async load(generation: number, work: () => Promise<void>): Promise<void> {
    this.loading = true;
    this.render();
    try {
      await work();
    } catch (error) {
      if (generation === this.generation) {
        this.error = (error as Error).message;
      }
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.render();
      }
    }
  }

  private append(page: ListPage): void {
    this.page = {
      prefixes: [...this.page.prefixes, ...page.prefixes.filter(p => !this.page.prefixes.includes(p))],
      objects: [...this.page.objects, ...page.objects],
      nextToken: page.next_token
    };
  }

  private render(): void {
    this.renderBreadcrumbs();
    const rows: HTMLElement[] = [];
    if (this.bucket === null) {
      for (const bucket of this.buckets) {
        rows.push(this.row('bucket', bucket.name, `s3://${bucket.name}/`, '', bucket.created, () => void this.navigate(bucket.name, '')));
      }
    } else {
      const bucket = this.bucket;
      for (const prefix of this.page.prefixes) {
        rows.push(this.row('folder', prefix.slice(this.prefix.length), `s3://${bucket}/${prefix}`, '', null, () => void this.navigate(bucket, prefix)));
      }
      for (const object of this.page.objects) {
        const url = `s3://${bucket}/${object.key}`;
        rows.push(this.row('file', object.key.slice(this.prefix.length), url, formatSize(object.size), object.last_modified, () => void this.actions.preview(url, this.connection), object.size));
      }
    }
    if (rows.length === 0 && !this.loading && !this.error) {
      rows.push(h('div', { className: 'chlab-S3Browser-empty', text: this.bucket === null ? 'No buckets.' : 'This folder is empty.' }));
    }
    this.list.replaceChildren(...rows);

    const parts: Child[] = [];
    if (this.error) {
      parts.push(h('div', { className: 'chlab-S3Browser-error', role: 'alert', text: this.error }));
    }
    if (this.loading) {
      parts.push(h('div', { className: 'chlab-S3Browser-status', text: 'Loading…' }));
    } else if (this.bucket !== null) {
      const count = this.page.prefixes.length + this.page.objects.length;
      parts.push(h('div', { className: 'chlab-S3Browser-status', text: `${count} item${count === 1 ? '' : 's'}${this.page.nextToken ? ' shown' : ''}` }));
      if (this.page.nextToken) {
        const more = h('button', { className: 'chlab-S3Browser-more jp-Button jp-mod-styled', text: 'Load more' });
        more.addEventListener('click', () => void this.loadMore());
        parts.push(more);
      }
      if (this.page.objects.length > 1 || (this.page.objects.length > 0 && this.page.nextToken)) {
        const all = h('button', { className: 'chlab-S3Browser-previewAll jp-Button jp-mod-minimal', title: 'Insert a %%s3 preview cell for every file of this folder (a glob)', text: 'Preview folder' });
        const glob = `s3://${this.bucket}/${this.prefix}*${commonExtension(this.page.objects)}`;
        all.addEventListener('click', () => void this.actions.preview(glob, this.connection));
        parts.push(all);
      }
    }
    this.footer.replaceChildren(...(parts.filter(Boolean) as Node[]));
  }

  private renderBreadcrumbs(): void {
    const crumbs: HTMLElement[] = [];
    const crumb = (label: string, onClick: () => void, title: string) => {
      const link = h('button', { className: 'chlab-S3Browser-crumb', title, text: label });
      link.addEventListener('click', onClick);
      crumbs.push(link);
    };
    crumb('s3://', () => void this.navigate(null, ''), 'All buckets');
    if (this.bucket !== null) {
      const bucket = this.bucket;
      crumb(`${bucket}/`, () => void this.navigate(bucket, ''), `s3://${bucket}/`);
      let path = '';
      for (const part of this.prefix.split('/').filter(Boolean)) {
        path += `${part}/`;
        const target = path;
        crumb(`${part}/`, () => void this.navigate(bucket, target), `s3://${bucket}/${target}`);
      }
    }
    this.breadcrumbs.replaceChildren(...crumbs);
    this.breadcrumbs.title = this.location;
  }

  private row(kind: 'bucket' | 'folder' | 'file', name: string, url: string, size: string, date: string | null, open: () => void, bytes?: number): HTMLElement {
    const icon = h('span', { className: `chlab-S3Browser-icon chlab-S3Browser-icon-${kind}`, 'aria-hidden': 'true' });
    const label = h('span', { className: 'chlab-S3Browser-name', text: name, title: url });
    const sizeCell = h('span', { className: 'chlab-S3Browser-size', text: size, title: bytes === undefined ? '' : `${bytes.toLocaleString()} bytes` });
    const dateCell = h('span', { className: 'chlab-S3Browser-date', text: formatDate(date), title: date ?? '' });
    const meta = size || date ? h('span', { className: 'chlab-S3Browser-meta' }, sizeCell, dateCell) : null;
    const main = h('span', { className: 'chlab-S3Browser-main' }, label, meta);
    const row = h('div', { className: 'chlab-S3Browser-item', role: 'listitem', 'data-kind': kind, 'data-url': url, tabindex: '0' }, icon, main);
    if (kind === 'file') {
      const preview = h('button', { className: 'chlab-S3Browser-preview jp-Button jp-mod-minimal', title: 'Insert a %%s3 preview cell into the notebook', text: 'Preview' });
      preview.addEventListener('click', event => {
        event.stopPropagation();
        open();
      });
      row.append(preview);
      row.addEventListener('dblclick', open);
    } else {
      row.addEventListener('click', open);
    }
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        open();
      }
    });
    return row;
  }
}

/** `.parquet` when every listed file ends so (the glob then keeps its format), else ''. */
function commonExtension(objects: ObjectEntry[]): string {
  const extensions = new Set(objects.map(o => /(\.[A-Za-z0-9]+(?:\.(?:gz|zst|zstd|bz2|xz|lz4))?)$/.exec(o.key)?.[1] ?? ''));
  return extensions.size === 1 ? [...extensions][0]! : '';
}
