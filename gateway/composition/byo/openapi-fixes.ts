import { defaultFieldResolver, isObjectType, type GraphQLSchema } from 'graphql';

/**
 * More corrections for what running real specs end to end showed GraphQL Mesh's OpenAPI converter
 * (@omnigraph/openapi) getting wrong, beside the ones in load-openapi.ts. Document corrections
 * take the parsed document and change it in place before conversion; schema passes take the
 * converter's executable schema after it.
 */

type Json = Record<string, any>;

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** Keys whose values are data (examples, defaults), not schemas. */
const DATA_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const', 'x-examples']);

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A local `#/...` reference resolved in the document (references to references followed), or the value itself. */
export function deref(document: Json, value: unknown): any {
  let node: any = value;
  for (let hops = 0; typeof node?.$ref === 'string' && node.$ref.startsWith('#/') && hops < 20; hops++) {
    node = (node.$ref as string)
      .slice(2)
      .split('/')
      .reduce((parent: any, key: string) => parent?.[decodeURIComponent(key).replace(/~1/g, '/').replace(/~0/g, '~')], document);
  }
  return node;
}

function* operations(document: Json): Generator<[pathItem: Json, operation: Json]> {
  for (const item of Object.values<Json>(document.paths ?? {})) {
    if (!isObject(item)) continue;
    for (const [method, operation] of Object.entries(item)) if (METHODS.has(method) && isObject(operation)) yield [item, operation];
  }
}

/**
 * Calls `visit` on every object under `node` that can be a schema, parents first, with the key it
 * sits under and the name of the component schema it belongs to. References are not followed.
 */
function eachSchema(node: unknown, visit: (schema: Json, key: string, owner: string | undefined) => void, key = '', owner?: string): void {
  if (Array.isArray(node)) return node.forEach((item) => eachSchema(item, visit, key, owner));
  if (!isObject(node)) return;
  visit(node, key, owner);
  for (const [child, value] of Object.entries(node)) {
    // Inside `properties` every key is a property name, even `example` or `default`.
    if (key !== 'properties' && DATA_KEYS.has(child)) continue;
    eachSchema(value, visit, child, key === 'schemas' || key === 'definitions' ? child : owner);
  }
}

/** Every object reachable from the operations' parameters and request bodies, references followed: what clients send. */
function inputNodes(document: Json): Set<object> {
  const seen = new Set<object>();
  const visit = (node: unknown, key = ''): void => {
    if (Array.isArray(node)) return node.forEach((item) => visit(item, key));
    if (!isObject(node) || seen.has(node)) return;
    seen.add(node);
    if (typeof node.$ref === 'string') visit(deref(document, node));
    for (const [child, value] of Object.entries(node)) if (key === 'properties' || !DATA_KEYS.has(child)) visit(value, child);
  };
  for (const [item, operation] of operations(document)) {
    visit(item.parameters);
    visit(operation.parameters);
    visit(operation.requestBody);
  }
  return seen;
}

// ---------------------------------------------------------------------------------------------
// An id, or the object it identifies
// ---------------------------------------------------------------------------------------------

interface ExpandableSite {
  node: Json;
  stringMember: Json;
  objectMembers: unknown[];
  nullable: boolean;
  /** Where it was found, for naming a type of many members: `balance_transaction` + `source`. */
  owner: string | undefined;
  property: string;
}

/** The anyOf at `node`, when it is a string and one or more objects that have an `id`: an id, or the object it identifies. */
function expandableSite(document: Json, node: Json, key: string, owner: string | undefined): ExpandableSite | undefined {
  if (!Array.isArray(node.anyOf) || node.properties || node.allOf || node.oneOf || node.items || node.additionalProperties) return undefined;
  const members = node.anyOf as unknown[];
  const present = members.filter((m) => deref(document, m)?.type !== 'null');
  const strings = present.filter((m) => {
    const s = deref(document, m);
    return isObject(s) && s.type === 'string' && s.enum === undefined && s.format !== 'binary';
  });
  const objects = present.filter((m) => {
    const s = deref(document, m);
    return (
      isObject(s) &&
      (s.type === undefined || s.type === 'object') &&
      isObject(s.properties) &&
      isObject(s.properties.id) &&
      !s.anyOf && !s.oneOf && !s.allOf
    );
  });
  if (strings.length !== 1 || objects.length === 0 || strings.length + objects.length !== present.length) return undefined;
  return {
    node,
    stringMember: deref(document, strings[0]) as Json,
    objectMembers: objects,
    nullable: node.nullable === true || present.length < members.length,
    owner,
    property: key,
  };
}

