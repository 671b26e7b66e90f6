import fc from 'fast-check';
import {
  getNamedType,
  GraphQLNonNull,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/**
 * Generators for test/integration/fuzz.test.ts: GraphQL documents over a schema, variables, and
 * raw HTTP requests. Generated values print compactly (long strings and big arrays abbreviated)
 * so that a failure's counterexample stays readable; `expand` turns them into what is sent.
 */

// ---------------------------------------------------------------------------------------------
// Compact printing
// ---------------------------------------------------------------------------------------------

/** A string too long to print: shown as its start and its length. */
export function abbreviate(s: string, keep = 120): string {
  return s.length <= keep ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, keep))}…(${s.length} chars)`;
}

/** `n` copies of a value, in an array: printed as `Repeat(n, value)`, expanded when sent. */
export class Repeat {
  constructor(readonly n: number, readonly value: unknown) {}
  [fc.toStringMethod](): string {
    return `Repeat(${this.n}, ${fc.stringify(this.value)})`;
  }
}

/** A string made of `n` copies of `piece`: printed as `Long(piece, n)`, expanded when sent. */
export class Long {
  constructor(readonly piece: string, readonly n: number) {}
  toString(): string {
    return this.piece.repeat(this.n);
  }
  [fc.toStringMethod](): string {
    return `Long(${JSON.stringify(this.piece)}, ${this.n})`;
  }
}

/** A value `depth` levels inside arrays and/or objects: printed as `Nest(depth, …)`. */
export class Nest {
  constructor(readonly depth: number, readonly shape: 'array' | 'object' | 'mixed', readonly leaf: unknown) {}
  [fc.toStringMethod](): string {
    return `Nest(${this.depth}, ${this.shape}, ${fc.stringify(this.leaf)})`;
  }
}

/** Replaces Repeat, Long and Nest with the plain JSON values they stand for. */
export function expand(value: unknown): unknown {
  if (value instanceof Long) return value.toString();
  if (value instanceof Repeat) {
    const one = expand(value.value);
    return Array.from({ length: value.n }, () => one);
  }
  if (value instanceof Nest) {
    let inner = expand(value.leaf);
    for (let i = 0; i < value.depth; i++) {
      const asArray = value.shape === 'array' || (value.shape === 'mixed' && i % 2 === 0);
      inner = asArray ? [inner] : { a: inner };
    }
    return inner;
  }
  if (Array.isArray(value)) return value.map(expand);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
  }
  return value;
}

/** An object that prints as the given text (for counterexamples holding long documents). */
export function printedAs<T extends object>(value: T, print: (value: T) => string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => print(value), enumerable: false });
  return value;
}

/** `arbitrary`'s value one time in `n`, else undefined. */
export const sometimes = <T>(arbitrary: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

/** `arbitrary`'s value, except one time in `n`: undefined. */
export const mostly = <T>(arbitrary: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: n - 1, arbitrary }, { weight: 1, arbitrary: fc.constant(undefined) });

// ---------------------------------------------------------------------------------------------
// Strings and scalars
// ---------------------------------------------------------------------------------------------

/** Pieces that have broken parsers, URLs, XML and logs before. */
export const NASTY_PIECES = [
  '', ' ', '\u0000', '\u0001', '\u0007', '\u001b[31m', '\u007f', '\t', '\r', '\n', '\r\n', '\u2028', '\u2029', '\u0085',
  '\uD800', '\uDBFF', '\uDC00', '\uDC00\uD800', '\uFFFE', '\uFFFF', '\uFEFF', '\u202E', '\u200B', 'e\u0301', '😀', '𝕏',
  '../', '..\\', '../../v1/customers', '..%2F', '%2e%2e/', '/', '//', '?', '?expand=all', '#', '#frag', '&', '&amp;', '=',
  '%', '%00', '%zz', '%ff', '+', ' ; ', ',', '"', "'", '\\', '`', '$', '${x}', '{{x}}', '<', '>', ']]>', '<![CDATA[x]]>',
  '<!DOCTYPE x [<!ENTITY e "x">]>', '&e;', '<?xml version="1.0"?>', '</soap:Body>', '{"a":1}', '[]', 'null', 'true', 'NaN',
  '__proto__', 'constructor', 'prototype', 'toString', 'cus_', 'pay_', 'mer_', 'plc_', 'SM', '*', '.*', '(a+)+$', 'a'.repeat(64),
] as const;

export interface StringOptions {
  /** Real identifiers from the demo backends, so that some generated input reaches them. */
  realIds?: readonly string[];
  /** Whether to make very long strings (up to 200000 characters); default true. */
  long?: boolean;
}

