/**
 * Helpers for DataLoader batch functions. The DataLoader contract is one result per key, in
 * the keys' order; backends answer batch look-ups with the items they found, in their own
 * order. Results are matched by key, never by position, so a missing or reordered item can
 * never be handed to the wrong parent.
 */

/** One item (or null when the backend did not return it) per key. */
export function orderByKeys<K, T>(keys: readonly K[], items: readonly T[], keyOf: (item: T) => K): (T | null)[] {
  const byKey = new Map<K, T>();
  for (const item of items) byKey.set(keyOf(item), item);
  return keys.map((key) => byKey.get(key) ?? null);
}

/** All items belonging to each key (an empty list when none), in the backend's order. */
export function groupByKeys<K, T>(keys: readonly K[], items: readonly T[], keyOf: (item: T) => K): T[][] {
  const groups = new Map<K, T[]>(keys.map((key) => [key, []]));
  for (const item of items) groups.get(keyOf(item))?.push(item);
  return keys.map((key) => groups.get(key) ?? []);
}
