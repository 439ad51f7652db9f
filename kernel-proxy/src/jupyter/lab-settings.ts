import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import JSON5 from 'json5';
import { z } from 'zod';
import { HttpError, badRequest, isoTime, notFound } from './http.js';
import { atomicWrite, ensureDir, isNotFound } from './safe-fs.js';

export const SETTINGS_EXTENSION = '.jupyterlab-settings';

export const PluginId = z
  .string()
  .max(256)
  .regex(/^(?:@[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*:[\w.-]+$/, 'must look like @scope/package:plugin');

export type SettingsOverrides = Record<string, Record<string, unknown>>;

export interface SettingsModel {
  id: string;
  raw: string;
  schema: Record<string, unknown>;
  settings: Record<string, unknown>;
  version: string;
  last_modified: string | null;
  created: string | null;
}

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function mergeInto(target: JsonObject, source: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(source)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    if (isObject(value) && isObject(target[key])) mergeInto(target[key] as JsonObject, value);
    else target[key] = value;
  }
  return target;
}

function applyOverrides(schema: JsonObject, defaults: JsonObject | undefined): JsonObject {
  if (!defaults) return schema;
  const properties = (isObject(schema.properties) ? schema.properties : (schema.properties = {})) as JsonObject;
  for (const [key, value] of Object.entries(defaults)) {
    const property = properties[key];
    if (isObject(property)) {
      property.default = isObject(property.default) && isObject(value) ? mergeInto(property.default, value) : value;
    } else {
      properties[key] = { default: value };
    }
  }
  return schema;
}

export class SettingsStore {
  private readonly ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false, logger: false });
  private readonly validators = new Map<string, { mtimeMs: number; validate: ValidateFunction | undefined }>();

  constructor(
    private readonly schemasDir: string,
    private readonly userSettingsDir: string,
    private readonly overrides: SettingsOverrides = {},
    private readonly log?: FastifyBaseLogger,
  ) {}

  private locate(root: string, id: string, extension: string): string {
    const [pkg, plugin] = id.split(':') as [string, string];
    const file = path.resolve(root, ...pkg.split('/'), `${plugin}${extension}`);
    if (!file.startsWith(path.resolve(root) + path.sep)) throw notFound(`Settings not found (${id})`);
    return file;
  }

  private async schema(id: string): Promise<{ schema: JsonObject; version: string; validate: () => ValidateFunction | undefined }> {
    const file = this.locate(this.schemasDir, id, '.json');
    let text: string;
    let mtimeMs: number;
    try {
      [text, { mtimeMs }] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    } catch (err) {
      if (isNotFound(err)) throw notFound(`Schema not found: ${id}`);
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new HttpError(500, `Failed parsing schema (${id}): ${(err as Error).message}`);
    }
    if (!isObject(parsed)) throw new HttpError(500, `Failed parsing schema (${id}): not an object`);
    const schema = applyOverrides(parsed, this.overrides[id]);
    return { schema, version: await this.version(file), validate: () => this.validator(id, mtimeMs, schema) };
  }

  private validator(id: string, mtimeMs: number, schema: JsonObject): ValidateFunction | undefined {
    const cached = this.validators.get(id);
    if (cached && cached.mtimeMs === mtimeMs) return cached.validate;
    let validate: ValidateFunction | undefined;
    try {
      const { $schema: _ignored, $id: _id, ...rest } = schema;
      validate = this.ajv.compile(structuredClone(rest));
    } catch (err) {
      this.log?.warn({ plugin: id, err: (err as Error).message }, 'settings schema does not compile; skipping validation');
    }
    this.validators.set(id, { mtimeMs, validate });
    return validate;
  }

  private async version(schemaFile: string): Promise<string> {
    try {
      const pkg = JSON.parse(await readFile(path.join(path.dirname(schemaFile), 'package.json.orig'), 'utf8')) as unknown;
      return isObject(pkg) && typeof pkg.version === 'string' ? pkg.version : 'N/A';
    } catch {
      return 'N/A';
    }
  }

  private async user(id: string, validator: () => ValidateFunction | undefined) {
    const file = this.locate(this.userSettingsDir, id, SETTINGS_EXTENSION);
    const empty = { raw: '{}', settings: {}, last_modified: null, created: null };
    let raw: string;
    let info;
    try {
      [raw, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    } catch (err) {
      if (isNotFound(err)) return empty;
      throw err;
    }
    const times = { last_modified: isoTime(info.mtimeMs), created: isoTime(info.birthtimeMs > 0 ? info.birthtimeMs : info.ctimeMs) };
    let settings: unknown;
    try {
      settings = JSON5.parse(raw || '{}');
    } catch (err) {
      this.log?.warn({ plugin: id, err: (err as Error).message }, 'user settings are not valid JSON5; ignoring them');
      return { ...empty, ...times };
    }
    const validate = isObject(settings) && Object.keys(settings).length > 0 ? validator() : undefined;
    if (!isObject(settings) || (validate && !validate(settings))) {
      this.log?.warn({ plugin: id, errors: this.ajv.errorsText(validate?.errors) }, 'user settings do not match the schema; ignoring them');
      return { ...empty, ...times };
    }
    return { raw: raw || '{}', settings, ...times };
  }

  async get(id: string): Promise<SettingsModel> {
    const { schema, version, validate } = await this.schema(id);
    return { id, schema, version, ...(await this.user(id, validate)) };
  }

  async ids(): Promise<string[]> {
    const ids: string[] = [];
    const walk = async (dir: string, rel: string[]) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const entry of entries) {
        if (entry.isDirectory()) await walk(path.join(dir, entry.name), [...rel, entry.name]);
        else if (entry.isFile() && entry.name.endsWith('.json') && rel.length > 0) {
          const id = `${rel.join('/')}:${entry.name.slice(0, -'.json'.length)}`;
          if (PluginId.safeParse(id).success) ids.push(id);
        }
      }
    };
    await walk(this.schemasDir, []);
    return ids.sort().reverse();
  }

  async list(): Promise<SettingsModel[]> {
    const models: SettingsModel[] = [];
    for (const id of await this.ids()) {
      try {
        models.push(await this.get(id));
      } catch (err) {
        this.log?.warn({ plugin: id, err: (err as Error).message }, 'skipping settings that cannot be loaded');
      }
    }
    return models;
  }

  async save(id: string, raw: string): Promise<void> {
    const validate = (await this.schema(id)).validate();
    let settings: unknown;
    try {
      settings = JSON5.parse(raw);
    } catch (err) {
      throw badRequest(`body.raw: Failed parsing JSON5: ${(err as Error).message}`);
    }
    if (!isObject(settings)) throw badRequest('body.raw: settings must be a JSON object');
    if (validate && !validate(settings)) {
      throw badRequest(`Failed validating input: ${this.ajv.errorsText(validate.errors, { dataVar: 'settings' })}`);
    }
    const file = this.locate(this.userSettingsDir, id, SETTINGS_EXTENSION);
    await ensureDir(path.dirname(file));
    await atomicWrite(file, raw);
  }
}
