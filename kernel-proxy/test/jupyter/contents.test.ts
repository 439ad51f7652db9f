import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentsPlugin, type ContentsPluginOptions } from '../../src/jupyter/contents.js';

const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      execution_count: 1,
      metadata: {},
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['a\n', 'b\n'] },
        { output_type: 'display_data', metadata: {}, data: { 'text/plain': ['x\n', 'y'], 'application/json': { a: 1 } } },
      ],
      source: ['SELECT 1\n', 'FROM t'],
    },
    { cell_type: 'markdown', metadata: {}, source: '# Title' },
  ],
  metadata: { kernelspec: { name: 'clickhouse', display_name: 'ClickHouse SQL', language: 'sql' } },
  nbformat: 4,
  nbformat_minor: 5,
};

const MODEL_KEYS = ['content', 'created', 'format', 'hash', 'hash_algorithm', 'last_modified', 'mimetype', 'name', 'path', 'size', 'type', 'writable'];

describe('contentsPlugin', () => {
  let base: string;
  let root: string;
  let outside: string;
  let app: FastifyInstance;

  async function build(options: Partial<ContentsPluginOptions> = {}) {
    app = Fastify();
    await app.register(contentsPlugin, { root, ...options });
    await app.ready();
    return app;
  }

  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'chlab-contents-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), 'top secret');
    await writeFile(path.join(root, 'a.ipynb'), JSON.stringify(NOTEBOOK));
    await writeFile(path.join(root, 'notes.txt'), 'hello\n');
    await writeFile(path.join(root, 'blob.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    await writeFile(path.join(root, '.hidden'), 'x');
    await mkdir(path.join(root, 'sub'));
    await writeFile(path.join(root, 'sub', 'q.sql'), 'SELECT 2');
    await mkdir(path.join(root, '.private'));
    await writeFile(path.join(root, '.private', 'k.txt'), 'k');
  });

  afterEach(async () => {
    await app?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('lists a directory without hidden files, with jupyter_server model fields', async () => {
    await build();
    const response = await call('GET', '/api/contents');
    expect(response.statusCode).toBe(200);
    const model = response.json();
    expect(model).toMatchObject({ name: '', path: '', type: 'directory', format: 'json', size: null, mimetype: null });
    const names = model.content.map((m: { name: string }) => m.name);
    expect(names).toEqual(['a.ipynb', 'blob.bin', 'notes.txt', 'sub']);
    for (const child of model.content) {
      expect(Object.keys(child).sort()).toEqual(MODEL_KEYS);
      expect(child.content).toBeNull();
      expect(child.format).toBeNull();
      expect(child.writable).toBe(true);
      expect(child.last_modified).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    }
    const byName = Object.fromEntries(model.content.map((m: { name: string }) => [m.name, m]));
    expect(byName['a.ipynb'].type).toBe('notebook');
    expect(byName['notes.txt']).toMatchObject({ type: 'file', mimetype: 'text/plain', size: 6 });
    expect(byName.sub).toMatchObject({ type: 'directory', path: 'sub' });

    const sub = await call('GET', '/api/contents/sub?content=1&1700000000000');
    expect(sub.json().content.map((m: { path: string }) => m.path)).toEqual(['sub/q.sql']);
  });

  it('reads notebooks as JSON with multi-line strings joined, and content=0 without content', async () => {
    await build();
    const response = await call('GET', '/api/contents/a.ipynb?type=notebook&content=1');
    expect(response.statusCode).toBe(200);
    const model = response.json();
    expect(model).toMatchObject({ type: 'notebook', format: 'json', mimetype: null, name: 'a.ipynb' });
    expect(model.content.cells[0].source).toBe('SELECT 1\nFROM t');
    expect(model.content.cells[0].outputs[0].text).toBe('a\nb\n');
    expect(model.content.cells[0].outputs[1].data).toEqual({ 'text/plain': 'x\ny', 'application/json': { a: 1 } });

    const light = await call('GET', '/api/contents/a.ipynb?content=0');
    expect(light.json()).toMatchObject({ content: null, format: null, type: 'notebook' });

    await writeFile(path.join(root, 'broken.ipynb'), '{not json');
    const broken = await call('GET', '/api/contents/broken.ipynb');
    expect(broken.statusCode).toBe(400);
    expect(broken.json().message).toMatch(/Unreadable Notebook/);
  });

  it('reads files as text or base64, refuses text for binary, and hashes on request', async () => {
    await build();
    const text = (await call('GET', '/api/contents/notes.txt')).json();
    expect(text).toMatchObject({ format: 'text', content: 'hello\n', mimetype: 'text/plain', hash: null });
    const b64 = (await call('GET', '/api/contents/notes.txt?format=base64')).json();
    expect(b64).toMatchObject({ format: 'base64', content: Buffer.from('hello\n').toString('base64') });
    const binary = (await call('GET', '/api/contents/blob.bin')).json();
    expect(binary).toMatchObject({ format: 'base64', mimetype: 'application/octet-stream' });
    const refused = await call('GET', '/api/contents/blob.bin?format=text');
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({ message: 'blob.bin is not UTF-8 encoded', reason: 'bad format' });
    const hashed = (await call('GET', '/api/contents/notes.txt?hash=1&content=0')).json();
    expect(hashed.hash).toBe(createHash('sha256').update('hello\n').digest('hex'));
    expect(hashed.hash_algorithm).toBe('sha256');

    const badType = await call('GET', '/api/contents/sub?type=file');
    expect(badType.statusCode).toBe(400);
    expect(badType.json().reason).toBe('bad type');
    const badQuery = await call('GET', '/api/contents/notes.txt?content=2');
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().message).toMatch(/^query\.content: /);
    expect((await call('GET', '/api/contents/missing.txt')).statusCode).toBe(404);
  });

  it('creates untitled notebooks, files and folders with incrementing names', async () => {
    await build();
    const nb1 = await call('POST', '/api/contents', { type: 'notebook' });
    expect(nb1.statusCode).toBe(201);
    expect(nb1.json()).toMatchObject({ name: 'Untitled.ipynb', type: 'notebook', content: null });
    expect(nb1.headers.location).toBe('/api/contents/Untitled.ipynb');
    const nb2 = await call('POST', '/api/contents', { type: 'notebook' });
    expect(nb2.json().name).toBe('Untitled1.ipynb');
    const onDisk = JSON.parse(await readFile(path.join(root, 'Untitled.ipynb'), 'utf8'));
    expect(onDisk).toEqual({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });

    expect((await call('POST', '/api/contents/sub', { type: 'file', ext: '.txt' })).json().path).toBe('sub/untitled.txt');
    expect((await call('POST', '/api/contents/sub', { type: 'file', ext: 'md' })).json().path).toBe('sub/untitled.md');
    expect((await call('POST', '/api/contents', { type: 'directory' })).json()).toMatchObject({ name: 'Untitled Folder', type: 'directory' });
    expect((await call('POST', '/api/contents', { type: 'directory' })).json().name).toBe('Untitled Folder 1');
    expect((await call('POST', '/api/contents', { ext: '.ipynb' })).json()).toMatchObject({ name: 'Untitled2.ipynb', type: 'notebook' });
    expect((await app.inject({ method: 'POST', url: '/api/contents' })).json()).toMatchObject({ name: 'untitled', type: 'file' });

    expect((await call('POST', '/api/contents/notes.txt', { type: 'file' })).statusCode).toBe(400);
    expect((await call('POST', '/api/contents/nowhere', { type: 'file' })).statusCode).toBe(404);
    const badType = await call('POST', '/api/contents', { type: 'spreadsheet' });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().message).toMatch(/^body\.type: /);
  });

  it('saves notebooks in nbformat layout (sorted keys, split lines, trailing newline) atomically', async () => {
    await build();
    const content = {
      cells: [
        { cell_type: 'code', execution_count: null, metadata: { trusted: true }, outputs: [], source: 'SELECT 1\nFROM t' },
      ],
      metadata: { kernelspec: { name: 'clickhouse' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const created = await call('PUT', '/api/contents/sub/new.ipynb', { type: 'notebook', format: 'json', content });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe('/api/contents/sub/new.ipynb');
    expect(created.json()).toMatchObject({ path: 'sub/new.ipynb', type: 'notebook', content: null });
    const text = await readFile(path.join(root, 'sub', 'new.ipynb'), 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n "cells": [\n  {\n   "cell_type": "code"');
    const disk = JSON.parse(text);
    expect(disk.cells[0].source).toEqual(['SELECT 1\n', 'FROM t']);
    expect(disk.cells[0].metadata).toEqual({});
    expect(Object.keys(disk)).toEqual(['cells', 'metadata', 'nbformat', 'nbformat_minor']);

    const again = await call('PUT', '/api/contents/sub/new.ipynb', { type: 'notebook', format: 'json', content });
    expect(again.statusCode).toBe(200);
    expect((await readdir(path.join(root, 'sub'))).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect(existsSync(path.join(root, 'sub', '.ipynb_checkpoints', 'new-checkpoint.ipynb'))).toBe(true);

    const bad = await call('PUT', '/api/contents/x.ipynb', { type: 'notebook', content: { cells: 'nope' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^content\./);
  });

  it('saves text and base64 files and directories, naming bad fields', async () => {
    await build();
    expect((await call('PUT', '/api/contents/n.sql', { type: 'file', format: 'text', content: 'SELECT 3' })).statusCode).toBe(201);
    expect(await readFile(path.join(root, 'n.sql'), 'utf8')).toBe('SELECT 3');
    const bytes = Buffer.from([1, 2, 3, 250]);
    expect((await call('PUT', '/api/contents/n.bin', { type: 'file', format: 'base64', content: bytes.toString('base64') })).statusCode).toBe(201);
    expect(await readFile(path.join(root, 'n.bin'))).toEqual(bytes);
    expect((await call('PUT', '/api/contents/newdir', { type: 'directory' })).json()).toMatchObject({ type: 'directory' });

    const noFormat = await call('PUT', '/api/contents/n.sql', { type: 'file', content: 'x' });
    expect(noFormat.statusCode).toBe(400);
    expect(noFormat.json().message).toMatch(/format/);
    const noType = await call('PUT', '/api/contents/n.sql', { content: 'x' });
    expect(noType.statusCode).toBe(400);
    expect(noType.json().message).toMatch(/^body\.type: /);
    const noBody = await app.inject({ method: 'PUT', url: '/api/contents/n.sql' });
    expect(noBody.statusCode).toBe(400);
    expect(noBody.json().message).toMatch(/JSON body missing/);
    const noContent = await call('PUT', '/api/contents/n.sql', { type: 'file', format: 'text' });
    expect(noContent.statusCode).toBe(400);
    expect((await call('PUT', '/api/contents/n.sql', { type: 'file', format: 'text', content: 'x', copy_from: 'a.ipynb' })).statusCode).toBe(400);
    expect((await call('PUT', '/api/contents/nowhere/x.txt', { type: 'file', format: 'text', content: 'x' })).statusCode).toBe(404);
  });

  it('assembles chunked uploads in a hidden file and reveals them at the last chunk', async () => {
    await build();
    const parts = ['hello ', 'chunked ', 'world'];
    const first = await call('PUT', '/api/contents/big.txt', { type: 'file', format: 'base64', chunk: 1, content: Buffer.from(parts[0]!).toString('base64') });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ name: 'big.txt', path: 'big.txt' });
    expect(existsSync(path.join(root, 'big.txt'))).toBe(false);
    await call('PUT', '/api/contents/big.txt', { type: 'file', format: 'base64', chunk: 2, content: Buffer.from(parts[1]!).toString('base64') });
    const last = await call('PUT', '/api/contents/big.txt', { type: 'file', format: 'base64', chunk: -1, content: Buffer.from(parts[2]!).toString('base64') });
    expect(last.statusCode).toBe(201);
    expect(last.json().size).toBe(parts.join('').length);
    expect(await readFile(path.join(root, 'big.txt'), 'utf8')).toBe(parts.join(''));
    const stray = await call('PUT', '/api/contents/other.txt', { type: 'file', format: 'base64', chunk: 3, content: 'AA==' });
    expect(stray.statusCode).toBe(400);
  });

  it('renames with PATCH, refusing conflicts and hidden targets, and moves checkpoints along', async () => {
    await build();
    expect((await call('POST', '/api/contents/a.ipynb/checkpoints')).statusCode).toBe(201);
    const renamed = await call('PATCH', '/api/contents/a.ipynb', { path: 'sub/b.ipynb' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ path: 'sub/b.ipynb', name: 'b.ipynb', type: 'notebook' });
    expect(existsSync(path.join(root, 'a.ipynb'))).toBe(false);
    expect(existsSync(path.join(root, 'sub', '.ipynb_checkpoints', 'b-checkpoint.ipynb'))).toBe(true);

    expect((await call('PATCH', '/api/contents/notes.txt', { path: 'sub/q.sql' })).statusCode).toBe(409);
    expect((await call('PATCH', '/api/contents/notes.txt', { path: '.sneaky' })).statusCode).toBe(400);
    expect((await call('PATCH', '/api/contents/missing', { path: 'x' })).statusCode).toBe(404);
    expect((await call('PATCH', '/api/contents/notes.txt', { path: 'nodir/x.txt' })).statusCode).toBe(404);
    const noPath = await call('PATCH', '/api/contents/notes.txt', {});
    expect(noPath.statusCode).toBe(400);
    expect(noPath.json().message).toMatch(/^body\.path: /);
  });

  it('deletes files with their checkpoints and refuses non-empty directories', async () => {
    await build();
    await call('POST', '/api/contents/notes.txt/checkpoints');
    expect((await call('DELETE', '/api/contents/notes.txt')).statusCode).toBe(204);
    expect(existsSync(path.join(root, 'notes.txt'))).toBe(false);
    expect(existsSync(path.join(root, '.ipynb_checkpoints', 'notes-checkpoint.txt'))).toBe(false);
    expect((await call('DELETE', '/api/contents/notes.txt')).statusCode).toBe(404);
    const notEmpty = await call('DELETE', '/api/contents/sub');
    expect(notEmpty.statusCode).toBe(400);
    expect(notEmpty.json().message).toMatch(/not empty/);
    await call('DELETE', '/api/contents/sub/q.sql');
    expect((await call('DELETE', '/api/contents/sub')).statusCode).toBe(204);
    expect((await call('DELETE', '/api/contents/.hidden')).statusCode).toBe(400);
  });

  it('copies files and folders with -Copy names', async () => {
    await build();
    const first = await call('POST', '/api/contents', { copy_from: 'a.ipynb' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ name: 'a-Copy1.ipynb', type: 'notebook' });
    expect((await call('POST', '/api/contents', { copy_from: '/a.ipynb' })).json().name).toBe('a-Copy2.ipynb');
    expect((await call('POST', '/api/contents', { copy_from: 'a-Copy1.ipynb' })).json().name).toBe('a-Copy3.ipynb');
    expect((await call('POST', '/api/contents/sub', { copy_from: 'notes.txt' })).json().path).toBe('sub/notes.txt');
    const dir = await call('POST', '/api/contents', { copy_from: 'sub' });
    expect(dir.json()).toMatchObject({ name: 'sub-Copy1', type: 'directory' });
    expect(await readFile(path.join(root, 'sub-Copy1', 'q.sql'), 'utf8')).toBe('SELECT 2');
    expect((await call('POST', '/api/contents', { copy_from: 'missing.txt' })).statusCode).toBe(404);
    expect((await call('POST', '/api/contents', { copy_from: '.hidden' })).statusCode).toBe(400);
  });

  it('keeps one checkpoint per file under .ipynb_checkpoints and restores it', async () => {
    await build();
    expect((await call('GET', '/api/contents/notes.txt/checkpoints')).json()).toEqual([]);
    const created = await call('POST', '/api/contents/notes.txt/checkpoints');
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ id: 'checkpoint', last_modified: expect.any(String) });
    expect(created.headers.location).toBe('/api/contents/notes.txt/checkpoints/checkpoint');
    expect(await readFile(path.join(root, '.ipynb_checkpoints', 'notes-checkpoint.txt'), 'utf8')).toBe('hello\n');
    expect((await call('GET', '/api/contents/notes.txt/checkpoints')).json()).toHaveLength(1);

    await call('PUT', '/api/contents/notes.txt', { type: 'file', format: 'text', content: 'changed' });
    expect((await call('POST', '/api/contents/notes.txt/checkpoints/checkpoint')).statusCode).toBe(204);
    expect(await readFile(path.join(root, 'notes.txt'), 'utf8')).toBe('hello\n');
    expect((await call('DELETE', '/api/contents/notes.txt/checkpoints/checkpoint')).statusCode).toBe(204);
    expect((await call('DELETE', '/api/contents/notes.txt/checkpoints/checkpoint')).statusCode).toBe(404);
    expect((await call('POST', '/api/contents/notes.txt/checkpoints/checkpoint')).statusCode).toBe(404);
    expect((await call('POST', '/api/contents/missing.txt/checkpoints')).statusCode).toBe(404);
    expect((await call('DELETE', '/api/contents/notes.txt/checkpoints/..%2F..%2Fx')).statusCode).toBe(404);
    const badId = await call('DELETE', '/api/contents/notes.txt/checkpoints/bad$id');
    expect(badId.statusCode).toBe(400);
    expect(badId.json().message).toMatch(/^checkpoint_id: /);

    const listing = (await call('GET', '/api/contents')).json().content.map((m: { name: string }) => m.name);
    expect(listing).not.toContain('.ipynb_checkpoints');
    expect((await call('GET', '/api/contents/.ipynb_checkpoints/notes-checkpoint.txt')).statusCode).toBe(404);
  });

  it('never lets a path escape the root or reach hidden files', async () => {
    await symlink(outside, path.join(root, 'escape'));
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link.txt'));
    await symlink(path.join(root, '.private'), path.join(root, 'private-link'));
    await symlink(path.join(root, 'notes.txt'), path.join(root, 'inside-link.txt'));
    await build();
    const urls = [
      '/api/contents/../outside/secret.txt',
      '/api/contents/..%2Foutside%2Fsecret.txt',
      '/api/contents/%2e%2e/outside/secret.txt',
      '/api/contents/sub/..%2f..%2f..%2foutside/secret.txt',
      '/api/contents/escape/secret.txt',
      '/api/contents/escape',
      '/api/contents/secret-link.txt',
      '/api/contents/private-link/k.txt',
      '/api/contents/.private/k.txt',
      '/api/contents/.hidden',
      `/api/contents/${encodeURIComponent(path.join(outside, 'secret.txt'))}`,
      '/files/escape/secret.txt',
      '/files/..%2Foutside%2Fsecret.txt',
      '/files/.hidden',
    ];
    for (const url of urls) {
      const response = await call('GET', url);
      expect(response.statusCode, url).toBe(404);
      expect(response.body, url).not.toContain('top secret');
    }
    const listing = (await call('GET', '/api/contents')).json().content.map((m: { name: string }) => m.name);
    expect(listing).toContain('inside-link.txt');
    expect(listing).not.toContain('escape');
    expect(listing).not.toContain('secret-link.txt');
    expect((await call('GET', '/api/contents/inside-link.txt')).json().content).toBe('hello\n');

    const writes = [
      await call('PUT', '/api/contents/escape/new.txt', { type: 'file', format: 'text', content: 'x' }),
      await call('PUT', '/api/contents/secret-link.txt', { type: 'file', format: 'text', content: 'x' }),
      await call('PUT', '/api/contents/..%2Fpwned.txt', { type: 'file', format: 'text', content: 'x' }),
      await call('PATCH', '/api/contents/notes.txt', { path: '../outside/stolen.txt' }),
      await call('PATCH', '/api/contents/notes.txt', { path: 'escape/stolen.txt' }),
      await call('POST', '/api/contents', { copy_from: '../outside/secret.txt' }),
      await call('POST', '/api/contents', { copy_from: 'escape/secret.txt' }),
      await call('POST', '/api/contents/escape', { type: 'file' }),
      await call('DELETE', '/api/contents/escape/secret.txt'),
    ];
    for (const response of writes) {
      expect([400, 404], response.body).toContain(response.statusCode);
    }
    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    expect(existsSync(path.join(base, 'pwned.txt'))).toBe(false);
  });

  it('serves raw files under /files with download disposition', async () => {
    await build();
    const response = await call('GET', '/files/notes.txt?download=1');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('hello\n');
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.headers['content-disposition']).toBe(`attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`);
    expect(response.headers['content-security-policy']).toMatch(/sandbox/);
  });

  it('marks a notebook trusted only when it was saved with trusted cells and is unchanged', async () => {
    await build({ notary: { secret: 'notary-secret', store: path.join(base, 'data', 'signatures.json') } });
    const untrusted = (await call('GET', '/api/contents/a.ipynb')).json();
    expect(untrusted.content.cells[0].metadata.trusted).toBe(false);

    const content = untrusted.content;
    content.cells[0].metadata.trusted = true;
    await call('PUT', '/api/contents/a.ipynb', { type: 'notebook', format: 'json', content });
    const disk = JSON.parse(await readFile(path.join(root, 'a.ipynb'), 'utf8'));
    expect(disk.cells[0].metadata.trusted).toBeUndefined();
    expect((await call('GET', '/api/contents/a.ipynb')).json().content.cells[0].metadata.trusted).toBe(true);

    const secretFile = path.join(base, 'data', 'notebook_secret');
    await app.close();
    await build({ notary: { secretFile, store: path.join(base, 'data', 'signatures.json') } });
    expect((await call('GET', '/api/contents/a.ipynb')).json().content.cells[0].metadata.trusted).toBe(false);
    await call('PUT', '/api/contents/a.ipynb', { type: 'notebook', format: 'json', content });
    const secret = await readFile(secretFile, 'utf8');
    await app.close();
    await build({ notary: { secretFile, store: path.join(base, 'data', 'signatures.json') } });
    expect(await readFile(secretFile, 'utf8')).toBe(secret);
    expect((await call('GET', '/api/contents/a.ipynb')).json().content.cells[0].metadata.trusted).toBe(true);

    disk.cells[0].outputs[1].data['text/html'] = ['<script>alert(1)</script>'];
    await writeFile(path.join(root, 'a.ipynb'), JSON.stringify(disk));
    expect((await call('GET', '/api/contents/a.ipynb')).json().content.cells[0].metadata.trusted).toBe(false);

    content.cells[0].metadata.trusted = false;
    content.cells[0].source = 'SELECT 42';
    await call('PUT', '/api/contents/a.ipynb', { type: 'notebook', format: 'json', content });
    expect((await call('GET', '/api/contents/a.ipynb')).json().content.cells[0].metadata.trusted).toBe(false);
  });

  it('refuses to start on a missing root', async () => {
    app = Fastify();
    await expect(app.register(contentsPlugin, { root: path.join(base, 'nope') }).ready()).rejects.toThrow();
  });
});
