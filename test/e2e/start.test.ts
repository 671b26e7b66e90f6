import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../../gateway/example-query.ts';

/**
 * What a newcomer gets from `npm start`: the real entry point as its own process, demo
 * backends included, reached over real HTTP. Ports are 0 so runs never collide.
 */
interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const running: ChildProcess[] = [];

async function start(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', PAYMENTS_PORT: '0', MAPS_PORT: '0', MESSAGING_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /GraphQL\s+(http:\/\/\S+)\/graphql/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening:\n${output}`)));
  });
  return { child, url, output: () => output };
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

afterEach(async () => {
  await Promise.all(running.splice(0).map(stop));
});

describe('npm start', () => {
  it('starts on embedded defaults, answers the GraphiQL example query over HTTP, and stops cleanly on SIGTERM', async () => {
    const { child, url, output } = await start({ NODE_ENV: 'development' });
    expect(output()).toContain('REDIS_URL is not set: running on in-memory stores');
    expect(output()).toMatch(/payments\s+http:\/\/127\.0\.0\.1:\d+\s+\(demo backend\)/);

    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: EXAMPLE_QUERY }),
    });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    expect(body.data.payments.edges).toHaveLength(5);
    const node = body.data.payments.edges[0].node;
    expect(node.customer.address.location).toEqual({ lat: expect.any(Number), lng: expect.any(Number) });
    expect(node.merchant.place.formattedAddress).toEqual(expect.any(String));
    expect(Array.isArray(node.customer.messages)).toBe(true);

    const graphiql = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).toContain('query Dashboard');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await stop(child)).toBe(0);
  });

  it('uses Redis when REDIS_URL is set and reports it on /readyz', async () => {
    const { url, output } = await start({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
    expect(output()).toContain('Redis connected');
    const ready = await (await fetch(`${url}/readyz`)).json();
    expect(ready.sources.redis).toMatchObject({ status: 'up' });
    // Production is the default without NODE_ENV: no GraphiQL.
    const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
  });

  it('refuses to start on bad configuration, listing every problem', async () => {
    await expect(start({ PORT: 'eighty', MAPS_URL: 'not a url' })).rejects.toThrow(/PORT="eighty"[\s\S]*MAPS_URL="not a url"/);
  });
});
