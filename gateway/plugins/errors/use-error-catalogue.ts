import { GraphQLError, Kind, type ASTNode, type DocumentNode, type ExecutionResult, type SelectionNode, type Source, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { handleStreamOrSingleExecutionResult } from '@envelop/core';
import type { Logger } from 'pino';
import { backendMessage, ERROR_CATALOGUE, fromSourceFailure, junctionError, relocated, UpstreamError, type ErrorCode } from '../../errors.ts';

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
  /** Gives each error of one result its catalogued form: masked, logged, coded, trimmed. */
  const catalogueEach = (args: { contextValue: unknown; document: { loc?: { source: Source } } }) => {
    const request = (args.contextValue as { request?: Request }).request;
    const context = { mode, logger, requestId: request ? requestIds.get(request) : undefined };
    const source = args.document.loc?.source;
    return ({ result, setResult }: { result: ExecutionResult; setResult: (r: ExecutionResult) => void }) => {
      if (!result.errors?.length) return;
      setResult({
        ...result,
        errors: result.errors.map((e) => {
          const client = toClientError(anchored(e, source), context);
          const coded = isCatalogued(client) ? client : catalogued(client, context);
          return mode === 'production' ? withBackendMessageTrimmed(coded) : coded;
        }),
      });
    };
  };
  return {
    onValidate({ addValidationRule, validateFn, setValidationFn }) {
      addValidationRule(operationTypeServed);
      // A validation rule that throws (graphql-js 16's own single-root-field rule does, on a
      // subscription root field under @skip(if: $variable)) is the document's fault, not ours.
      setValidationFn((schema, document, ...rest) => {
        const conditional = conditionalSubscriptionRoot(document);
        if (conditional) return [invalid('A subscription\'s root field cannot be conditional: remove @skip and @include from it.', [conditional])];
        try {
          return validateFn(schema, document, ...rest);
        } catch (err) {
          return [invalid(`The document cannot be validated: ${(err as Error).message}`)];
        }
      });
    },
    // The last look at every answer, whatever raised its errors (yoga's parser and validation,
    // variable coercion, a plugin, a source): each error leaves with a code from the catalogue,
    // and, in production, a backend's own words only as their first line.
    onResultProcess({ request, result, setResult, resultProcessor, setResultProcessor }) {
      // A subscription inside a batch: a batch answers once, a stream never ends. Refused, and the
      // subscription it opened closed (it would hold a listener and the caller's budget forever).
      if (Array.isArray(result) && result.some((r) => Symbol.asyncIterator in (r as object))) {
        result = result.map((r) => {
          if (!(Symbol.asyncIterator in (r as object))) return r;
          void (r as AsyncIterableIterator<unknown>).return?.();
          return { errors: [junctionError('NOT_ACCEPTABLE', 'A subscription cannot be part of a batch: send it alone, with Accept: text/event-stream.')] };
        });
        setResult(result);
      }
      if (Symbol.asyncIterator in (result as object)) {
        // A stream (a subscription) to a client that takes none (yoga found no processor for it):
        // a catalogued 406 instead of yoga's empty one, and the subscription it opened is closed.
        if (resultProcessor) return;
        void (result as AsyncIterableIterator<unknown>).return?.();
        const refusal = junctionError('NOT_ACCEPTABLE', 'A subscription streams its events: send it with Accept: text/event-stream (GraphQL over Server-Sent Events).');
        setResult({ errors: [refusal] });
        setResultProcessor((answer, fetchAPI) => new fetchAPI.Response(JSON.stringify(answer), {
          status: 406, headers: { 'content-type': 'application/json; charset=utf-8' },
        }), 'application/json');
        return;
      }
      const requestId = requestIds.get(request);
      const outgoing = (e: GraphQLError) => {
        const coded = isCatalogued(e) ? e : catalogued(e, { mode, logger, requestId });
        return mode === 'production' ? withBackendMessageTrimmed(coded) : coded;
      };
      const one = (r: ExecutionResult): ExecutionResult => {
        if (!r.errors?.length) return r;
        const errors = r.errors.map((e) => outgoing(e as GraphQLError));
        return errors.every((e, i) => e === r.errors![i]) ? r : { ...r, errors };
      };
      setResult(Array.isArray(result) ? result.map(one) : one(result as ExecutionResult));
    },
    // Every result of an execution, and every event of a subscription (which never meets the
    // last pass: onResultProcess sees the stream, not its events), leaves with its code.
    onExecute({ args }) {
      return { onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, catalogueEach(args)) };
    },
    onSubscribe({ args }) {
      return { onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, catalogueEach(args)) };
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
  if (original instanceof UpstreamError) {
    logger.warn(
      { requestId, source: original.source, operation: original.operation, failure: original.failure, status: original.status, upstreamCode: original.upstreamCode, path: error.path },
      `upstream ${original.source} failed: ${original.message}`,
    );
  }
  const mapped = fromSourceFailure(original);
  if (mapped) return relocated(mapped, error);
  if (original === undefined || original === null || original instanceof GraphQLError) {
    // User sources' failures arrive already catalogued (gateway/composition/byo/source-errors.ts).
    // graphql-jit's own errors carry no extensions at all.
    const { code, source, upstreamCode } = (error.extensions ?? {}) as { code?: unknown; source?: unknown; upstreamCode?: unknown };
    if (typeof code === 'string' && code.startsWith('SOURCE_')) {
      logger.warn({ requestId, source, code, upstreamCode, path: error.path }, `upstream ${String(source)} failed: ${code}`);
    }
    return error;
  }
  logger.error({ requestId, err: original, path: error.path }, 'unexpected error while executing');
  const masked = junctionError('INTERNAL_SERVER_ERROR', mode === 'development' ? original.message : 'Unexpected error.');
  return relocated(new GraphQLError(masked.message, { extensions: { ...masked.extensions, ...(requestId ? { requestId } : {}) } }), error);
}

