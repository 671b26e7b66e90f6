import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS } from '../../sources/demo/credentials.ts';
import { createSeed } from '../../sources/demo/seed.ts';
import { createRedis } from '../../gateway/redis.ts';
import { startGatewayProcess, stopProcess } from '../helpers/gateway-process.ts';
import { startScaleOutBed, type ScaleOutBed } from '../helpers/scale-out.ts';
import { stripeDelivery, subscribeSse, type Delivery, type SseStream } from '../helpers/realtime.ts';

/**
 * Three Junction processes (`gateway/main.ts`) behind a round-robin balancer, sharing one set of
 * demo backends and a Redis Cluster of three primaries and three replicas that the suite starts
 * itself (test/helpers/scale-out.ts). What one instance promises, the three promise together.
 */
const seed = createSeed();
const SECRET = DEMO_CREDENTIALS.payments.webhookSecret;
const CHANNEL = 'webhook:payments';
const UPDATED = 'subscription($p: ID) { paymentUpdated(id: $p) { id status amount } }';
const SEND = 'mutation { sendMessage(input: { phone: "+4930111222333", body: "hi" }) { id } }';
const PAYMENTS = 'query($c: ID!) { customer(id: $c) { id payments(first: 3) { edges { node { id amount } } } } }';
const CUSTOMER = 'query($c: ID!) { customer(id: $c) { id name } }';
const payment = (id: string, customer: string, amount = 100) => ({ id, object: 'payment', status: 'succeeded', amount, currency: 'eur', customer, merchant: seed.merchants[0]!.id, amount_refunded: 0, created: 0 });

let bed: ScaleOutBed;
beforeAll(async () => {
  bed = await startScaleOutBed({ instances: 3 });
}, 120_000);
afterAll(async () => {
  await bed?.close();
}, 60_000);

/** POSTs a signed delivery to `at` (the balancer unless told), again after each 503 as a provider does, until it is taken. */
async function deliver(delivery: Delivery, at = bed.balancer.url): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${at}/webhooks/payments`, { method: 'POST', headers: delivery.headers, body: delivery.body });
    await response.arrayBuffer();
    if (response.status !== 503 || attempt === 50) return response;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once `count` connections of the instances subscribe to `channel` on the shard that owns it. */
async function shardSubscribers(channel: string, count: number): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const admin = bed.cluster.admin(await bed.cluster.primaryOf(channel));
    const [, subscribed] = await admin.call('PUBSUB', 'SHARDNUMSUB', channel) as [string, number];
    if (Number(subscribed) >= count) return;
    if (Date.now() > until) throw new Error(`${subscribed} of ${count} sharded subscribers on ${channel}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Clients sending `query` through the balancer until `stop` resolves; every answer that is not a clean 200 is kept. */
function load(clients: number, next: (i: number) => Promise<{ status: number; body: any }>) {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const i = sent++;
      try {
        const { status, body } = await next(i);
        if (status !== 200 || body.errors) failures.push(`${status} ${JSON.stringify(body.errors ?? body).slice(0, 200)}`);
      } catch (err) {
        failures.push(`no answer: ${(err as Error).message}`);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { sent, failures };
    },
  };
}