/** A schema without what does not change the values it allows, single-member anyOf/oneOf/allOf unwrapped: for comparing two. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const key of Object.keys(value).sort()) {
    if (key === 'description' || key === 'nullable' || key === 'title' || key === 'example' || key === 'examples' || key.startsWith('x-')) continue;
    out[key] = normalized(value[key]);
  }
  const keys = Object.keys(out);
  if (keys.length === 1 && ['anyOf', 'oneOf', 'allOf'].includes(keys[0]!) && Array.isArray(out[keys[0]!]) && out[keys[0]!].length === 1) return out[keys[0]!][0];
  return out;
}

const PRIMITIVES = new Set(['string', 'integer', 'number', 'boolean']);

/**
 * One schema for a property several members declare. The same schema (up to descriptions and
 * nullability) is kept as it is; primitives of one type become that type (enum values joined:
 * Stripe's `object` is `charge` in one member and `refund` in another); anything else is left
 * untyped (JSON), as the converter itself does for a conflict.
 */
function mergedProperty(document: Json, schemas: Json[]): Json {
  const byShape = new Map<string, Json>();
  for (const schema of schemas) {
    const shape = JSON.stringify(normalized(schema));
    if (!byShape.has(shape)) byShape.set(shape, schema);
  }
  const distinct = [...byShape.values()];
  if (distinct.length === 1) return distinct[0]!;
  const description = schemas.find((s) => typeof s.description === 'string')?.description as string | undefined;
  const resolved = distinct.map((s) => deref(document, normalized(s)) as Json | undefined);
  const types = new Set(resolved.map((r) => r?.type));
  const [type] = types;
  const plain = resolved.every((r) => isObject(r) && !r.properties && !r.items && !r.anyOf && !r.oneOf && !r.allOf && !r.additionalProperties);
  if (types.size === 1 && typeof type === 'string' && PRIMITIVES.has(type) && plain) {
    const formats = new Set(resolved.map((r) => r!.format));
    const [format] = formats;
    const enums = resolved.every((r) => Array.isArray(r!.enum)) ? [...new Set(resolved.flatMap((r) => r!.enum as unknown[]))] : undefined;
    return { type, ...(formats.size === 1 && format !== undefined ? { format } : {}), ...(enums ? { enum: enums } : {}), ...(description ? { description } : {}) };
  }
  return description ? { description } : {};
}

const graphqlSafe = (name: string) => name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^(?=[0-9])/, '_');

function memberName(member: unknown, index: number): string {
  if (isObject(member) && typeof member.$ref === 'string') return graphqlSafe(decodeURIComponent(member.$ref.split('/').at(-1)!));
  return isObject(member) && typeof member.title === 'string' ? graphqlSafe(member.title) : `object${index + 1}`;
}

/** Every name the converter could already give a type: component keys and titles. */
function takenNames(document: Json, container: Json): Set<string> {
  const taken = new Set(Object.keys(container));
  eachSchema(document, (schema) => {
    if (typeof schema.title === 'string') taken.add(graphqlSafe(schema.title));
  });
  return taken;
}

/**
 * An anyOf of a string and one or more objects that have an `id` property, in what a backend
 * answers, becomes one object type whose `id` is always set and whose other fields are nullable;
 * returns the names of the types it made (give them to `readIdStringsAsObjects` after conversion).
 *
 * Why: that is how an API says "the id, or the object itself when asked for it" (Stripe's
 * expandable fields: `customer: anyOf [string, customer, deleted_customer]`, answered
 * `"cus_123"` unless the request says `expand[]=customer`). The converter merged the members into
 * one type per place, with a field named after the string's scalar and the objects' fields as
 * required as in the objects themselves, so either answer failed at run time: the string gave
 * `Cannot return null for non-nullable field ….id`, the object a null for the string's field and
 * for every field of the other members (`deleted: Boolean!` on a customer). Where the members
 * refer to themselves (customer → invoice → customer), the merge ran before the objects had
 * fields, and the expanded object lost all of them but `id`.
 *
 * Now each set of members is one named type (`customer_or_deleted_customer_or_id`, reused by every
 * place with those members): `id`, typed as the string member, required; every member's other
 * properties, optional (two members' disagreeing properties are merged, or typed JSON as the
 * converter does).
 *
 * Measured on Stripe's spec3.yaml (2023-08-16): 252 places rewritten, 56 types made; in GraphQL,
 * the converter's 161 per-place merged types, used by 380 fields, become those 56 types, used by
 * 440 fields (more fields: the objects' own fields that the early merge lost are back), and the
 * places typed JSON go from 964 to 846. spec3.json (2020-08-27): 221 places, 54 types; 148 types
 * used by 344 fields become 54 used by 415; JSON 756 to 660. No other corpus document has such an
 * anyOf. test/realworld/contract-defects.test.ts holds the spec3.yaml figures.
 *
 * Only what the backend answers changes: an anyOf reachable from a parameter or a request body is
 * left as it is (sending `{ id }` where the API takes the id is not the same request).
 */