/** Strings of every awkward kind: control characters, CR/LF, lone surrogates, path and URL syntax, very long. */
export function oddString({ realIds = [], long = true }: StringOptions = {}): fc.Arbitrary<string | Long> {
  const piece = fc.constantFrom(...NASTY_PIECES);
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 3, arbitrary: piece },
    { weight: 3, arbitrary: fc.array(fc.oneof(piece, fc.string({ maxLength: 4 })), { minLength: 2, maxLength: 6 }).map((xs) => xs.join('')) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    ...(realIds.length > 0
      ? [
          { weight: 4, arbitrary: fc.constantFrom(...realIds) },
          { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...realIds), piece, fc.boolean()).map(([id, p, before]) => (before ? p + id : id + p)) },
        ]
      : []),
    {
      weight: long ? 1 : 0,
      arbitrary: fc.tuple(fc.constantFrom('a', 'é', '\u0000', '\n', '😀', '\uD800', '../', '%', '<'), fc.integer({ min: 256, max: 200_000 }))
        .map(([p, n]) => new Long(p, n)),
    },
  );
}

export const asString = (s: string | Long): string => (typeof s === 'string' ? s : s.toString());

const INT_EDGES = [0, -1, 1, 2, 10, 20, 50, 99, 100, 101, 1000, 1_000_000, 2_147_483_647, -2_147_483_648, 99_999_999, 100_000_000];

/** GraphQL Int literals: usual, edge, over 32 bits, and not quite integers. */
const intLiteral = fc.oneof(
  { weight: 30, arbitrary: fc.oneof(fc.integer({ min: -5, max: 120 }), fc.constantFrom(...INT_EDGES)).map(String) },
  { weight: 4, arbitrary: fc.constantFrom('2147483648', '-2147483649', '9007199254740993', `1${'0'.repeat(400)}`, '-0', '1.5', '1e3') },
  { weight: 1, arbitrary: fc.constantFrom('0x10', '01', '1_000', '1.', '-') },
  { weight: 5, arbitrary: fc.integer().map(String) },
);

/** JSON numbers for Int variables: usual, edge, over 32 and 53 bits, fractions, huge. */
export const intJson: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(fc.integer({ min: -5, max: 120 }), fc.constantFrom(...INT_EDGES)) },
  { weight: 2, arbitrary: fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 63), 1.5, -0, 1e308, 5e-324) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

const floatLiteral = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Number.isInteger(d) && Math.abs(d) < 1e21 ? `${d}.0` : String(d))),
  fc.constantFrom('0', '1e400', '-1e400', '1.', '.5', 'NaN', 'Infinity', '90', '-180.0000001'),
);

/** A GraphQL string literal of `s`: escaped as JSON (mostly), raw (control characters and all), or a block string. */
function stringLiteral(strings: fc.Arbitrary<string | Long>): fc.Arbitrary<string> {
  return fc.tuple(strings, fc.constantFrom('json', 'json', 'json', 'json', 'raw', 'block')).map(([value, how]) => {
    const s = asString(value);
    if (how === 'json') return JSON.stringify(s);
    if (how === 'raw') return `"${s.replace(/["\\]/g, '\\$&')}"`;
    return `"""${s.replace(/"""/g, '\\"""')}"""`;
  });
}

// ---------------------------------------------------------------------------------------------
// JSON values
// ---------------------------------------------------------------------------------------------

/**
 * Any JSON value, including odd strings, deep nesting (up to 60) and big arrays (up to 700000
 * small items: around the 2 MiB body limit, a few MB at most).
 */
export function anyJson(strings: fc.Arbitrary<string | Long>): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(strings, intJson, fc.boolean(), fc.constant(null), fc.constant({}), fc.constant([]));
  const small = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...NASTY_PIECES.slice(0, 40)), intJson, fc.boolean(), fc.constant(null), fc.constant({}), fc.constant([]));
  return fc.oneof(
    { weight: 4, arbitrary: leaf },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', '')), leaf, { maxKeys: 6 }) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 60 }), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, leaf).map(([d, s, l]) => new Nest(d, s, l)) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 100, max: 700_000 }), small).map(([n, v]) => new Repeat(n, v)) },
  );
}

// ---------------------------------------------------------------------------------------------
// Documents over a schema
// ---------------------------------------------------------------------------------------------

export interface GeneratedOperation {
  /** The full document text. */
  document: string;
  /** Variables for it (may hold Repeat/Long/Nest: `expand` before sending). */
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
}

/** The response key of a selection (its alias or name); a fragment is its own key. */
const responseKey = (selection: string) => (selection.startsWith('...') ? selection : /^(\w+)/.exec(selection)![1]!);

/** `ID!` -> `v_ID_nn`, `[Int]` -> `v_L_Int_`: a variable name that says its type. */
const variableName = (typeString: string) => `v_${typeString.replace(/!/g, '_nn').replace(/\[/g, 'L_').replace(/\]/g, '_')}`;

/**
 * Documents over `schema`: random fields of Query or Mutation with arguments of the right types
 * (and sometimes the wrong ones, or null), aliases, @skip/@include, inline fragments, named
 * fragments spread several times, variables (declared with and without defaults, sometimes
 * undeclared or unused), as query, mutation, subscription or shorthand. Most are valid; a few
 * are slightly invalid in one way or another.
 */
