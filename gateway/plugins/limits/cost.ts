import {
  getNamedType, getNullableType, isListType, isObjectType, isInterfaceType, Kind, valueFromAST,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLNamedType, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode,
} from 'graphql';

/**
 * What an operation may cost the backends, worked out from the document before anything runs:
 * every object a field can return costs 1, times how many of it a list can hold. A list's size
 * is its `first` argument (from the document or the variables), or the argument's default, or
 * DEFAULT_LIST_SIZE. A connection passes its `first` down to the list inside it (`edges`), so
 * `payments(first: 50) { edges { node { customer { ... } } } }` costs 50 per customer field, and
 * `first: 1000000` under another list multiplies into a refusal rather than into a million calls.
 */
export const DEFAULT_LIST_SIZE = 10;

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return 0;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const root = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  if (!root) return 0;

  const sizeOf = (field: GraphQLField<unknown, unknown>, args: readonly { name: { value: string }; value: Parameters<typeof valueFromAST>[0] }[]): number | undefined => {
    const firstArg = field.args.find((a) => a.name === 'first' || a.name === 'last' || a.name === 'limit');
    if (!firstArg) return undefined;
    const given = args.find((a) => a.name.value === firstArg.name);
    const value = given ? valueFromAST(given.value, firstArg.type, variables ?? {}) : firstArg.defaultValue;
    return typeof value === 'number' && value >= 0 ? value : undefined;
  };

  const walk = (type: GraphQLNamedType, selectionSet: SelectionSetNode | undefined, inherited: number | undefined, depth: number): number => {
    if (!selectionSet || depth > 64 || !(isObjectType(type) || isInterfaceType(type))) return 0;
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) ?? type : type;
        total += walk(on, selection.selectionSet, inherited, depth + 1);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment) total += walk(schema.getType(fragment.typeCondition.name.value) ?? type, fragment.selectionSet, inherited, depth + 1);
        continue;
      }
      const field = type.getFields()[selection.name.value];
      if (!field) continue; // __typename and the like
      const returned = getNamedType(field.type);
      if (!isObjectType(returned) && !isInterfaceType(returned)) continue;
      const own = sizeOf(field, selection.arguments ?? []);
      const isList = isListType(getNullableType(field.type));
      // A list takes its own size, else the size its connection passed down, else the default.
      const count = isList ? own ?? inherited ?? DEFAULT_LIST_SIZE : 1;
      // A connection (an object, not a list) passes its `first` on until a list uses it.
      const passDown = isList ? undefined : own ?? inherited;
      total += count * (1 + walk(returned, selection.selectionSet, passDown, depth + 1));
    }
    return total;
  };
  return walk(root, operation.selectionSet, undefined, 0);
}
