/**
 * Type model -> executable GraphQL schema.
 *
 * - Output: every field is nullable (a SOAP service may leave out what its XSD calls required,
 *   and a null is better than failing the whole object); lists are `[T]`.
 * - Input: required (`minOccurs >= 1`, not nillable) becomes non-null, unless that would make an
 *   input type reach itself through non-null fields (invalid GraphQL); list items are non-null
 *   unless nillable. Input objects are the output name plus `Input`.
 * - Enums are shared by input and output; their internal values are the XSD values, so resolvers
 *   and serialisers only ever see the wire form.
 * - Type names are given out here, in the order types are reached from the operations, and only
 *   to types that end up in the schema.
 * - Every place a lossy mapping is used becomes a Downgrade with the GraphQL location.
 */
import {
  GraphQLBoolean, GraphQLEnumType, GraphQLFloat, GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull,
  GraphQLObjectType, GraphQLScalarType, GraphQLSchema, GraphQLString, valueFromASTUntyped,
  type GraphQLFieldConfig, type GraphQLFieldConfigArgumentMap, type GraphQLInputFieldConfigMap, type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import type { Downgrade } from '../byo/types.ts';
import {
  arrayItemOf, isRepeated, resultPlan, shapeOf, type AttributeDef, type ComplexDef, type EnumDef, type FieldDef,
  type OperationModel, type ScalarKind, type TypeRef,
} from './model.ts';
import { NameScope, RESERVED_TYPE_NAMES, rootFieldNames, rootTypeOf, typeName } from './naming.ts';

export const GraphQLJSON = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any XML content, as JSON: an element with only text is a string; otherwise an object of child elements by local name (repeated ones as arrays), attributes as `@name`, text as `#text`.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

const SCALARS: Record<ScalarKind, GraphQLScalarType> = {
  String: GraphQLString, Int: GraphQLInt, Float: GraphQLFloat, Boolean: GraphQLBoolean, JSON: GraphQLJSON,
};

/** Calls an operation; `read`: a query (retried when it fails fast, shared while in flight), not a mutation. */
/** `context`: the GraphQL context of the request the call is made for (its deadline, debug record, span). */
export type Invoke = (operation: OperationModel, args: Record<string, unknown>, read?: boolean, context?: object) => Promise<unknown>;

export interface BuiltSchema {
  schema: GraphQLSchema;
  /** Root field name -> operation. */
  fields: Map<string, OperationModel>;
  downgrades: Downgrade[];
}

export interface BuildOptions {
  queries?: readonly string[];
  mutations?: readonly string[];
  description?: string;
}

/** A field, attribute, text or `xsd:any` member of a complex type, as one GraphQL field. */
interface Member {
  gqlName: string;
  type: TypeRef | 'any';
  /** Non-null on input. */
  required: boolean;
  repeated: boolean;
  nillable: boolean;
  doc?: string;
}

export function membersOf(def: ComplexDef): Member[] {
  const fromField = (f: FieldDef): Member => ({
    gqlName: f.gqlName, type: f.type, required: f.minOccurs >= 1 && !f.nillable, repeated: isRepeated(f), nillable: f.nillable, doc: f.doc,
  });
  const fromAttribute = (a: AttributeDef): Member => ({ gqlName: a.gqlName, type: a.type, required: a.required, repeated: false, nillable: false, doc: a.doc });
  const members = [...def.fields.map(fromField), ...def.attributes.map(fromAttribute)];
  if (def.text) members.unshift({ gqlName: def.text.gqlName, type: def.text.type, required: false, repeated: false, nillable: false, doc: 'The element\'s text content.' });
  if (def.any) members.push({ gqlName: def.any.gqlName, type: 'any', required: false, repeated: false, nillable: false, doc: 'Child elements the schema leaves open (xsd:any), as JSON.' });
  return members;
}

export class SchemaBuilder {
  private readonly names = new NameScope(RESERVED_TYPE_NAMES);
  private readonly defNames = new Map<ComplexDef, string>();
  private readonly objects = new Map<ComplexDef, GraphQLObjectType>();
  private readonly inputs = new Map<ComplexDef, GraphQLInputObjectType>();
  private readonly enums = new Map<EnumDef, GraphQLEnumType>();
  private readonly downgrades = new Map<string, Downgrade>();

  build(operations: OperationModel[], invoke: Invoke, options: BuildOptions = {}): BuiltSchema {
    const names = rootFieldNames(operations);
    const query: Record<string, GraphQLFieldConfig<unknown, unknown>> = {};
    const mutation: Record<string, GraphQLFieldConfig<unknown, unknown>> = {};
    const fields = new Map<string, OperationModel>();
    operations.forEach((op, i) => {
      const name = names[i]!;
      fields.set(name, op);
      const rootType = rootTypeOf(op.name, options);
      // Retried when it fails fast and shared while in flight only when the entry says it is a read
      // (`queries`): a name is no proof (IssueRefund, GetAndLockTicket land in Query by their prefix).
      const read = options.queries?.includes(op.name) === true;
      (rootType === 'Query' ? query : mutation)[name] = this.rootField(op, `${rootType}.${name}`, invoke, read);
    });
    if (Object.keys(query).length === 0) {
      // GraphQL requires a Query type; a WSDL of writes alone still gets one, listing what it offers.
      const names = [...fields.values()].map((op) => op.name);
      query._operations = {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))),
        description: 'The SOAP operations this source exposes (all of them are mutations).',
        resolve: () => names,
      };
    }
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: query }),
      mutation: Object.keys(mutation).length > 0 ? new GraphQLObjectType({ name: 'Mutation', fields: mutation }) : undefined,
      description: options.description,
    });
    return { schema, fields, downgrades: [...this.downgrades.values()] };
  }

  /** One root field; its arguments are the input message's members (already unique, valid names). */
  private rootField(op: OperationModel, location: string, invoke: Invoke, read: boolean): GraphQLFieldConfig<unknown, unknown> {
    const args: GraphQLFieldConfigArgumentMap = {};
    for (const member of membersOf(op.input.def)) {
      args[member.gqlName] = { type: this.inputMember(member, `${location}(${member.gqlName})`, op.input.def), description: member.doc };
    }
    const plan = resultPlan(op.output);
    let type: GraphQLOutputType;
    if (plan.kind === 'none') type = GraphQLBoolean;
    else if (plan.kind === 'field') type = this.outputMember(plan.field.type, isRepeated(plan.field), location);
    else type = this.outputDef(plan.def, location);
    const description = [op.doc, `SOAP ${op.soapVersion} ${op.style} operation ${op.portType}.${op.name}.`].filter(Boolean).join('\n\n');
    return { type, args, description, resolve: (_source, values, context) => invoke(op, values as Record<string, unknown>, read, (context ?? undefined) as object | undefined) };
  }

  private note(ref: TypeRef | 'any', location: string): void {
    const reason = ref === 'any'
      ? 'xsd:any: elements the schema does not declare are read and written as JSON'
      : ref.kind === 'scalar' ? ref.downgrade : ref.kind === 'list' && ref.item.kind === 'scalar' ? ref.item.downgrade : undefined;
    if (reason !== undefined) this.downgrades.set(`${location}\u0000${reason}`, { location, reason });
  }

  private nameOf(def: ComplexDef): string {
    let name = this.defNames.get(def);
    if (name === undefined) {
      name = this.names.claim(typeName(def.baseName));
      this.defNames.set(def, name);
    }
    return name;
  }

  private outputMember(type: TypeRef | 'any', repeated: boolean, location: string): GraphQLOutputType {
    this.note(type, location);
    const base = type === 'any' ? GraphQLJSON : this.output(type, location);
    return repeated ? new GraphQLList(base) : base;
  }

  private output(ref: TypeRef, location: string): GraphQLOutputType {
    switch (ref.kind) {
      case 'scalar': return SCALARS[ref.scalar];
      case 'enum': return this.enumType(ref.def);
      case 'list': return new GraphQLList(this.output(ref.item, location));
      case 'complex': return this.outputDef(ref.def, location);
    }
  }

  private outputDef(def: ComplexDef, location: string): GraphQLOutputType {
    switch (shapeOf(def)) {
      case 'array': {
        const item = arrayItemOf(def);
        this.note(item.type, location);
        return new GraphQLList(this.output(item.type, location));
      }
      case 'json': this.note('any', location); return GraphQLJSON;
      case 'empty': return GraphQLBoolean;
      case 'text': this.note(def.text!.type, location); return this.output(def.text!.type, location);
      case 'object': return this.objectType(def);
    }
  }

  private objectType(def: ComplexDef): GraphQLObjectType {
    const existing = this.objects.get(def);
    if (existing) return existing;
    const name = this.nameOf(def);
    const type: GraphQLObjectType = new GraphQLObjectType({
      name,
      description: def.doc,
      fields: () => Object.fromEntries(membersOf(def).map((m) => [
        m.gqlName, { type: this.outputMember(m.type, m.repeated, `${name}.${m.gqlName}`), description: m.doc },
      ])),
    });
    this.objects.set(def, type);
    return type;
  }

  private enumType(def: EnumDef): GraphQLEnumType {
    const existing = this.enums.get(def);
    if (existing) return existing;
    const type = new GraphQLEnumType({
      name: this.names.claim(typeName(def.baseName)),
      description: def.doc,
      values: Object.fromEntries(def.values.map((v) => [v.name, {
        value: v.value,
        description: v.value === v.name ? v.doc : [v.doc, `Sent and received as "${v.value}".`].filter(Boolean).join(' '),
      }])),
    });
    this.enums.set(def, type);
    return type;
  }

  private inputMember(member: Member, location: string, owner?: ComplexDef): GraphQLInputType {
    this.note(member.type, location);
    let base: GraphQLInputType = member.type === 'any' ? GraphQLJSON : this.input(member.type, location);
    if (member.repeated) base = new GraphQLList(member.nillable ? base : new GraphQLNonNull(base));
    const cyclic = owner !== undefined && member.type !== 'any' && member.type.kind === 'complex' && !member.repeated
      && reachesThroughRequired(member.type.def, owner);
    return member.required && !cyclic ? new GraphQLNonNull(base) : base;
  }

  private input(ref: TypeRef, location: string): GraphQLInputType {
    switch (ref.kind) {
      case 'scalar': return SCALARS[ref.scalar];
      case 'enum': return this.enumType(ref.def);
      case 'list': return new GraphQLList(new GraphQLNonNull(this.input(ref.item, location)));
      case 'complex': return this.inputDef(ref.def, location);
    }
  }

  private inputDef(def: ComplexDef, location: string): GraphQLInputType {
    switch (shapeOf(def)) {
      case 'array': {
        const item = arrayItemOf(def);
        this.note(item.type, location);
        const type = this.input(item.type, location);
        return new GraphQLList(item.nillable ? type : new GraphQLNonNull(type));
      }
      case 'json': this.note('any', location); return GraphQLJSON;
      case 'empty': return GraphQLBoolean;
      case 'text': this.note(def.text!.type, location); return this.input(def.text!.type, location);
      case 'object': return this.inputObjectType(def);
    }
  }

  private inputObjectType(def: ComplexDef): GraphQLInputObjectType {
    const existing = this.inputs.get(def);
    if (existing) return existing;
    const name = this.names.claim(`${this.nameOf(def)}Input`);
    const type: GraphQLInputObjectType = new GraphQLInputObjectType({
      name,
      description: def.doc,
      fields: () => {
        const fields: GraphQLInputFieldConfigMap = {};
        for (const m of membersOf(def)) fields[m.gqlName] = { type: this.inputMember(m, `${name}.${m.gqlName}`, def), description: m.doc };
        return fields;
      },
    });
    this.inputs.set(def, type);
    return type;
  }
}

/**
 * True when `from` reaches `target` through required, single, object-shaped members: making that
 * member non-null would close a cycle of non-null input fields, which GraphQL rejects.
 */
function reachesThroughRequired(from: ComplexDef, target: ComplexDef, seen = new Set<ComplexDef>()): boolean {
  if (from === target) return true;
  if (seen.has(from) || shapeOf(from) !== 'object') return false;
  seen.add(from);
  return membersOf(from).some((m) => m.required && !m.repeated && m.type !== 'any' && m.type.kind === 'complex'
    && shapeOf(m.type.def) === 'object' && reachesThroughRequired(m.type.def, target, seen));
}

