import { getNamedType, isInterfaceType, isLeafType, isNonNullType, isObjectType, parse, validate, type GraphQLField, type GraphQLNamedType } from 'graphql';
import type { MeshConfig, PollEntry } from '../composition/byo/mesh-config.ts';
import type { LoadedSource } from '../composition/byo/types.ts';
import { sourceOperations } from '../engine/operations.ts';

/**
 * What each poll of the sources file reads (gateway/webhooks/poller.ts runs them): its source's
 * operation, checked at start, called as the source's own resolvers call it (REST, SOAP) or sent as
 * a document (GraphQL), through the source's runtime like any other call.
 */

/** Seconds between two reads of a poll whose entry says no `intervalSec`. */
export const DEFAULT_POLL_INTERVAL_SEC = 30;
/** The type of an event for an item new or changed, unless the entry says `type`. */
export const DEFAULT_POLL_TYPE = 'changed';

/** A poll ready to run, from its entry. */
export interface Poll {
  source: string;
  topic: string;
  intervalMs: number;
  /** Where the list is in the result (path keys); absent: the result is the list. */
  items?: readonly string[];
  /** Where an item's key is within the item. */
  key: readonly string[];
  type: string;
  /** Whether an item gone from the result publishes an event (its payload only its key). */
  removals: boolean;
  invalidates: readonly string[];
  /** Reads the operation with the given context (the gateway's own) and resolves to its result. */
  read(context: object): Promise<unknown>;
}

/**
 * Each poll of the sources file, checked against its source as loaded: the operation is one of its
 * reads (a root field of its Query, named as the source names it) and the arguments are its own.
 * Every problem is returned, for start-up to report them with the file's others.
 */
export function preparePolls(file: MeshConfig, sources: readonly LoadedSource[]): { polls: Poll[]; problems: string[] } {
  const polls: Poll[] = [];
  const problems: string[] = [];
  for (const entry of file.entries) {
    const source = sources.find((s) => s.name === entry.name);
    for (const [index, spec] of (entry.options.polls ?? []).entries()) {
      const read = source && readerOf(source, spec, `sources (${entry.name}).polls[${index}]`, problems);
      if (!read) continue;
      polls.push({
        source: entry.name,
        topic: spec.pubsubTopic,
        intervalMs: (spec.intervalSec ?? DEFAULT_POLL_INTERVAL_SEC) * 1000,
        ...(spec.items ? { items: spec.items.split('.') } : {}),
        key: spec.key.split('.'),
        type: spec.type ?? DEFAULT_POLL_TYPE,
        removals: spec.removals === true,
        invalidates: spec.invalidates ?? [],
        read,
      });
    }
  }
  return { polls, problems };
}

function readerOf(source: LoadedSource, spec: PollEntry, where: string, problems: string[]): Poll['read'] | undefined {
  const reads = source.schema.getQueryType()?.getFields() ?? {};
  const field = reads[spec.operation];
  if (!field) {
    const write = source.schema.getMutationType()?.getFields()[spec.operation] !== undefined;
    const names = Object.keys(reads).filter((name) => !name.startsWith('_'));
    const shown = names.length > 20 ? `${names.slice(0, 20).join(', ')}, ...` : names.join(', ') || 'none';
    problems.push(write
      ? `${where}.operation: ${spec.operation} is a write of ${source.name} (a mutation); only reads are polled`
      : `${where}.operation: ${source.name} has no read named ${spec.operation} (its reads: ${shown})`);
    return undefined;
  }
  const args = spec.args ?? {};
  const unknown = Object.keys(args).filter((name) => !field.args.some((a) => a.name === name));
  if (unknown.length > 0) problems.push(`${where}.args: ${spec.operation} takes no ${unknown.join(', ')} (it takes ${field.args.map((a) => a.name).join(', ') || 'no arguments'})`);
  const missing = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined && !(a.name in args)).map((a) => a.name);
  if (missing.length > 0) problems.push(`${where}.args: ${spec.operation} needs ${missing.join(', ')}`);
  if (unknown.length > 0 || missing.length > 0) return undefined;
  const operations = sourceOperations(source);
  // REST and SOAP operations are the source's own resolvers; a GraphQL source is sent a document.
  if (!source.executor) return (context) => operations(context).call(spec.operation, args);
  const document = pollDocument(field, spec);
  let errors: readonly { message: string }[];
  try {
    errors = validate(source.schema, parse(document));
  } catch (err) {
    errors = [err as Error];
  }
  if (errors.length > 0) {
    problems.push(`${where}.selectionSet: ${errors.map((e) => e.message).join('; ')}`);
    return undefined;
  }
  return async (context) => (await operations(context).request<Record<string, unknown>>(document, args))[spec.operation];
}

/** The document a GraphQL source's poll sends: the operation with the entry's arguments as variables. */
function pollDocument(field: GraphQLField<unknown, unknown>, spec: PollEntry): string {
  const given = field.args.filter((a) => spec.args !== undefined && a.name in spec.args);
  const variables = given.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const passed = given.map((a) => `${a.name}: $${a.name}`).join(', ');
  const returned = getNamedType(field.type);
  const selection = isLeafType(returned) ? '' : ` ${spec.selectionSet ?? defaultSelection(returned, 3) ?? '{ __typename }'}`;
  return `query JunctionPoll${variables ? `(${variables})` : ''} { ${spec.operation}${passed ? `(${passed})` : ''}${selection} }`;
}

/** Every leaf field that needs no argument, `depth` levels deep: what an item is, as the source tells it. */
function defaultSelection(type: GraphQLNamedType, depth: number): string | undefined {
  if (!isObjectType(type) && !isInterfaceType(type)) return undefined;
  const fields: string[] = [];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) fields.push(field.name);
    else if (depth > 1) {
      const inner = defaultSelection(named, depth - 1);
      if (inner) fields.push(`${field.name} ${inner}`);
    }
  }
  return fields.length > 0 ? `{ ${fields.join(' ')} }` : undefined;
}