export function expandableReferences(document: Json): string[] {
  const swagger = document.swagger !== undefined;
  const inputs = inputNodes(document);
  const sites: ExpandableSite[] = [];
  eachSchema(document, (schema, key, owner) => {
    if (inputs.has(schema)) return;
    const site = expandableSite(document, schema, key, owner);
    if (site) sites.push(site);
  });
  if (sites.length === 0) return [];

  const container: Json = swagger ? (document.definitions ??= {}) : ((document.components ??= {}).schemas ??= {});
  const prefix = swagger ? '#/definitions/' : '#/components/schemas/';
  const taken = takenNames(document, container);
  const byMembers = new Map<string, string>();
  const made: string[] = [];
  let inline = 0;

  for (const site of sites) {
    const key = site.objectMembers.map((m) => (isObject(m) && typeof m.$ref === 'string' ? m.$ref : `#inline${inline++}`)).join('|');
    let name = byMembers.get(key);
    if (name === undefined) {
      const names = site.objectMembers.map(memberName);
      const base =
        names.length <= 3
          ? `${names.join('_or_')}_or_id`
          : site.owner
            ? `${graphqlSafe(site.owner)}_${graphqlSafe(site.property)}_or_id`
            : `${names[0]}_or_${names.length - 1}_more_or_id`;
      name = base;
      for (let n = 2; taken.has(name); n++) name = `${base}${n}`;
      taken.add(name);
      byMembers.set(key, name);
      made.push(name);
      container[name] = expandableSchema(document, name, site, names);
    }
    const description = site.node.description as unknown;
    for (const k of Object.keys(site.node)) delete site.node[k];
    if (site.nullable) {
      // A nullable anyOf of one named object is that object, nullable (the converter mints no copy).
      site.node.anyOf = [{ $ref: `${prefix}${name}` }];
      site.node.nullable = true;
      if (description !== undefined) site.node.description = description;
    } else {
      site.node.$ref = `${prefix}${name}`;
    }
  }
  return made;
}

function expandableSchema(document: Json, name: string, site: ExpandableSite, names: string[]): Json {
  const members = site.objectMembers.map((m) => deref(document, m) as Json);
  const byProperty = new Map<string, Json[]>();
  for (const member of members) {
    for (const [property, schema] of Object.entries<Json>(member.properties)) {
      if (property === 'id' || !isObject(schema)) continue;
      byProperty.set(property, [...(byProperty.get(property) ?? []), schema]);
    }
  }
  const properties: Json = {};
  const { maxLength: _max, minLength: _min, pattern: _pattern, nullable: _nullable, description: _description, ...id } = site.stringMember;
  const idDescription = members.map((m) => m.properties.id.description).find((d) => typeof d === 'string') ?? 'Unique identifier for the object.';
  properties.id = { ...id, type: 'string', description: idDescription };
  for (const [property, schemas] of byProperty) properties[property] = schemas.length === 1 ? schemas[0] : mergedProperty(document, schemas);
  const what = names.length === 1 ? `A ${names[0]}` : `One of ${names.join(', ')}`;
  return {
    type: 'object',
    title: name,
    description: `${what}, or only its id: the backend answers the id alone unless asked for the object, and then every field but \`id\` is null.`,
    properties,
    required: ['id'],
  };
}

/**
 * After conversion: the types `expandableReferences` made read a string as `{ id: <string> }`,
 * wherever they are used (a field, a list, a nested list). Each field of such a type has its
 * resolver wrapped, so nothing needs to know which fields use it. Returns how many types it found.
 */