export function operationArbitrary(schema: GraphQLSchema, options: StringOptions & { maxDepth?: number } = {}): fc.Arbitrary<GeneratedOperation> {
  const maxDepth = options.maxDepth ?? 4;
  const strings = oddString(options);
  const objectTypes = Object.values(schema.getTypeMap()).filter((t): t is GraphQLObjectType => isObjectType(t) && !t.name.startsWith('__'));
  const FRAGMENTS_PER_TYPE = 2;
  const fragmentNames = (type: GraphQLObjectType) => Array.from({ length: FRAGMENTS_PER_TYPE }, (_, i) => `F${i}_${type.name}`);
  const allFragmentNames = objectTypes.flatMap(fragmentNames);
  /** Every variable a generated value may refer to, by name, with its type. */
  const variables = new Map<string, GraphQLInputType>();
  const literalMemo = new Map<string, fc.Arbitrary<string>>();
  const selectionMemo = new Map<string, fc.Arbitrary<string>>();

  const variableRef = (type: GraphQLInputType) => {
    const name = variableName(String(type));
    variables.set(name, type);
    return `$${name}`;
  };

  /**
   * A literal of `type`, or a variable of that type in its place (unless `constant`: defaults
   * cannot hold variables).
   */
  function literal(type: GraphQLInputType, depth: number, constant: boolean): fc.Arbitrary<string> {
    const key = `${String(type)}:${depth}:${constant}`;
    const known = literalMemo.get(key);
    if (known) return known;
    let arbitrary = bareLiteral(type, depth, constant);
    // Registered now, while the arbitraries are built, so that its declaration can be generated.
    if (!constant) arbitrary = fc.oneof({ weight: 5, arbitrary }, { weight: 2, arbitrary: fc.constant(variableRef(type)) });
    literalMemo.set(key, arbitrary);
    return arbitrary;
  }

  /** A literal of `type` (its inner positions may hold variables), now and then null or one of the wrong type. */
  function bareLiteral(type: GraphQLInputType, depth: number, constant: boolean, nonNull = false): fc.Arbitrary<string> {
    if (isNonNullType(type)) {
      return fc.oneof({ weight: 100, arbitrary: bareLiteral(type.ofType, depth, constant, true) }, { weight: 1, arbitrary: fc.constant('null') });
    }
    const wrong = fc.constantFrom('"x"', '1', '1.5', 'true', 'null', 'SUCCEEDED', '{ a: 1 }', '[1, "a"]', '[]', '{}');
    let right: fc.Arbitrary<string>;
    if (isListType(type)) {
      const item = depth > 0 ? literal(type.ofType, depth - 1, constant) : fc.constant('null');
      right = fc.oneof(fc.array(item, { maxLength: 4 }).map((xs) => `[${xs.join(', ')}]`), item);
    } else if (isEnumType(type)) {
      right = fc.oneof(
        { weight: 20, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) },
        { weight: 1, arbitrary: fc.constantFrom('NOPE', 'succeeded', '"SUCCEEDED"', 'true') },
      );
    } else if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      const inner = fields.map((f) => {
        const value = depth > 0 ? literal(f.type, depth - 1, constant).map((v) => `${f.name}: ${v}`) : fc.constant(`${f.name}: null`);
        return isNonNullType(f.type) ? mostly(value, 50) : sometimes(value, 2);
      });
      right = fc.tuple(fc.tuple(...inner), sometimes(fc.constantFrom('unknown: 1', '__proto__: "x"', 'constructor: {}'), 50))
        .map(([parts, extra]) => `{ ${[...parts, extra].filter((p) => p !== undefined).join(', ')} }`);
    } else {
      switch (type.name) {
        case 'Int': right = intLiteral; break;
        case 'Float': right = floatLiteral; break;
        case 'Boolean': right = fc.constantFrom('true', 'false'); break;
        case 'ID': right = fc.oneof({ weight: 5, arbitrary: stringLiteral(strings) }, { weight: 1, arbitrary: intLiteral }); break;
        default: right = stringLiteral(strings);
      }
    }
    return fc.oneof({ weight: 60, arbitrary: right }, ...(nonNull ? [] : [{ weight: 4, arbitrary: fc.constant('null') }]), { weight: 1, arbitrary: wrong });
  }

  const boolean = schema.getType('Boolean') as GraphQLInputType;
  // `if:` is Boolean!: a nullable variable there is invalid (now and then, on purpose).
  const booleanValue = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom('true', 'false', variableRef(new GraphQLNonNull(boolean))) },
    { weight: 1, arbitrary: fc.constant(variableRef(boolean)) },
  );
  /** Nothing, mostly; else @skip/@include with a literal or a variable, an unknown directive, or a malformed one. */
  const directives = fc.oneof(
    { weight: 120, arbitrary: fc.constant('') },
    {
      weight: 15,
      arbitrary: fc.tuple(fc.constantFrom('skip', 'include'), booleanValue, sometimes(fc.tuple(fc.constantFrom('skip', 'include'), booleanValue), 8))
        .map(([d, v, second]) => ` @${d}(if: ${v})${second ? ` @${second[0]}(if: ${second[1]})` : ''}`),
    },
    { weight: 1, arbitrary: fc.constantFrom(' @skip', ' @include(if: "yes")', ' @deprecated', ' @nope', ' @skip(if: true, if: false)', ' @cacheControl(maxAge: 1)', ' @rateLimit(max: 1, window: "1s")') },
  );

  const args = (list: readonly GraphQLArgument[]) => {
    const each = list.map((a) => {
      const value = literal(a.type, 2, false).map((v) => `${a.name}: ${v}`);
      return isNonNullType(a.type) ? mostly(value, 100) : sometimes(value, 2);
    });
    return fc.tuple(fc.tuple(...each), sometimes(fc.constantFrom('unknown: 1', 'first: 1', 'id: "x"'), 150))
      .map(([parts, extra]) => {
        const present = [...parts, extra].filter((p): p is string => p !== undefined);
        return present.length > 0 ? `(${present.join(', ')})` : '';
      });
  };

  /**
   * An alias: for a field with arguments, mostly one of its own (fields of one name with other
   * arguments cannot be merged: invalid); now and then a common one (which may clash, on purpose).
   */
  const alias = (withArguments: boolean) => fc.oneof(
    { weight: withArguments ? 8 : 30, arbitrary: fc.constant(undefined) },
    { weight: withArguments ? 12 : 0, arbitrary: fc.integer({ min: 0, max: 99_999 }).map((n) => `k${n}`) },
    { weight: 2, arbitrary: fc.constantFrom('a', 'b', 'x1') },
    { weight: 1, arbitrary: fc.constantFrom('same', 'id', 'name', '__typename') },
  );

  function field(f: GraphQLField<unknown, unknown>, depth: number, spreads: boolean): fc.Arbitrary<string> {
    const named = getNamedType(f.type);
    let sub: fc.Arbitrary<string>;
    if (isLeafType(named)) {
      sub = fc.oneof({ weight: 100, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constant(' { id }') });
    } else if (isObjectType(named) && depth > 0) {
      sub = fc.oneof({ weight: 100, arbitrary: selectionSet(named, depth - 1, spreads).map((s) => ` ${s}`) }, { weight: 1, arbitrary: fc.constant('') });
    } else {
      sub = fc.oneof({ weight: 100, arbitrary: fc.constant(' { __typename }') }, { weight: 1, arbitrary: fc.constantFrom(' { id }', '') });
    }
    return fc.tuple(alias(f.args.length > 0), args(f.args), directives, sub).map(([a, as, ds, s]) => `${a ? `${a}: ` : ''}${f.name}${as}${ds}${s}`);
  }

  /** A selection set on `type`, nested at most `depth` deep; spreading named fragments or (inside fragments, where spreads could cycle) not. */
  function selectionSet(type: GraphQLObjectType, depth: number, spreads = true): fc.Arbitrary<string> {
    const key = `${type.name}:${depth}:${spreads}`;
    const known = selectionMemo.get(key);
    if (known) return known;
    // Recursion only ever goes to a lower depth, so building these eagerly ends.
    const fields = Object.values(type.getFields()).map((f) => field(f, depth, spreads));
    const others: fc.Arbitrary<string>[] = [fc.constant('__typename')];
    if (spreads) others.push(fc.tuple(fc.constantFrom(...fragmentNames(type)), directives).map(([n, d]) => `...${n}${d}`));
    // One fragment spread over and over in one place (valid: the spreads merge), now and then.
    const repeated = spreads
      ? [{ weight: 1, arbitrary: fc.tuple(fc.constantFrom(...fragmentNames(type)), fc.integer({ min: 2, max: 20 })).map(([n, times]) => Array.from({ length: times }, () => `...${n}`).join(' ')) }]
      : [];
    const item = fc.oneof(...[...fields, ...others].map((arbitrary) => ({ weight: 6, arbitrary })), ...repeated);
    const rare: fc.Arbitrary<string>[] = [
      fc.constantFrom('nope', 'id(x: 1)', '__schema { queryType { name } }', '__type(name: "Customer") { name fields { name } }'),
      fc.constantFrom(...allFragmentNames).map((n) => `...${n}`),
      fc.constantFrom(...objectTypes.map((t) => t.name), 'Nope', 'String').map((t) => `... on ${t} { __typename }`),
    ];
    if (depth > 0) {
      others.push(fc.tuple(directives, fc.boolean(), selectionSet(type, depth - 1, spreads))
        .map(([d, typed, s]) => `...${typed ? ` on ${type.name}` : ''}${d} ${s}`));
    }
    const arbitrary = fc.oneof(
      // One response key per field, mostly (same-named fields with other arguments are invalid).
      { weight: 400, arbitrary: fc.uniqueArray(item, { minLength: 1, maxLength: 4, selector: responseKey }).map((xs) => `{ ${xs.join(' ')} }`) },
      { weight: 4, arbitrary: fc.array(item, { minLength: 2, maxLength: 4 }).map((xs) => `{ ${xs.join(' ')} }`) },
      { weight: 2, arbitrary: fc.tuple(fc.array(fc.oneof(...fields), { minLength: 1, maxLength: 3 }), fc.oneof(...rare)).map(([xs, r]) => `{ ${[...xs, r].join(' ')} }`) },
      { weight: 1, arbitrary: fc.constant('{ }') },
    );
    selectionMemo.set(key, arbitrary);
    return arbitrary;
  }

  const queryType = schema.getQueryType()!;
  const mutationType = schema.getMutationType() ?? queryType;
  const bodies = (type: GraphQLObjectType) => fc.oneof(...Array.from({ length: maxDepth + 1 }, (_, d) => selectionSet(type, d)));
  const operation = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constant('query'), bodies(queryType)) },
    { weight: 3, arbitrary: fc.tuple(fc.constant('mutation'), bodies(mutationType)) },
    { weight: 3, arbitrary: fc.tuple(fc.constant(''), bodies(queryType)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('subscription'), bodies(queryType)) },
    // Slightly off: the other root's fields.
    { weight: 1, arbitrary: fc.tuple(fc.constant('query'), bodies(mutationType)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('mutation'), bodies(queryType)) },
  );
  // @skip and @include do not belong on a fragment definition: there, rarely.
  const fragmentDirectives = fc.oneof({ weight: 40, arbitrary: fc.constant('') }, { weight: 1, arbitrary: directives });
  // Fragments spread no fragments of their own, so that they cannot cycle (a rare spread in a
  // selection set still may, on purpose), except that F1_T may spread F0_T: nested fragments.
  const fragmentBodies = fc.tuple(...objectTypes.flatMap((t) => fragmentNames(t).map((name, i) =>
    fc.tuple(fragmentDirectives, selectionSet(t, 1, false), i > 0 ? fc.boolean() : fc.constant(false))
      .map(([d, s, nested]) => [name, `fragment ${name} on ${t.name}${d} ${nested ? s.replace(/^\{/, `{ ...${fragmentNames(t)[0]}`) : s}`] as const),
  )));
  // Every variable a literal may name is registered by now (the arbitraries above are built).
  const declarable = [...variables.entries()];
  const declaration = (name: string, type: GraphQLInputType) => fc.record({
    default: sometimes(literal(type, 1, true), 4),
    typeString: fc.oneof({ weight: 100, arbitrary: fc.constant(String(type)) }, { weight: 1, arbitrary: fc.constantFrom('String', 'Int!', '[ID!]!', 'Nope', 'Customer') }),
    value: fc.oneof(
      { weight: 10, arbitrary: jsonFor(type, strings, options.realIds ?? [], 2) },
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: anyJson(strings) },
    ),
  }).map((d) => ({ name, ...d }));
  const declarations = fc.tuple(...declarable.map(([name, type]) => declaration(name, type)));

  return fc.record({
    operation,
    name: sometimes(fc.constantFrom('Op', 'Fuzz', 'query'), 2),
    opDirectives: fc.oneof({ weight: 60, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' @skip(if: true)', ' @include(if: false)', ' @nope') }),
    fragments: fragmentBodies,
    declarations,
    /** How variables are declared: as used; one left undeclared; one declared but unused. */
    declare: fc.oneof({ weight: 20, arbitrary: fc.constant('used') }, { weight: 1, arbitrary: fc.constantFrom('undeclared', 'unused') }),
    /** Fragments: those spread; plus one never spread. */
    unusedFragment: sometimes(fc.constantFrom(...allFragmentNames), 15),
    secondOperation: sometimes(fc.constantFrom('query Other { __typename }', '{ __typename }', 'query Op { __typename }'), 40),
    operationNameSent: fc.oneof({ weight: 20, arbitrary: fc.constant('matching') }, { weight: 1, arbitrary: fc.constantFrom('none', 'wrong') }),
  }).map((g) => {
    const [keyword, selection] = g.operation as [string, string];
    const fragmentText = new Map<string, string>(g.fragments as (readonly [string, string])[]);
    // Fragments spread anywhere in the operation or in a fragment it needs, transitively.
    const needed = new Set<string>();
    const pending = [selection];
    while (pending.length > 0) {
      for (const [, name] of pending.pop()!.matchAll(/\.\.\.(F\d+_\w+)/g)) {
        if (!needed.has(name!) && fragmentText.has(name!)) {
          needed.add(name!);
          pending.push(fragmentText.get(name!)!);
        }
      }
    }
    if (g.unusedFragment) needed.add(g.unusedFragment);
    const fragments = [...needed].map((n) => fragmentText.get(n)!);
    const usedVariables = new Set<string>();
    for (const text of [selection, ...fragments]) for (const [, name] of text.matchAll(/\$(v_\w+)/g)) usedVariables.add(name!);
    let declared = g.declarations.filter((d) => usedVariables.has(d.name));
    if (g.declare === 'undeclared' && declared.length > 0) declared = declared.slice(1);
    if (g.declare === 'unused') {
      const unused = g.declarations.find((d) => !usedVariables.has(d.name));
      if (unused) declared = [...declared, unused];
    }
    const definitions = declared.map((d) => `$${d.name}: ${d.typeString}${d.default !== undefined ? ` = ${d.default}` : ''}`);
    const named = keyword !== '' || definitions.length > 0 || g.opDirectives !== '' || g.name !== undefined;
    const head = named
      ? `${keyword || 'query'}${g.name ? ` ${g.name}` : ''}${definitions.length ? `(${definitions.join(', ')})` : ''}${g.opDirectives} `
      : '';
    const document = [`${head}${selection}`, ...fragments, ...(g.secondOperation ? [g.secondOperation] : [])].join('\n');
    const values = Object.fromEntries(declared.filter((d) => d.value !== undefined).map((d) => [d.name, d.value]));
    const operationName = g.operationNameSent === 'matching' ? g.name : g.operationNameSent === 'wrong' ? 'Missing' : undefined;
    return printedAs(
      { document, variables: Object.keys(values).length > 0 ? values : undefined, operationName },
      (op) => `{ document: ${abbreviate(op.document, 4000)}, variables: ${fc.stringify(op.variables)}, operationName: ${JSON.stringify(op.operationName)} }`,
    );
  });
}

