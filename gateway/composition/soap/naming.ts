/**
 * GraphQL names for WSDL/XSD names: readable (`tCountryInfo` -> `TCountryInfo`,
 * `ListOfContinentsByName` -> `listOfContinentsByName`), always valid (`/^[_A-Za-z][_0-9A-Za-z]*$/`,
 * never starting with `__`), and unique within their scope (a numeric suffix on collision, in
 * the order names are asked for, so the same WSDL always gives the same names).
 */

const VALID = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** Replaces every invalid character by `_`; a leading digit gets a `_` in front. Never empty. */
export function sanitizeName(raw: string): string {
  let name = raw.replace(/[^_0-9A-Za-z]/g, '_');
  if (name === '') name = '_';
  if (/^[0-9]/.test(name)) name = `_${name}`;
  // `__` is reserved for introspection.
  if (name.startsWith('__')) name = name.replace(/^_+/, '_');
  return name;
}

/** Type names: XSD name with its first letter upper-cased and invalid characters replaced. */
export function typeName(raw: string): string {
  const name = sanitizeName(raw);
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** `Pascal` joins of name parts: `['Error', 'Detail']` -> `ErrorDetail`. */
export function joinTypeName(...parts: string[]): string {
  return parts.map(typeName).join('');
}

/**
 * Root fields: lowerCamelCase. A leading run of capitals is lowered as an acronym
 * (`CCAuthService` -> `ccAuthService`, `FullCountryInfo` -> `fullCountryInfo`), and separators
 * join words (`Put_Location` -> `putLocation`).
 */
export function fieldName(raw: string): string {
  // Separators start a new word: `Put_Location` -> `putLocation`, `get-all` -> `getAll`.
  const words = raw.split(/[^0-9A-Za-z]+/).filter(Boolean);
  const joined = words.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
  const name = sanitizeName(joined === '' ? raw : joined);
  const match = /^[A-Z]+/.exec(name);
  if (!match) return name;
  const run = match[0];
  // In "CCAuth" the last capital starts the next word; in "ADD" or "Add" the whole run is lowered.
  const keep = run.length > 1 && run.length < name.length && /[a-z]/.test(name.charAt(run.length)) ? 1 : 0;
  const lowered = run.slice(0, run.length - keep).toLowerCase();
  return lowered + name.slice(run.length - keep);
}

/** Names within one scope (types of a schema, fields of a type, values of an enum). */
export class NameScope {
  private readonly used = new Set<string>();

  constructor(reserved: Iterable<string> = []) {
    for (const name of reserved) this.used.add(name);
  }

  has(name: string): boolean {
    return this.used.has(name);
  }

  /** `base` if free, else `base2`, `base3`, ... (or `base_2` when `base` ends in a digit). */
  claim(base: string): string {
    const name = sanitizeName(base);
    if (!this.used.has(name)) {
      this.used.add(name);
      return name;
    }
    const joint = /[0-9]$/.test(name) ? '_' : '';
    for (let i = 2; ; i++) {
      const candidate = `${name}${joint}${i}`;
      if (!this.used.has(candidate)) {
        this.used.add(candidate);
        return candidate;
      }
    }
  }
}

/** Type names GraphQL or this handler already uses. */
export const RESERVED_TYPE_NAMES = ['Query', 'Mutation', 'Subscription', 'String', 'Int', 'Float', 'Boolean', 'ID', 'JSON'];

export interface EnumValueName {
  /** The GraphQL enum value name. */
  name: string;
  /** The XSD enumeration value, sent and received on the wire. */
  value: string;
}

/**
 * Enum values: invalid characters become `_` (`in-progress` -> `in_progress`), an empty value is
 * `EMPTY`, the names GraphQL forbids (`true`, `false`, `null`) get a trailing `_`, and collisions
 * are suffixed (`a-b` and `a_b` -> `a_b`, `a_b2`). Each keeps its original value, so the mapping
 * is reversible: the GraphQL enum's internal value is the XSD value.
 */
export function enumValueNames(values: readonly string[]): EnumValueName[] {
  const scope = new NameScope();
  const seen = new Set<string>();
  const out: EnumValueName[] = [];
  for (const value of values) {
    if (seen.has(value)) continue;
    seen.add(value);
    let base = value === '' ? 'EMPTY' : sanitizeName(value);
    if (base === 'true' || base === 'false' || base === 'null') base = `${base}_`;
    out.push({ name: VALID.test(base) ? scope.claim(base) : scope.claim('_'), value });
  }
  return out;
}

/**
 * Operation-name prefixes (case-insensitive, plain `startsWith`) that make an operation a Query
 * field; every other operation is a Mutation. `queries` / `mutations` options override per name.
 */
export const QUERY_PREFIXES: readonly string[] = [
  'get', 'list', 'find', 'search', 'query', 'fetch', 'read', 'lookup', 'describe', 'count', 'check', 'is', 'has',
  'exists', 'validate', 'calculate', 'convert', 'compute', 'geocode', 'reverse', 'distance', 'country', 'currency',
  'capital', 'language',
];

export function rootTypeOf(operation: string, overrides: { queries?: readonly string[]; mutations?: readonly string[] }): 'Query' | 'Mutation' {
  if (overrides.mutations?.includes(operation)) return 'Mutation';
  if (overrides.queries?.includes(operation)) return 'Query';
  const lower = operation.toLowerCase();
  return QUERY_PREFIXES.some((prefix) => lower.startsWith(prefix)) ? 'Query' : 'Mutation';
}

/**
 * Root field names: the operation name in lowerCamelCase; when two port types expose the same
 * operation name, each gets its port type as a prefix (`queueService_createQueue`). `_operations`
 * is reserved. Returns names in the order of `operations`.
 */
export function rootFieldNames(operations: readonly { portType: string; name: string }[]): string[] {
  const portTypesByName = new Map<string, Set<string>>();
  for (const op of operations) {
    const key = fieldName(op.name);
    portTypesByName.set(key, (portTypesByName.get(key) ?? new Set()).add(op.portType));
  }
  const scope = new NameScope(['_operations']);
  return operations.map((op) => {
    const base = fieldName(op.name);
    const shared = (portTypesByName.get(base)?.size ?? 0) > 1;
    return scope.claim(shared ? `${fieldName(op.portType)}_${base}` : base);
  });
}
