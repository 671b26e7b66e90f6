import type { Loaders, SourceClients } from '../sources/index.ts';
import type { Principal } from '../gateway/auth/principal.ts';

/** What every resolver receives: who is calling, per-request loaders for reads, source clients for writes. */
export interface JunctionContext {
  principal: Principal;
  loaders: Loaders;
  sources: SourceClients;
}
