// The browser helper's error record, which every browser test ends by asserting empty: a request that really
// failed is listed; one the page's own reload cancelled (JupyterLab polls /api/kernels) is not.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_MISSING, findChromium, launchBrowser, type TestBrowser } from '../support/browser.js';

const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
if (inCI && !findChromium()) throw new Error(`CI: ${CHROMIUM_MISSING}`);

describe.skipIf(!findChromium())('the browser helper records failed requests', () => {
  let server: Server;
  let base: string;
  let browser: TestBrowser;
  let slowRequests = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') {
        slowRequests += 1;
        setTimeout(() => res.end('late'), 10_000).unref();
      } else if (req.url === '/broken') {
        req.socket.destroy();
      } else {
        res.setHeader('content-type', 'text/html');
        res.end('<!doctype html><title>page</title>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('does not count a request cancelled by reloading the page', async () => {
    const tab = await browser.newPage(`${base}/`);
    const before = slowRequests;
    await tab.page.evaluate(() => void fetch('/slow').catch(() => undefined));
    await expect.poll(() => slowRequests).toBe(before + 1);
    await tab.page.reload();
    await tab.page.evaluate(() => document.title);
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });

  it('counts a request that failed on its own', async () => {
    const tab = await browser.newPage(`${base}/`);
    await tab.page.evaluate(() => fetch('/broken').then(() => 'ok', () => 'failed'));
    expect(tab.failedRequests).toEqual([expect.stringMatching(/^requestfailed: GET http:\/\/127\.0\.0\.1:\d+\/broken net::ERR_/)]);
    expect(tab.errors).toContain(tab.failedRequests[0]);
    await tab.context.close();
  });
});
