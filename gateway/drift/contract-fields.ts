/**
 * Which public fields of a code contract a change in one of its sources touches. The contract says
 * two things about how it is bound to a source: `origins` (public type <- source type, field by
 * field: declared, so exact) and the operations its resolvers call (code: not declared field by
 * field). So a change is mapped in that order:
 *
 * 1. on a field of a source type that is a public type's origin: that public field (`Payment.amount_refunded`
 *    -> `Payment.amountRefunded`);
 * 2. on a type the origin types use (an enum, a nested object): the public fields whose source
 *    field has that type (`PaymentStatus.disputed` -> `Payment.status`);
 * 3. on an operation (a root field, its arguments, the input types it takes, the wrappers it
 *    answers in): the public fields that serve what the operation returns. A mutation of the
 *    source maps to the contract's mutations, a read to everything else. This is an estimate
 *    from types, not from the resolvers' code, and errs on the side of naming a field too many.
 *
 * A change none of these reach affects no public field ("internal").
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isUnionType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import type { TypeOrigin } from '../../schema/origins.ts';

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Output fields of a named type (objects and interfaces), or none. */
function outputFields(type: GraphQLNamedType | null | undefined) {
  return type && (isObjectType(type) || isInterfaceType(type)) ? Object.values(type.getFields()) : [];
}

/** Named types an output type leads to (its fields' types, a union's members). */
function outputChildren(type: GraphQLNamedType): GraphQLNamedType[] {
  if (isUnionType(type)) return [...type.getTypes()];
  return outputFields(type).map((field) => getNamedType(field.type));
}

/** Named types an input type leads to. */
function inputChildren(type: GraphQLNamedType): GraphQLNamedType[] {
  return isInputObjectType(type) ? Object.values(type.getFields()).map((field) => getNamedType(field.type)) : [];
}

/** Every named type reachable from `start` (itself included), not going past a type `stop` says. */
function reach(start: GraphQLNamedType, children: (t: GraphQLNamedType) => GraphQLNamedType[], stop: (t: GraphQLNamedType) => boolean = () => false): Set<string> {
  const seen = new Set<string>([start.name]);
  const queue = [start];
  while (queue.length > 0) {
    const type = queue.shift()!;
    if (type !== start && stop(type)) continue;
    for (const child of children(type)) {
      if (seen.has(child.name)) continue;
      seen.add(child.name);
      queue.push(child);
    }
  }
  return seen;
}

export interface ContractBinding {
  /** The source's name. */
  source: string;
  /** The contract's own types (its typeDefs, built), to name its fields. */
  publicSchema: GraphQLSchema;
  /** The contract's origins (every source's; this source's are picked). */
  origins: readonly TypeOrigin[];
}

/**
 * A mapper for one source: its compiled schemas (`schemas`: the current one first, then the newer,
 * so that a path only the newer has is still found) and a change's path (`Type`, `Type.field`,
 * `Type.field.argument`, `Enum.VALUE`) -> public fields, `Type.field`, sorted.
 */
