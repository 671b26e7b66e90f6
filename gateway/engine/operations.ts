import { parse, type DocumentNode, type GraphQLFieldResolver } from 'graphql';
import type { SourceOperations } from '../../schema/contract.ts';
import type { LoadedSource } from '../composition/byo/types.ts';
import { UpstreamError } from '../upstream/upstream-error.ts';

/** What a contract's resolvers reach a source through, bound to one request's context. */
export type OperationsFor = (context: object) => SourceOperations;

/**
 * A source's operations for code: the root fields of its compiled contract, run by the same
 * engine resolvers a declared source's fields run on (engine/rest.ts builds and sends each REST
 * request; the SOAP handler writes each envelope; engine/graphql.ts sends each document), so the
 * call goes through the source's runtime: pool, deadline, retries, breaker, quota, credentials.
 */
export function sourceOperations(source: LoadedSource): OperationsFor {
  const roots = [source.schema.getQueryType(), source.schema.getMutationType()];
  const resolvers = new Map<string, GraphQLFieldResolver<unknown, object>>();
  for (const root of roots) {
    for (const field of Object.values(root?.getFields() ?? {})) if (field.resolve) resolvers.set(field.name, field.resolve);
  }
  const documents = new Map<string, DocumentNode>();
  const documentOf = (text: string) => {
    let document = documents.get(text);
    if (!document) {
      document = parse(text);
      documents.set(text, document);
    }
    return document;
  };
  const { name, executor } = source;
  return (context) => ({
    name,
    async call<T>(operation: string, args: Record<string, unknown> = {}) {
      const resolve = resolvers.get(operation);
      if (!resolve) throw new Error(`source ${name} has no operation ${operation} (it has ${[...resolvers.keys()].join(', ') || 'none'})`);
      return (await resolve(undefined, args, context, undefined as never)) as T;
    },
    async request<T>(document: string, variables: Record<string, unknown> = {}) {
      if (!executor) throw new Error(`source ${name} is not a GraphQL source: use call()`);
      const result = await executor({ document: documentOf(document), variables, context });
      if (!('data' in result) && !('errors' in result)) throw new Error(`source ${name} answered a document with a stream`);
      const operation = firstField(documentOf(document)) ?? 'graphql';
      const first = result.errors?.[0];
      if (first) {
        const code = first.extensions?.code;
        throw new UpstreamError(first.message || 'GraphQL error without a message', {
          source: name, operation, failure: 'graphql', ...(typeof code === 'string' ? { upstreamCode: code } : {}),
        });
      }
      if (!result.data || typeof result.data !== 'object') {
        throw new UpstreamError(`${name} answered ${operation} without data or errors`, { source: name, operation, failure: 'bad_response' });
      }
      return result.data as T;
    },
  });
}

function firstField(document: DocumentNode): string | undefined {
  for (const definition of document.definitions) {
    if (definition.kind !== 'OperationDefinition') continue;
    const first = definition.selectionSet.selections[0];
    return first?.kind === 'Field' ? first.name.value : undefined;
  }
  return undefined;
}
