/**
 * What Mesh's `prefix` transform (`includeRootOperations: true`, wrap mode) does, for a source of
 * the baseline: every type and root field of the source gets `<prefix>`, so the raw schemas never
 * collide with the curated public types (Payment, Customer, Place, Message ...) declared in
 * `additionalTypeDefs`. Written here because `@graphql-mesh/transform-prefix` is not installed
 * in this repository (and the benchmark may not install packages); it is the same two
 * graphql-tools wrap transforms that package uses.
 */
import type { GraphQLSchema } from 'graphql';
import { RenameRootFields, RenameTypes } from '@graphql-tools/wrap';

// The wrap transforms' own parameter types (two copies of @graphql-tools/utils are installed).
type Request = Parameters<RenameTypes['transformRequest']>[0];
type Context = Parameters<RenameTypes['transformRequest']>[1];
type Result = Parameters<RenameTypes['transformResult']>[0];
type SubschemaConfig = Parameters<RenameTypes['transformSchema']>[1];

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

export default class RawPrefixTransform {
  private readonly types: RenameTypes;
  private readonly rootFields: RenameRootFields;

  constructor({ config }: { config: { prefix: string } }) {
    const { prefix } = config;
    this.types = new RenameTypes((name) => (ROOT_TYPES.has(name) ? name : `${prefix}${name}`), { renameBuiltins: false, renameScalars: true });
    this.rootFields = new RenameRootFields((_type, field) => `${prefix}${field}`);
  }

  transformSchema(schema: GraphQLSchema, subschemaConfig: SubschemaConfig): GraphQLSchema {
    const renamed = this.types.transformSchema(schema, subschemaConfig);
    return this.rootFields.transformSchema(renamed, subschemaConfig);
  }

  transformRequest(request: Request, context: Context, state: Record<string, unknown>): Request {
    const fields = this.rootFields.transformRequest(request, context, state);
    return this.types.transformRequest(fields, context, {});
  }

  transformResult(result: Result, context: Context, state: Record<string, unknown>): Result {
    return this.types.transformResult(result, context, state);
  }
}
