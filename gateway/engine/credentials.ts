import { z } from 'zod';
import { callUpstream, type SourceClientOptions } from '../upstream/upstream-fetch.ts';
import { UpstreamError } from '../upstream/upstream-error.ts';


/** An HTTP Basic `Authorization` value. */
export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/**
 * The gateway's own credentials for a declared source, in the source's entry (`auth:`), of every
 * kind the corpus's providers use. A caller's credentials are never sent to a backend: these are
 * the only ones that are.
 *
 * ```yaml
 * auth: { bearer: '{env.STRIPE_KEY}' }                                   # Authorization: Bearer
 * auth: { basic: { username: '{env.SID}', password: '{env.TOKEN}' } }    # Twilio
 * auth: { apiKey: { in: query, name: key, value: '{env.GOOGLE_KEY}' } }     # Google Maps
 * auth: { apiKey: { in: header, name: X-Api-Key, value: '{env.KEY}' } }
 * auth:                                                                  # PayPal
 *   oauth2: { tokenUrl: https://api-m.paypal.com/v1/oauth2/token, clientId: '{env.ID}', clientSecret: '{env.SECRET}' }
 * ```
 * SOAP sources take WS-Security in their handler's `security` option.
 */
export const authSchema = z.union([
  z.strictObject({ bearer: z.string().min(1) }),
  z.strictObject({ basic: z.strictObject({ username: z.string(), password: z.string() }) }),
  z.strictObject({
    apiKey: z.strictObject({ in: z.enum(['header', 'query']), name: z.string().min(1), value: z.string().min(1) }),
  }),
  z.strictObject({
    oauth2: z.strictObject({
      tokenUrl: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
      clientId: z.string().min(1),
      clientSecret: z.string().min(1),
      scope: z.string().optional(),
      audience: z.string().optional(),
      /** How the client authenticates to the token endpoint: HTTP Basic (RFC 6749's default) or in the body. */
      clientAuth: z.enum(['basic', 'body']).optional(),
    }),
  }),
]);

export type AuthConfig = z.infer<typeof authSchema>;

/** What a call carries for the gateway's credentials, worked out (and for OAuth 2 fetched) per call. */
export interface SourceCredentials {
  /**
   * Headers to send (lowercase names): at once when they are known (a static key, a token still
   * fresh), else once the token has been fetched. `context`: the GraphQL context of the request
   * the call is for; a token fetched for it runs under that request's deadline, span and debug record.
   */
  headers(context?: object): Record<string, string> | Promise<Record<string, string>>;
  /** Query parameters to add. */
  query: Record<string, string>;
  /**
   * Told when the backend answered 401 to a call sent with `sent` (the headers `headers()` gave
   * it): the token that call carried is dropped, unless a newer one has replaced it meanwhile;
   * true when a retry may succeed (it will carry another token).
   */
  rejected(sent: Record<string, string>): boolean;
}

/** A token is renewed this long before it expires, so no call goes out with one about to lapse. */
export const TOKEN_RENEW_BEFORE_MS = 60_000;

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NONE: SourceCredentials = { headers: () => NO_HEADERS, query: {}, rejected: () => false };

export function sourceCredentials(source: string, auth: AuthConfig | undefined, client: () => SourceClientOptions): SourceCredentials {
  if (!auth) return NONE;
  if ('bearer' in auth) {
    const headers = { authorization: `Bearer ${auth.bearer}` };
    return { ...NONE, headers: () => headers };
  }
  if ('basic' in auth) {
    const headers = { authorization: basicAuth(auth.basic.username, auth.basic.password) };
    return { ...NONE, headers: () => headers };
  }
  if ('apiKey' in auth) {
    const { in: where, name, value } = auth.apiKey;
    if (where === 'query') return { ...NONE, query: { [name]: value } };
    const headers = { [name.toLowerCase()]: value };
    return { ...NONE, headers: () => headers };
  }
  return oauth2ClientCredentials(source, auth.oauth2, client);
}

/**
 * OAuth 2 client credentials (RFC 6749 4.4): the gateway fetches an access token for itself,
 * keeps it until shortly before `expires_in` says it lapses, and shares one fetch among every call
 * that needs a token meanwhile. A 401 from the backend drops the token, and the call is tried once
 * more with a fresh one.
 */
function oauth2ClientCredentials(
  source: string,
  options: Extract<AuthConfig, { oauth2: unknown }>['oauth2'],
  client: () => SourceClientOptions,
): SourceCredentials {
  let token: { value: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const fetchToken = async (context: object | undefined): Promise<string> => {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (options.scope) form.set('scope', options.scope);
    if (options.audience) form.set('audience', options.audience);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (options.clientAuth === 'body') {
      form.set('client_id', options.clientId);
      form.set('client_secret', options.clientSecret);
    } else {
      headers.authorization = basicAuth(encodeURIComponent(options.clientId), encodeURIComponent(options.clientSecret));
    }
    const { headers: _sourceHeaders, ...transport } = client();
    const response = await callUpstream(
      { ...(context ? { context } : {}), source, operation: 'oauth2-token', url: options.tokenUrl, init: { method: 'POST', headers, body: form.toString() } },
      { ...transport, url: options.tokenUrl },
    );
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    try {
      body = JSON.parse(response.text);
    } catch {
      body = undefined;
    }
    if (response.status !== 200 || typeof body?.access_token !== 'string') {
      throw new UpstreamError(`${source}: the token endpoint refused the gateway's client credentials (HTTP ${response.status})`, {
        source, operation: 'oauth2-token', failure: 'unreachable', status: response.status,
        ...(typeof body?.error === 'string' ? { upstreamCode: body.error } : {}),
      });
    }
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 3_600_000;
    token = { value: body.access_token, renewAt: Date.now() + Math.max(lifetimeMs / 2, lifetimeMs - TOKEN_RENEW_BEFORE_MS) };
    return token.value;
  };
  return {
    query: {},
    headers(context) {
      if (token && Date.now() < token.renewAt) return { authorization: `Bearer ${token.value}` };
      // Fetched once for every call waiting, under the first one's request.
      pending ??= fetchToken(context).finally(() => {
        pending = undefined;
      });
      return pending.then((value) => ({ authorization: `Bearer ${value}` }));
    },
    rejected(sent) {
      const refused = sent.authorization;
      if (refused === undefined) return false;
      // Only the token this call carried: calls refused with the same one arrive one after the
      // other, and the first one's retry may already have fetched (or be fetching) a new token,
      // which must be neither thrown away nor fetched again; each of them is retried with it.
      if (token !== undefined && `Bearer ${token.value}` === refused) token = undefined;
      return true;
    },
  };
}
