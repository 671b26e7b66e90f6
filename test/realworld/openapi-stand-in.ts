import { createServer, type IncomingHttpHeaders } from 'node:http';
import { closeServer, listen } from '../../sources/demo/server.ts';
import { deref, successResponse } from './openapi-examples.ts';

type Json = Record<string, any>;

/** One request as the backend received it, before any parsing that could hide a mistake. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, still percent-encoded: `/2010-04-01/Accounts/AC…/Messages.json`. */
  path: string;
  /** The document's path template it matched (`/v1/customers/{customer}`), if any. */
  template: string | undefined;
  query: URLSearchParams;
  /** Lower-cased names, as Node gives them. */
  headers: IncomingHttpHeaders;
  contentType: string | undefined;
  /** The body exactly as sent (UTF-8). */
  body: string;
}

export interface OpenApiStandIn {
  /** http://127.0.0.1:<port> */
  url: string;
  /** `url` plus the document's server path or Swagger basePath: what the gateway should call. */
  endpoint: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** An answer a test chooses instead of the document's own. */
export interface StandInAnswer {
  status: number;
  /** Sent as JSON (a string as it is); undefined: no body. */
  body?: unknown;
  /** Default `content-type: application/json` when there is a body. */
  headers?: Record<string, string>;
}

export interface StandInOptions {
  /** Stripe's `fixtures3.json` `resources`: answered for response schemas with that `x-resourceId`. */
  fixtures?: Json;
  /**
   * Answers for some requests (an expanded object, a failure in a 200, a 429): called with each
   * request once recorded; undefined lets the document's own answer go.
   */
  respond?: (request: RecordedRequest) => StandInAnswer | undefined;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** The path part of a server URL (`https://api.example.com/v2/` -> `/v2`), without a trailing slash. */
function serverPrefix(server: Json | undefined): string {
  if (typeof server?.url !== 'string') return '';
  const url = server.url.replace(/\{[^}]+\}/g, 'x');
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? new URL(url).pathname : url;
  return path.replace(/\/+$/, '');
}

interface Route {
  template: string;
  item: Json;
  pattern: RegExp;
  params: number;
}

/** Each path template as a regular expression behind its server prefix; literal paths win over templated ones. */
function routes(document: Json): Route[] {
  const documentPrefix = document.swagger ? String(document.basePath ?? '').replace(/\/+$/, '') : serverPrefix(document.servers?.[0]);
  return Object.entries<Json>(document.paths ?? {})
    .map(([template, item]) => {
      const prefix = item.servers?.[0] ? serverPrefix(item.servers[0]) : documentPrefix;
      const source = (prefix + template)
        .split(/(\{[^}]+\})/)
        .map((part) => (part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return { template, item, pattern: new RegExp(`^${source}$`), params: (template.match(/\{/g) ?? []).length };
    })
    .sort((a, b) => a.params - b.params || b.template.length - a.template.length);
}

/**
 * A local backend for any OpenAPI 3 / Swagger 2 document: it matches method and path template,
 * records the request, and answers the operation's success response from the document's own
 * examples (see openapi-examples.ts). Unknown paths get 404, unknown methods 405, both recorded.
 */
export async function startOpenApiStandIn(document: Json, options: StandInOptions = {}): Promise<OpenApiStandIn> {
  const table = routes(document);
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const method = (req.method ?? 'GET').toLowerCase();
      const route = table.find((r) => r.pattern.test(url.pathname));
      requests.push({
        method: method.toUpperCase(),
        path: url.pathname,
        template: route?.template,
        query: url.searchParams,
        headers: req.headers,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const chosen = options.respond?.(requests.at(-1)!);
      if (chosen) {
        const text = chosen.body === undefined ? undefined : typeof chosen.body === 'string' ? chosen.body : JSON.stringify(chosen.body);
        res.writeHead(chosen.status, { ...(text === undefined ? {} : { 'content-type': 'application/json' }), ...chosen.headers });
        res.end(text);
        return;
      }
      const operation = route && METHODS.has(method) ? deref(document, route.item[method]) : undefined;
      if (!operation) {
        res.writeHead(route ? 405 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: route ? `no ${method} on ${route.template}` : `no path matches ${url.pathname}` }));
        return;
      }
      const answer = successResponse(document, operation, options.fixtures);
      if (answer.contentType === undefined || answer.body === undefined) {
        res.writeHead(answer.status === 200 ? 204 : answer.status);
        res.end();
        return;
      }
      const text = typeof answer.body === 'string' && !/json/i.test(answer.contentType) ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': /json/i.test(answer.contentType) ? 'application/json' : answer.contentType });
      res.end(text);
    });
  });
  const url = await listen(server);
  const prefix = document.swagger ? String(document.basePath ?? '').replace(/\/+$/, '') : serverPrefix(document.servers?.[0]);
  return { url, endpoint: `${url}${prefix}`, requests, close: () => closeServer(server) };
}
