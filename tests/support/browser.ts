// Headless Chromium for browser tests: Debian's `chromium` package driven by npm playwright-core (no browser
// download). Every launch gets a fresh temporary profile (playwright creates and removes it).
//
//   const browser = await launchBrowser();
//   const { page, errors, blocked } = await browser.newPage(`http://127.0.0.1:${port}/lab`);
//   ...
//   expect(errors).toEqual([]);          // console.error + uncaught page errors + failed requests
//   await browser.close();
//
// Only loopback hosts may be loaded (the product must not reach a CDN): requests to any other host are
// aborted before they leave the browser and listed in `blocked`.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { beforeEach } from 'vitest';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page, type Request } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
  '--disable-default-apps',
  '--disable-extensions',
  '--mute-audio',
];

/** $CHROMIUM_PATH, Debian's /usr/bin/chromium, or /usr/lib/chromium/chromium; null if none. */
export function findChromium(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? null;
}

export const CHROMIUM_MISSING = 'no Chromium (looked at $CHROMIUM_PATH, /usr/bin/chromium); install it with: apt-get install chromium';

const LOOPBACK = (host: string) =>
  host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || host.endsWith('.localhost');

export interface PageErrors {
  /** Human-readable problems seen on this page, in order: console errors, page errors, failed requests. */
  errors: string[];
  consoleErrors: string[];
  pageErrors: string[];
  failedRequests: string[];
  /** URLs the helper refused to load (non-allowed hosts). */
  blocked: string[];
  /** Every console message (type: text), for debugging. */
  console: string[];
}

export interface TestPage extends PageErrors {
  page: Page;
  context: BrowserContext;
}

export interface LaunchOptions {
  /** Extra Chromium args. */
  args?: string[];
  /** Hosts that may be loaded besides data:/blob:/about: URLs; default: loopback only. */
  allowHost?: (host: string) => boolean;
  /** Viewport for new pages; default 1280x800. */
  viewport?: { width: number; height: number };
  /** Launch timeout, ms (default 60 s: the first start on a cold machine is slow). */
  timeoutMs?: number;
}

export interface TestBrowser {
  browser: Browser;
  /** New context + page (isolated storage), error collection attached; navigates when `url` is given. */
  newPage(url?: string, opts?: { waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' | 'commit'; timeoutMs?: number }): Promise<TestPage>;
  close(): Promise<void>;
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(CHROMIUM_MISSING);
  const allowHost = opts.allowHost ?? LOOPBACK;
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, TZ: process.env.TZ ?? 'UTC' },
  });

  const newPage: TestBrowser['newPage'] = async (url, nav = {}) => {
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
    const rec: PageErrors = { errors: [], consoleErrors: [], pageErrors: [], failedRequests: [], blocked: [], console: [] };
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:' || allowHost(u.hostname)) {
        return route.continue();
      }
      rec.blocked.push(u.href);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('console', (msg: ConsoleMessage) => {
      rec.console.push(`${msg.type()}: ${msg.text()}`);
      if (msg.type() === 'error') {
        const loc = msg.location();
        const text = `console.error: ${msg.text()}${loc?.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`;
        rec.consoleErrors.push(text);
        rec.errors.push(text);
      }
    });
    page.on('pageerror', (err) => {
      const text = `pageerror: ${err.message}`;
      rec.pageErrors.push(text);
      rec.errors.push(text);
    });
    // A reload or goto cancels whatever the page still had in flight (JupyterLab's polls): not a failure.
    const inFlight = new Set<Request>();
    const cancelledByNavigation = new Set<Request>();
    const cancelInFlight = () => {
      for (const pending of inFlight) if (!pending.isNavigationRequest()) cancelledByNavigation.add(pending);
    };
    page.on('request', (req) => {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) cancelInFlight();
      inFlight.add(req);
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) cancelInFlight();
    });
    page.on('requestfinished', (req) => {
      inFlight.delete(req);
      cancelledByNavigation.delete(req);
    });
    page.on('requestfailed', (req) => {
      inFlight.delete(req);
      const failure = req.failure()?.errorText ?? 'failed';
      if (rec.blocked.includes(req.url())) return; // already listed as blocked
      if (failure === 'net::ERR_ABORTED' && cancelledByNavigation.delete(req)) return;
      const text = `requestfailed: ${req.method()} ${req.url()} ${failure}`;
      rec.failedRequests.push(text);
      rec.errors.push(text);
    });
    if (url) await page.goto(url, { waitUntil: nav.waitUntil ?? 'load', timeout: nav.timeoutMs ?? 60_000 });
    return Object.assign(rec, { page, context });
  };

  return {
    browser,
    newPage,
    close: async () => {
      await browser.close().catch(() => undefined);
    },
  };
}

/**
 * Why a browser test file cannot run on this machine ('' when it can): no Chromium, or no built JupyterLab bundle
 * in `buildDir`. Under CI either is an error, not a skip.
 */
export function browserSkipReason(buildDir: string, bundleReady: boolean = existsSync(path.join(buildDir, 'bundle.js'))): string {
  const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  const missing = !findChromium() ? CHROMIUM_MISSING : !bundleReady ? `no JupyterLab bundle in ${buildDir}; run node scripts/ensure-build.mjs` : '';
  if (missing && inCI) throw new Error(`CI: ${missing}`);
  return missing;
}

/**
 * The tests of a describe block are the steps of one scenario in a page: once a step fails, the later ones are
 * skipped (they build on it) instead of failing for the same reason.
 */
export function skipAfterFailedStep(timeout?: number): void {
  let failed = false;
  beforeEach((context) => {
    if (failed) context.skip('an earlier step failed');
    context.onTestFailed(() => {
      failed = true;
    });
  }, timeout);
}
