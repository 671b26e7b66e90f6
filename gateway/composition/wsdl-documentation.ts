import { GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import { XMLParser } from 'fast-xml-parser';

/**
 * GraphQL Mesh's SOAP handler drops the WSDL's `<xsd:documentation>`, so a SOAP source's types
 * arrive undocumented. This puts the WSDL's words back on the types Mesh built
 * (`<definitions name>_<complexType name>`) and their fields (the complexType's elements).
 */

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  // A WSDL is a contract file in this repo, but parse it as if it were hostile anyway.
  processEntities: false,
  isArray: (name) => ['schema', 'complexType', 'element'].includes(name),
});

const asArray = (value: unknown): Node[] => (Array.isArray(value) ? value : value ? [value] : []) as Node[];

function documentation(node: Node | undefined): string | undefined {
  const doc = (node?.annotation as Node | undefined)?.documentation;
  const text = typeof doc === 'string' ? doc : (doc as Node | undefined)?.['#text'];
  return typeof text === 'string' ? text.trim().replace(/\s+/g, ' ') : undefined;
}

interface TypeDocs {
  description: string | undefined;
  fields: Map<string, string>;
}

export function readWsdlDocumentation(wsdlXml: string): Map<string, TypeDocs> {
  const root = parser.parse(wsdlXml) as Node;
  const definitions = root.definitions as Node | undefined;
  if (!definitions) throw new TypeError('readWsdlDocumentation: the document has no <definitions> element');
  const prefix = typeof definitions['@_name'] === 'string' ? `${definitions['@_name']}_` : '';
  const docs = new Map<string, TypeDocs>();
  for (const schema of asArray((definitions.types as Node | undefined)?.schema)) {
    for (const complexType of asArray(schema.complexType)) {
      const name = complexType['@_name'];
      if (typeof name !== 'string') continue;
      const fields = new Map<string, string>();
      for (const group of ['sequence', 'all', 'choice']) {
        for (const element of asArray((complexType[group] as Node | undefined)?.element)) {
          const description = documentation(element);
          if (typeof element['@_name'] === 'string' && description) fields.set(element['@_name'], description);
        }
      }
      docs.set(`${prefix}${name}`, { description: documentation(complexType), fields });
    }
  }
  return docs;
}

export function addWsdlDocumentation(schema: GraphQLSchema, wsdlXml: string): GraphQLSchema {
  const docs = readWsdlDocumentation(wsdlXml);
  return mapSchema(schema, {
    [MapperKind.OBJECT_TYPE]: (type) => {
      const typeDocs = docs.get(type.name);
      if (!typeDocs) return type;
      const config = type.toConfig();
      const fields = Object.fromEntries(
        Object.entries(config.fields).map(([name, field]) => [name, { ...field, description: field.description ?? typeDocs.fields.get(name) }]),
      );
      return new GraphQLObjectType({ ...config, description: config.description ?? typeDocs.description, fields });
    },
  });
}
