import { GraphQLError, type ExecutionResult, type Source } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { handleStreamOrSingleExecutionResult } from '@envelop/core';
import type { Logger } from 'pino';
import { backendMessage, fromUnsendableValue, fromUpstreamError, junctionError, UnsendableValueError, UpstreamError } from '../../errors.ts';

export interface ErrorCatalogueOptions {
  mode: 'development' | 'production';
  logger: Logger;
  requestIds: WeakMap<Request, string>;
}

/**
 * Makes every error in a result a catalogued one (gateway/errors.ts) before it leaves:
 * a source client's failure becomes its SOURCE_* code with the source's name, anything
 * unexpected becomes INTERNAL_SERVER_ERROR with the request id, and the original is logged
 * with that id. Errors raised on purpose (already catalogued) pass unchanged.
 */
export function useErrorCatalogue({ mode, logger, requestIds }: ErrorCatalogueOptions): Plugin {
  return {
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const requestId = request ? requestIds.get(request) : undefined;
      const source = args.document.loc?.source;
      return {
        onExecuteDone(payload) {
          return handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            if (!result.errors?.length) return;
            setResult({ ...result, errors: result.errors.map((e) => toClientError(anchored(e, source), { mode, logger, requestId })) } as ExecutionResult);
          });
        },
      };
    },
  };
}

/**
 * graphql-jit's errors carry `locations` but no AST nodes, and yoga rebuilds every error from
 * its nodes (or source and positions) on the way out, which dropped the locations. Anchoring the
 * error to the document's source and the positions of its locations keeps them.
 */
function anchored(error: GraphQLError, source: Source | undefined): GraphQLError {
  if (error.nodes || error.positions || !error.locations?.length || !source) return error;
  const lineStarts = [0];
  for (let i = 0; i < source.body.length; i++) if (source.body[i] === '\n') lineStarts.push(i + 1);
  const positions = error.locations.map(({ line, column }) => (lineStarts[line - 1] ?? 0) + column - 1);
  return new GraphQLError(error.message, { source, positions, path: error.path, originalError: error.originalError, extensions: error.extensions });
}

export function toClientError(
  error: GraphQLError,
  { mode, logger, requestId }: { mode: 'development' | 'production'; logger: Logger; requestId: string | undefined },
): GraphQLError {
  const original = error.originalError;
  const located = { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
  if (original instanceof UpstreamError) {
    logger.warn(
      { requestId, source: original.source, operation: original.operation, failure: original.failure, status: original.status, upstreamCode: original.upstreamCode, path: error.path },
      `upstream ${original.source} failed: ${original.message}`,
    );
    const mapped = fromUpstreamError(original);
    return new GraphQLError(shown(mapped, mode), { ...located, extensions: mapped.extensions });
  }
  if (original instanceof UnsendableValueError) {
    const mapped = fromUnsendableValue(original);
    return new GraphQLError(mapped.message, { ...located, extensions: mapped.extensions });
  }
  if (original === undefined || original === null || original instanceof GraphQLError) {
    // User sources' failures arrive already catalogued (gateway/composition/byo/source-errors.ts).
    const { code, source, upstreamCode } = error.extensions as { code?: unknown; source?: unknown; upstreamCode?: unknown };
    if (typeof code === 'string' && code.startsWith('SOURCE_')) {
      logger.warn({ requestId, source, code, upstreamCode, path: error.path }, `upstream ${String(source)} failed: ${code}`);
      const message = shown(error, mode);
      if (message !== error.message) return new GraphQLError(message, { ...located, extensions: error.extensions });
    }
    return error;
  }
  logger.error({ requestId, err: original, path: error.path }, 'unexpected error while executing');
  const masked = junctionError('INTERNAL_SERVER_ERROR', mode === 'development' ? original.message : 'Unexpected error.');
  return new GraphQLError(masked.message, { ...located, extensions: { ...masked.extensions, ...(requestId ? { requestId } : {}) } });
}

/**
 * yoga's last line of defence, for errors raised outside execution (a failing plugin, context
 * building): catalogued and GraphQL's own errors pass, anything else is masked.
 */
export function createMaskError(mode: 'development' | 'production') {
  return (error: unknown, message: string): Error => {
    if (error instanceof GraphQLError) {
      const located = { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
      if (error.originalError instanceof UpstreamError) {
        const mapped = fromUpstreamError(error.originalError);
        return new GraphQLError(shown(mapped, mode), { ...located, extensions: mapped.extensions });
      }
      if (error.originalError instanceof UnsendableValueError) {
        const mapped = fromUnsendableValue(error.originalError);
        return new GraphQLError(mapped.message, { ...located, extensions: mapped.extensions });
      }
      if (!error.originalError || error.originalError instanceof GraphQLError) return error;
    }
    const detail = mode === 'development' && error instanceof Error ? error.message : message;
    return junctionError('INTERNAL_SERVER_ERROR', detail);
  };
}

/**
 * The message a client sees. A backend's own words (SOURCE_REJECTED carries them) go out in
 * full in development; in production only their first line, bounded, since a backend's fault text
 * can carry stack frames and internal detail (gateway/errors.ts backendMessage).
 */
function shown(error: GraphQLError, mode: 'development' | 'production'): string {
  return mode === 'production' && error.extensions?.code === 'SOURCE_REJECTED' ? backendMessage(error.message) : error.message;
}
