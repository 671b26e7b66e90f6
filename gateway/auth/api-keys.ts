import { createHash } from 'node:crypto';
import type { Principal } from '../../schema/principal.ts';

/**
 * Services that call with `x-api-key`. Configuration holds only each key's SHA-256, so a leaked
 * configuration file or log does not leak a key; `npm run -s api-key -- --service <name>` makes
 * a key and prints the entry to add.
 */
export interface ApiKeyEntry {
  /** The service principal's id. */
  service: string;
  /** Hex SHA-256 of the key. */
  sha256: string;
  scopes: readonly string[];
}

export type ApiKeyLookup = (key: string) => Principal | undefined;

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export function createApiKeyLookup(entries: readonly ApiKeyEntry[]): ApiKeyLookup {
  const byHash = new Map<string, Principal>(entries.map((entry) => [
    entry.sha256.toLowerCase(),
    Object.freeze({ kind: 'service', id: entry.service, scopes: new Set(entry.scopes), via: 'api-key' } as const),
  ]));
  // Looked up by hash: comparing hashes reveals nothing about the key, so no constant-time compare is needed.
  return (key) => byHash.get(hashApiKey(key));
}

/**
 * What each service's API keys grant: the union of the scopes of its entries, by service id. A
 * service named by no entry has no key (undefined), which is not the same as a key without scopes.
 */
export function serviceScopesOf(entries: readonly ApiKeyEntry[]): (serviceId: string) => ReadonlySet<string> | undefined {
  const byService = new Map<string, Set<string>>();
  for (const entry of entries) {
    const scopes = byService.get(entry.service) ?? new Set<string>();
    for (const scope of entry.scopes) scopes.add(scope);
    byService.set(entry.service, scopes);
  }
  return (serviceId) => byService.get(serviceId);
}
