import type { Plugin } from 'graphql-yoga';
import { createLoaders, type SourceClients } from '../../../sources/index.ts';
import type { JunctionContext } from '../../../schema/context.ts';
import type { EntityCache } from '../../upstream/entity-cache.ts';

/**
 * Puts fresh DataLoaders and the source clients on each request's context. Loaders live
 * exactly one request: batching and de-duplication happen within it and never across users.
 */
export function useLoaders(sources: SourceClients, cache: EntityCache | undefined, invalidate: JunctionContext['invalidate']): Plugin<JunctionContext> {
  return {
    onContextBuilding({ extendContext }) {
      extendContext({ loaders: createLoaders(sources, cache), sources, invalidate });
    },
  };
}
