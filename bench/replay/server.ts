/**
 * Issue 19's cheap backends: one process that stands where the three demo backends stand (it
 * prints PAYMENTS_URL=, MAPS_URL=, MESSAGING_URL= as sources/demo/main.ts does) and has two modes.
 *
 * - Recording (first): a proxy to the real backends (REPLAY_PAYMENTS_UPSTREAM, REPLAY_MAPS_UPSTREAM,
 *   REPLAY_MESSAGING_UPSTREAM). Every distinct request (method, path with query, body: a SOAP
 *   envelope's operation and arguments are in its body) is kept with its reply's status,
 *   content-type and body bytes.
 * - Replaying (after `POST <any url>/_replay/freeze`): the real backends are no longer asked. A request is
 *   looked up by the same key and its pre-serialized reply written after BENCH_REPLAY_DELAY_MS (1):
 *   the backends then cost little CPU, so that the systems under test are the bottleneck. An unknown
 *   request answers 599 with a body saying so, and is counted (`GET /_replay`): a run with misses
 *   is invalid.
 *
 * Request headers are not part of the key and are not checked: auth is the real backends' to
 * verify, and they did while recording. `/_stats` and `/_stats/reset` count calls per operation as
 * the demo's do (the operation named from the request, see operationOf), in both modes.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const DELAY_MS = Number(process.env.BENCH_REPLAY_DELAY_MS ?? 1);
const NAMES = ['payments', 'maps', 'messaging'] as const;
type Name = (typeof NAMES)[number];
const ENV_NAMES: Record<Name, string> = { payments: 'PAYMENTS_URL', maps: 'MAPS_URL', messaging: 'MESSAGING_URL' };

interface Reply {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

const replies = new Map<string, Reply>();
let replaying = false;
let misses = 0;
const missed: string[] = [];
/** Per backend, as each demo backend counts its own (the bench sums the three). */
const stats = Object.fromEntries(NAMES.map((n) => [n, { total: 0, operations: {} as Record<string, number> }])) as Record<Name, { total: number; operations: Record<string, number> }>;

/**
 * A SOAP envelope's header: WS-Security's nonce and timestamp differ on every call, and the header
 * holds only credentials, so it is not part of the key (the operation and arguments are in the body).
 */
const SOAP_HEADER = /<(\w+:)?Header[\s>][\s\S]*?<\/(\w+:)?Header>/;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The name /_stats counts a call under: a SOAP operation, a GraphQL operation, else method and path. */
function operationOf(name: Name, req: IncomingMessage, body: string): string {
  if (name === 'maps' && body.includes('Envelope')) {
    const op = /<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)/.exec(body)?.[1];
    if (op) return op;
  }
  if (name === 'messaging' && body.startsWith('{')) {
    const op = /"operationName"\s*:\s*"(\w+)"/.exec(body)?.[1] ?? /(?:query|mutation)\s*(\w+)?\s*[({]\s*(\w+)/.exec(body)?.[2];
    if (op) return op;
  }
  return `${req.method} ${(req.url ?? '').split('?')[0]!.replace(/\/[a-z]{2,4}_[A-Za-z0-9]+/g, '/:id')}`;
}

function forward(upstream: string, req: IncomingMessage, body: Buffer): Promise<Reply> {
  const target = new URL(`${upstream.replace(/\/$/, '')}${req.url ?? '/'}`);
  const headers = { ...req.headers, host: target.host };
  return new Promise((resolve, reject) => {
    const out = httpRequest(target, { method: req.method, headers }, (res) => {
      readBody(res).then((bytes) => {
        const contentType = res.headers['content-type'];
        resolve({ status: res.statusCode ?? 502, headers: { ...(contentType ? { 'content-type': contentType } : {}), 'content-length': bytes.length }, body: bytes });
      }, reject);
    });
    out.on('error', reject);
    out.end(body);
  });
}

function serve(name: Name, upstream: string | undefined) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void readBody(req).then(async (body) => {
      const path = req.url ?? '/';
      if (path.endsWith('/_stats') && !path.endsWith('/_stats/reset')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats[name]));
      if (path.endsWith('/_stats/reset')) {
        stats[name] = { total: 0, operations: {} };
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      }
      if (path.endsWith('/_replay')) {
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replaying, recorded: replies.size, misses, missed: missed.slice(0, 20) }));
      }
      if (path.endsWith('/_replay/freeze')) {
        replaying = true;
        misses = 0;
        missed.length = 0;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replaying, recorded: replies.size }));
      }
      // A health probe (a gateway's readiness asking each backend, as the demo backends answer it): not an operation.
      if (req.method === 'GET' && (path === '/' || path === '')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      const text = body.toString('utf8');
      const op = operationOf(name, req, text);
      const mine = stats[name];
      mine.total += 1;
      mine.operations[op] = (mine.operations[op] ?? 0) + 1;
      const key = `${name} ${req.method} ${path}\n${name === 'maps' ? text.replace(SOAP_HEADER, '') : text}`;
      if (replaying) {
        const reply = replies.get(key);
        if (!reply) {
          misses += 1;
          if (missed.length < 20) missed.push(key.slice(0, 300));
          return void res.writeHead(599, { 'content-type': 'text/plain' }).end(`replay miss: no recorded reply for ${req.method} ${path} on ${name} (BENCH_BACKENDS=replay)`);
        }
        setTimeout(() => res.writeHead(reply.status, reply.headers).end(reply.body), DELAY_MS);
        return;
      }
      if (!upstream) throw new Error(`no upstream for ${name} while recording`);
      const reply = await forward(upstream, req, body);
      if (reply.status < 500) replies.set(key, reply);
      res.writeHead(reply.status, reply.headers).end(reply.body);
    }).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`replay proxy: ${err.message}`);
    });
  };
}

for (const name of NAMES) {
  const upstream = process.env[`REPLAY_${name.toUpperCase()}_UPSTREAM`];
  // The same path as the real backend's URL, so that the systems ask the same paths.
  const prefix = upstream ? new URL(upstream).pathname.replace(/\/$/, '') : '';
  const server = createServer({ keepAliveTimeout: 60_000 }, serve(name, upstream));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`  ${ENV_NAMES[name]}=http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}\n`);
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
