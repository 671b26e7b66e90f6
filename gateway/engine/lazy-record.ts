/**
 * A record type whose members are made on first read, once per record: `lazyRecords(names, make)`
 * returns a function that makes a record for one `arg` (a request's context, its sources). Most
 * requests read few of a contract's sources and loaders, and making every one of them for every
 * request was a measurable share of a cheap request's CPU.
 *
 * Each name is a getter on one prototype shared by every record; the first read calls `make` and
 * keeps the value as the record's own (enumerable, writable) property, so later reads are plain
 * property reads and an assignment replaces the value as on a plain object. `in` sees every name;
 * `Object.keys` lists those made so far.
 */
export function lazyRecords<A, T>(names: Iterable<string>, make: (name: string, arg: A) => T): (arg: A) => Record<string, T> {
  const ARG = Symbol('arg');
  const prototype: Record<PropertyKey, unknown> = {};
  for (const name of names) {
    Object.defineProperty(prototype, name, {
      enumerable: true,
      get(this: Record<PropertyKey, unknown>) {
        const value = make(name, this[ARG] as A);
        Object.defineProperty(this, name, { value, enumerable: true, writable: true, configurable: true });
        return value;
      },
      // Assigning before the first read replaces the getter's value, as on a plain object.
      set(this: Record<PropertyKey, unknown>, value: unknown) {
        Object.defineProperty(this, name, { value, enumerable: true, writable: true, configurable: true });
      },
    });
  }
  return (arg) => {
    const record = Object.create(prototype) as Record<PropertyKey, unknown>;
    record[ARG] = arg;
    return record as Record<string, T>;
  };
}
