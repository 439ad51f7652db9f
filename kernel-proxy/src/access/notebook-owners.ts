import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { Mutex } from '../util/mutex.js';
import { can, PermissionDeniedError, type Principal } from './roles.js';

const OwnersFile = z.record(z.string(), z.string());

/**
 * Who created which notebook, so analysts change only their own (SPEC: analyst — own notebooks).
 * Files nobody created through chlab (e.g. checked into the repository) are changed by admins only.
 */
export class NotebookOwners {
  private readonly lock = new Mutex();

  private constructor(
    private readonly file: string,
    private readonly owners: Map<string, string>,
  ) {}

  static async open(file: string): Promise<NotebookOwners> {
    let entries: Record<string, string> = {};
    try {
      entries = OwnersFile.parse(JSON.parse(await readFile(file, 'utf8')));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${file}: ${(error as Error).message}`);
    }
    return new NotebookOwners(file, new Map(Object.entries(entries)));
  }

  owner(path: string): string | undefined {
    return this.owners.get(path);
  }

  /** Throws PermissionDeniedError unless `user` may create (`exists` false) or change (`exists` true) `path`. */
  check(user: Principal | undefined, path: string, exists: boolean): void {
    if (!user || can(user.role, 'notebooks.others')) return;
    if (!can(user.role, 'notebooks.write')) throw new PermissionDeniedError(user, 'changing notebooks');
    if (exists && this.owners.get(path) !== user.username) {
      const owner = this.owners.get(path);
      throw new PermissionDeniedError(user, `changing ${path} (${owner ? `${owner}'s` : 'a shared'} notebook)`);
    }
  }

  async created(user: Principal | undefined, path: string): Promise<void> {
    if (!user || this.owners.get(path) === user.username) return;
    if (this.owners.has(path)) return;
    await this.update(() => this.owners.set(path, user.username));
  }

  async moved(from: string, to: string): Promise<void> {
    await this.update(() => {
      for (const [path, owner] of [...this.owners]) {
        if (path === from || path.startsWith(`${from}/`)) {
          this.owners.delete(path);
          this.owners.set(to + path.slice(from.length), owner);
        }
      }
    });
  }

  async removed(path: string): Promise<void> {
    await this.update(() => {
      for (const key of [...this.owners.keys()]) if (key === path || key.startsWith(`${path}/`)) this.owners.delete(key);
    });
  }

  private async update(change: () => void): Promise<void> {
    const release = await this.lock.acquire();
    try {
      change();
      const temporary = `${this.file}.tmp`;
      await writeFile(temporary, JSON.stringify(Object.fromEntries(this.owners), null, 1));
      await rename(temporary, this.file);
    } finally {
      release();
    }
  }
}
