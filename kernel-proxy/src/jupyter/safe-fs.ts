import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { badRequest, notFound } from './http.js';

export function normalizeApiPath(raw: string): string {
  if (raw.includes('\0')) throw badRequest('path: must not contain NUL characters');
  const segments: string[] = [];
  for (const segment of raw.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') throw notFound(`${raw} is outside root contents directory`);
    segments.push(segment);
  }
  return segments.join('/');
}

export const isHiddenApiPath = (apiPath: string) => apiPath.split('/').some((segment) => segment.startsWith('.'));

export const apiDirname = (apiPath: string) => (apiPath.includes('/') ? apiPath.slice(0, apiPath.lastIndexOf('/')) : '');
export const apiBasename = (apiPath: string) => apiPath.slice(apiPath.lastIndexOf('/') + 1);
export const apiJoin = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

export const isNotFound = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

export class RootedFs {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<RootedFs> {
    const real = await realpath(path.resolve(root));
    if (!(await stat(real)).isDirectory()) throw new Error(`${root} is not a directory`);
    return new RootedFs(real);
  }

  contains(real: string): boolean {
    const prefix = this.root.endsWith(path.sep) ? this.root : this.root + path.sep;
    if (real !== this.root && !real.startsWith(prefix)) return false;
    return !isHiddenApiPath(path.relative(this.root, real).split(path.sep).join('/'));
  }

  lexical(apiPath: string): string {
    return path.join(this.root, ...apiPath.split('/').filter(Boolean));
  }

  async resolve(apiPath: string): Promise<string | undefined> {
    try {
      const real = await realpath(this.lexical(apiPath));
      return this.contains(real) ? real : undefined;
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
      throw err;
    }
  }

  async resolveExisting(apiPath: string): Promise<string> {
    const real = await this.resolve(apiPath);
    if (real === undefined) throw notFound(`file or directory does not exist: '${apiPath}'`);
    return real;
  }

  async resolveDir(apiPath: string): Promise<string> {
    const real = await this.resolve(apiPath);
    if (real === undefined || !(await stat(real)).isDirectory()) throw notFound(`No such directory: '${apiPath}'`);
    return real;
  }

  async entry(apiPath: string): Promise<string> {
    if (apiPath === '') return this.root;
    const parent = await this.resolveDir(apiDirname(apiPath));
    return path.join(parent, apiBasename(apiPath));
  }

  async writeTarget(apiPath: string): Promise<string> {
    const entry = await this.entry(apiPath);
    const info = await lstat(entry).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!info?.isSymbolicLink()) return entry;
    const real = await this.resolve(apiPath);
    if (real === undefined) throw badRequest(`Cannot write through a link that leaves the contents root: '${apiPath}'`);
    return real;
  }

  async exists(apiPath: string): Promise<boolean> {
    try {
      await lstat(this.lexical(apiPath));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

export async function atomicWrite(target: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(target);
  const temp = path.join(dir, `.~${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const mode = await stat(target).then(
    (s) => s.mode & 0o7777,
    () => undefined,
  );
  const handle = await open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, mode ?? 0o666);
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    if (mode !== undefined) await chmod(temp, mode);
    await rename(temp, target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}
