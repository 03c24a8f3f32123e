// Headless Chromium (Debian's, installed by scripts/install-chromium.sh) driven
// by playwright-core, for end-to-end tests against the real Temporal UI. No
// browser build is ever downloaded: playwright-core runs /usr/bin/chromium.
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

// On this closed network Chromium must not try to reach Google's services
// (QUIC, component updates, sync, background fetches): those stall pages.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Temporal UI is slow to render on a 2-core machine: generous defaults. */
export const UI_TIMEOUT_MS = 60_000;

export interface TestBrowser {
  browser: Browser;
  page: Page;
  /** Saves a full-page screenshot into a temp dir, prints and returns its path. */
  screenshot(name: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * Launches Chromium with one page. `chromium.launch` gives every launch a
 * fresh temporary profile (user-data-dir) of its own and removes it on close;
 * Playwright refuses a --user-data-dir argument here.
 */
export async function launchTestBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-chromium.sh (as root) first`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: UI_TIMEOUT_MS });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  let shotDir: string | undefined;
  return {
    browser,
    page,
    async screenshot(name) {
      try {
        shotDir ??= await mkdtemp(path.join(tmpdir(), 'saferoll-e2e-'));
        const file = path.join(shotDir, `${name.replace(/[^\w.-]+/g, '_').slice(0, 100)}.png`);
        await page.screenshot({ path: file, fullPage: true, timeout: 30_000 });
        console.log(`screenshot of the page at failure (${page.url()}): ${file}`);
        return file;
      } catch (err) {
        console.log(`could not take a screenshot: ${(err as Error).message}`);
        return undefined;
      }
    },
    async close() {
      await browser.close();
    },
  };
}
