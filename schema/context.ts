import type { Loaders, SourceClients } from '../sources/index.ts';

/** What every resolver receives: per-request loaders for reads, source clients for writes. */
export interface JunctionContext {
  loaders: Loaders;
  sources: SourceClients;
}
