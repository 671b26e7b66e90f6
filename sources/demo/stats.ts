import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Request counting for the demo backends. Tests and benchmarks read `GET /_stats` to prove how
 * many upstream calls one gateway request cost, and reset with `POST /_stats/reset`.
 */
export interface StatsSnapshot {
  /** Requests that reached an operation. Probes and `/_stats` itself are not counted. */
  total: number;
  /** Requests per operation name (an OpenAPI operationId, a SOAP operation, a GraphQL root field). */
  operations: Record<string, number>;
  /** Size of each batch request, per operation, in arrival order (ids asked for in one call). */
  batchSizes: Record<string, number[]>;
  /** Health probes (`GET /`) received; not in `total`. */
  probes: number;
  /**
   * Webhooks the backend sent (messaging's status callbacks): every POST tried, the deliveries a
   * receiver acknowledged with a 2xx, and those given up after the last retry. Present once the
   * backend has tried one, so the snapshot of a backend that sends none keeps its shape.
   */
  webhooks?: WebhookCounts;
}

export interface WebhookCounts {
  attempts: number;
  delivered: number;
  failed: number;
}

export interface Stats {
  record(operation: string, batchSize?: number): void;
  /** Notes a webhook the backend sent: one POST tried, a delivery acknowledged, or one given up. */
  webhook(outcome: keyof WebhookCounts): void;
  /** Notes a health probe (`GET /`). */
  probed(): void;
  /** Notes a credential presented to an operation; an absent one is noted as ''. */
  sawCredential(credential: string): void;
  /**
   * Every distinct credential presented (an Authorization header, a SOAP UsernameToken as
   * `wsse <username>:<password>`), accepted or not, in arrival order, at most 20, served at
   * `GET /_stats/credentials`: how tests prove the gateway sent its own credentials and never a
   * client's token.
   */
  credentials(): string[];
  snapshot(): StatsSnapshot;
  reset(): void;
}

export function createStats(): Stats {
  let total = 0;
  let probes = 0;
  let operations = new Map<string, number>();
  let batchSizes = new Map<string, number[]>();
  let credentials = new Set<string>();
  let webhooks: WebhookCounts | undefined;
  return {
    webhook(outcome) {
      webhooks ??= { attempts: 0, delivered: 0, failed: 0 };
      webhooks[outcome]++;
    },
    sawCredential(credential) {
      if (credentials.size < 20) credentials.add(credential);
    },
    probed() {
      probes++;
    },
    record(operation, batchSize) {
      total++;
      operations.set(operation, (operations.get(operation) ?? 0) + 1);
      if (batchSize !== undefined) {
        const sizes = batchSizes.get(operation) ?? [];
        sizes.push(batchSize);
        batchSizes.set(operation, sizes);
      }
    },
    snapshot() {
      return {
        total,
        probes,
        operations: Object.fromEntries(operations),
        batchSizes: Object.fromEntries([...batchSizes].map(([k, v]) => [k, [...v]])),
        ...(webhooks ? { webhooks: { ...webhooks } } : {}),
      };
    },
    credentials() {
      return [...credentials];
    },
    reset() {
      total = 0;
      probes = 0;
      operations = new Map();
      batchSizes = new Map();
      credentials = new Set();
      webhooks = undefined;
    },
  };
}

/** Answers `GET /_stats` and `POST /_stats/reset`; returns false for any other request. */
export function handleStatsRoute(req: IncomingMessage, res: ServerResponse, stats: Stats): boolean {
  const path = (req.url ?? '/').split('?')[0];
  // Counted here, the one route every demo backend asks first; answered by the backend itself.
  if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) stats.probed();
  if (path === '/_stats' && req.method === 'GET') {
    sendJson(res, 200, stats.snapshot());
    return true;
  }
  if (path === '/_stats/credentials' && req.method === 'GET') {
    sendJson(res, 200, stats.credentials());
    return true;
  }
  if (path === '/_stats/reset' && req.method === 'POST') {
    stats.reset();
    req.resume();
    sendJson(res, 200, stats.snapshot());
    return true;
  }
  return false;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
