import { resolve as resolvePath } from 'node:path';
import {
  getNamedType,
  isEnumType,
  Kind,
  type FieldNode,
  type GraphQLField,
  type GraphQLResolveInfo,
  type SelectionNode,
  type SelectionSetNode,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  isUnionType,
  visit,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { stitchSchemas } from '@graphql-tools/stitch';
import { annotateExternalObject, applySchemaTransforms, isExternalObject, type SubschemaConfig } from '@graphql-tools/delegate';
import { getAdditionalResolversFromTypeDefs, getInContextSDK, resolveAdditionalResolvers } from '@graphql-mesh/utils';
import { isPromise, type IResolvers } from '@graphql-tools/utils';
import { catalogueExecutor } from './byo/source-errors.ts';
import type { LoadedSource } from './byo/types.ts';
import type { AdditionalResolverEntry, SourcePolicy, SubscriptionEntry } from './byo/mesh-config.ts';
import type { ContractContext, SourceEvent } from '../../schema/contract.ts';
import { evaluateFilter, readPath } from './filter-by.ts';
import { wrapTransforms, type MeshTransform } from './transforms.ts';
import { renameTransforms } from './byo/namespace.ts';
import { createLinkCache, type LinkCall } from './link-cache.ts';
import type { EntityCache } from '../upstream/entity-cache.ts';
import { junctionError } from '../errors.ts';
import * as authorization from '../../schema/authorization.ts';
import * as cacheControl from '../../schema/cache-control.ts';
import * as rateLimit from '../../schema/rate-limit.ts';
import { ANONYMOUS, type Principal } from '../../schema/principal.ts';
import { importModule } from './modules.ts';

/**
 * Mesh v0's composition, in Junction: the sources' schemas stitched into one (root fields merged,
 * each source's transforms applied), `additionalTypeDefs` added, and `additionalResolvers` (and
 * Mesh v1's `@resolveTo`) turned into resolvers over the in-context SDK, exactly as Mesh's own
 * runtime does it (its `resolveAdditionalResolvers` and `getInContextSDK`), so a declared link means
 * what it means in Mesh: `keyField`/`keysArg` links are batched per request (one backend call per
 * link level), matched by `valueKeyField` or by position.
 *
 * What Junction adds:
 * - a type name that two sources define differently stops start-up naming both (Mesh would let
 *   the last one win); so does a root field that two sources define;
 * - a source answers verified callers only unless its entry says `public: true`, at its root
 *   fields and through every link into it;
 * - every call goes through the source's runtime (engine/runtime.ts).
 */
export interface ComposeInput {
  source: LoadedSource;
  transforms: readonly MeshTransform[];
}

export class CompositionError extends Error {
  readonly code = 'COMPOSITION_FAILED';
  override readonly name = 'CompositionError';
  constructor(readonly problems: string[]) {
    super(`The sources cannot be composed into one schema:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface Composed {
  schema: GraphQLSchema;
  /** Put on every request's context: the in-context SDK (`context.<source>.Query.<field>(...)`). */
  context: Record<string, unknown>;
}

/** What a type is made of, without descriptions or directives: two sources' types are the same type when this is equal. */
function shapeOf(type: GraphQLNamedType): string {
  if (isObjectType(type) || isInterfaceType(type)) {
    const fields = Object.values(type.getFields()).map((f) => `${f.name}(${f.args.map((a) => `${a.name}:${a.type}`).join(',')}):${f.type}`);
    const interfaces = type.getInterfaces().map((i) => i.name);
    return `${isObjectType(type) ? 'type' : 'interface'}[${interfaces.sort().join('&')}]{${fields.sort().join(';')}}`;
  }
  if (isInputObjectType(type)) return `input{${Object.values(type.getFields()).map((f) => `${f.name}:${f.type}`).sort().join(';')}}`;
  if (isUnionType(type)) return `union{${type.getTypes().map((t) => t.name).sort().join('|')}}`;
  if (isEnumType(type)) return `enum{${type.getValues().map((v) => v.name).sort().join('|')}}`;
  return 'scalar';
}

const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;

/** Conflicts between the transformed schemas, and with names already taken (`taken`: the contract's). */
function conflicts(schemas: Map<string, GraphQLSchema>, taken: GraphQLSchema | undefined): string[] {
  const problems: string[] = [];
  const types = new Map<string, { source: string; shape: string }>();
  const fields = new Map<string, string>();
  if (taken) {
    for (const type of Object.values(taken.getTypeMap())) if (!isIntrospectionType(type) && !isSpecifiedScalarType(type) && !ROOTS.includes(type.name as never)) types.set(type.name, { source: 'the curated contract', shape: '' });
    for (const root of ROOTS) for (const name of Object.keys(taken.getRootType(root.toLowerCase() as never)?.getFields() ?? {})) fields.set(`${root}.${name}`, 'the curated contract');
  }
  for (const [source, schema] of schemas) {
    for (const type of Object.values(schema.getTypeMap())) {
      if (isIntrospectionType(type) || isSpecifiedScalarType(type) || ROOTS.includes(type.name as never)) continue;
      const shape = shapeOf(type);
      const seen = types.get(type.name);
      if (!seen) types.set(type.name, { source, shape });
      else if (seen.shape !== shape) {
        problems.push(`type ${type.name} is defined differently by ${seen.source} and by ${source}: give one a prefix or rename transform, or namespace: true`);
      }
    }
    for (const root of ROOTS) {
      const type = root === 'Query' ? schema.getQueryType() : root === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
      for (const name of Object.keys(type?.getFields() ?? {})) {
        const seen = fields.get(`${root}.${name}`);
        if (seen) problems.push(`${root}.${name} is defined by ${seen} and by ${source}: give one a prefix transform (includeRootOperations: true), filter it out, or namespace: true`);
        else fields.set(`${root}.${name}`, source);
      }
    }
  }
  return problems;
}

/** The directives a source's `policy` stands for, added to a root field where it has none of that kind. */
function withPolicy(field: GraphQLField<unknown, unknown>, policy: SourcePolicy): void {
  const own = (name: string) => field.astNode?.directives?.some((d) => d.name.value === name);
  const directives: Record<string, unknown[]> = { ...((field.extensions as { directives?: Record<string, unknown[]> }).directives ?? {}) };
  const guarded = own('authenticated') || own('requiresScopes') || directives.authenticated || directives.requiresScopes;
  if (!guarded && policy.requiresScopes) directives.requiresScopes = [{ scopes: policy.requiresScopes }];
  else if (!guarded && policy.authenticated) directives.authenticated = [{}];
  if (policy.cacheControl && !own('cacheControl') && !directives.cacheControl) directives.cacheControl = [policy.cacheControl];
  if (policy.rateLimit && !own('rateLimit') && !directives.rateLimit) directives.rateLimit = [policy.rateLimit];
  (field as { extensions: unknown }).extensions = { ...field.extensions, directives };
}

/**
 * Links whose source field is not there: the in-context SDK has `<source>.<root type>.<field>` for
 * the root fields each source serves after its transforms (a prefix renames them) and for a
 * namespaced source's own. Such a link started, then answered every call with an internal error.
 */
function unreachableLinks(resolvers: readonly (AdditionalResolverEntry | string)[], linkDefs: readonly AdditionalResolverEntry[], callable: ReadonlyMap<string, GraphQLSchema>): string[] {
  const problems: string[] = [];
  const check = (link: AdditionalResolverEntry, where: string) => {
    if (!link.sourceName || !link.sourceTypeName || !link.sourceFieldName) return;
    const schema = callable.get(link.sourceName);
    if (!schema) {
      problems.push(`${where}: sourceName "${link.sourceName}" is not a source a link can call (${[...callable.keys()].join(', ') || 'none is declared'}; the demo sources are served by the curated contract)`);
      return;
    }
    // A root type whose fields a filter took out all is not served.
    const root = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]
      .find((type) => type?.name === link.sourceTypeName && Object.keys(type.getFields()).length > 0);
    if (!root) {
      problems.push(`${where}: ${link.sourceName} has no root type ${link.sourceTypeName}`);
      return;
    }
    if (!root.getFields()[link.sourceFieldName]) {
      problems.push(`${where}: ${link.sourceName} has no field ${link.sourceTypeName}.${link.sourceFieldName} (after its transforms; its ${link.sourceTypeName} fields: ${Object.keys(root.getFields()).join(', ')})`);
    }
  };
  resolvers.forEach((link, index) => typeof link === 'object' && check(link, `additionalResolvers[${index}]`));
  for (const link of linkDefs) check(link, `@resolveTo on ${link.targetTypeName}.${link.targetFieldName}`);
  return problems;
}

/** The stitched schema's own copy of each source's subschema, by the source's name. */
function subschemasByName(schema: GraphQLSchema): Map<string, SubschemaConfig> {
  const map = (schema.extensions as { stitchingInfo?: { subschemaMap?: Map<{ name?: string }, SubschemaConfig> } }).stitchingInfo?.subschemaMap;
  const byName = new Map<string, SubschemaConfig>();
  for (const [config, subschema] of map ?? []) if (config.name) byName.set(config.name, subschema);
  return byName;
}


/**
 * A link's value, readable by the fields below it whatever they are called in the client's
 * document. A link whose `result` is a path (`result: messages`), or a value from the entity
 * cache, is plain data keyed by response key (an alias, or the response cache's own
 * `__responseCacheId: id`), and plain data is read by field name: every aliased field below such a
 * link answered null, or failed when non-null (Mesh does the same). Marked as the source's
 * answer, each is read by response key, as delegated answers are.
 */
function readable(value: unknown, subschema: SubschemaConfig): unknown {
  if (Array.isArray(value)) {
    for (const item of value) readable(item, subschema);
    return value;
  }
  if (typeof value === 'object' && value !== null && !(value instanceof Error) && !isExternalObject(value)) annotateExternalObject(value, [], subschema, {});
  return value;
}

type SdkCall = (options: { context?: unknown; info?: GraphQLResolveInfo; selectionSet?: unknown; argsFromKeys?: unknown; dataLoaderOptions?: { maxBatchSize?: number } }) => unknown;

/**
 * A link's info, with what the fields below it need (their `requiredSelectionSet`s) added to its
 * selection, at the link's own return type. Why: a link whose `result` is a path into the source's
 * answer (`result: messages`) is delegated with the caller's selection still unwrapped, so the
 * delegation looked for those fields on the wrong type and left them out: a link below it then had
 * no key and answered null (Mesh does the same). Memoized per field nodes, so that every parent of
 * one link keeps sharing one batch.
 */
function requiredSelections(schema: GraphQLSchema): (info: GraphQLResolveInfo) => GraphQLResolveInfo {
  const byField = (schema.extensions as { stitchingInfo?: { fieldNodesByField?: Record<string, Record<string, FieldNode[]>> } }).stitchingInfo?.fieldNodesByField ?? {};
  const expanded = new WeakMap<readonly FieldNode[], readonly FieldNode[]>();
  const expand = (selectionSet: SelectionSetNode | undefined, type: GraphQLNamedType): SelectionSetNode | undefined => {
    if (!selectionSet || !(isObjectType(type) || isInterfaceType(type))) return selectionSet;
    const fields = type.getFields();
    const needs = byField[type.name] ?? {};
    const selections: SelectionNode[] = [];
    const names = new Set<string>();
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = fields[selection.name.value];
        selections.push(field ? { ...selection, selectionSet: expand(selection.selectionSet, getNamedType(field.type)) } as FieldNode : selection);
        if (!selection.alias) names.add(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const onType = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        selections.push({ ...selection, selectionSet: onType ? expand(selection.selectionSet, onType)! : selection.selectionSet });
      } else selections.push(selection);
    }
    for (const selection of selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) continue;
      for (const need of needs[selection.name.value] ?? []) {
        if (names.has(need.name.value)) continue;
        names.add(need.name.value);
        selections.push(need);
      }
    }
    return { ...selectionSet, selections };
  };
  return (info) => {
    let fieldNodes = expanded.get(info.fieldNodes);
    if (!fieldNodes) {
      const type = getNamedType(info.returnType);
      fieldNodes = info.fieldNodes.map((node) => ({ ...node, selectionSet: expand(node.selectionSet, type) }) as FieldNode);
      expanded.set(info.fieldNodes, fieldNodes);
    }
    return { ...info, fieldNodes };
  };
}

const needsCaller = (source: string, where: string) =>
  junctionError('UNAUTHENTICATED', `${where} comes from the ${source} source, which answers signed-in callers only.`);

const isAnonymous = (context: unknown) => ((context as { principal?: Principal } | undefined)?.principal ?? ANONYMOUS).kind === 'anonymous';

/** `directive @resolveTo` for additionalTypeDefs that use Mesh v1's spelling of a link. */
const RESOLVE_TO = /* GraphQL */ `
  directive @resolveTo(
    requiredSelectionSet: String, sourceName: String, sourceTypeName: String, sourceFieldName: String,
    sourceSelectionSet: String, sourceArgs: ResolveToSourceArgs, keyField: String, keysArg: String,
    pubsubTopic: String, filterBy: String, additionalArgs: ResolveToSourceArgs, result: String, resultType: String
  ) on FIELD_DEFINITION
  scalar ResolveToSourceArgs
`;

/** The typeDefs without `@resolveTo` usages (their meaning is taken out first). */
function withoutResolveTo(documents: readonly DocumentNode[]): DocumentNode[] {
  return documents.map((document) =>
    visit(document, {
      Directive: (node) => (node.name.value === 'resolveTo' ? null : undefined),
    }),
  );
}

export async function composeSources(options: {
  sources: readonly ComposeInput[];
  /** Sources kept under their own namespace: reachable from links, not merged. */
  namespaced: readonly LoadedSource[];
  typeDefs: readonly DocumentNode[];
  resolvers: readonly (AdditionalResolverEntry | string)[];
  baseDir: string;
  /** Subscriptions fed by webhook topics (additionalResolvers entries with a pubsubTopic). */
  subscriptions?: readonly SubscriptionEntry[];
  /** Topics of public sources: their subscriptions are open to anonymous callers. */
  publicTopics?: ReadonlySet<string>;
  /** Names already served beside the composed schema (the contract's). */
  taken?: GraphQLSchema;
  /** Where declared links keep what they fetched, for their `@cacheControl`; absent: nothing kept. */
  entityCache?: EntityCache;
}): Promise<Composed> {
  const subschemas: (SubschemaConfig & { name: string })[] = options.sources.map(({ source, transforms }) => ({
    name: source.name,
    schema: source.schema,
    executor: catalogueExecutor(source),
    // Junction's own `rename` option first (it is written in the source's names), then Mesh's transforms.
    transforms: [...renameTransforms(source.rename), ...wrapTransforms(transforms, source.name)],
  }));
  const transformed = new Map(subschemas.map((s) => [s.name, applySchemaTransforms(s.schema, s)]));
  const linkDefs = getAdditionalResolversFromTypeDefs(options.typeDefs as DocumentNode[]) as AdditionalResolverEntry[];
  const problems = [
    ...conflicts(transformed, options.taken),
    ...unreachableLinks(options.resolvers, linkDefs, new Map([...transformed, ...options.namespaced.map((s) => [s.name, s.schema] as const)])),
  ];
  if (problems.length > 0) throw new CompositionError(problems);

  const declared = [...options.resolvers, ...linkDefs];
  // Each source learns which of its arguments carry a batch of keys, to report batch sizes.
  const runtimes = new Map([...options.sources.map((s) => s.source), ...options.namespaced].map((s) => [s.name, s.runtime]));
  for (const link of declared) {
    if (typeof link === 'string' || !link.keysArg) continue;
    runtimes.get(link.sourceName)?.keyArgs.add(link.keysArg.split('.')[0]!);
  }
  const resolvers = (await resolveAdditionalResolvers(
    options.baseDir,
    declared as never,
    (path: string) => importModule(resolvePath(options.baseDir, path)) as Promise<never>,
    undefined as never,
  )) as IResolvers[];
  resolvers.push(subscriptionResolvers(options.subscriptions ?? [], options.publicTopics ?? new Set()));
  const usesResolveTo = linkDefs.length > 0;
  let schema: GraphQLSchema;
  try {
    schema = stitchSchemas({
      subschemas,
      // The contract's policy directives (@authenticated, @requiresScopes, @cacheControl, @rateLimit)
      // may be used on any type or field the additionalTypeDefs declare or extend.
      typeDefs: [authorization.typeDefs, cacheControl.typeDefs, rateLimit.typeDefs, ...withoutResolveTo(options.typeDefs), ...(usesResolveTo ? [RESOLVE_TO] : [])],
      resolvers,
      // Mesh's stitching merger: same-named types are one type (conflicts were refused above).
      mergeTypes: true,
    });
  } catch (err) {
    // A resolver for a field no typeDef declares, a typeDef naming a type no source has, ...
    throw new CompositionError([`additionalTypeDefs / additionalResolvers: ${(err as Error).message}`]);
  }

  const owners = new Map<string, LoadedSource>();
  for (const { source } of options.sources) {
    const own = transformed.get(source.name)!;
    for (const root of ROOTS) for (const name of Object.keys(own.getRootType(root.toLowerCase() as never)?.getFields() ?? {})) owners.set(`${root}.${name}`, source);
  }
  // A source's policy defaults, on each of its root fields that says none of its own.
  for (const root of ROOTS) {
    for (const field of Object.values(schema.getRootType(root.toLowerCase() as never)?.getFields() ?? {})) {
      const policy = owners.get(`${root}.${field.name}`)?.policy;
      if (policy) withPolicy(field, policy);
    }
  }
  // Declared policy, as on a code contract: a denied call spends none of the caller's allowance.
  schema = authorization.applyAuthorization(rateLimit.applyRateLimits(schema));

  // Anonymous callers stop at the root fields of sources that are not public.
  for (const root of ROOTS) {
    const type = schema.getRootType(root.toLowerCase() as never);
    for (const field of Object.values(type?.getFields() ?? {})) {
      const owner = owners.get(`${root}.${field.name}`);
      if (!owner || owner.public) continue;
      const resolve = field.resolve as GraphQLFieldResolver<unknown, unknown>;
      field.resolve = (parent, args, context, info) => {
        if (isAnonymous(context)) throw needsCaller(owner.name, `${root}.${field.name}`);
        return resolve(parent, args, context, info);
      };
    }
  }

  // The in-context SDK: what declared links (and code resolvers) call; guarded as root fields are.
  const raw = [...subschemas, ...options.namespaced.map((s) => ({ name: s.name, schema: s.schema, executor: catalogueExecutor(s) }))];
  const sdk = getInContextSDK(schema, raw as never, undefined as never, []) as Record<string, Record<string, Record<string, SdkCall>>>;
  const byName = new Map([...options.sources.map((s) => s.source), ...options.namespaced].map((s) => [s.name, s]));
  const required = requiredSelections(schema);
  const stitched = subschemasByName(schema);
  const linkCache = options.entityCache
    ? createLinkCache(schema, options.entityCache, { perCaller: (name) => byName.get(name)?.forwardIdentity === true })
    : undefined;
  for (const [name, roots] of Object.entries(sdk)) {
    const source = byName.get(name);
    for (const [rootName, fields] of Object.entries(roots)) {
      if (typeof fields !== 'object' || fields === null) continue;
      for (const [fieldName, call] of Object.entries(fields)) {
        const inner: SdkCall = (o) => {
          const batched = o.argsFromKeys && source?.batchSize ? { dataLoaderOptions: { maxBatchSize: source.batchSize, ...o.dataLoaderOptions } } : {};
          return call({ ...o, ...batched, ...(o.info && typeof o.selectionSet === 'function' ? { info: required(o.info) } : {}) });
        };
        // Batched links whose field says @cacheControl: each key's value kept in the entity cache.
        const viaCache = (linkCache ? linkCache(name, `${rootName}.${fieldName}`, inner as LinkCall) : inner) as SdkCall;
        const subschema = stitched.get(name);
        fields[fieldName] = (o) => {
          if (source && !source.public && isAnonymous(o.context)) throw needsCaller(name, `${rootName}.${fieldName}`);
          const value = viaCache(o);
          return subschema ? (isPromise(value) ? value.then((v) => readable(v, subschema)) : readable(value, subschema)) : value;
        };
      }
    }
  }
  return { schema, context: sdk };
}


/**
 * Mesh's declared subscriptions: each field reads its topic (every verified webhook event published
 * on it, from every instance), keeps the events its `filterBy` accepts (`root`: the event's payload,
 * as Mesh's webhooks publish it), and answers with `result` of the payload. A topic of a source not
 * public refuses anonymous subscribers before anything starts.
 */
function subscriptionResolvers(entries: readonly SubscriptionEntry[], publicTopics: ReadonlySet<string>): IResolvers {
  const fields: Record<string, { subscribe: GraphQLFieldResolver<unknown, unknown>; resolve: GraphQLFieldResolver<unknown, unknown> }> = {};
  for (const entry of entries) {
    fields[entry.targetFieldName] = {
      subscribe: (_root, args, context) => {
        if (!publicTopics.has(entry.pubsubTopic) && isAnonymous(context)) throw needsCaller(entry.pubsubTopic, `Subscription.${entry.targetFieldName}`);
        const { filter } = entry;
        return (context as ContractContext).subscribe(entry.pubsubTopic, filter ? (event) => Boolean(evaluateFilter(filter, { root: event.payload, args })) : undefined);
      },
      resolve: (event) => (entry.result === undefined ? (event as SourceEvent).payload : readPath((event as SourceEvent).payload, entry.result.split('.'))),
    };
  }
  return entries.length > 0 ? { Subscription: fields } as IResolvers : {};
}