/**
 * yoga's last line of defence, for errors raised outside execution (a failing plugin, context
 * building): catalogued and GraphQL's own errors pass, anything else is masked.
 */
export function createMaskError(mode: 'development' | 'production') {
  return (error: unknown, message: string): Error => {
    if (error instanceof GraphQLError) {
      const mapped = fromSourceFailure(error.originalError);
      if (mapped) return relocated(mapped, error);
      if (!error.originalError || error.originalError instanceof GraphQLError) return error;
    }
    const detail = mode === 'development' && error instanceof Error ? error.message : message;
    return junctionError('INTERNAL_SERVER_ERROR', detail);
  };
}

/**
 * A backend's own words (SOURCE_REJECTED carries them) as production passes them on: their first
 * line, bounded (gateway/errors.ts backendMessage), since a backend's fault text can carry stack
 * frames and internal detail. Development shows them whole.
 */
function withBackendMessageTrimmed(error: GraphQLError): GraphQLError {
  if (error.extensions?.code !== 'SOURCE_REJECTED') return error;
  const message = backendMessage(error.message);
  return message === error.message ? error : relocated(new GraphQLError(message, { extensions: error.extensions }), error);
}

/** A code from the catalogue, with the status the catalogue gives it (yoga answers a mutation over GET with BAD_REQUEST and a 405). */
const isCatalogued = (error: { extensions?: Record<string, unknown> }) => {
  const code = error.extensions?.code;
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CATALOGUE, code)) return false;
  const expected = ERROR_CATALOGUE[code as ErrorCode].status as number | undefined;
  const status = (error.extensions?.http as { status?: number } | undefined)?.status;
  return expected === undefined || status === undefined || status === expected;
};

/** Codes other GraphQL servers and yoga's own parts use, and the catalogue's word for each. */
const SYNONYMS: Record<string, ErrorCode> = {
  REQUEST_ENTITY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_DOCUMENT_NOT_FOUND',
};

/**
 * An error that left some part of the server without a catalogued code, given one: a known
 * synonym, BAD_USER_INPUT for a variable that does not fit its type (graphql-js gives those no
 * code), the HTTP status's code for yoga's request errors, and INTERNAL_SERVER_ERROR (masked) for
 * anything else.
 */
function catalogued(error: GraphQLError, context: { mode: 'development' | 'production'; logger: Logger; requestId: string | undefined }): GraphQLError {
  const code = error.extensions?.code;
  const http = error.extensions?.http as { status?: number; headers?: Record<string, string> } | undefined;
  const keep = (to: ErrorCode, status?: number) =>
    relocated(junctionError(to, error.message, { ...(status !== undefined ? { status } : {}), ...(http?.headers ? { headers: http.headers } : {}) }), error);
  if (typeof code === 'string' && Object.hasOwn(SYNONYMS, code)) return keep(SYNONYMS[code]!);
  if (code === undefined && /^Variable "\$[^"]+" (got invalid value|of required type|of non-null type)/.test(error.message)) return keep('BAD_USER_INPUT', 400);
  if ((code === undefined || (typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code))) && error.path === undefined && http?.status !== undefined && http.status >= 400 && http.status < 500) {
    return keep(http.status === 405 ? 'METHOD_NOT_ALLOWED' : http.status === 413 ? 'PAYLOAD_TOO_LARGE' : http.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST', http.status);
  }
  return toClientError(new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: new Error(`uncatalogued error (code ${String(code)}): ${error.message}`) }), context);
}

/**
 * graphql-js 16 validates a `subscription` (or a `mutation`) against a schema with no such root
 * type and only fails while executing it, as an internal error; refused here as the validation
 * error it is.
 */
/**
 * A subscription's one root field is chosen before any variable is known (the GraphQL
 * specification collects it with no variables, and graphql-js 16's own rule throws on the
 * attempt): `@skip` or `@include` on it, or on a fragment at its root, is refused, as the
 * specification's newer drafts and graphql-js 17 do. Checked before the other rules run.
 */
function conditionalSubscriptionRoot(document: DocumentNode): SelectionNode | undefined {
  const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const seen = new Set<string>();
  const find = (selections: readonly SelectionNode[]): SelectionNode | undefined => {
    for (const selection of selections) {
      if (selection.directives?.some((d) => d.name.value === 'skip' || d.name.value === 'include')) return selection;
      const inner = selection.kind === Kind.INLINE_FRAGMENT
        ? selection.selectionSet.selections
        : selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)
          ? (seen.add(selection.name.value), fragments.get(selection.name.value)?.selectionSet.selections)
          : undefined;
      const found = inner && find(inner);
      if (found) return found;
    }
    return undefined;
  };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== 'subscription') continue;
    const found = find(definition.selectionSet.selections);
    if (found) return found;
  }
  return undefined;
}

/** A validation error, answered as yoga answers its own. */
const invalid = (message: string, nodes?: readonly ASTNode[]) => new GraphQLError(message, nodes ? { nodes } : {});

const operationTypeServed: ValidationRule = (context) => ({
  OperationDefinition(node) {
    const schema = context.getSchema();
    const root = node.operation === 'query' ? schema.getQueryType() : node.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
    if (!root) context.reportError(new GraphQLError(`This schema serves no ${node.operation} operations.`, { nodes: [node] }));
  },
});
