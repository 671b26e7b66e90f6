import DataLoader from 'dataloader';
import type { BatchSpec, Loader, SourceOperations } from '../../schema/contract.ts';
import { groupByKeys, orderByKeys } from '../upstream/batch.ts';
import { NO_CACHE, type EntityCache } from '../upstream/entity-cache.ts';
import { UpstreamError } from '../upstream/upstream-error.ts';
import { lazyRecords } from './lazy-record.ts';

/** Most keys in one batched call unless a spec says `maxBatch`. */
const DEFAULT_MAX_BATCH = 100;

/** Longest key sent upstream, in characters. */
export const MAX_KEY_LENGTH = 1_000;

/**
 * A key no backend could hold, whatever its protocol: empty, over MAX_KEY_LENGTH, or holding a
 * control character (but tab, CR and LF), a lone surrogate, U+FFFE or U+FFFF: what XML cannot carry.
 * Answered `empty` without a call: sent in a batch, it would fail the whole call, and so every
 * other caller's key in it (a SOAP batch refuses to be written; a REST one is refused).
 */
// eslint-disable-next-line no-control-regex
const UNSENDABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unsendable = (key: unknown) => typeof key === 'string' && (key === '' || key.length > MAX_KEY_LENGTH || UNSENDABLE.test(key));

/**
 * A contract's loaders for one request: batching and de-duplication never cross requests (or
 * callers); the entity cache behind the ones that say `cache` is shared (gateway/upstream/entity-cache.ts
 * says why that is safe).
 */
export function createLoaders(
  specs: Readonly<Record<string, BatchSpec>>,
  sources: Readonly<Record<string, SourceOperations>>,
  cache: EntityCache = NO_CACHE,
): Record<string, Loader> {
  return loaderSet(specs, Object.keys(sources), cache)(sources);
}

/**
 * What `createLoaders` makes, worked out once for a contract: the returned function makes one
 * request's loaders, each only when the request first reads it (lazyRecords). A loader naming a source the contract is not served over is refused
 * here, once, rather than on every request.
 */
export function loaderSet(
  specs: Readonly<Record<string, BatchSpec>>,
  sourceNames: readonly string[],
  cache: EntityCache = NO_CACHE,
): (sources: Readonly<Record<string, SourceOperations>>, context?: object) => Record<string, Loader> {
  const makers = new Map<string, (source: SourceOperations, context: object | undefined) => Loader>();
  for (const [name, spec] of Object.entries(specs)) {
    if (!sourceNames.includes(spec.source)) throw new Error(`loader ${name} names source ${spec.source}, which the contract is not served over`);
    const empty = 'empty' in spec ? spec.empty : null;
    const own = spec.skip;
    const skip = own ? (key: unknown) => unsendable(key) || own(key) : unsendable;
    const batchOptions = {
      maxBatchSize: spec.maxBatch ?? DEFAULT_MAX_BATCH,
      ...(spec.cacheKeyFn ? { cacheKeyFn: spec.cacheKeyFn } : {}),
    };
    const cached = spec.cache
      ? {
        source: spec.source,
        namespace: spec.cache.namespace,
        ttlMs: spec.cache.ttlMs,
        ...(spec.cache.staleMs !== undefined ? { staleMs: spec.cache.staleMs } : {}),
        keyOf: spec.cache.key,
        ...(spec.cache.tags ? { tagsOf: spec.cache.tags } : {}),
      }
      : undefined;
    makers.set(name, (source, context) => {
      const fetch = batchOf(spec, source, empty);
      const kept = cached ? cache.batch(context ? { ...cached, context } : cached, fetch) : fetch;
      const load = async (keys: readonly unknown[]) => {
        const sent = keys.filter((key) => !skip(key));
        if (sent.length === keys.length) return kept(keys);
        const answers = sent.length > 0 ? await kept(sent) : [];
        const byKey = new Map(sent.map((key, i) => [key, answers[i]]));
        return keys.map((key) => (byKey.has(key) ? byKey.get(key) : empty));
      };
      return new DataLoader(load, batchOptions);
    });
  }
  type For = { sources: Readonly<Record<string, SourceOperations>>; context: object | undefined };
  const make = lazyRecords(makers.keys(), (name, { sources, context }: For) => makers.get(name)!(sources[specs[name]!.source]!, context));
  return (sources, context) => make({ sources, context }) as Record<string, Loader>;
}

/** The batch function a spec declares: its code, or one call of `operation` with every key in `keysArg`. */
function batchOf(spec: BatchSpec, source: SourceOperations, empty: unknown): (keys: readonly unknown[]) => Promise<unknown[]> {
  if ('load' in spec) return async (keys) => [...(await spec.load(keys, source))];
  const { operation, keysArg, keyField, result, many } = spec;
  return async (keys) => {
    const answer = await source.call<Record<string, unknown> | unknown[]>(operation, { [keysArg]: keys });
    const list = result === undefined ? answer : (answer as Record<string, unknown> | null)?.[result];
    if (!Array.isArray(list)) {
      throw new UpstreamError(`${source.name} answered ${operation} with a body of the wrong shape`, { source: source.name, operation, failure: 'bad_response' });
    }
    const keyOf = (item: Record<string, unknown>) => item?.[keyField];
    if (many) return groupByKeys(keys, list, keyOf);
    return orderByKeys(keys, list, keyOf).map((item) => item ?? empty);
  };
}
