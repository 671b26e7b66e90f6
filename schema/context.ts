import type { Loaders, SourceClients } from '../sources/index.ts';
import type { Principal } from './principal.ts';

/** What every resolver receives: who is calling, per-request loaders for reads, source clients for writes. */
export interface JunctionContext {
  principal: Principal;
  /** Drops cached entries (responses and entities) carrying any of these entity tags, e.g. `Customer:cus_1`. */
  invalidate: (tags: readonly string[]) => Promise<void>;
  loaders: Loaders;
  sources: SourceClients;
}
