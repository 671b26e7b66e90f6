/**
 * A record type whose members are made on first read, once per record: `lazyRecords(names, make)`
 * returns a function that makes a record for one `arg` (a request's context, its sources). Most
 * requests read few of a contract's sources and loaders, and making every one of them for every
 * request was a measurable share of a cheap request's CPU.
 *
 * Each name is an accessor on one prototype shared by every record, over a slot array of the
 * record's own: the first read calls `make` and fills the slot, later reads return it, and an
 * assignment replaces it. `in` sees every name; `Object.keys` lists none (they are the
 * prototype's), so spread a record's names explicitly if ever needed.
 */
export function lazyRecords<A, T>(names: Iterable<string>, make: (name: string, arg: A) => T): (arg: A) => Record<string, T> {
  const ARG = Symbol('arg');
  const SLOTS = Symbol('slots');
  type Lazy = { [ARG]: A; [SLOTS]: (T | undefined)[] };
  const prototype: Record<PropertyKey, unknown> = {};
  const list = [...names];
  list.forEach((name, slot) => {
    Object.defineProperty(prototype, name, {
      enumerable: true,
      get(this: Lazy) {
        const slots = this[SLOTS];
        return slots[slot] ?? (slots[slot] = make(name, this[ARG]));
      },
      set(this: Lazy, value: T) {
        this[SLOTS][slot] = value;
      },
    });
  });
  return (arg) => {
    const record = Object.create(prototype) as Lazy;
    record[ARG] = arg;
    record[SLOTS] = new Array<T | undefined>(list.length);
    return record as unknown as Record<string, T>;
  };
}