/** A JSON value for a variable of `type`: mostly of the type (including its edge values), sometimes not. */
export function jsonFor(type: GraphQLInputType, strings: fc.Arbitrary<string | Long>, realIds: readonly string[], depth: number): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return fc.oneof({ weight: 40, arbitrary: jsonFor(type.ofType, strings, realIds, depth) }, { weight: 1, arbitrary: fc.constant(null) });
  let right: fc.Arbitrary<unknown>;
  if (isListType(type)) {
    right = depth > 0 ? fc.array(jsonFor(type.ofType, strings, realIds, depth - 1), { maxLength: 4 }) : fc.constant([]);
  } else if (isEnumType(type)) {
    right = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: fc.constantFrom('nope', 'succeeded', 1) });
  } else if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    right = fc.record(Object.fromEntries(fields.map((f) => [f.name, depth > 0 ? jsonFor(f.type, strings, realIds, depth - 1) : fc.constant(null)])), {
      requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name),
    });
  } else {
    switch (type.name) {
      case 'Int': right = intJson; break;
      case 'Float': right = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), intJson); break;
      case 'Boolean': right = fc.boolean(); break;
      case 'ID': right = fc.oneof({ weight: 5, arbitrary: strings }, { weight: 1, arbitrary: intJson }, ...(realIds.length ? [{ weight: 3, arbitrary: fc.constantFrom(...realIds) }] : [])); break;
      default: right = strings;
    }
  }
  return fc.oneof({ weight: 40, arbitrary: right }, { weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: anyJson(strings) });
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP requests
// ---------------------------------------------------------------------------------------------

