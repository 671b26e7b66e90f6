import {
  getNamedType, getNullableType, isInputType, isListType, typeFromAST, isObjectType, isInterfaceType, Kind, valueFromAST,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLNamedType, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode,
} from 'graphql';

/**
 * What an operation may cost the backends, worked out from the document before anything runs:
 * every object a field can return costs 1, times how many of it a list can hold. A list's size
 * is its `first` argument (from the document, the variables, or a variable's default value), or
 * the argument's default, or DEFAULT_LIST_SIZE. A connection passes its `first` down to the list
 * inside it (`edges`), so `orders(first: 50) { edges { node { customer { ... } } } }` costs 50
 * per customer field, and `first: 1000000` under another list multiplies into a refusal rather
 * than into a million calls.
 *
 * Also counted: `selections`, the field selections of the operation with every fragment spread
 * written out in place. That is the work a walk that does not remember fragments does: graphql-jit's
 * compiler is one (fragments spreading the one below 20 times, six levels deep, about 1 KB: 3.2
 * million selections, 0.65 s of compiling; 25 times, 2.3 s). The gateway refuses an operation
 * over MAX_SELECTIONS before any such walk runs.
 *
 * This walk itself costs time linear in the document: a fragment is worked out once per type and
 * list size it is spread with, and reused at every other spread.
 */
export const DEFAULT_LIST_SIZE = 10;

export interface OperationCost {
  cost: number;
  /** Field selections with fragments written out in place (may be Infinity for absurd documents). */
  selections: number;
}

interface Tally {
  cost: number;
  selections: number;
}

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): OperationCost {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return { cost: 0, selections: 0 };
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const root = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  if (!root) return { cost: 0, selections: 0 };
  // Sizes given by variables count as the same sizes written out: execution fills in each
  // variable's default value when the request leaves it out, so the estimate must too. Only the
  // defaults are worked out here; coercing every variable again would walk every element of a
  // large list a second time (execution coerces them anyway, and refuses what does not fit).
  const values: Record<string, unknown> = { ...variables };
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(schema, definition.type);
    if (values[name] === undefined && definition.defaultValue && type && isInputType(type)) values[name] = valueFromAST(definition.defaultValue, type);
  }

  const sizeOf = (field: GraphQLField<unknown, unknown>, args: readonly { name: { value: string }; value: Parameters<typeof valueFromAST>[0] }[]): number | undefined => {
    const firstArg = field.args.find((a) => a.name === 'first' || a.name === 'last' || a.name === 'limit');
    if (!firstArg) return undefined;
    const given = args.find((a) => a.name.value === firstArg.name);
    const value = given ? valueFromAST(given.value, firstArg.type, values) : firstArg.defaultValue;
    return typeof value === 'number' && value >= 0 ? value : undefined;
  };

  // A fragment's tally depends only on the type it is read as and the list size passed down to it.
  const fragmentTallies = new Map<string, Tally>();

  const walk = (type: GraphQLNamedType, selectionSet: SelectionSetNode | undefined, inherited: number | undefined, depth: number): Tally => {
    const tally = { cost: 0, selections: 0 };
    if (!selectionSet || depth > 64) return tally;
    const fields = isObjectType(type) || isInterfaceType(type) ? type.getFields() : undefined;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) ?? type : type;
        add(tally, walk(on, selection.selectionSet, inherited, depth + 1));
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment) continue;
        const on = schema.getType(fragment.typeCondition.name.value) ?? type;
        const key = `${fragment.name.value}\u0000${on.name}\u0000${inherited ?? ''}`;
        let inner = fragmentTallies.get(key);
        if (inner === undefined) {
          inner = walk(on, fragment.selectionSet, inherited, depth + 1);
          fragmentTallies.set(key, inner);
        }
        add(tally, inner);
        continue;
      }
      tally.selections += 1;
      const field = fields?.[selection.name.value];
      if (!field) continue; // __typename and the like
      const returned = getNamedType(field.type);
      if (!isObjectType(returned) && !isInterfaceType(returned)) continue;
      const own = sizeOf(field, selection.arguments ?? []);
      const isList = isListType(getNullableType(field.type));
      // A list takes its own size, else the size its connection passed down, else the default.
      const count = isList ? own ?? inherited ?? DEFAULT_LIST_SIZE : 1;
      // A connection (an object, not a list) passes its `first` on until a list uses it.
      const passDown = isList ? undefined : own ?? inherited;
      const inner = walk(returned, selection.selectionSet, passDown, depth + 1);
      tally.cost += count * (1 + inner.cost);
      tally.selections += inner.selections;
    }
    return tally;
  };
  return walk(root, operation.selectionSet, undefined, 0);
}

function add(into: Tally, more: Tally): void {
  into.cost += more.cost;
  into.selections += more.selections;
}
