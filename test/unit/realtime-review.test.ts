import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAddressGuard, refusedRangeOf } from '../../gateway/webhooks/address-guard.ts';
import { eventStream, type EventTargetLike } from '../../gateway/plugins/realtime/event-stream.ts';
import { createRedisEventTarget } from '../../gateway/redis.ts';
import type { SourceEvent } from '../../schema/contract.ts';
import { sharedRedis } from '../helpers/redis.ts';

/**
 * A hostile review of real time (issue 17), at the unit level: each test here failed before the
 * fix beside it.
 */

describe('the outbound address guard', () => {
  it('judges an IPv4-translated IPv6 address (::ffff:0:a.b.c.d, SIIT) by the IPv4 address it carries', async () => {
    expect(refusedRangeOf('::ffff:0:127.0.0.1')).toBe('loopback (127.0.0.0/8), written as IPv6');
    expect(refusedRangeOf('::ffff:0:a9fe:a9fe')).toBe('link-local (169.254.0.0/16, cloud metadata), written as IPv6');
    expect(refusedRangeOf('::ffff:0:5db8:d70e')).toBeUndefined();
    const guard = createAddressGuard({ requireHttps: false, resolve: async () => [] });
    expect(await guard.check('http://[::ffff:0:10.0.0.5]/hooks')).toMatchObject({ ok: false, reason: 'private_address' });
  });
});

describe('a subscription whose filter throws on an event', () => {
  const events = (target: EventTargetLike, type: string, accept: (event: SourceEvent) => boolean) =>
    eventStream(target, type, { accept, onEvent: () => undefined, onClose: () => undefined, maxQueued: 10 });
  const event = (payload: unknown): SourceEvent => ({ source: 's', topic: 't', id: randomBytes(4).toString('hex'), type: null, payload, receivedAt: 0 });
  /** A filter as a contract may write it, reading a field the payload may not have. */
  const careless = (e: SourceEvent) => (e.payload as { order: { id: string } }).order.id === 'o1';

  it.each([
    ['in process', async () => ({ target: new EventTarget() as EventTargetLike & { dispatchEvent(e: Event): boolean }, close: async () => undefined })],
    ['over Redis', async () => {
      const [publisher, subscriber] = [await sharedRedis(), await sharedRedis()];
      const target = createRedisEventTarget(publisher, subscriber, () => undefined) as unknown as EventTargetLike & { dispatchEvent(e: Event): boolean };
      return { target, close: async () => { publisher.disconnect(); subscriber.disconnect(); } };
    }],
  ])('ends that subscription with the error; the process and the other subscribers on the topic go on (%s)', async (_, make) => {
    const { target, close } = await make();
    const type = `webhook:review-${randomBytes(4).toString('hex')}`;
    const throwing = events(target, type, careless);
    const other = events(target, type, () => true);
    try {
      const failed = throwing.next();
      const heard = other.next();
      // Over Redis, the subscriber connection has subscribed once a message it publishes comes back.
      await new Promise((resolve) => setTimeout(resolve, 50));
      target.dispatchEvent(new CustomEvent(type, { detail: event({ note: 'no order here' }) }));
      await expect(failed).rejects.toThrow(TypeError);
      expect((await heard).value?.payload).toEqual({ note: 'no order here' });
      // Ended: the next event reaches the other subscriber only.
      target.dispatchEvent(new CustomEvent(type, { detail: event({ order: { id: 'o1' } }) }));
      expect((await other.next()).value?.payload).toEqual({ order: { id: 'o1' } });
    } finally {
      await throwing.return?.();
      await other.return?.();
      await close();
    }
  });
});
