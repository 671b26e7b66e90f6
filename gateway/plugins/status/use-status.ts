import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import { refuseUnlessDeveloper } from '../security/developer-only.ts';
import type { Principal } from '../../../schema/principal.ts';
import { statusReport, type StatusInputs } from './report.ts';
import { renderStatusPage } from './render.ts';

/**
 * `GET /status`: how the gateway and each of its sources are doing, as a page a person reads at a
 * glance (render.ts), or as JSON with the same figures (`Accept: application/json`, or
 * `/status.json`). In development anyone may look; in production only a developer
 * (`junction:developer`), as for `/metrics`: it names the backends and their failures.
 */

export interface StatusOptions extends StatusInputs {
  /** Who a request is (verified): in production the page answers developers only. */
  principalOf(request: Request): Promise<Principal>;
}

/** Nothing on the page may come from elsewhere: inline style and inline SVG only, no script, no frame. */
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function useStatus(options: StatusOptions): Plugin {
  type StatusRequest = Parameters<NonNullable<Plugin['onRequest']>>[0];
  const serve = async ({ request, url, endResponse, fetchAPI }: StatusRequest): Promise<void> => {
    if (options.mode !== 'development') {
      const refusal = await refuseUnlessDeveloper(options.principalOf, request, fetchAPI,
        () => junctionError('STATUS_FORBIDDEN', 'The status page is shown to developers (junction:developer) only in production.'));
      if (refusal) {
        endResponse(refusal);
        return;
      }
    }
    const report = await statusReport(options);
    const accept = request.headers.get('accept') ?? '';
    const json = url.pathname === '/status.json' || (accept.includes('application/json') && !accept.includes('text/html'));
    const headers = {
      // Figures of this instance, now: no cache, shared or private, may keep them.
      'cache-control': 'no-store',
      vary: 'accept',
      'x-content-type-options': 'nosniff',
      ...(json
        ? { 'content-type': 'application/json; charset=utf-8' }
        : { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_POLICY, 'referrer-policy': 'no-referrer' }),
    };
    const body = json ? JSON.stringify(report) : renderStatusPage(report);
    endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : body, { status: 200, headers }));
  };
  return {
    // Synchronous for every other request: only the page itself goes on asynchronously.
    onRequest(payload) {
      const { pathname } = payload.url;
      if (pathname !== '/status' && pathname !== '/status.json') return undefined;
      if (payload.request.method !== 'GET' && payload.request.method !== 'HEAD') return undefined;
      return serve(payload);
    },
  };
}
