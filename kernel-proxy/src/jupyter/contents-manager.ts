import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { access, appendFile, constants, cp, lstat, mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { HttpError, badRequest, conflict, isoTime, notFound } from './http.js';
import { guessMimeType } from './mime.js';
import { NotebookSchema, newNotebook, parseNotebook, serializeNotebook, type Notebook } from './nbformat.js';
import type { Notary } from './notary.js';
import {
  RootedFs,
  apiBasename,
  apiJoin,
  atomicWrite,
  isHiddenApiPath,
  isNotFound,
} from './safe-fs.js';

export type ContentType = 'notebook' | 'file' | 'directory';
export type ContentFormat = 'json' | 'text' | 'base64';

export interface ContentsModel {
  name: string;
  path: string;
  type: ContentType;
  writable: boolean;
  created: string;
  last_modified: string;
  mimetype: string | null;
  content: unknown;
  format: ContentFormat | null;
  size: number | null;
  hash: string | null;
  hash_algorithm: string | null;
}

export interface CheckpointModel {
  id: string;
  last_modified: string;
}

export interface GetOptions {
  type?: ContentType;
  format?: 'text' | 'base64';
  content: boolean;
  hash: boolean;
}

export interface SaveModel {
  type: ContentType;
  format?: ContentFormat | null;
  content?: unknown;
  chunk?: number;
}

export interface ContentsManagerOptions {
  notary?: Notary;
  alwaysDeleteDir?: boolean;
  maxReadBytes?: number;
  maxCopyDirBytes?: number;
}

export const CHECKPOINT_DIR = '.ipynb_checkpoints';
const UNTITLED = { notebook: 'Untitled', file: 'untitled', directory: 'Untitled Folder' } as const;
const COPY_PATTERN = /-Copy\d*\./;
const HIDE_PATTERNS = [/^__pycache__$/, /\.pyc$/, /\.pyo$/, /^\.DS_Store$/, /~$/];
const CHUNK_SUFFIX = '.chlab-upload';

export class ContentsManager {
  constructor(
    readonly fs: RootedFs,
    private readonly options: ContentsManagerOptions = {},
  ) {}

  static async open(root: string, options: ContentsManagerOptions = {}): Promise<ContentsManager> {
    return new ContentsManager(await RootedFs.open(root), options);
  }

  async get(apiPath: string, options: GetOptions): Promise<ContentsModel> {
    this.refuseHidden(apiPath, 404);
    const real = await this.fs.resolveExisting(apiPath);
    const info = await stat(real);
    if (info.isDirectory()) {
      if (options.type && options.type !== 'directory') {
        throw new HttpError(400, `${apiPath} is a directory, not a ${options.type}`, 'bad type');
      }
      return this.directoryModel(apiPath, real, info, options.content);
    }
    if (options.type === 'directory') throw new HttpError(400, `${apiPath} is not a directory`, 'bad type');
    if (options.type === 'notebook' || (options.type === undefined && apiPath.endsWith('.ipynb'))) {
      return this.notebookModel(apiPath, real, info, options);
    }
    return this.fileModel(apiPath, real, info, options);
  }

  private async baseModel(apiPath: string, real: string, info: Stats): Promise<ContentsModel> {
    return {
      name: apiBasename(apiPath),
      path: apiPath,
      type: 'file',
      writable: await access(real, constants.W_OK).then(
        () => true,
        () => false,
      ),
      created: isoTime(info.birthtimeMs > 0 ? info.birthtimeMs : info.ctimeMs),
      last_modified: isoTime(info.mtimeMs),
      mimetype: null,
      content: null,
      format: null,
      size: info.size,
      hash: null,
      hash_algorithm: null,
    };
  }

  private async directoryModel(apiPath: string, real: string, info: Stats, content: boolean): Promise<ContentsModel> {
    const model = await this.baseModel(apiPath, real, info);
    model.type = 'directory';
    model.size = null;
    if (!content) return model;
    const names = (await readdir(real)).filter((name) => !name.startsWith('.') && !HIDE_PATTERNS.some((p) => p.test(name)));
    const children: ContentsModel[] = [];
    for (const name of names.sort()) {
      const childPath = apiJoin(apiPath, name);
      const childReal = await this.fs.resolve(childPath);
      if (childReal === undefined) continue;
      const childInfo = await stat(childReal).catch(() => undefined);
      if (!childInfo || !(childInfo.isFile() || childInfo.isDirectory())) continue;
      if (childInfo.isDirectory()) children.push(await this.directoryModel(childPath, childReal, childInfo, false));
      else if (name.endsWith('.ipynb')) children.push(await this.notebookModel(childPath, childReal, childInfo, { content: false, hash: false }));
      else children.push(await this.fileModel(childPath, childReal, childInfo, { content: false, hash: false }));
    }
    model.content = children;
    model.format = 'json';
    return model;
  }

  private async readBytes(apiPath: string, real: string, info: Stats): Promise<Buffer> {
    const max = this.options.maxReadBytes ?? 256 * 1024 * 1024;
    if (info.size > max) throw new HttpError(413, `${apiPath} is too large to open (${info.size} bytes, limit ${max})`);
    return readFile(real);
  }

  private withHash(model: ContentsModel, bytes: Buffer): ContentsModel {
    model.hash = createHash('sha256').update(bytes).digest('hex');
    model.hash_algorithm = 'sha256';
    return model;
  }

  private async fileModel(
    apiPath: string,
    real: string,
    info: Stats,
    options: Pick<GetOptions, 'content' | 'format' | 'hash'>,
  ): Promise<ContentsModel> {
    const model = await this.baseModel(apiPath, real, info);
    model.type = 'file';
    model.mimetype = guessMimeType(model.name);
    if (!options.content && !options.hash) return model;
    const bytes = await this.readBytes(apiPath, real, info);
    if (options.hash) this.withHash(model, bytes);
    if (!options.content) return model;
    let format = options.format;
    let text: string | undefined;
    if (format !== 'base64') {
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        format = 'text';
      } catch {
        if (format === 'text') throw new HttpError(400, `${apiPath} is not UTF-8 encoded`, 'bad format');
        format = 'base64';
      }
    }
    model.format = format ?? 'base64';
    model.content = text ?? bytes.toString('base64');
    model.mimetype ??= model.format === 'text' ? 'text/plain' : 'application/octet-stream';
    return model;
  }

  private async notebookModel(
    apiPath: string,
    real: string,
    info: Stats,
    options: Pick<GetOptions, 'content' | 'hash'>,
  ): Promise<ContentsModel> {
    const model = await this.baseModel(apiPath, real, info);
    model.type = 'notebook';
    if (!options.content && !options.hash) return model;
    const bytes = await this.readBytes(apiPath, real, info);
    if (options.hash) this.withHash(model, bytes);
    if (!options.content) return model;
    const nb = parseNotebook(bytes.toString('utf8'), apiPath);
    model.content = this.options.notary ? await this.options.notary.markTrust(nb) : nb;
    model.format = 'json';
    return model;
  }

  private refuseHidden(apiPath: string, status: 400 | 404, verb = 'access') {
    if (!isHiddenApiPath(apiPath)) return;
    if (status === 404) throw notFound(`file or directory does not exist: '${apiPath}'`);
    throw badRequest(`Cannot ${verb} file or directory '${apiPath}'`);
  }

  private async modelAfterWrite(apiPath: string): Promise<ContentsModel> {
    return this.get(apiPath, { content: false, hash: false });
  }

  async isFile(apiPath: string): Promise<boolean> {
    const real = await this.fs.resolve(apiPath);
    return real !== undefined && (await stat(real)).isFile();
  }

  async save(apiPath: string, model: SaveModel): Promise<{ model: ContentsModel; created: boolean }> {
    this.refuseHidden(apiPath, 400, 'create');
    if (apiPath === '') throw badRequest('Cannot save to the root directory itself');
    const created = !(await this.fs.exists(apiPath));
    if (model.content === undefined && model.type !== 'directory' && !created) {
      throw badRequest('content: No file content provided');
    }
    const target = await this.fs.writeTarget(apiPath);
    switch (model.type) {
      case 'directory':
        await this.saveDirectory(apiPath, target);
        break;
      case 'notebook':
        await this.saveNotebook(apiPath, target, model.content ?? newNotebook());
        break;
      case 'file': {
        const partial = await this.saveFile(apiPath, target, model);
        if (partial) return { model: await this.fileModel(apiPath, partial, await stat(partial), { content: false, hash: false }), created };
        break;
      }
    }
    return { model: await this.modelAfterWrite(apiPath), created };
  }

  private async saveDirectory(apiPath: string, target: string) {
    const info = await stat(target).catch(() => undefined);
    if (info && !info.isDirectory()) throw badRequest(`Not a directory: ${apiPath}`);
    if (!info) await mkdir(target);
  }

  private async saveNotebook(apiPath: string, target: string, content: unknown): Promise<void> {
    const parsed = NotebookSchema.safeParse(content);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw badRequest(`content.${issue.path.join('.')}: ${issue.message}`);
    }
    const nb = content as Notebook;
    await atomicWrite(target, serializeNotebook(nb));
    await this.options.notary?.signIfTrusted(nb);
    if ((await this.listCheckpoints(apiPath)).length === 0) await this.createCheckpoint(apiPath);
  }

  private decodeFileContent(model: SaveModel): Buffer {
    if (model.format !== 'text' && model.format !== 'base64') {
      throw badRequest("format: Must specify format of file contents as 'text' or 'base64'");
    }
    if (typeof model.content !== 'string') throw badRequest('content: expected a string for a file');
    if (model.format === 'text') return Buffer.from(model.content, 'utf8');
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(model.content)) throw badRequest('content: invalid base64');
    return Buffer.from(model.content, 'base64');
  }

  private async saveFile(apiPath: string, target: string, model: SaveModel): Promise<string | undefined> {
    const bytes = model.content === undefined ? Buffer.alloc(0) : this.decodeFileContent(model);
    if (model.chunk === undefined) {
      await atomicWrite(target, bytes);
      return undefined;
    }
    const partial = path.join(path.dirname(target), `.${path.basename(target)}${CHUNK_SUFFIX}`);
    if (model.chunk === 1) {
      await atomicWrite(partial, bytes);
    } else {
      if (!(await stat(partial).then((s) => s.isFile(), () => false))) {
        throw badRequest(`chunk: upload of ${apiPath} was not started (send chunk 1 first)`);
      }
      await appendFile(partial, bytes);
    }
    if (model.chunk !== -1) return partial;
    await rename(partial, target);
    return undefined;
  }

  async newUntitled(dirPath: string, type: ContentType | undefined, ext: string): Promise<ContentsModel> {
    this.refuseHidden(dirPath, 400, 'create');
    await this.fs.resolveDir(dirPath);
    const suffix = ext && !ext.startsWith('.') ? `.${ext}` : ext;
    const kind: ContentType = type ?? (suffix === '.ipynb' ? 'notebook' : 'file');
    const name =
      kind === 'directory'
        ? await this.incrementName(UNTITLED.directory, dirPath, ' ')
        : kind === 'notebook'
          ? await this.incrementName(`${UNTITLED.notebook}.ipynb`, dirPath, '')
          : await this.incrementName(`${UNTITLED.file}${suffix}`, dirPath, '');
    const apiPath = apiJoin(dirPath, name);
    const content = kind === 'notebook' ? newNotebook() : kind === 'file' ? '' : undefined;
    return (await this.save(apiPath, { type: kind, content, format: kind === 'file' ? 'text' : 'json' })).model;
  }

  async incrementName(filename: string, dirPath: string, insert: string): Promise<string> {
    let dot = filename.lastIndexOf('.');
    if (filename.slice(dot + 1) !== 'ipynb' || dot < 0) dot = filename.indexOf('.');
    const [base, ext] = dot < 0 ? [filename, ''] : [filename.slice(0, dot), filename.slice(dot)];
    for (let i = 0; ; i++) {
      const name = `${base}${i ? `${insert}${i}` : ''}${ext}`;
      if (!(await this.fs.exists(apiJoin(dirPath, name)))) return name;
    }
  }

  async copy(fromPath: string, toDir: string): Promise<ContentsModel> {
    if (isHiddenApiPath(fromPath) || isHiddenApiPath(toDir)) throw badRequest(`Cannot copy file or directory '${fromPath}'`);
    const source = await this.fs.resolveExisting(fromPath);
    const targetDir = await this.fs.resolveDir(toDir);
    const name = await this.incrementName(apiBasename(fromPath).replace(COPY_PATTERN, '.'), toDir, '-Copy');
    const toPath = apiJoin(toDir, name);
    const target = path.join(targetDir, name);
    const info = await stat(source);
    if (info.isDirectory()) {
      await this.checkCopySize(fromPath, source);
      await cp(source, target, { recursive: true, errorOnExist: true, force: false });
    } else {
      await atomicWrite(target, await this.readBytes(fromPath, source, info));
    }
    return this.modelAfterWrite(toPath);
  }

  private async checkCopySize(apiPath: string, dir: string) {
    const max = this.options.maxCopyDirBytes ?? 500 * 1024 * 1024;
    let total = 0;
    const walk = async (current: string) => {
      for (const entry of await readdir(current, { withFileTypes: true })) {
        const full = path.join(current, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) total += (await lstat(full)).size;
        if (total > max) throw badRequest(`Can't copy '${apiPath}': it is larger than ${max} bytes`);
      }
    };
    await walk(dir);
  }

  async rename(oldPath: string, newPath: string): Promise<ContentsModel> {
    if (isHiddenApiPath(oldPath) || isHiddenApiPath(newPath)) throw badRequest(`Cannot rename file or directory '${oldPath}'`);
    if (oldPath === '' || newPath === '') throw badRequest('Cannot rename the root directory');
    if (oldPath === newPath) return this.modelAfterWrite(newPath);
    const source = await this.fs.entry(oldPath);
    if (!(await this.fs.exists(oldPath))) throw notFound(`File or directory does not exist: ${oldPath}`);
    const target = await this.fs.entry(newPath);
    const sameFile = await this.sameFile(source, target);
    if (!sameFile && (await this.fs.exists(newPath))) throw conflict(`File already exists: ${newPath}`);
    await rename(source, target);
    await this.renameCheckpoint(source, target);
    return this.modelAfterWrite(newPath);
  }

  private async sameFile(a: string, b: string): Promise<boolean> {
    const [sa, sb] = await Promise.all([lstat(a).catch(() => undefined), lstat(b).catch(() => undefined)]);
    return !!sa && !!sb && sa.ino === sb.ino && sa.dev === sb.dev;
  }

  async delete(apiPath: string): Promise<void> {
    if (isHiddenApiPath(apiPath)) throw badRequest(`Cannot delete file or directory '${apiPath}'`);
    if (apiPath === '') throw badRequest('Cannot delete the root directory');
    const entry = await this.fs.entry(apiPath);
    const info = await lstat(entry).catch((err: unknown) => {
      if (isNotFound(err)) throw notFound(`file or directory does not exist: '${apiPath}'`);
      throw err;
    });
    if (info.isDirectory()) {
      const rest = (await readdir(entry)).filter((name) => name !== CHECKPOINT_DIR);
      if (rest.length > 0 && !this.options.alwaysDeleteDir) throw badRequest(`Directory ${apiPath} not empty`);
      await rm(entry, { recursive: true });
      return;
    }
    await unlink(entry);
    await rm(this.checkpointFile(entry, 'checkpoint'), { force: true });
  }

  private checkpointFile(entry: string, id: string): string {
    const ext = path.extname(entry);
    const base = path.basename(entry, ext);
    return path.join(path.dirname(entry), CHECKPOINT_DIR, `${base}-${id}${ext}`);
  }

  private async renameCheckpoint(source: string, target: string) {
    const from = this.checkpointFile(source, 'checkpoint');
    if (!(await lstat(from).then(() => true, () => false))) return;
    const to = this.checkpointFile(target, 'checkpoint');
    await mkdir(path.dirname(to), { recursive: true });
    await rename(from, to);
  }

  private async checkpointSource(apiPath: string): Promise<string> {
    this.refuseHidden(apiPath, 404);
    const real = await this.fs.resolveExisting(apiPath);
    if (!(await stat(real)).isFile()) throw badRequest(`Checkpoints are only kept for files, not for '${apiPath}'`);
    return real;
  }

  async listCheckpoints(apiPath: string): Promise<CheckpointModel[]> {
    const real = await this.checkpointSource(apiPath);
    const file = this.checkpointFile(real, 'checkpoint');
    const info = await stat(file).catch(() => undefined);
    return info ? [{ id: 'checkpoint', last_modified: isoTime(info.mtimeMs) }] : [];
  }

  async createCheckpoint(apiPath: string): Promise<CheckpointModel> {
    const real = await this.checkpointSource(apiPath);
    const file = this.checkpointFile(real, 'checkpoint');
    await mkdir(path.dirname(file), { recursive: true });
    await atomicWrite(file, await readFile(real));
    return { id: 'checkpoint', last_modified: isoTime((await stat(file)).mtimeMs) };
  }

  private async existingCheckpoint(apiPath: string, id: string): Promise<{ real: string; file: string }> {
    const real = await this.checkpointSource(apiPath);
    const file = this.checkpointFile(real, id);
    if (!(await stat(file).then((s) => s.isFile(), () => false))) {
      throw notFound(`Checkpoint does not exist: ${apiPath}@${id}`);
    }
    return { real, file };
  }

  async restoreCheckpoint(apiPath: string, id: string): Promise<void> {
    const { real, file } = await this.existingCheckpoint(apiPath, id);
    await atomicWrite(real, await readFile(file));
  }

  async deleteCheckpoint(apiPath: string, id: string): Promise<void> {
    const { file } = await this.existingCheckpoint(apiPath, id);
    await unlink(file);
  }

  async readRaw(apiPath: string): Promise<{ bytes: Buffer; name: string }> {
    this.refuseHidden(apiPath, 404);
    const real = await this.fs.resolveExisting(apiPath);
    const info = await stat(real);
    if (!info.isFile()) throw notFound(`file does not exist: '${apiPath}'`);
    return { bytes: await this.readBytes(apiPath, real, info), name: apiBasename(apiPath) };
  }
}