/** Text built from parts (strings and Longs): printed part by part, so that it stays short. */
export class Text {
  constructor(readonly parts: readonly (string | Long)[]) {}
  toString(): string {
    return this.parts.map(String).join('');
  }
  [fc.toStringMethod](): string {
    return `Text(${this.parts.map((p) => (typeof p === 'string' ? abbreviate(p, 400) : fc.stringify(p))).join(' + ')})`;
  }
}

/** Who a generated request claims to be; the test turns it into headers. */
export type Identity =
  | { kind: 'anonymous' }
  /** A valid token with every demo scope. */
  | { kind: 'user' }
  /** A valid token with every demo scope and junction:developer (introspection, batches). */
  | { kind: 'developer' }
  /** The test API key (a service: batches). */
  | { kind: 'service' }
  /** An `authorization` header sent as is. */
  | { kind: 'authorization'; value: string | Text }
  /** An `x-api-key` header sent as is. */
  | { kind: 'apiKey'; value: string }
  /** A token signed with the issuer's real key, with odd claims and header fields. */
  | { kind: 'signed'; claims: Record<string, unknown>; header: Record<string, unknown> };

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** Header-safe text (no CR, LF or NUL; Latin-1 allowed). */
export const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 40 });

const claimValue = fc.oneof(
  fc.constant(undefined), fc.constant(null), fc.string({ maxLength: 10 }), intJson, fc.boolean(),
  fc.constantFrom('payments:read', 'junction:developer', 'a b c', '', 'https://api.junction.test', ['https://api.junction.test'], [], {}, 1e308, -1, 0, 2 ** 53 + 2),
  fc.jsonValue({ maxDepth: 2 }),
);