export function contractFieldsMapper(binding: ContractBinding, schemas: readonly GraphQLSchema[]) {
  const { publicSchema } = binding;
  const origins = binding.origins.filter((o) => o.source === binding.source);
  const originsOf = new Map<string, TypeOrigin[]>();
  for (const origin of origins) originsOf.set(origin.sourceType, [...(originsOf.get(origin.sourceType) ?? []), origin]);
  // Where a public field is an entry into what a source answers: a root, or a type some source
  // stands for (a link's field on it). Connections and edges in between are not listed.
  const entryTypes = new Set([
    ...binding.origins.map((o) => o.type),
    ...[publicSchema.getQueryType(), publicSchema.getMutationType(), publicSchema.getSubscriptionType()].flatMap((t) => (t ? [t.name] : [])),
  ]);
  const typeIn = (name: string) => schemas.map((s) => s.getType(name)).find(Boolean);
  const isOrigin = (type: GraphQLNamedType) => originsOf.has(type.name);

  /** The public field an origin's source field is served as (explicit mapping, same name, or its snake_case). */
  const publicFieldOf = (origin: TypeOrigin, sourceField: string): string[] => {
    const type = publicSchema.getType(origin.type);
    if (!type || !(isObjectType(type) || isInterfaceType(type))) return [];
    return Object.keys(type.getFields())
      .filter((name) => (origin.fields?.[name] ?? (snakeCase(name) === sourceField ? sourceField : name)) === sourceField)
      .map((name) => `${origin.type}.${name}`);
  };

  /** Public fields of any type whose named type is one of `targets`, through public types that are no origin (connections, edges). */
  const publicFieldsLeadingTo = (targets: ReadonlySet<string>, keep: (parent: string) => boolean): string[] => {
    const leads = new Map<string, boolean>();
    const leadsTo = (type: GraphQLNamedType, path: Set<string>): boolean => {
      if (targets.has(type.name)) return true;
      // Another type a source stands for is another answer (Message.customer is a link, not Message).
      if (entryTypes.has(type.name) || path.has(type.name)) return false;
      const known = leads.get(type.name);
      if (known !== undefined) return known;
      const next = new Set(path).add(type.name);
      const result = outputChildren(type).some((child) => leadsTo(child, next));
      leads.set(type.name, result);
      return result;
    };
    const found: string[] = [];
    for (const type of Object.values(publicSchema.getTypeMap())) {
      if (!entryTypes.has(type.name) || targets.has(type.name) || !keep(type.name)) continue;
      for (const field of outputFields(type)) if (leadsTo(getNamedType(field.type), new Set())) found.push(`${type.name}.${field.name}`);
    }
    return found;
  };

  const rootKind = (typeName: string): 'query' | 'mutation' | 'subscription' | undefined => {
    for (const schema of schemas) {
      if (schema.getQueryType()?.name === typeName) return 'query';
      if (schema.getMutationType()?.name === typeName) return 'mutation';
      if (schema.getSubscriptionType()?.name === typeName) return 'subscription';
    }
    return undefined;
  };

  /** The public fields that serve what an operation answers: every origin type its result reaches. */
  const servingFields = new Map<string, string[]>();
  const fieldsOfOperation = (kind: 'query' | 'mutation' | 'subscription', operation: string): string[] => {
    const key = `${kind}.${operation}`;
    let found = servingFields.get(key);
    if (!found) servingFields.set(key, (found = fieldsServing(kind, operation)));
    return found;
  };
  const fieldsServing = (kind: 'query' | 'mutation' | 'subscription', operation: string): string[] => {
    const root = schemas.map((s) => (kind === 'query' ? s.getQueryType() : kind === 'mutation' ? s.getMutationType() : s.getSubscriptionType())).find((r) => r?.getFields()[operation]);
    const field = root?.getFields()[operation];
    if (!field) return [];
    const reached = reach(getNamedType(field.type), outputChildren);
    const targets = new Set([...reached].flatMap((name) => (originsOf.get(name) ?? []).map((o) => o.type)));
    if (targets.size === 0) return [];
    const mutationRoot = publicSchema.getMutationType()?.name ?? 'Mutation';
    // A source's write is what the contract's writes call; its reads, what everything else calls.
    return publicFieldsLeadingTo(targets, (parent) => (kind === 'mutation' ? parent === mutationRoot : parent !== mutationRoot));
  };

  /**
   * Every operation of either schema with the types its result reaches (through types no origin
   * stands for: a result that is an origin type is covered by its public fields) and the types
   * its arguments reach. Worked out once: a big spec has thousands of changes.
   */
  let operations: { kind: 'query' | 'mutation' | 'subscription'; name: string; result: Set<string>; args: Set<string> }[] | undefined;
  const allOperations = () => operations ??= schemas.flatMap((schema) =>
    ([['query', schema.getQueryType()], ['mutation', schema.getMutationType()], ['subscription', schema.getSubscriptionType()]] as const).flatMap(([kind, root]) =>
      Object.values(root?.getFields() ?? {}).map((field) => {
        const result = getNamedType(field.type);
        return {
          kind, name: field.name,
          result: isOrigin(result) ? new Set([result.name]) : reach(result, outputChildren, isOrigin),
          args: new Set(field.args.flatMap((arg) => [...reach(getNamedType(arg.type), inputChildren)])),
        };
      })));

  /** Operations whose result or (`viaArguments`) whose arguments reach `typeName`. */
  const operationsReaching = (typeName: string, viaArguments: boolean) => {
    const found = new Map<string, { kind: 'query' | 'mutation' | 'subscription'; name: string }>();
    for (const { kind, name, result, args } of allOperations()) {
      if (result.has(typeName) || (viaArguments && args.has(typeName))) found.set(`${kind}.${name}`, { kind, name });
    }
    return [...found.values()];
  };

  /** Source fields of origin types whose type reaches `typeName` through types no origin stands for. */
  const originFieldsReaching = (typeName: string): string[] => {
    const found: string[] = [];
    for (const [sourceType, list] of originsOf) {
      for (const field of outputFields(typeIn(sourceType))) {
        const named = getNamedType(field.type);
        if (named.name === typeName || (!isOrigin(named) && reach(named, outputChildren, isOrigin).has(typeName))) {
          for (const origin of list) found.push(...publicFieldOf(origin, field.name));
        }
      }
    }
    return found;
  };

  return (path: string, changeType: string): string[] => {
    const [typeName, fieldName] = path.split('.') as [string, string | undefined];
    const fields = new Set<string>();
    const kind = rootKind(typeName);
    if (kind) {
      if (fieldName) for (const f of fieldsOfOperation(kind, fieldName)) fields.add(f);
      return [...fields].sort();
    }
    const own = originsOf.get(typeName);
    const type = typeIn(typeName);
    if (own && fieldName && !isEnumType(type)) {
      for (const origin of own) for (const f of publicFieldOf(origin, fieldName)) fields.add(f);
    } else if (own && !fieldName) {
      // The type itself (removed, its kind changed): every public field that answers it.
      for (const f of publicFieldsLeadingTo(new Set(own.map((o) => o.type)), () => true)) fields.add(f);
    } else if (type) {
      for (const f of originFieldsReaching(typeName)) fields.add(f);
    }
    // A value added to an enum only widens what comes out; one removed, or any other change to a
    // type arguments carry, also narrows what the operations taking it accept.
    const viaArguments = changeType !== 'ENUM_VALUE_ADDED';
    if (!own || (type && isInputObjectType(type))) {
      for (const operation of operationsReaching(typeName, viaArguments)) for (const f of fieldsOfOperation(operation.kind, operation.name)) fields.add(f);
    }
    return [...fields].sort();
  };
}
