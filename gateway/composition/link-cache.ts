import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import { getNamedType, isObjectType, isInterfaceType, Kind, print, type GraphQLResolveInfo, type GraphQLSchema, type SelectionSetNode } from 'graphql';
import { getDirective } from '@graphql-tools/utils';
import { getUnpathedErrors, isExternalObject } from '@graphql-tools/delegate';
import type { EntityCache } from '../upstream/entity-cache.ts';
import { ANONYMOUS, type Principal } from '../../schema/principal.ts';

/**
 * The entity cache in front of declared batched links (`keyField`/`keysArg`): each key's value is
 * kept for the `@cacheControl(maxAge)` of the link's field (or of the type it returns), so a later
 * request, whatever else it asks, is answered from the store for the keys it holds and calls the
 * backend only for the others, in one batch; a key being fetched by another request is waited for
 * (gateway/upstream/entity-cache.ts). Without `@cacheControl` nothing is kept.
 *
 * Who sees an entry: values fetched with the gateway's credentials do not depend on the caller,
 * and who may read the field is decided before (authorization wraps the link); a `PRIVATE` scope,
 * or a source told who calls (`forwardIdentity`), keeps entries per caller.
 *
 * Kept per shape of the link's selection (aliases included: a kept value is keyed by response
 * key, and read so); not for selections that spread named fragments.
 */
export interface LinkCall {
  (options: LinkOptions): unknown;
}

export interface LinkOptions {
  context?: unknown;
  info?: GraphQLResolveInfo;
  key?: unknown;
  argsFromKeys?: (keys: readonly unknown[]) => Record<string, unknown>;
  [option: string]: unknown;
}

interface Policy {
  ttlMs: number;
  private: boolean;
}

const NONE: Policy = { ttlMs: 0, private: false };

/**
 * Whether a selection spreads a named fragment anywhere: its printed form does not say what the
 * fragment holds (two documents may define one name differently), so it cannot key an entry.
 */
function spreadsFragment(selectionSet: SelectionSetNode | undefined): boolean {
  if (!selectionSet) return false;
  return selectionSet.selections.some((s) =>
    s.kind === Kind.FRAGMENT_SPREAD || ((s.kind === Kind.FIELD || s.kind === Kind.INLINE_FRAGMENT) && spreadsFragment(s.selectionSet)));
}

/** A delegated value (or list of them) that came with errors for fields inside it. */
function carriesErrors(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(carriesErrors);
  return typeof value === 'object' && value !== null && isExternalObject(value) && getUnpathedErrors(value).length > 0;
}

export function createLinkCache(schema: GraphQLSchema, cache: EntityCache, options: { perCaller: (source: string) => boolean }) {
  const policies = new Map<string, Policy>();
  const policyOf = (info: GraphQLResolveInfo): Policy => {
    const coordinate = `${info.parentType.name}.${info.fieldName}`;
    let policy = policies.get(coordinate);
    if (!policy) {
      const field = info.parentType.getFields()[info.fieldName];
      const returned = field ? getNamedType(field.type) : undefined;
      const spec = (field && getDirective(schema, field, 'cacheControl')?.[0])
        ?? (returned && (isObjectType(returned) || isInterfaceType(returned)) ? getDirective(schema, returned, 'cacheControl')?.[0] : undefined);
      policy = typeof spec?.maxAge === 'number' && spec.maxAge > 0 ? { ttlMs: spec.maxAge * 1000, private: spec.scope === 'PRIVATE' } : NONE;
      policies.set(coordinate, policy);
    }
    return policy;
  };
  // The shape a link asks for, printed once per document's field nodes.
  const shapes = new WeakMap<object, string | null>();
  const shapeOf = (info: GraphQLResolveInfo): string | null => {
    let shape = shapes.get(info.fieldNodes);
    if (shape === undefined) {
      shape = info.fieldNodes.some((n) => spreadsFragment(n.selectionSet)) ? null : info.fieldNodes.map((n) => (n.selectionSet ? print(n.selectionSet) : '')).join('|');
      shapes.set(info.fieldNodes, shape);
    }
    return shape;
  };
  // Per request (context), per link shape: one loader whose batch asks the store first.
  const loaders = new WeakMap<object, Map<string, DataLoader<unknown, unknown>>>();

  return function cached(source: string, field: string, call: LinkCall): LinkCall {
    return (o) => {
      const { info, context, argsFromKeys } = o;
      if (!info || !argsFromKeys || o.key == null || typeof context !== 'object' || context === null) return call(o);
      const policy = policyOf(info);
      if (policy.ttlMs === 0) return call(o);
      const shape = shapeOf(info);
      if (shape === null) return call(o);
      const principal = (context as { principal?: Principal }).principal ?? ANONYMOUS;
      const who = policy.private || options.perCaller(source) ? `${principal.kind}:${principal.kind === 'anonymous' ? '' : principal.id}:${[...principal.scopes].sort().join(' ')}` : '*';
      const linkKey = `${source}.${field}|${shape}|${JSON.stringify(argsFromKeys([]))}|${who}`;
      let perRequest = loaders.get(context);
      if (!perRequest) loaders.set(context, (perRequest = new Map()));
      let loader = perRequest.get(linkKey);
      if (!loader) {
        const namespace = `link:${createHash('sha256').update(linkKey).digest('base64url').slice(0, 22)}`;
        // The misses go back through the link itself, in one tick: its own loader batches them.
        const load = (keys: readonly unknown[]) => Promise.all(keys.map((key) => Promise.resolve(call({ ...o, key })).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
        // A value that came with errors inside it is answered, not kept: kept as JSON it would lose them.
        const keep = (value: unknown) => !carriesErrors(value);
        loader = new DataLoader(cache.batch({ source, namespace, ttlMs: policy.ttlMs, keyOf: (key) => JSON.stringify(key), keep, context }, load), { cache: false });
        perRequest.set(linkKey, loader);
      }
      return loader.load(o.key);
    };
  };
}
