import { parse, type DocumentNode, type GraphQLFieldResolver } from 'graphql';
import type { SourceOperations } from '../../schema/contract.ts';
import type { LoadedSource } from '../composition/byo/types.ts';
import { UpstreamError } from '../upstream/upstream-error.ts';
import { firstField } from './graphql.ts';

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
  // Each document parsed once, with the name its calls are counted by (its first root field).
  const documents = new Map<string, { document: DocumentNode; operation: string }>();
  const documentOf = (text: string) => {
    let parsed = documents.get(text);
    if (!parsed) {
      const document = parse(text);
      parsed = { document, operation: firstField(document) ?? 'graphql' };
      documents.set(text, parsed);
    }
    return parsed;
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
      const { document: parsed, operation } = documentOf(document);
      const result = await executor({ document: parsed, variables, context });
      if (!('data' in result) && !('errors' in result)) throw new Error(`source ${name} answered a document with a stream`);
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
