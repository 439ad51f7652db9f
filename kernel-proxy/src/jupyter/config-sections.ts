import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from './http.js';
import { atomicWrite, ensureDir, isNotFound } from './safe-fs.js';

export type ConfigData = Record<string, unknown>;

const isObject = (value: unknown): value is ConfigData => typeof value === 'object' && value !== null && !Array.isArray(value);
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function recursiveUpdate(target: ConfigData, update: ConfigData): ConfigData {
  for (const [key, value] of Object.entries(update)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    if (value === null) delete target[key];
    else if (isObject(value)) {
      const current = isObject(target[key]) ? (target[key] as ConfigData) : {};
      target[key] = recursiveUpdate(current, value);
    } else target[key] = value;
  }
  return target;
}

export class ConfigSections {
  private readonly memory = new Map<string, ConfigData>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir?: string) {}

  private file(section: string): string {
    return path.join(this.dir!, `${section}.json`);
  }

  async get(section: string): Promise<ConfigData> {
    if (!this.dir) return structuredClone(this.memory.get(section) ?? {});
    try {
      const value: unknown = JSON.parse(await readFile(this.file(section), 'utf8'));
      return isObject(value) ? value : {};
    } catch (err) {
      if (isNotFound(err)) return {};
      if (err instanceof SyntaxError) throw new HttpError(500, `Config section ${section} is not valid JSON`);
      throw err;
    }
  }

  private async put(section: string, data: ConfigData): Promise<void> {
    if (!this.dir) {
      this.memory.set(section, structuredClone(data));
      return;
    }
    await ensureDir(this.dir);
    await atomicWrite(this.file(section), `${JSON.stringify(data, null, 2)}\n`);
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.catch(() => undefined).then(work);
    this.queue = run;
    return run;
  }

  update(section: string, changes: ConfigData): Promise<ConfigData> {
    return this.serialized(async () => {
      const data = recursiveUpdate(await this.get(section), changes);
      await this.put(section, data);
      return data;
    });
  }

  replace(section: string, data: ConfigData): Promise<ConfigData> {
    return this.serialized(async () => {
      const clean = recursiveUpdate({}, data);
      await this.put(section, clean);
      return clean;
    });
  }
}
