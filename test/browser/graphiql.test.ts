import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { EXAMPLE_QUERY } from '../../schema/example-query.ts';
import { startGatewayProcess, stopProcess, type GatewayProcess } from '../helpers/gateway-process.ts';

/**
 * GraphiQL as a developer meets it: `npm start`'s entry point as its own process (development,
 * demo backends inside), opened over real HTTP in Debian's Chromium (`.ci/run` installs it),
 * driven by playwright-core. Every wait is on something the page shows, with a bound.
 */
const CHROMIUM = '/usr/bin/chromium';
/** The longest any one thing the page must show may take: a 9 MB page and Monaco, on a busy 2-core machine. */
const SHOWN_WITHIN_MS = 30_000;

const running: ChildProcess[] = [];
let gateway: GatewayProcess;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every request the page and its workers made, by URL. */
let requested: string[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  [gateway, browser] = await Promise.all([
    startGatewayProcess({ NODE_ENV: 'development' }, running),
    // Background networking off: the browser's own update and safe-browsing calls would otherwise
    // show up beside the page's, and this machine may have no internet.
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(running.splice(0).map(stopProcess));
});

beforeEach(async () => {
  context = await browser.newContext();
  requested = [];
  context.on('request', (request) => void requested.push(request.url()));
  page = await context.newPage();
});

afterEach(async () => {
  await context.close();
});

/** A Monaco editor's lines as shown (Monaco draws spaces as non-breaking ones). */
const shown = async (selector: string) => (await page.locator(`${selector} .view-lines`).innerText()).replace(/\u00a0/g, ' ');
const QUERY_EDITOR = '.graphiql-query-editor';
const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';
const RESULT = '.graphiql-response';

/** Opens GraphiQL and waits until its editor shows the example query. */
async function openGraphiQL(): Promise<void> {
  await page.goto(`${gateway.url}/graphql`);
  await page.locator(`${QUERY_EDITOR} .view-lines`, { hasText: 'query Dashboard' }).waitFor({ timeout: SHOWN_WITHIN_MS });
}

/** The bearer token in GraphiQL's headers tab. */
async function tokenInHeadersTab(): Promise<string> {
  const token = /"authorization": "Bearer ([\w-]+\.[\w-]+\.[\w-]+)"/.exec(await shown(HEADERS_EDITOR))?.[1];
  expect(token, 'a bearer token in the headers tab').toBeDefined();
  return token!;
}

async function graphql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  expect(response.status).toBe(200);
  return await response.json() as { data?: any; errors?: unknown[] };
}

// A test drives a page through several steps, each bounded by SHOWN_WITHIN_MS.
describe('GraphiQL', { timeout: 90_000 }, () => {
  it('loads from the gateway alone, opens on the example query, and runs it with the dev token of its headers tab', async () => {
    await openGraphiQL();
    // The lines the editor shows are the example query's first lines, in order.
    const lines = (await shown(QUERY_EDITOR)).split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines).toEqual(EXAMPLE_QUERY.split('\n').slice(0, lines.length));
    const token = await tokenInHeadersTab();

    const answered = page.waitForResponse(
      (response) => response.request().method() === 'POST' && (response.request().postData() ?? '').includes('query Dashboard'),
      { timeout: SHOWN_WITHIN_MS },
    );
    await page.getByRole('button', { name: /Execute query/ }).click();
    const response = await answered;
    expect(response.request().headers().authorization).toBe(`Bearer ${token}`);
    expect(response.status()).toBe(200);
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.payments.edges).toHaveLength(5);
    // The result pane shows that answer: its data, no errors.
    const firstId: string = body.data.payments.edges[0].node.id;
    await page.locator(`${RESULT} .view-lines`, { hasText: firstId }).waitFor({ timeout: SHOWN_WITHIN_MS });
    const result = await shown(RESULT);
    expect(result).toMatch(/^\{\s*"data": \{\s*"payments": \{/);
    expect(result).not.toContain('"errors"');

    // The page, its GraphiQL code, its editor workers (blob: URLs of the page's own origin), the
    // schema's introspection and the query: all from the gateway, nothing from a CDN.
    const origin = new URL(gateway.url).origin;
    expect(requested).toContain(`${gateway.url}/graphql`);
    expect(requested.filter((url) => url.startsWith('blob:')).length).toBeGreaterThan(0);
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
  });

  it('runs a subscription: a payment created elsewhere appears in the result pane', async () => {
    await openGraphiQL();
    const editor = page.locator(`${QUERY_EDITOR} .monaco-editor`);
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText('subscription { paymentUpdated { id status amount } }');
    expect(await shown(QUERY_EDITOR)).toBe('subscription { paymentUpdated { id status amount } }');
    // GraphiQL reads the operation's name from the document a moment after it changes, and runs
    // the one it has then: its tab loses the example's name once it has read the new document.
    await page.locator('.graphiql-tab-button', { hasText: '<untitled>' }).waitFor({ timeout: SHOWN_WITHIN_MS });

    // GraphiQL subscribes over Server-Sent Events; once the stream's headers are back, the
    // subscription listens (the gateway answers only after subscribing).
    const streaming = page.waitForResponse((response) => response.request().headers().accept === 'text/event-stream', { timeout: SHOWN_WITHIN_MS });
    await page.keyboard.press('ControlOrMeta+Enter');
    const stream = await streaming;
    expect(stream.status()).toBe(200);
    expect(stream.headers()['content-type']).toBe('text/event-stream');
    expect(stream.request().headers().authorization).toBe(`Bearer ${await tokenInHeadersTab()}`);
    expect(await shown(RESULT)).toBe('');

    // Elsewhere (a terminal, another tab), someone creates a payment with a token of their own: the
    // demo payments backend sends its Stripe-signed payment.succeeded webhook to the gateway.
    const token = execFileSync(process.execPath, ['--import', 'tsx', 'gateway/auth/token-cli.ts', 'token', '--sub', 'browser-test', '--scopes', 'payments:read payments:write'], { encoding: 'utf8' }).trim();
    const existing = await graphql(token, '{ payments(first: 1) { edges { node { customer { id } merchant { id } } } } }');
    const { customer, merchant } = existing.data.payments.edges[0].node;
    const created = await graphql(token, 'mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }', {
      i: { customerId: customer.id, merchantId: merchant.id, amount: 4321, currency: 'eur' },
    });
    expect(created.errors).toBeUndefined();
    const id: string = created.data.createPayment.id;
    expect(id).toMatch(/^pay_/);

    await page.locator(`${RESULT} .view-lines`, { hasText: id }).waitFor({ timeout: SHOWN_WITHIN_MS });
    const result = await shown(RESULT);
    expect(result).toContain(`"id": "${id}"`);
    expect(result).toContain('"status": "SUCCEEDED"');
    expect(result).toContain('"amount": 4321');
    expect(result).not.toContain('"errors"');
    // Still one stream: the event came over the subscription GraphiQL opened, not a new request.
    expect(requested.filter((url) => url.includes('paymentUpdated'))).toHaveLength(1);
  });
});
