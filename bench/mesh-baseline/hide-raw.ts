/**
 * Root-level bare transform of the baseline: removes the sources' raw root fields (those that
 * start with one of the configured prefixes), and a root type left empty, so clients can reach
 * only the same curated public shape Junction serves. The raw types stay in the schema,
 * unreachable: the SDK resolves the raw unions it gets back (openapi's `X | Error`) by name there. Resolvers still reach the raw operations through
 * the in-context SDK, which delegates to each source's own (prefixed) schema, not to these fields.
 * Bare (`noWrap`): the unified schema is edited in place, no extra delegation layer is added.
 */
import { GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { MapperKind, mapSchema } from '@graphql-tools/utils';

export default class HideRawTransform {
  readonly noWrap = true;
  private readonly prefixes: string[];

  constructor({ config }: { config: { prefixes: string[] } }) {
    this.prefixes = config.prefixes;
  }

  transformSchema(schema: GraphQLSchema): GraphQLSchema {
    const isRaw = (name: string) => this.prefixes.some((prefix) => name.startsWith(prefix));
    return mapSchema(schema, {
      [MapperKind.ROOT_OBJECT]: (type) => {
        const config = type.toConfig();
        const fields = Object.fromEntries(Object.entries(config.fields).filter(([name]) => !isRaw(name)));
        return Object.keys(fields).length === 0 ? null : new GraphQLObjectType({ ...config, fields });
      },
    });
  }
}
