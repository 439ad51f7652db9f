// The prebuilt (federated) extension for a stock Python JupyterLab: `npm run build:labextension` writes
// extension/labextension/, which is what gets copied to <sys-prefix>/share/jupyter/labextensions/chlab-extension.
// Checked here: the layout JupyterLab's federated extension loader reads, and that JupyterLab's own packages
// are shared with the host application (consumed, not bundled a second time).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'extension', 'labextension');
const source = JSON.parse(await readFile(path.join(ROOT, 'extension', 'package.json'), 'utf8')) as { name: string; version: string; jupyterlab: Record<string, unknown> };

let built: { name: string; version: string; jupyterlab: { _build: { load: string; extension?: string; mimeExtension?: string; style?: string } } };
let remoteEntry = '';

beforeAll(async () => {
  await promisify(execFile)('npm', ['run', 'build:labextension'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
  built = JSON.parse(await readFile(path.join(OUT, 'package.json'), 'utf8'));
  remoteEntry = await readFile(path.join(OUT, built.jupyterlab._build.load), 'utf8');
}, 300_000);

describe('npm run build:labextension', () => {
  it('writes a federated extension: package.json with jupyterlab._build and its remoteEntry', () => {
    expect(built.name).toBe(source.name);
    expect(built.version).toBe(source.version);
    const build = built.jupyterlab._build;
    expect(build.load).toMatch(/^static\/remoteEntry\.[0-9a-f]+\.js$/);
    expect(existsSync(path.join(OUT, build.load))).toBe(true);
    // The plugins, the MIME renderers and the style, as declared in extension/package.json.
    expect(build).toMatchObject({ extension: './extension', style: './style' });
    if (source.jupyterlab.mimeExtension) expect(build.mimeExtension).toBe('./mimeExtension');
  });

  it('registers its container under the package name, as JupyterLab looks it up', () => {
    expect(remoteEntry).toContain(`["${source.name}"]`);
    expect(remoteEntry).toContain('_JUPYTERLAB');
  });

  it('shares JupyterLab and Lumino with the host instead of bundling them', () => {
    const shared = [...new Set([...remoteEntry.matchAll(/shareKey:"(@(?:jupyterlab|lumino)\/[^"]+)"/g)].map((m) => m[1]!))];
    expect(shared).toEqual(expect.arrayContaining(['@jupyterlab/application', '@jupyterlab/notebook', '@lumino/widgets']));
    for (const pkg of shared) {
      // Consumed from JupyterLab (no fallback copy), one instance for the whole page.
      const entry = new RegExp(`"${pkg.replace('/', '\\/')}",import:null,requiredVersion:"[^"]+",strictVersion:!1,singleton:!0`);
      expect(remoteEntry, pkg).toMatch(entry);
    }
  });

  it('ships the settings schemas and stays small', async () => {
    const schemas = await readdir(path.join(OUT, 'schemas', source.name));
    const declared = (await readdir(path.join(ROOT, 'extension', 'schema'))).filter((f) => f.endsWith('.json'));
    expect(schemas).toEqual(expect.arrayContaining(declared));
    const files = await readdir(path.join(OUT, 'static'));
    let total = 0;
    for (const file of files) total += (await readFile(path.join(OUT, 'static', file))).length;
    expect(total).toBeLessThan(40 * 1024 * 1024);
  });
});
