import { createHash } from 'node:crypto';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { badRequest, isoTime, notFound } from './http.js';
import { atomicWrite, ensureDir, isNotFound } from './safe-fs.js';

export const WORKSPACE_EXTENSION = '.jupyterlab-workspace';
const MAX_SLUG = 128 - WORKSPACE_EXTENSION.length;

export const WorkspaceSchema = z.looseObject({
  data: z.record(z.string(), z.unknown()),
  metadata: z.looseObject({ id: z.string().min(1).max(1024) }),
});

export type Workspace = z.output<typeof WorkspaceSchema>;

export function slugify(raw: string): string {
  const withSlash = raw.startsWith('/') ? raw : `/${raw}`;
  const signature = `-${createHash('sha256').update(withSlash.slice(1)).digest('hex').slice(0, 4)}`;
  let value = withSlash.toLowerCase();
  try {
    value = decodeURIComponent(value);
  } catch {
    value = withSlash.toLowerCase();
  }
  value = value
    .normalize('NFKC')
    .replace(/[^\x00-\x7f]/g, '')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .replace(/[-\s]+/g, '-');
  return value.slice(0, MAX_SLUG - signature.length) + signature;
}

const withLeadingSlash = (id: string) => (id.startsWith('/') ? id : `/${id}`);

export class WorkspaceStore {
  constructor(private readonly dir: string) {}

  private file(id: string): string {
    return path.join(this.dir, `${slugify(id)}${WORKSPACE_EXTENSION}`);
  }

  private async load(file: string): Promise<Workspace> {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    const workspace = WorkspaceSchema.parse(JSON.parse(text));
    workspace.metadata.last_modified = isoTime(info.mtimeMs);
    workspace.metadata.created = isoTime(info.birthtimeMs > 0 ? info.birthtimeMs : info.ctimeMs);
    return workspace;
  }

  async get(id: string): Promise<Workspace> {
    try {
      return await this.load(this.file(id));
    } catch (err) {
      if (isNotFound(err)) return { data: {}, metadata: { id } };
      throw err;
    }
  }

  async list(): Promise<{ ids: string[]; values: Workspace[] }> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((name) => name.endsWith(WORKSPACE_EXTENSION)).sort();
    } catch (err) {
      if (isNotFound(err)) return { ids: [], values: [] };
      throw err;
    }
    const values: Workspace[] = [];
    for (const name of names) {
      try {
        values.push(await this.load(path.join(this.dir, name)));
      } catch {
        continue;
      }
    }
    return { ids: values.map((w) => w.metadata.id), values };
  }

  async save(id: string, workspace: Workspace): Promise<void> {
    let metadataId = withLeadingSlash(workspace.metadata.id);
    try {
      metadataId = decodeURIComponent(metadataId);
    } catch {
      throw badRequest('body.metadata.id: invalid percent-encoding');
    }
    if (metadataId !== `/${id}`) {
      throw badRequest(`Workspace metadata ID mismatch: expected '${id}' got '${metadataId}'`);
    }
    await ensureDir(this.dir);
    await atomicWrite(this.file(id), JSON.stringify(workspace));
  }

  async delete(id: string): Promise<void> {
    try {
      await unlink(this.file(id));
    } catch (err) {
      if (isNotFound(err)) throw notFound(`Workspace '${id}' (${slugify(id)}) not found`);
      throw err;
    }
  }
}
