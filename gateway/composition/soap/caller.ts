/**
 * One SOAP call per root field execution: envelope out through `callUpstream` (one deadline for
 * headers and body, a size cap), reply in through reply.ts. Every failure is an UpstreamError.
 */
import { UpstreamError } from '../../upstream/upstream-error.ts';
import { callUpstream } from '../../upstream/upstream-fetch.ts';
import { isSoapSenderFault } from '../../upstream/xml.ts';
import { NamespaceTable, httpHeaders, writeBody, writeEnvelope } from './envelope.ts';
import type { OperationModel } from './model.ts';
import { decodeResult, readReply } from './reply.ts';
import type { Invoke } from './schema-builder.ts';
import { batchSizeOf, type SourceRuntime } from '../../engine/runtime.ts';
import { usernameTokenHeader, type TokenEnvironment, type UsernameTokenOptions } from '../../upstream/ws-security.ts';

export interface CallerOptions {
  source: string;
  endpoint?: string;
  operationHeaders?: Record<string, string>;
  soapHeaders?: readonly string[];
  security?: UsernameTokenOptions;
  timeoutMs?: number;
  maxResponseBytes?: number;
  fetch?: typeof globalThis.fetch;
  /** Clock and nonce for WS-Security (tests). */
  tokenEnvironment?: TokenEnvironment;
  /** The source's runtime (pool, deadline, breaker, credentials); without it, a bare call. */
  runtime?: SourceRuntime;
}

/** The envelope and HTTP headers for one call (exported for tests and tooling). */
export function buildRequest(op: OperationModel, args: Record<string, unknown>, options: CallerOptions): { headers: Headers; body: string } {
  const namespaces = new NamespaceTable();
  const body = writeBody(op.input, args, op.soapVersion, namespaces);
  const blocks = [...(options.soapHeaders ?? [])];
  if (options.security) blocks.unshift(usernameTokenHeader(options.security, 'soap', options.tokenEnvironment));
  const headers = new Headers(options.operationHeaders);
  // The protocol's own headers win over configured ones: a wrong Content-Type or SOAPAction
  // would make every call fail in ways that are hard to trace back to configuration.
  for (const [name, value] of Object.entries(httpHeaders(op.soapVersion, op.soapAction))) headers.set(name, value);
  return { headers, body: writeEnvelope(op.soapVersion, blocks, body, namespaces) };
}

export function createInvoker(options: CallerOptions): Invoke {
  return async (op, args, read = false, requestContext) => {
    const context = { source: options.source, operation: op.name };
    const url = options.endpoint ?? op.address;
    if (!url || !/^https?:\/\//i.test(url)) {
      throw new UpstreamError(`${options.source} has no usable endpoint for ${op.name} (the WSDL says "${url ?? ''}"): set the endpoint option`, {
        ...context, failure: 'unreachable',
      });
    }
    const { headers, body } = buildRequest(op, args, options);
    const batchSize = options.runtime ? batchSizeOf(options.runtime.keyArgs, args) : undefined;
    const call = { ...(requestContext ? { context: requestContext } : {}), operation: op.name, url, init: { method: 'POST', headers, body }, rejected: (r: { text: string }) => isSoapSenderFault(r.text), read, ...(batchSize !== undefined ? { batchSize } : {}) };
    const response = options.runtime
      ? await options.runtime.call(call)
      : await callUpstream({ ...call, source: options.source }, { url, timeoutMs: options.timeoutMs, maxResponseBytes: options.maxResponseBytes, fetch: options.fetch });
    const replyBody = readReply(response, context);
    return decodeResult(op.output, replyBody, context, response.status);
  };
}
