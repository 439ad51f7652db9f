// Self-test of tests/support/browser.ts (Debian chromium + playwright-core). Temporary: remove once real
// browser tests exist.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, findChromium, CHROMIUM_MISSING, type TestBrowser } from '../../../tests/support/browser.js';

const inCI = !!process.env.CI && process.env.CI !== 'false';
const chromiumPath = findChromium();
if (!chromiumPath && inCI) throw new Error(`CI: ${CHROMIUM_MISSING}`);
if (!chromiumPath) it.skip(`browser smoke: skipped, ${CHROMIUM_MISSING}`, () => undefined);

describe.skipIf(!chromiumPath)('browser harness (Debian chromium + playwright-core)', () => {
  let browser: TestBrowser;
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html><head><title>chlab smoke</title></head><body>
          <h1 id="h">hello</h1>
          <script>document.getElementById('h').textContent = 'hello from js';</script>
        </body></html>`);
      } else if (req.url === '/bad') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>bad</title>
          <script>console.error('boom in console'); setTimeout(() => { throw new Error('uncaught boom'); });</script>
          <script src="/missing.js"></script>
          <img src="http://localhost:${(server.address() as AddressInfo).port}/elsewhere.png">`);
      } else {
        res.writeHead(404);
        res.end('nope');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const t0 = Date.now();
    // allow only 127.0.0.1, so the page's "localhost" image exercises the blocking (no traffic leaves loopback)
    browser = await launchBrowser({ allowHost: (h) => h === '127.0.0.1' });
    console.log(`chromium (${chromiumPath}) launched in ${Date.now() - t0} ms, version ${browser.browser.version()}`);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it('renders a data: URL', async () => {
    const t = await browser.newPage('data:text/html,<title>x</title><p id=p>data url</p>');
    expect(await t.page.textContent('#p')).toBe('data url');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('loads a page from a loopback http server, runs its JS, takes a screenshot', async () => {
    const t = await browser.newPage(base + '/');
    expect(await t.page.title()).toBe('chlab smoke');
    expect(await t.page.textContent('#h')).toBe('hello from js');
    const png = await t.page.screenshot();
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(t.errors).toEqual([]);
    await t.context.close();
  });

  it('collects console errors, uncaught errors, failed requests and blocked hosts', async () => {
    const t = await browser.newPage(base + '/bad');
    await t.page.waitForTimeout(300);
    expect(t.consoleErrors.some((e) => e.includes('boom in console'))).toBe(true);
    expect(t.pageErrors).toEqual(['pageerror: uncaught boom']);
    // a 404 script shows up as a console error ("Failed to load resource")
    expect(t.consoleErrors.some((e) => e.includes('404'))).toBe(true);
    expect(t.blocked).toEqual([expect.stringMatching(/^http:\/\/localhost:\d+\/elsewhere\.png$/)]);
    await t.context.close();
  });
});
