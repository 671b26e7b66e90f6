import { DEMO_HEADERS } from '../../demo/credentials.ts';

/**
 * Small HTTP helpers for the payments tests: they drive the real HTTP surface with fetch,
 * the way the gateway does, rather than calling handlers directly.
 */
export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON; tests reach into it freely. */
  body: any;
}

export interface Request {
  method?: string;
  path: string;
  /** Sent as application/x-www-form-urlencoded, like Stripe. */
  form?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is, with whatever content-type `headers` give. */
  raw?: string;
}

export async function send(base: string, request: Request, headers: Record<string, string> = {}): Promise<Answer> {
  // The demo secret key unless the test sends its own Authorization ('' sends none).
  const allHeaders: Record<string, string> = Object.fromEntries(Object.entries({ ...DEMO_HEADERS.payments, ...headers }).filter(([, v]) => v !== ''));
  let body: string | undefined = request.raw;
  if (request.form) {
    body = new URLSearchParams(request.form).toString();
    allHeaders['content-type'] = 'application/x-www-form-urlencoded';
  } else if (request.json !== undefined) {
    body = JSON.stringify(request.json);
    allHeaders['content-type'] = 'application/json';
  }
  const response = await fetch(`${base}${request.path}`, { method: request.method ?? 'GET', headers: allHeaders, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

export { armFault, readStats, resetBackend } from '../../demo/test-surface.ts';
