import { GraphQLError } from 'graphql';
import { junctionError, STARTUP_ERRORS, type StartupCode } from '../schema/errors.ts';
import { UnsendableValueError, UpstreamError } from './upstream/upstream-error.ts';

/** Longest backend message passed on to a client in production, in characters. */
export const MAX_BACKEND_MESSAGE_LENGTH = 200;

/**
 * A backend's own message as production passes it on: its first line only (a .NET or Java fault
 * carries its stack frames on the lines after), without control characters, at most
 * MAX_BACKEND_MESSAGE_LENGTH characters.
 */
export function backendMessage(text: string): string {
  const first = text.split(/\r?\n|\r/).map((line) => line.trim()).find((line) => line !== '') ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = first.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > MAX_BACKEND_MESSAGE_LENGTH ? `${clean.slice(0, MAX_BACKEND_MESSAGE_LENGTH - 1)}…` : clean;
}

/**
 * Turns a source client's failure into the catalogued error a client sees. The backend's HTTP
 * status is never mirrored: a failed backend gives a field error on a 200 with partial data.
 */
export function fromUpstreamError(error: UpstreamError): GraphQLError {
  const { source, operation, upstreamCode } = error;
  const options = { source, upstreamCode, originalError: error };
  switch (error.failure) {
    case 'unreachable':
      return junctionError('SOURCE_UNAVAILABLE', `The ${source} service could not be reached.`, options);
    case 'timeout':
      return junctionError('SOURCE_TIMEOUT', `The ${source} service did not answer in time.`, options);
    case 'bad_response':
      return junctionError('SOURCE_BAD_RESPONSE', `The ${source} service sent an unreadable answer.`, options);
    case 'throttled':
      return junctionError('SOURCE_RATE_LIMITED', `The ${source} service is at its rate limit; retry in ${error.retryAfterSec ?? 1} s.`, {
        ...options, extensions: { retryAfter: error.retryAfterSec ?? 1 },
      });
    default:
      if (isRejection(error)) {
        // The backend's message is about the client's own input, so it is worth passing on.
        return junctionError('SOURCE_REJECTED', error.message, options);
      }
      return junctionError('SOURCE_ERROR', `The ${source} service failed to answer ${operation}.`, options);
  }
}

/** Backend codes that mean "your input was wrong" rather than "I failed", per protocol. */
function isRejection(error: UpstreamError): boolean {
  switch (error.failure) {
    case 'rejected':
      return true;
    case 'http':
      return error.status !== undefined && error.status >= 400 && error.status < 500 && error.status !== 429;
    case 'soap_fault':
      // SOAP 1.1 says Client (or Client.Something), SOAP 1.2 Sender.
      return error.upstreamCode !== undefined && /^(Client|Sender)(\..*)?$/.test(error.upstreamCode);
    case 'graphql':
      return error.upstreamCode !== undefined && /^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED|INVALID_.+|TOO_MANY_.+)$/.test(error.upstreamCode);
    default:
      return false;
  }
}

/**
 * The catalogued error for what a source's path threw, or undefined when it is not a source's:
 * a backend's failure or refusal (UpstreamError, fromUpstreamError), or a caller's value its
 * protocol cannot carry (UnsendableValueError: BAD_USER_INPUT, nothing was sent).
 */
export function fromSourceFailure(error: unknown): GraphQLError | undefined {
  if (error instanceof UpstreamError) return fromUpstreamError(error);
  if (error instanceof UnsendableValueError) return junctionError('BAD_USER_INPUT', `An argument cannot be sent to its backend: ${error.message}`, { originalError: error });
  return undefined;
}

/** `mapped`'s message and extensions at `at`'s place in the document and the result. */
export function relocated(mapped: GraphQLError, at: GraphQLError | undefined): GraphQLError {
  return new GraphQLError(mapped.message, {
    ...(at ? { nodes: at.nodes, source: at.source, positions: at.positions, path: at.path } : {}),
    extensions: mapped.extensions,
  });
}

export { UnsendableValueError, UpstreamError };
export * from '../schema/errors.ts';

/** The start-up code an error carries, if it is one of the catalogue's. */
export function startupCode(error: unknown): StartupCode | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in STARTUP_ERRORS ? (code as StartupCode) : undefined;
}

/**
 * A catalogued error as a whole JSON answer, for the gateway's own endpoints beside GraphQL
 * (metrics, event streams): its status and headers from `extensions.http` (else `fallbackStatus`),
 * its extensions without `http`, never cached.
 */
export function errorResponse(fetchAPI: { Response: typeof Response }, error: GraphQLError, fallbackStatus: number): Response {
  const http = error.extensions.http as { status?: number; headers?: Record<string, string> } | undefined;
  const { http: _http, ...extensions } = error.extensions;
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message: error.message, extensions }] }), {
    status: http?.status ?? fallbackStatus,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...http?.headers },
  });
}