describe('three instances over a Redis Cluster (three primaries, three replicas)', () => {
  it('says at start which cluster it joined, and warns when REDIS_URL names one node of it as a server', async () => {
    const right = await startGatewayProcess({ NODE_ENV: 'development', LOG_LEVEL: 'info', REDIS_URL: bed.cluster.url });
    const wrong = await startGatewayProcess({ NODE_ENV: 'development', LOG_LEVEL: 'info', REDIS_URL: `redis://127.0.0.1:${bed.cluster.nodes[0]!.port}` });
    try {
      expect(right.output()).toMatch(/Redis Cluster connected/);
      expect(right.output()).toMatch(/primaries\W+3\b/);
      expect(right.output()).not.toMatch(/names one node of a Redis Cluster/);
      expect(wrong.output()).toMatch(/REDIS_URL names one node of a Redis Cluster: name it as a cluster \(redis\+cluster:\/\/host:port,\.\.\.\)/);
    } finally {
      await Promise.all([stopProcess(right.child), stopProcess(wrong.child)]);
    }
  }, 60_000);

  it('a rate limit of 10 lets exactly 10 of 200 concurrent calls through, counted across the three', async () => {
    const token = await bed.bearer(`spammer-${randomBytes(4).toString('hex')}`);
    const before = (await bed.backendCalls()).messaging;
    const servedBefore = bed.instances.map((i) => bed.balancer.served.get(i.url) ?? 0);
    const answers = await Promise.all(Array.from({ length: 200 }, () => bed.query(SEND, {}, token)));
    const sent = answers.filter((a) => a.body.data?.sendMessage);
    const limited = answers.filter((a) => a.body.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(sent).toHaveLength(10);
    expect(limited).toHaveLength(190);
    expect((await bed.backendCalls()).messaging - before).toBe(10);
    // Each instance took its share of the 200.
    const served = bed.instances.map((i, n) => (bed.balancer.served.get(i.url) ?? 0) - servedBefore[n]!);
    for (const count of served) expect(count).toBeGreaterThanOrEqual(60);
  }, 60_000);

  it('an answer cached by one instance is read by the other two, and one mutation on one invalidates it for all', async () => {
    const [a, b, c] = bed.instances.map((i) => i.url) as [string, string, string];
    const token = await bed.bearer('cache-reader');
    const customer = seed.customers[7]!.id;
    const first = await bed.query(PAYMENTS, { c: customer }, token, a);
    expect(first.body.extensions.responseCache).toMatchObject({ hit: false, didCache: true });
    const calls = (await bed.backendCalls()).payments;
    for (const other of [b, c]) expect((await bed.query(PAYMENTS, { c: customer }, token, other)).body.extensions.responseCache).toMatchObject({ hit: true });
    expect((await bed.backendCalls()).payments).toBe(calls);

    const created = await bed.query('mutation($i: CreatePaymentInput!) { createPayment(input: $i) { id } }', {
      i: { customerId: customer, merchantId: seed.merchants[0]!.id, amount: 4321, currency: 'eur' },
    }, token, b);
    const newId = created.body.data.createPayment.id as string;
    for (const other of [a, c]) {
      const after = await bed.query(PAYMENTS, { c: customer }, token, other);
      expect(after.body.data.customer.payments.edges[0].node).toEqual({ id: newId, amount: 4321 });
      // The first of the two reads it again from the backend and caches it; the second hits that.
      expect(after.body.extensions.responseCache.hit).toBe(other === c);
    }
  }, 60_000);

  it('a webhook taken by one instance invalidates a cached answer for all three', async () => {
    const [a, b, c] = bed.instances.map((i) => i.url) as [string, string, string];
    const token = await bed.bearer('webhook-reader');
    const customer = seed.customers[9]!.id;
    await bed.query(CUSTOMER, { c: customer }, token, a);
    for (const at of [a, b, c]) expect((await bed.query(CUSTOMER, { c: customer }, token, at)).body.extensions.responseCache).toMatchObject({ hit: true });
    const taken = await deliver(stripeDelivery(SECRET, 'payment.succeeded', payment(`pay_${randomBytes(6).toString('hex')}`, customer)), c);
    expect(taken.status).toBe(200);
    // Gone for all: the first read after it, on another instance, goes to the backend again.
    const calls = (await bed.backendCalls()).payments;
    expect((await bed.query(CUSTOMER, { c: customer }, token, b)).body.extensions.responseCache).toMatchObject({ hit: false, didCache: true });
    expect((await bed.backendCalls()).payments).toBe(calls + 1);
    expect((await bed.query(CUSTOMER, { c: customer }, token, a)).body.extensions.responseCache).toMatchObject({ hit: true });
  }, 60_000);

  it('a subscriber on each instance receives each event once, whichever instance took it, and a provider\'s retry to another instance is not an event', async () => {
    const token = { authorization: `Bearer ${await bed.issuer.token({ sub: 'listener' })}` };
    const id = `pay_${randomBytes(6).toString('hex')}`;
    const customer = seed.customers[3]!.id;
    const streams: SseStream[] = [];
    try {
      for (const instance of bed.instances) streams.push(await subscribeSse({ fetch: (path, init) => fetch(`${instance.url}${path}`, init) }, UPDATED, { p: id }, token));
      await shardSubscribers(CHANNEL, 3);
      const deliveries = [1, 2, 3].map((amount) => stripeDelivery(SECRET, 'payment.succeeded', payment(id, customer, amount)));
      // Each event to another instance; the first delivered again, to a fourth address (another instance).
      for (const [n, delivery] of deliveries.entries()) expect((await deliver(delivery, bed.instances[n]!.url)).status).toBe(200);
      const retry = await deliver(deliveries[0]!, bed.instances[1]!.url);
      expect(retry.status).toBe(200);
      const sentinel = stripeDelivery(SECRET, 'payment.succeeded', payment(id, customer, 99));
      expect((await deliver(sentinel)).status).toBe(200);
      for (const stream of streams) {
        const amounts: number[] = [];
        for (let i = 0; i < 4; i++) amounts.push((await stream.next(5_000)).data.data.paymentUpdated.amount);
        // Each event once, in order, and the retry nowhere: the sentinel comes right after the third.
        expect(amounts).toEqual([1, 2, 3, 99]);
      }
    } finally {
      for (const stream of streams) stream.close();
    }
  }, 60_000);

  it('a rolling restart of the three instances under load fails no request', async () => {
    const token = await bed.bearer('steady');
    const before = bed.instances.map((i) => i.url);
    const traffic = load(6, (i) => bed.query(i % 2 ? CUSTOMER : PAYMENTS, { c: seed.customers[i % 20]!.id }, token));
    for (let index = 0; index < 3; index++) await bed.restart(index);
    // A while on the three new instances too.
    await new Promise((r) => setTimeout(r, 500));
    const { sent, failures } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(bed.balancer.failed()).toBe(0);
    expect(sent).toBeGreaterThan(200);
    const after = bed.instances.map((i) => i.url);
    for (const url of after) {
      expect(before).not.toContain(url);
      expect(bed.balancer.served.get(url) ?? 0).toBeGreaterThan(0);
    }
  }, 120_000);

  it('a primary killed mid-load, its replica promoted: no failed request, and every webhook acknowledged is kept', async () => {
    const token = await bed.bearer('through-failover');
    const traffic = load(4, (i) => bed.query(i % 2 ? CUSTOMER : PAYMENTS, { c: seed.customers[i % 20]!.id }, token));
    const acknowledged: string[] = [];
    let refused = 0;
    let delivering = true;
    const provider = (async () => {
      const customer = seed.customers[1]!.id;
      while (delivering) {
        const delivery = stripeDelivery(SECRET, 'payment.succeeded', payment(`pay_${randomBytes(6).toString('hex')}`, customer));
        // Sent again after each refusal (503: the store could not keep it), as a provider does.
        for (;;) {
          const response = await fetch(`${bed.balancer.url}/webhooks/payments`, { method: 'POST', headers: delivery.headers, body: delivery.body });
          await response.arrayBuffer();
          if (response.status === 200) {
            acknowledged.push(delivery.id);
            break;
          }
          refused++;
          if (!delivering) break;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const stream = "junction:{webhook:payments}:stream";
    const { killed, promoted } = await bed.cluster.killPrimaryOf(stream);
    expect(promoted).not.toBe(killed);
    const atFailover = acknowledged.length;
    await new Promise((r) => setTimeout(r, 1_000));
    delivering = false;
    await provider;
    const { sent, failures } = await traffic.stop();
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    expect(acknowledged.length).toBeGreaterThan(atFailover);
    // The failover was felt: deliveries were refused (503) while the shard had no primary.
    expect(refused).toBeGreaterThan(0);
    // Every event a provider was told was taken is in its topic's stream on the promoted replica.
    const reader = createRedis(bed.cluster.url);
    try {
      await reader.connect();
      const kept = new Set((await reader.xrange(stream, '-', '+')).map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id));
      expect(acknowledged.filter((id) => !kept.has(id))).toEqual([]);
    } finally {
      reader.disconnect();
    }
  }, 120_000);
});
