import { z } from 'zod';
import { minimatch } from 'minimatch';
import {
  FilterInputObjectFields,
  FilterInterfaceFields,
  FilterObjectFields,
  FilterRootFields,
  FilterTypes,
  RenameInputObjectFields,
  RenameInterfaceFields,
  RenameObjectFieldArguments,
  RenameObjectFields,
  RenameRootFields,
  RenameTypes,
} from '@graphql-tools/wrap';
import type { Transform } from '@graphql-tools/delegate';

/**
 * GraphQL Mesh v0's stock source transforms, as its `.meshrc.yaml` writes them, with the same
 * meaning (Mesh's "wrap" mode: applied when the source's schema is delegated to, so the backend
 * still gets its own names):
 *
 * - `prefix: { value, includeRootOperations, includeTypes, ignore }`: every type (default) and,
 *   with `includeRootOperations`, every root field gets `value` in front; `value` defaults to
 *   `<source name>_`; names in `ignore` (`Type` or `Query.field`) keep theirs.
 * - `rename: { renames: [{ from: { type, field, argument }, to: { ... } }] }` (or the list alone),
 *   with `useRegExpForTypes` / `useRegExpForFields` / `useRegExpForArguments` and `regExpFlags`.
 * - `filterSchema: { filters: ['Query.!{a,b}', 'Type.{x,y}', '!Type'] }`: minimatch globs; a
 *   field stays when its name matches the glob given for its type, a type when its name matches.
 *
 * `mode: bare` is accepted and means the same here: Junction always executes through the source's
 * own schema. Other Mesh transforms are refused by name when the configuration is read.
 */

const mode = z.enum(['bare', 'wrap']).optional();
const renameEnd = z.strictObject({ type: z.string().optional(), field: z.string().optional(), argument: z.string().optional() });
const renameRule = z.strictObject({
  from: renameEnd,
  to: renameEnd,
  useRegExpForTypes: z.boolean().optional(),
  useRegExpForFields: z.boolean().optional(),
  useRegExpForArguments: z.boolean().optional(),
  regExpFlags: z.string().optional(),
  includeDefaults: z.boolean().optional(),
});

export const transformSchema = z.union([
  z.strictObject({
    prefix: z.strictObject({
      mode,
      value: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the start of a GraphQL name').optional(),
      includeRootOperations: z.boolean().optional(),
      includeTypes: z.boolean().optional(),
      ignore: z.array(z.string()).optional(),
    }),
  }),
  z.strictObject({
    rename: z.union([z.strictObject({ mode, renames: z.array(renameRule) }), z.array(renameRule)]),
  }),
  z.strictObject({ filterSchema: z.union([z.strictObject({ mode, filters: z.array(z.string().min(1)) }), z.array(z.string().min(1))]) }),
]);

export type MeshTransform = z.infer<typeof transformSchema>;

/** The transform names Junction serves, for the error that names one it does not. */
export const SUPPORTED_TRANSFORMS = ['prefix', 'rename', 'filterSchema'] as const;

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

function prefixTransforms(options: Extract<MeshTransform, { prefix: unknown }>['prefix'], source: string): Transform[] {
  const value = options.value ?? `${source}_`;
  const ignore = new Set(options.ignore ?? []);
  const transforms: Transform[] = [];
  if (options.includeTypes !== false) {
    transforms.push(new RenameTypes((name) => (ROOT_TYPES.has(name) || ignore.has(name) ? name : `${value}${name}`), { renameBuiltins: false, renameScalars: true }));
  }
  if (options.includeRootOperations) {
    transforms.push(new RenameRootFields((type, field) => (ignore.has(type) || ignore.has(`${type}.${field}`) ? field : `${value}${field}`)));
  }
  return transforms;
}

type RenameRule = z.infer<typeof renameRule>;

/** A matcher and replacer for one end of a rename rule; exact names unless the rule says regular expressions. */
function renamer(from: string | undefined, to: string | undefined, regExp: boolean | undefined, flags: string | undefined) {
  if (from === undefined) return { matches: () => true, rename: (name: string) => name };
  if (regExp) {
    const pattern = new RegExp(from, flags);
    return { matches: (name: string) => new RegExp(from, flags).test(name), rename: (name: string) => (to === undefined ? name : name.replace(pattern, to)) };
  }
  return { matches: (name: string) => name === from, rename: (name: string) => (name === from && to !== undefined ? to : name) };
}

function renameTransforms(rules: RenameRule[]): Transform[] {
  const transforms: Transform[] = [];
  for (const rule of rules) {
    const type = renamer(rule.from.type, rule.to.type, rule.useRegExpForTypes, rule.regExpFlags);
    const field = renamer(rule.from.field, rule.to.field, rule.useRegExpForFields, rule.regExpFlags);
    const argument = renamer(rule.from.argument, rule.to.argument, rule.useRegExpForArguments, rule.regExpFlags);
    if (rule.from.argument !== undefined) {
      transforms.push(new RenameObjectFieldArguments((typeName, fieldName, argName) =>
        type.matches(typeName) && field.matches(fieldName) ? argument.rename(argName) : argName));
    } else if (rule.from.field !== undefined) {
      const renameField = (typeName: string, fieldName: string) => (type.matches(typeName) ? field.rename(fieldName) : fieldName);
      transforms.push(new RenameObjectFields(renameField), new RenameInterfaceFields(renameField), new RenameInputObjectFields(renameField));
    } else if (rule.from.type !== undefined) {
      transforms.push(new RenameTypes((name) => (ROOT_TYPES.has(name) ? name : type.rename(name)), { renameBuiltins: false, renameScalars: true }));
    }
  }
  return transforms;
}

function filterTransforms(filters: string[]): Transform[] {
  const transforms: Transform[] = [];
  for (const filter of filters) {
    const dot = filter.indexOf('.');
    if (dot < 0) {
      transforms.push(new FilterTypes((type) => minimatch(type.name, filter)));
      continue;
    }
    const typeGlob = filter.slice(0, dot);
    const fieldGlob = filter.slice(dot + 1);
    const keep = (typeName: string, fieldName: string) => !minimatch(typeName, typeGlob) || minimatch(fieldName, fieldGlob);
    transforms.push(
      new FilterRootFields((operation, fieldName) => keep(operation, fieldName)),
      new FilterObjectFields((typeName, fieldName) => ROOT_TYPES.has(typeName) || keep(typeName, fieldName)),
      new FilterInterfaceFields(keep),
      new FilterInputObjectFields((typeName, fieldName) => typeName === undefined || fieldName === undefined || keep(typeName, fieldName)),
    );
  }
  return transforms;
}

/** graphql-tools transforms for a source's Mesh transforms, in the order written. */
export function wrapTransforms(transforms: readonly MeshTransform[], source: string): Transform[] {
  return transforms.flatMap((transform) => {
    if ('prefix' in transform) return prefixTransforms(transform.prefix, source);
    if ('rename' in transform) return renameTransforms(Array.isArray(transform.rename) ? transform.rename : transform.rename.renames);
    return filterTransforms(Array.isArray(transform.filterSchema) ? transform.filterSchema : transform.filterSchema.filters);
  });
}