export const identityArbitrary: fc.Arbitrary<Identity> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'anonymous' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'user' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'developer' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'service' as const }) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', 'Token ', '', 'Bearer'), headerValue).map(([scheme, v]) => scheme + v),
      fc.base64String({ maxLength: 60 }).map((s) => `Bearer ${s}`),
      fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.base64String({ maxLength: 40 }))
        .map(([h, p, s]) => `Bearer ${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(p))}.${s.replace(/=/g, '')}`),
      fc.tuple(
        fc.record({ alg: fc.constantFrom('none', 'RS256', 'HS256', 'ES256', '', 'RS512', 'PS256'), typ: fc.constantFrom('at+jwt', 'JWT', 'id+jwt'), kid: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('../../etc/passwd', 'http://169.254.169.254/', '')), jku: fc.constantFrom(undefined, 'http://127.0.0.1:1/jwks'), crit: fc.constantFrom(undefined, ['exp'], ['nope']) }, { requiredKeys: ['alg'] }),
        fc.dictionary(fc.constantFrom('iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'scope'), claimValue),
        fc.constantFrom('', 'sig', 'AAAA'),
      ).map(([h, p, s]) => `Bearer ${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(p))}.${s}`),
      fc.constantFrom('Bearer a.b.c', 'Bearer ..', 'Bearer .', 'Bearer e30.e30.', 'Bearer e30.e30.e30', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Bearer Bearer x', 'Bearer a,Bearer b'),
    ).map((value) => ({ kind: 'authorization' as const, value })),
  },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 4_000, max: 15_000 }), fc.constantFrom('A', 'e30.', '.')).map(([n, p]) => ({ kind: 'authorization' as const, value: new Text(['Bearer ', new Long(p, n)]) })) },
  { weight: 1, arbitrary: headerValue.map((value) => ({ kind: 'apiKey' as const, value })) },
  {
    weight: 2,
    arbitrary: fc.record({
      claims: fc.dictionary(fc.constantFrom('iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'scope', 'scp', 'client_id', 'azp', 'roles'), claimValue, { maxKeys: 4 }),
      header: fc.dictionary(fc.constantFrom('typ', 'cty', 'x5u', 'jku', 'b64'), claimValue.filter((v) => v !== undefined), { maxKeys: 1 }),
    }).map(({ claims, header }) => ({ kind: 'signed' as const, claims, header })),
  },
);

export type Encoding = 'none' | 'gzip' | 'deflate' | 'gzip-garbage' | { header: string };

export interface RawRequest {
  method: string;
  /** What follows `/graphql`: '' or a query string. */
  search: string | Text;
  contentType: string | undefined;
  encoding: Encoding;
  body: string | Uint8Array | Text | undefined;
  accept: string | undefined;
  csrf: boolean;
  identity: Identity;
  /** Whether the body is a JSON array (a batch): the answer may be an array then. */
  batch: boolean;
}

/** Small, mostly valid operations for bodies and query strings. */
export const SMALL_OPERATIONS: readonly { query: string; variables?: Record<string, unknown>; operationName?: string }[] = [
  { query: '{ __typename }' },
  { query: '{ merchant(id: "m") { id name } }' },
  { query: 'query($id: ID!) { customer(id: $id) { id name } }', variables: { id: 'cus_x' } },
  { query: 'query Q($n: Int = 2) { payments(first: $n) { edges { node { id } } } }', operationName: 'Q' },
  { query: 'mutation { sendMessage(input: { phone: "+4930111222333", body: "hi" }) { id } }' },
  { query: 'query($a: String!) { geocode(address: $a) { id } }', variables: { a: 'Berlin' } },
  { query: 'subscription { __typename }' },
  { query: '{ nope }' },
  { query: '{ merchant(id: "m") { id ' },
  { query: '' },
];

/** Safe to put in a query string, lone surrogates too (as the bytes of invalid UTF-8). */
const percentEncode = (s: string) => s.replace(/[^A-Za-z0-9\-_.!~*'()]/gu, (c) => (c.length === 1 && c >= '\uD800' && c <= '\uDFFF'
  ? `%${(0xe0 | (c.charCodeAt(0) >> 12)).toString(16)}%${(0x80 | ((c.charCodeAt(0) >> 6) & 0x3f)).toString(16)}%${(0x80 | (c.charCodeAt(0) & 0x3f)).toString(16)}`
  : encodeURIComponent(c)));

export function rawRequestArbitrary(realIds: readonly string[]): fc.Arbitrary<RawRequest> {
  const strings = oddString({ realIds });
  const someJson = anyJson(strings);
  // For the request head (URL and headers), which Node's HTTP server holds to 16 KiB in all.
  const shortStrings = oddString({ realIds, long: false });
  const shortJson = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.tuple(fc.integer({ min: 1, max: 60 }), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>, fc.jsonValue({ maxDepth: 1 })).map(([d, k, l]) => new Nest(d, k, l)),
  );
  const operation = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...SMALL_OPERATIONS) },
    { weight: 1, arbitrary: fc.record({ query: fc.oneof(fc.constantFrom(...SMALL_OPERATIONS.map((o) => o.query)), strings.map(asString)), variables: someJson, operationName: fc.oneof(fc.constant(undefined), strings.map(asString)), extensions: fc.oneof(fc.constant(undefined), someJson, fc.constant({ persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } })) }, { requiredKeys: [] }) },
  );
  const json = (value: unknown) => JSON.stringify(expand(value));
  const validText = operation.map(json);
  const body: fc.Arbitrary<string | Uint8Array | Text> = fc.oneof(
    { weight: 12, arbitrary: validText },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: someJson.map((v) => new Text([json(v)])) },
    { weight: 3, arbitrary: fc.tuple(validText, fc.nat()).map(([t, n]) => t.slice(0, n % Math.max(1, t.length))) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 1, arbitrary: fc.tuple(validText, fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => b.map((x) => x | 0x80))).map(([t, bad]) => Buffer.concat([Buffer.from(t.slice(0, -2)), Buffer.from(bad), Buffer.from(t.slice(-2))])) },
    { weight: 3, arbitrary: fc.array(fc.oneof(operation, someJson), { maxLength: 12 }).map(json) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.integer({ min: 10, max: 120_000 }), fc.constantFrom('array', 'object', 'variables')).map(([n, kind]) => (kind === 'array'
        ? new Text([new Long('[', n), new Long(']', n)])
        : kind === 'object'
          ? new Text([new Long('{"a":', n), '1', new Long('}', n)])
          : new Text(['{"query":"query($v: String) { merchant(id: $v) { id } }","variables":{"v":', new Long('[', n), new Long(']', n), '}}']))),
    },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...SMALL_OPERATIONS.map((o) => o.query)), strings.map(asString)) },
    {
      weight: 2,
      arbitrary: fc.tuple(operation, fc.oneof(fc.constant(undefined), someJson)).map(([op, vars]) => [
        `query=${percentEncode(op.query ?? '')}`, ...(vars !== undefined ? [`variables=${percentEncode(json(vars))}`] : []),
      ].join('&')),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(operation, fc.constantFrom('operations', 'query', 'map')).map(([op, name]) => `--x\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${json(op)}\r\n--x\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--x--\r\n`),
    },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '[]', '{}', '"x"', '1', '{"query":null}', '{"query":1}', '{"query":["{ __typename }"]}', '{"query":"{ __typename }","variables":"{}"}', '{"query":"{ __typename }","variables":[]}', '{"query":"{ __typename }","extensions":"x"}', '{"__proto__":{"query":"{ __typename }"}}', '\uFEFF{"query":"{ __typename }"}') },
    { weight: 1, arbitrary: fc.integer({ min: 2 * 1024 * 1024 - 16, max: 3 * 1024 * 1024 }).map((n) => new Text(['{"query":"{ __typename }","variables":{"v":"', new Long('a', n), '"}}'])) },
  );
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    {
      weight: 10,
      arbitrary: fc.constantFrom(
        'application/json', 'application/json; charset=utf-8', 'application/json, text/plain', 'application/graphql', 'application/graphql+json',
        'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'application/xml', 'APPLICATION/JSON', 'application/json; charset=latin1',
        'application/graphql-response+json', 'application/json;', ';', 'text/plain; charset=utf-8', 'application/jsonx', 'multipart/form-data',
      ),
    },
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: headerValue },
  );
  const encoding: fc.Arbitrary<Encoding> = fc.oneof(
    { weight: 10, arbitrary: fc.constant('none' as const) },
    { weight: 3, arbitrary: fc.constantFrom('gzip' as const, 'deflate' as const, 'gzip-garbage' as const) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('br', 'identity', 'GZIP', 'gzip, gzip', 'x-gzip', 'compress', 'zstd', '*', ''), headerValue).map((header) => ({ header })) },
  );
  const search: fc.Arbitrary<string | Text> = fc.oneof(
    { weight: 4, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc.array(fc.tuple(fc.constantFrom('query', 'variables', 'operationName', 'extensions', 'x', 'query'), fc.oneof(
        fc.constantFrom(...SMALL_OPERATIONS.map((o) => o.query)), shortStrings.map(asString), shortJson.map(json),
      )), { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${percentEncode(v)}`).join('&')}` : '')),
    },
    { weight: 1, arbitrary: headerValue.map((s) => `?${s}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 5_000 }).map((n) => new Text(['?query=', new Long('%7B', n)])) },
  );
  return fc.record({
    method: fc.oneof({ weight: 10, arbitrary: fc.constant('POST') }, { weight: 4, arbitrary: fc.constant('GET') }, { weight: 3, arbitrary: fc.constantFrom('PUT', 'OPTIONS', 'PATCH', 'DELETE') }),
    search,
    contentType,
    encoding,
    body,
    accept: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 5, arbitrary: fc.constantFrom('application/json', 'application/graphql-response+json', '*/*', 'application/graphql-response+json, application/json;q=0.9', 'application/*') },
      { weight: 1, arbitrary: fc.oneof(fc.constantFrom('text/html', 'text/event-stream', 'application/xml', 'multipart/mixed', 'application/json;q=0', ''), headerValue) },
    ),
    csrf: fc.boolean(),
    identity: identityArbitrary,
  }).map((r) => {
    const forbidsBody = r.method === 'GET';
    const text = r.body instanceof Uint8Array ? Buffer.from(r.body).toString('latin1') : String(r.body);
    return printedAs(
      { ...r, body: forbidsBody ? undefined : r.body, batch: !forbidsBody && text.trimStart().startsWith('[') },
      (x) => `{ method: ${x.method}, search: ${typeof x.search === 'string' ? abbreviate(x.search, 400) : fc.stringify(x.search)}, contentType: ${JSON.stringify(x.contentType)}, encoding: ${fc.stringify(x.encoding)}, accept: ${JSON.stringify(x.accept)}, csrf: ${x.csrf}, identity: ${fc.stringify(x.identity)}, body: ${typeof x.body === 'string' ? abbreviate(x.body, 2000) : fc.stringify(x.body)} }`,
    );
  });
}