export function readIdStringsAsObjects(schema: GraphQLSchema, typeNames: readonly string[]): number {
  const asObject = (value: unknown) => (typeof value === 'string' ? { id: value } : value);
  let found = 0;
  for (const name of typeNames) {
    const type = schema.getType(name);
    if (!isObjectType(type) || !type.getFields().id) continue;
    found++;
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => resolve(asObject(source), args, context, info);
    }
    const isTypeOf = type.isTypeOf;
    if (isTypeOf) type.isTypeOf = (value, context, info) => isTypeOf(asObject(value), context, info);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Credentials declared as parameters
// ---------------------------------------------------------------------------------------------

interface Credential {
  /** `query`, `header`, `cookie`; undefined: wherever it is declared. */
  in: string | undefined;
  name: string;
}

/** The parameters the document's security schemes say carry credentials. */
function schemeCredentials(document: Json): Credential[] {
  const schemes = { ...(document.securityDefinitions ?? {}), ...(document.components?.securitySchemes ?? {}) } as Record<string, unknown>;
  const found: Credential[] = [];
  for (const raw of Object.values(schemes)) {
    const scheme = deref(document, raw) as Json | undefined;
    if (!isObject(scheme)) continue;
    if (scheme.type === 'apiKey' && typeof scheme.name === 'string' && typeof scheme.in === 'string') found.push({ in: scheme.in, name: scheme.name });
    // HTTP authentication (basic, bearer), OAuth 2 and OpenID Connect all travel in Authorization.
    else if (['http', 'basic', 'oauth2', 'openIdConnect'].includes(scheme.type)) found.push({ in: 'header', name: 'Authorization' });
  }
  return found;
}

const sameName = (where: string, a: string, b: string) => (where === 'header' ? a.toLowerCase() === b.toLowerCase() : a === b);

const FORM = /^(application\/x-www-form-urlencoded|multipart\/form-data)/i;

/**
 * Parameters that carry credentials are taken off every operation: those the document's security
 * schemes name (an `apiKey` scheme's parameter, `Authorization` for HTTP, OAuth 2 and OpenID
 * Connect schemes), and those named in `extraNames` (the source entry's `credentialParams`),
 * wherever they are declared: query, header, cookie, Swagger `formData`, and fields of
 * form-encoded bodies. Returns the names it removed, as the document wrote them.
 *
 * Why: such a parameter became an argument of the root field, so the client chose the credential
 * and the value configured for the source (`operationHeaders`, `queryParams`) was either
 * overridden or sent beside the client's. Slack's Swagger document declares `token` on 155 of its
 * 174 operations, required on most: a client had to hold a Slack token to call the gateway,
 * and could send any. Meta's declares `Authorization` on 112 of 113 (its scheme is HTTP bearer).
 * Without the parameter, the backend gets the configured value and nothing else.
 */
export function removeCredentialParameters(document: Json, extraNames: readonly string[] = []): string[] {
  const credentials: Credential[] = [...schemeCredentials(document), ...extraNames.map((name) => ({ in: undefined, name }))];
  if (credentials.length === 0) return [];
  const removed = new Set<string>();
  const isCredential = (raw: unknown) => {
    const param = deref(document, raw) as Json | undefined;
    if (!isObject(param) || typeof param.name !== 'string' || typeof param.in !== 'string' || param.in === 'body' || param.in === 'path') return false;
    const where = param.in;
    const match = credentials.some((c) => (c.in === undefined || c.in === where) && sameName(where, c.name, param.name));
    if (match) removed.add(param.name);
    return match;
  };
  const withoutFields = (schema: unknown): unknown => {
    const body = deref(document, schema) as Json | undefined;
    if (!isObject(body) || !isObject(body.properties)) return schema;
    const names = Object.keys(body.properties).filter((property) => extraNames.includes(property));
    if (names.length === 0) return schema;
    names.forEach((n) => removed.add(n));
    const properties = Object.fromEntries(Object.entries(body.properties).filter(([property]) => !names.includes(property)));
    const required = Array.isArray(body.required) ? body.required.filter((r: unknown) => !names.includes(r as string)) : undefined;
    // A copy: the schema may be a component other operations use as a JSON body.
    return { ...body, properties, ...(required ? { required } : {}) };
  };
  const cleaned = new Set<object>();
  for (const [item, operation] of operations(document)) {
    for (const holder of [item, operation]) {
      if (Array.isArray(holder.parameters) && !cleaned.has(holder)) {
        holder.parameters = holder.parameters.filter((p: unknown) => !isCredential(p));
        cleaned.add(holder);
      }
    }
    // Form fields of a body: Swagger's formData turned into a body (load-openapi.ts), or OpenAPI 3's.
    const consumes: string[] = operation.consumes ?? document.consumes ?? [];
    for (const param of operation.parameters ?? []) {
      const p = deref(document, param) as Json | undefined;
      if (p?.in === 'body' && consumes.some((c) => FORM.test(c))) p.schema = withoutFields(p.schema);
    }
    const requestBody = deref(document, operation.requestBody) as Json | undefined;
    for (const [type, media] of Object.entries<Json>(requestBody?.content ?? {})) {
      if (FORM.test(type) && isObject(media)) media.schema = withoutFields(media.schema);
    }
  }
  return [...removed];
}
