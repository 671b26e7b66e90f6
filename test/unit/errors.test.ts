import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ERROR_CATALOGUE, fromUpstreamError, STARTUP_ERRORS, UpstreamError } from '../../gateway/errors.ts';
import { createMaskError, toClientError } from '../../gateway/plugins/errors/use-error-catalogue.ts';

const silent = pino({ level: 'silent' });
const upstream = (failure: UpstreamError['failure'], extra: Partial<{ status: number; upstreamCode: string }> = {}) =>
  new UpstreamError('backend said no', { source: 'payments', operation: 'getPayment', failure, ...extra });

describe('the error catalogue', () => {
  it('documents every code in the README error table, and documents no code that does not exist', () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('## Error codes'));
    const documented = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
  });

  it('documents every start-up code in the README\'s start-up table, and none that does not exist', () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('## Start-up errors'), readme.indexOf('## Error codes'));
    const documented = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(STARTUP_ERRORS).sort());
  });

  it('holds each code\'s message template and status, and the README shows both', () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('## Error codes'));
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(entry.message, code).not.toBe('');
      const row = table.split('\n').find((line) => line.startsWith(`| \`${code}\` |`))!;
      expect(row, code).toContain(entry.message.replace(/\|/g, '\\|'));
      if (entry.status !== undefined) expect(row, code).toContain(String(entry.status));
    }
    const startup = readme.slice(readme.indexOf('## Start-up errors'), readme.indexOf('## Error codes'));
    for (const [code, entry] of Object.entries(STARTUP_ERRORS)) {
      expect(entry.message).toBe(`Junction failed to start [${code}]: {what, where}`);
      expect(entry.exitStatus).toBe(1);
      expect(startup).toContain(`| \`${code}\` | 1 | \`${entry.message}\` |`);
    }
  });

  it('says what its templates say: each upstream failure\'s message fills its code\'s template', () => {
    const fits = (code: keyof typeof ERROR_CATALOGUE, message: string) => {
      const pattern = ERROR_CATALOGUE[code].message.split(/\{[^}]*\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('.+');
      return new RegExp(`^${pattern}$`).test(message);
    };
    for (const failure of ['unreachable', 'timeout', 'bad_response', 'throttled', 'http', 'rejected'] as const) {
      const error = fromUpstreamError(upstream(failure, failure === 'http' ? { status: 503 } : {}));
      expect(fits(error.extensions.code as keyof typeof ERROR_CATALOGUE, error.message), `${failure}: ${error.message}`).toBe(true);
      // Filled in: no placeholder is left in what a client reads.
      expect(error.message).not.toMatch(/\{[^}]*\}/);
    }
    expect(fromUpstreamError(upstream('unreachable')).message).toBe('The payments service could not be reached.');
    expect(fromUpstreamError(upstream('throttled')).message).toBe('The payments service is at its rate limit; retry in 1 s.');
    expect(fromUpstreamError(upstream('http', { status: 503 })).message).toBe('The payments service failed to answer getPayment.');
  });

  it('maps each kind of upstream failure to its code, keeping the backend\'s own code', () => {
    expect(fromUpstreamError(upstream('unreachable')).extensions).toEqual({ code: 'SOURCE_UNAVAILABLE', source: 'payments' });
    expect(fromUpstreamError(upstream('timeout')).extensions.code).toBe('SOURCE_TIMEOUT');
    expect(fromUpstreamError(upstream('bad_response')).extensions.code).toBe('SOURCE_BAD_RESPONSE');
    expect(fromUpstreamError(upstream('http', { status: 503, upstreamCode: 'api_error' })).extensions).toEqual({ code: 'SOURCE_ERROR', source: 'payments', upstreamCode: 'api_error' });
    expect(fromUpstreamError(upstream('http', { status: 429 })).extensions.code).toBe('SOURCE_ERROR');
    const rejected = fromUpstreamError(upstream('http', { status: 400, upstreamCode: 'resource_missing' }));
    expect(rejected.extensions.code).toBe('SOURCE_REJECTED');
    expect(rejected.message).toBe('backend said no');
    expect(fromUpstreamError(upstream('soap_fault', { upstreamCode: 'Client' })).extensions.code).toBe('SOURCE_REJECTED');
    expect(fromUpstreamError(upstream('soap_fault', { upstreamCode: 'Server' })).extensions.code).toBe('SOURCE_ERROR');
    expect(fromUpstreamError(upstream('graphql', { upstreamCode: 'INVALID_PHONE_NUMBER' })).extensions.code).toBe('SOURCE_REJECTED');
    expect(fromUpstreamError(upstream('graphql', { upstreamCode: 'INTERNAL' })).extensions.code).toBe('SOURCE_ERROR');
  });

  it('never puts the backend\'s HTTP status on the gateway\'s response', () => {
    const error = fromUpstreamError(upstream('http', { status: 503 }));
    expect(error.extensions.http).toBeUndefined();
  });
});

describe('masking', () => {
  const located = (original: Error) => new GraphQLError(original.message, { path: ['payment'], originalError: original });

  it('masks an unexpected error in production, with the request id to find it in the log', () => {
    const error = toClientError(located(new TypeError("Cannot read properties of undefined (reading 'secret')")), { mode: 'production', logger: silent, requestId: 'req-1' });
    expect(error.message).toBe('Unexpected error.');
    expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: 'req-1' });
    expect(error.path).toEqual(['payment']);
  });

  it('shows the message, but no stack, in development', () => {
    const error = toClientError(located(new TypeError('boom')), { mode: 'development', logger: silent, requestId: 'req-2' });
    expect(error.message).toBe('boom');
    expect(JSON.stringify(error.toJSON())).not.toContain('stack');
  });

  it('lets catalogued errors through untouched', () => {
    const chosen = new GraphQLError('"first" must be between 1 and 100; got 0.', { extensions: { code: 'BAD_USER_INPUT' } });
    expect(toClientError(chosen, { mode: 'production', logger: silent, requestId: undefined })).toBe(chosen);
  });

  it('yoga\'s backstop masks anything that is not a GraphQL error', () => {
    const mask = createMaskError('production');
    expect((mask(new Error('database password is hunter2'), 'Unexpected error.') as GraphQLError).toJSON()).toEqual({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });
});
