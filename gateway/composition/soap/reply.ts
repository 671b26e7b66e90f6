/**
 * Reads a SOAP reply: refuses DTDs and non-XML, turns Faults into UpstreamErrors, and decodes the
 * result guided by the type model (not by what happens to be in the reply), so a repeated element
 * is a list whether 0, 1 or many came back, and an empty one is `[]`, never `[null]`.
 *
 * Faults (either envelope version is recognised whatever the binding):
 * - SOAP 1.1: `faultcode` (upstreamCode = its local name: Client, Server or custom), `faultstring`.
 * - SOAP 1.2: `Code/Value` (Sender, Receiver, ...), `Reason/Text`.
 * Both throw `UpstreamError` with failure `soap_fault` and the HTTP status. A reply that is not a
 * SOAP envelope is `bad_response` (or `http` when the status already says the call failed).
 *
 * Decoding is lenient where services commonly deviate: children match by local name in any
 * namespace, an rpc result accessor with an unexpected name is taken when it is the only child,
 * SOAP-encoded `href`/`ref` multi-references are followed, and unparsable numbers become null.
 */
import type { UpstreamResponse } from '../../upstream/upstream-fetch.ts';
import { UpstreamError } from '../../upstream/upstream-error.ts';
import { arrayItemOf, isRepeated, resultPlan, shapeOf, type ComplexDef, type FieldDef, type MessageShape, type TypeRef } from './model.ts';
import { NS, XmlError, attr, child, children, hasDtd, parseXml, type XmlElement } from './xml.ts';

export interface ReplyContext {
  source: string;
  operation: string;
}

/** Parses the reply and returns its Body, or throws the UpstreamError it amounts to. */
export function readReply(response: UpstreamResponse, context: ReplyContext): XmlElement {
  const { status, text } = response;
  const fail = (message: string, failure: 'http' | 'bad_response' | 'soap_fault', extra: { upstreamCode?: string; cause?: unknown } = {}) =>
    new UpstreamError(message, { source: context.source, operation: context.operation, failure, status, ...extra });
  const failed = status < 200 || status >= 300;
  const who = `${context.source} answered ${context.operation}`;
  if (hasDtd(text)) throw fail(`${who} with a DTD, refused unparsed`, 'bad_response');
  let root: XmlElement;
  try {
    root = parseXml(text, 'reply');
  } catch (cause) {
    if (failed) throw fail(`${who} with HTTP ${status}`, 'http', { cause });
    throw fail(`${who} with something that is not XML`, 'bad_response', { cause: cause instanceof XmlError ? cause : undefined });
  }
  const body = root.local === 'Envelope' ? child(root, 'Body') : undefined;
  if (!body) {
    if (failed) throw fail(`${who} with HTTP ${status}`, 'http');
    throw fail(`${who} without a SOAP envelope (root element ${root.name})`, 'bad_response');
  }
  const fault = child(body, 'Fault');
  if (fault) {
    const { code, message } = faultOf(fault);
    throw fail(message || `${who} with a SOAP Fault`, 'soap_fault', code ? { upstreamCode: code } : {});
  }
  if (failed) throw fail(`${who} with HTTP ${status}`, 'http');
  return body;
}

function faultOf(fault: XmlElement): { code?: string; message: string } {
  const localName = (qname: string | undefined) => qname?.trim().replace(/^.*:/, '') || undefined;
  const code11 = child(fault, 'faultcode');
  if (code11) return { code: localName(code11.text), message: (child(fault, 'faultstring')?.text ?? '').trim() };
  const code12 = child(fault, 'Code');
  const reason = child(fault, 'Reason');
  return {
    code: localName(code12 ? child(code12, 'Value')?.text : undefined),
    message: (reason ? children(reason, 'Text')[0]?.text ?? '' : '').trim(),
  };
}

