import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './stats.ts';

/**
 * Fault injection for the demo backends: `POST /_faults {"operation":"getPayment","count":1}`
 * makes the next `count` calls of that operation fail the way that backend's protocol fails
 * (a REST 500 error body, a SOAP Fault, a GraphQL error). With `"kind":"rejection"` the backend
 * refuses the request as the caller's fault instead (a REST 400, a SOAP Client fault over HTTP
 * 500 whose text carries .NET stack frames, a GraphQL error with code INVALID_ARGUMENT). `DELETE /_faults` clears them.
 * Tests use it to prove what the gateway does when a backend errors, over real HTTP.
 */
export interface Faults {
  /**
   * Arms a fault; `count` defaults to 1, and -1 means until cleared. `throttle` makes a REST
   * backend answer 429 with `Retry-After: <seconds>` instead of failing (a provider's rate limit).
   */
  arm(operation: string, count?: number, throttle?: { retryAfterSec: number }, rejection?: boolean): void;
  /** The fault this call of `operation` must show (using up one armed failure), or undefined. */
  take(operation: string): ArmedFault | undefined;
  clear(): void;
}

export interface ArmedFault {
  throttle?: { retryAfterSec: number };
  /** The backend refuses the request as the caller's error, rather than failing itself. */
  rejection?: boolean;
}

/** A refusal's text as a .NET SOAP service sends it: the message, then its stack frames. */
export const REJECTION_TEXT = 'System.ArgumentException: The request was refused on purpose (POST /_faults).\r\n'
  + '   at Demo.Service.Operation(String value) in C:\\build\\Demo\\Service.cs:line 42\r\n'
  + '   at System.Web.Services.Protocols.LogicalMethodInfo.Invoke(Object target, Object[] values)';

export function createFaults(): Faults {
  let armed = new Map<string, { left: number } & ArmedFault>();
  return {
    arm(operation, count = 1, throttle, rejection) {
      armed.set(operation, { left: count, ...(throttle ? { throttle } : {}), ...(rejection ? { rejection } : {}) });
    },
    take(operation) {
      const fault = armed.get(operation);
      if (fault === undefined || fault.left === 0) return undefined;
      if (fault.left > 0) fault.left -= 1;
      return { ...(fault.throttle ? { throttle: fault.throttle } : {}), ...(fault.rejection ? { rejection: true } : {}) };
    },
    clear() {
      armed = new Map();
    },
  };
}

const MAX_FAULT_BODY = 4096;

/** Answers `POST /_faults` and `DELETE /_faults`; returns false for any other request. */
export function handleFaultsRoute(req: IncomingMessage, res: ServerResponse, faults: Faults): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/_faults') return false;
  if (req.method === 'DELETE') {
    faults.clear();
    req.resume();
    sendJson(res, 200, { cleared: true });
    return true;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'use POST or DELETE' });
    return true;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_FAULT_BODY) req.destroy();
  });
  req.on('end', () => {
    try {
      const parsed = JSON.parse(body) as { operation?: unknown; count?: unknown; retryAfter?: unknown; kind?: unknown };
      if (typeof parsed.operation !== 'string' || parsed.operation === '') throw new Error('operation must be a non-empty string');
      if (parsed.count !== undefined && !Number.isInteger(parsed.count)) throw new Error('count must be an integer');
      if (parsed.retryAfter !== undefined && !(Number.isInteger(parsed.retryAfter) && (parsed.retryAfter as number) >= 0)) throw new Error('retryAfter must be whole seconds');
      if (parsed.kind !== undefined && parsed.kind !== 'failure' && parsed.kind !== 'rejection') throw new Error('kind must be failure or rejection');
      faults.arm(parsed.operation, parsed.count as number | undefined, parsed.retryAfter === undefined ? undefined : { retryAfterSec: parsed.retryAfter as number }, parsed.kind === 'rejection');
      sendJson(res, 200, { armed: parsed.operation, count: parsed.count ?? 1 });
    } catch (err) {
      sendJson(res, 400, { error: (err as Error).message });
    }
  });
  return true;
}
