import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { SOURCE_NAMES } from '../../sources/demo/index.ts';
import { createMemoryStore } from '../../gateway/cache/store.ts';

/**
 * The status page as a developer opens it: a development gateway over the demo backends, served
 * over real HTTP after it answered some queries, opened in Debian's Chromium. The screenshot is
 * kept in reports/ (ignored by git) for a person to look at.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'reports/status.png';

let h: Harness;
let server: Server;
let url: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  [h, browser] = await Promise.all([
    startHarness({ mode: 'development', cacheStore: createMemoryStore() }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  ]);
  server = createServer(h.gateway.yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (let i = 0; i < 5; i += 1) expect((await h.query(EXAMPLE_QUERY)).body.errors).toBeUndefined();
  // One failure (its retries failing too), so that the page has an error rate to show.
  await h.fault('payments', 'listPayments', 10);
  await h.query('query Failing { payments(first: 1) { edges { node { id } } } }');
  await h.clearFaults();
  // A webhook delivery without its signature: refused, and listed.
  expect((await h.fetch('/webhooks/payments', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"evt_1"}' })).status).toBe(401);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await h?.close();
});

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('the status page in a browser', () => {
  it('shows every source with its figures, loads nothing from elsewhere, and is kept as a screenshot', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const requested: string[] = [];
    context.on('request', (request) => void requested.push(request.url()));
    try {
      const page = await context.newPage();
      // Within the test's own time: a missing element fails the test with its name, not a timeout.
      page.setDefaultTimeout(5_000);
      const response = await page.goto(`${url}/status`);
      expect(response?.status()).toBe(200);
      const text = await page.locator('main').innerText();
      expect(text).toContain('Junction status');
      for (const name of SOURCE_NAMES) {
        const card = page.locator(`section[data-source="${name}"]`);
        await expect(card.locator('h3').innerText()).resolves.toBe(name);
        // Every source was called: a rate and a median latency, in figures.
        await expect(card.locator('.fig').first().innerText()).resolves.toMatch(/\d+(\.\d+)?\/s/);
        await expect(card.locator('.fig').nth(1).innerText()).resolves.toMatch(/\d+(\.\d+)? m?s/);
        await expect(card.locator('.badge').innerText()).resolves.toMatch(/^(UP|DEGRADED)$/);
      }
      // The one failed call of payments, in its error figure.
      await expect(page.locator('section[data-source="payments"] .fig.warn').innerText()).resolves.toMatch(/\d+(\.\d+)?%/);
      // The caches: the same Dashboard five times (a miss, then four hits), then the failing query (a miss).
      expect(text).toMatch(/RESPONSE CACHE: 66\.7% HITS/i);
      expect(text).toContain('refused_missing');
      const origin = new URL(url).origin;
      expect(requested).toEqual([`${url}/status`]);
      expect(requested.filter((r) => new URL(r).origin !== origin)).toEqual([]);

      mkdirSync('reports', { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const png = readFileSync(SCREENSHOT);
      expect(png.length).toBeGreaterThan(20_000);
      const { width, height } = pngSize(png);
      expect(width).toBe(1280);
      expect(height).toBeGreaterThanOrEqual(600);
    } finally {
      await context.close();
    }
  });
});