/** Decodes the operation's result from the reply Body. Throws `bad_response` when it is missing. */
export function decodeResult(output: MessageShape | undefined, body: XmlElement, context: ReplyContext, status: number): unknown {
  const plan = resultPlan(output);
  if (plan.kind === 'none' || !output) return true;
  const decoder = new Decoder(body);
  let container: XmlElement | undefined = body;
  if (output.wrapper) {
    const elements = body.children;
    // A service whose reply element is named a little differently from its WSDL (`GetXResult` for
    // `GetXResponse`) is still read; a Body holding something else entirely is not its answer.
    container = elements.find((e) => e.local === output.wrapper!.name)
      ?? (elements.length === 1 && /(Response|Result|Return)$/i.test(elements[0]!.local) ? elements[0] : undefined);
  }
  if (!container) {
    throw new UpstreamError(`${context.source} answered ${context.operation} without its ${output.wrapper?.name ?? 'result'}`, {
      source: context.source, operation: context.operation, failure: 'bad_response', status,
    });
  }
  container = decoder.deref(container);
  try {
    if (plan.kind === 'def') return decoder.value(container, { kind: 'complex', def: plan.def });
    let matches: readonly XmlElement[] = container.children.filter((e) => e.local === plan.field.name);
    // rpc accessors are often named differently from the part (`getXReturn` for `result`).
    if (matches.length === 0 && container !== body && container.children.length === 1) matches = container.children;
    return decoder.field(plan.field, matches);
  } catch (cause) {
    if (!(cause instanceof UnreadableValue)) throw cause;
    throw new UpstreamError(`${context.source} answered ${context.operation} with ${cause.message}`, {
      source: context.source, operation: context.operation, failure: 'bad_response', status, cause,
    });
  }
}

/** A value the WSDL types as a number or boolean that is not one: the answer breaks its contract. */
class UnreadableValue extends Error {}

class Decoder {
  private ids: Map<string, XmlElement> | undefined;

  constructor(private readonly body: XmlElement) {}

