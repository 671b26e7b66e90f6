import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../../demo/stats.ts';
import type { MessageStatus } from '../records.ts';
import type { MessageStore } from './message-store.ts';
import type { StatusCallbacks } from './status-callbacks.ts';

/**
 * How a sent message moves, as a carrier's receipts move it at Twilio: `queued` when accepted,
 * `sent` once handed to the carrier, `delivered` once the handset has it. Each step comes by
 * itself after `statusDelayMs`, changes the message as reads see it, and sends its status
 * callback. Tests drive the steps instead, over HTTP (`/_statuses`): automatic steps off, and one
 * message moved one step now.
 */
export const DEFAULT_STATUS_DELAY_MS = 1_000;

const NEXT: Partial<Record<MessageStatus, MessageStatus>> = { queued: 'sent', sent: 'delivered' };

export interface Delivery {
  /** A message was just accepted (queued): its callback goes out, and its next step is scheduled. */
  accepted(id: string): void;
  /**
   * Moves a message one step now (a step already scheduled for it is cancelled), sending its
   * callback; `unknown` when there is no such message, `final` when it moves no further.
   */
  advance(id: string): MessageStatus | 'unknown' | 'final';
  /** Whether steps come by themselves; turned back on, every message still moving is scheduled again. */
  setAutomatic(on: boolean): void;
  /** Cancels every scheduled step (the backend is closing). */
  stop(): void;
}

export interface DeliveryOptions {
  store: MessageStore;
  callbacks: StatusCallbacks;
  /** How long each status lasts before the next; default DEFAULT_STATUS_DELAY_MS. */
  statusDelayMs?: number;
}

export function createDelivery({ store, callbacks, statusDelayMs = DEFAULT_STATUS_DELAY_MS }: DeliveryOptions): Delivery {
  let automatic = true;
  let stopped = false;
  /** Messages sent through this instance that have not reached a final status. */
  const moving = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();

  const cancel = (id: string) => {
    clearTimeout(timers.get(id));
    timers.delete(id);
  };
  const schedule = (id: string) => {
    cancel(id);
    if (!automatic || stopped || !moving.has(id)) return;
    // Unref'd: a step still to come never keeps a process alive that is otherwise done.
    timers.set(id, setTimeout(() => {
      timers.delete(id);
      step(id);
    }, statusDelayMs).unref());
  };
  const step = (id: string): MessageStatus | 'unknown' | 'final' => {
    const message = store.byId(id);
    if (!message) return 'unknown';
    const next = NEXT[message.status];
    if (!next) return 'final';
    store.setStatus(id, next);
    callbacks.changed(message);
    if (NEXT[next]) schedule(id);
    else moving.delete(id);
    return next;
  };

  return {
    accepted(id) {
      const message = store.byId(id);
      if (!message) return;
      moving.add(id);
      callbacks.changed(message);
      schedule(id);
    },
    advance(id) {
      cancel(id);
      return step(id);
    },
    setAutomatic(on) {
      automatic = on;
      for (const id of moving) schedule(id);
    },
    stop() {
      stopped = true;
      for (const id of [...timers.keys()]) cancel(id);
    },
  };
}

const MAX_CONTROL_BODY = 4096;

/**
 * The test surface of message delivery, beside `/_stats` and `/_faults`:
 * `POST /_statuses {"automatic": false}` turns the automatic steps off (messages stay where they
 * are until moved; `true` turns them back on), and `POST /_statuses/advance {"id": "SM…"}` moves
 * one message one step now, answering its new status (404 for an unknown id, 409 for a message
 * that moves no further). Returns false for any other request.
 */
export function handleStatusesRoute(req: IncomingMessage, res: ServerResponse, delivery: Delivery): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/_statuses' && path !== '/_statuses/advance') return false;
  if (req.method !== 'POST') {
    req.resume();
    sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
    return true;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_CONTROL_BODY) req.destroy();
  });
  req.on('end', () => {
    let parsed: { automatic?: unknown; id?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return sendJson(res, 400, { error: 'the body must be JSON' });
    }
    if (path === '/_statuses') {
      if (typeof parsed.automatic !== 'boolean') return sendJson(res, 400, { error: 'automatic must be true or false' });
      delivery.setAutomatic(parsed.automatic);
      return sendJson(res, 200, { automatic: parsed.automatic });
    }
    if (typeof parsed.id !== 'string' || parsed.id === '') return sendJson(res, 400, { error: 'id must be a message SID' });
    const outcome = delivery.advance(parsed.id);
    if (outcome === 'unknown') return sendJson(res, 404, { error: `there is no message ${parsed.id}` });
    if (outcome === 'final') return sendJson(res, 409, { error: `message ${parsed.id} moves no further` });
    sendJson(res, 200, { id: parsed.id, status: outcome });
  });
  return true;
}
