import { createHmac, randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { allCellsTrusted, markCells, serializeNotebook, type Notebook } from './nbformat.js';
import { atomicWrite, ensureDir, isNotFound } from './safe-fs.js';

export interface NotaryOptions {
  store: string;
  secret?: string;
  secretFile?: string;
  maxSignatures?: number;
}

const StoreSchema = z.object({ signatures: z.array(z.string().regex(/^[0-9a-f]{64}$/)) });

export class Notary {
  private signatures: Set<string> | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: NotaryOptions,
    private readonly secret: string,
  ) {}

  static async open(options: NotaryOptions): Promise<Notary> {
    if (options.secret) return new Notary(options, options.secret);
    if (!options.secretFile) throw new Error('notary needs a secret or a secretFile');
    return new Notary(options, await readOrCreateSecret(options.secretFile));
  }

  private digest(nb: Notebook): string {
    return createHmac('sha256', this.secret).update(serializeNotebook(nb)).digest('hex');
  }

  private async load(): Promise<Set<string>> {
    if (this.signatures) return this.signatures;
    try {
      const parsed = StoreSchema.safeParse(JSON.parse(await readFile(this.options.store, 'utf8')));
      this.signatures = new Set(parsed.success ? parsed.data.signatures : []);
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof SyntaxError)) throw err;
      this.signatures = new Set();
    }
    return this.signatures;
  }

  async markTrust(nb: Notebook): Promise<Notebook> {
    const signatures = await this.load();
    return markCells(nb, signatures.has(this.digest(nb)));
  }

  async signIfTrusted(nb: Notebook): Promise<boolean> {
    if (!allCellsTrusted(nb)) return false;
    const signatures = await this.load();
    const digest = this.digest(nb);
    signatures.delete(digest);
    signatures.add(digest);
    const max = this.options.maxSignatures ?? 10_000;
    for (const old of signatures) {
      if (signatures.size <= max) break;
      signatures.delete(old);
    }
    const body = JSON.stringify({ signatures: [...signatures] });
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await ensureDir(path.dirname(this.options.store));
      await atomicWrite(this.options.store, body);
    });
    await this.writing;
    return true;
  }
}

async function readOrCreateSecret(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await ensureDir(path.dirname(file));
  const secret = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await chmod(file, 0o600).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}