  /** Follows a SOAP-encoded multi-reference (`href="#id"` in 1.1, `enc:ref="id"` in 1.2) once. */
  deref(element: XmlElement): XmlElement {
    if (element.attrs.length === 0) return element; // most elements: nothing to follow
    const href = attr(element, 'href') ?? attr(element, 'ref', NS.soap12Encoding);
    if (href === undefined) return element;
    if (!this.ids) {
      this.ids = new Map();
      const visit = (e: XmlElement) => {
        const id = attr(e, 'id') ?? attr(e, 'id', NS.soap12Encoding);
        if (id !== undefined && !this.ids!.has(id)) this.ids!.set(id, e);
        e.children.forEach(visit);
      };
      visit(this.body);
    }
    const target = this.ids.get(href.replace(/^#/, ''));
    return target && target !== element ? target : element;
  }

  field(field: FieldDef, elements: readonly XmlElement[]): unknown {
    if (isRepeated(field)) return elements.map((e) => this.value(e, field.type));
    const first = elements[0];
    return first ? this.value(first, field.type) : null;
  }

  value(raw: XmlElement, type: TypeRef, depth = 0): unknown {
    // Multi-references may point back up the tree; real data is never this deep.
    if (depth > 256) return null;
    const element = this.deref(raw);
    if (element.attrs.length > 0) {
      const nil = attr(element, 'nil', NS.xsi);
      if (nil === 'true' || nil === '1') return null;
    }
    if (type.kind !== 'complex') return type.kind === 'scalar' && type.scalar === 'JSON' ? jsonOf(element) : simpleValue(type, element.text);
    const def = type.def;
    switch (shapeOf(def)) {
      case 'array': {
        const item = arrayItemOf(def);
        const items = def.encodedArray ? element.children : element.children.filter((e) => e.local === item.name);
        return items.map((e) => this.value(e, item.type, depth + 1));
      }
      case 'json': return jsonOf(element);
      case 'empty': return true;
      case 'text': return simpleValue(def.text!.type, element.text);
      case 'object': return this.object(element, def, depth);
    }
  }

  private object(element: XmlElement, def: ComplexDef, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const a of def.attributes) {
      const value = element.attrs.find((x) => x.local === a.name && (x.ns === a.ns || x.ns === ''))?.value;
      out[a.gqlName] = value === undefined ? null : simpleValue(a.type, value);
    }
    if (def.text) out[def.text.gqlName] = simpleValue(def.text.type, element.text);
    // Only an `any` needs to know which children the fields took; a single field needs only its first.
    const matched = def.any ? new Set<XmlElement>() : undefined;
    for (const f of def.fields) {
      if (isRepeated(f) || matched) {
        const elements = element.children.filter((e) => e.local === f.name);
        if (matched) for (const e of elements) matched.add(e);
        out[f.gqlName] = isRepeated(f)
          ? elements.map((e) => this.value(e, f.type, depth + 1))
          : elements[0] ? this.value(elements[0], f.type, depth + 1) : null;
      } else {
        const first = element.children.find((e) => e.local === f.name);
        out[f.gqlName] = first ? this.value(first, f.type, depth + 1) : null;
      }
    }
    if (def.any && matched) {
      const rest = element.children.filter((e) => !matched.has(e));
      out[def.any.gqlName] = rest.length === 0 ? null : groupChildren(rest);
    }
    return out;
  }
}

/**
 * Lexical XSD value -> the GraphQL scalar's value. An empty number or boolean is null; one that
 * is not empty and still unreadable (`<meters>far</meters>`) throws UnreadableValue.
 */
export function simpleValue(type: TypeRef, text: string): unknown {
  switch (type.kind) {
    case 'list': return text.trim().split(/\s+/).filter(Boolean).map((token) => simpleValue(type.item, token));
    case 'enum': return text.trim();
    case 'complex': return text;
    case 'scalar':
      switch (type.scalar) {
        case 'Int': {
          const t = text.trim();
          const n = Number(t);
          if (t === '') return null;
          if (!Number.isInteger(n)) throw new UnreadableValue(`"${t.slice(0, 40)}" where an integer belongs`);
          return n;
        }
        case 'Float': {
          const t = text.trim();
          const n = t === 'INF' ? Infinity : t === '-INF' ? -Infinity : Number(t);
          if (t === '') return null;
          if (Number.isNaN(n) && t !== 'NaN') throw new UnreadableValue(`"${t.slice(0, 40)}" where a number belongs`);
          return Number.isFinite(n) ? n : null;
        }
        case 'Boolean': {
          const t = text.trim();
          if (t === '') return null;
          if (t === 'true' || t === '1') return true;
          if (t === 'false' || t === '0') return false;
          throw new UnreadableValue(`"${t.slice(0, 40)}" where a boolean belongs`);
        }
        default: return text;
      }
  }
}

/**
 * XML -> JSON for anyType / xsd:any: text-only elements are strings, others objects. Objects are
 * built from entries, so an element named `__proto__` is an ordinary key, never a prototype.
 */
export function jsonOf(element: XmlElement): unknown {
  if (element.children.length === 0 && element.attrs.length === 0) return element.text;
  const entries: [string, unknown][] = element.attrs.filter((a) => a.ns !== NS.xsi).map((a) => [`@${a.local}`, a.value]);
  entries.push(...Object.entries(groupChildren(element.children)));
  if (element.text.trim() !== '') entries.push(['#text', element.text]);
  return Object.fromEntries(entries);
}

function groupChildren(elements: readonly XmlElement[]): Record<string, unknown> {
  const groups = new Map<string, unknown[]>();
  for (const e of elements) {
    const group = groups.get(e.local) ?? [];
    group.push(jsonOf(e));
    groups.set(e.local, group);
  }
  return Object.fromEntries([...groups].map(([name, values]) => [name, values.length === 1 ? values[0] : values]));
}
