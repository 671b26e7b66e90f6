import { getNamedType, isInterfaceType, isLeafType, isNonNullType, isObjectType, isUnionType, type GraphQLNamedType, type GraphQLSchema } from 'graphql';


/**
 * What GraphiQL opens with when the served contract gives no example query of its own (a sources
 * file of the user's own): every root query field that needs no argument, each with the leaf fields of what it
 * returns (one level into objects), so the first run answers. Comments say where to go next.
 */
export function exampleQueryFor(schema: GraphQLSchema): string {
  const query = schema.getQueryType();
  const fields = Object.values(query?.getFields() ?? {}).filter((f) => f.args.every((a) => !isNonNullType(a.type) || a.defaultValue !== undefined));
  const chosen = fields.slice(0, 3);
  if (chosen.length === 0) return '# Your sources\' queries all take arguments: open the Docs panel to pick one.\n{ __typename }\n';
  const body = chosen.map((f) => `  ${f.name}${selection(getNamedType(f.type), 2, '  ')}`).join('\n');
  return `# Your sources, from the sources file: open the Docs panel for every field.\nquery Example {\n${body}\n}\n`;
}

function selection(type: GraphQLNamedType, depth: number, indent: string): string {
  if (isLeafType(type)) return '';
  if (isUnionType(type)) {
    const members = type.getTypes().slice(0, 2).map((m) => `${indent}  ... on ${m.name}${selection(m, depth, `${indent}  `)}`);
    return ` {\n${indent}  __typename\n${members.join('\n')}\n${indent}}`;
  }
  if (!(isObjectType(type) || isInterfaceType(type))) return '';
  const fields = Object.values(type.getFields()).filter((f) => f.args.every((a) => !isNonNullType(a.type) || a.defaultValue !== undefined));
  const leaves = fields.filter((f) => isLeafType(getNamedType(f.type))).slice(0, 6).map((f) => `${indent}  ${f.name}`);
  const nested = depth > 1
    ? fields.filter((f) => !isLeafType(getNamedType(f.type))).slice(0, 1).map((f) => `${indent}  ${f.name}${selection(getNamedType(f.type), depth - 1, `${indent}  `)}`)
    : [];
  const lines = [...leaves, ...nested.filter((l) => l.trimEnd().endsWith('}'))];
  return ` {\n${(lines.length > 0 ? lines : [`${indent}  __typename`]).join('\n')}\n${indent}}`;
}
