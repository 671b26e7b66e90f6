/**
 * WSDL port types, bindings and messages -> one OperationModel per exposed operation.
 *
 * - Only SOAP 1.1 (`http://schemas.xmlsoap.org/wsdl/soap/`) and SOAP 1.2
 *   (`http://schemas.xmlsoap.org/wsdl/soap12/`) bindings are used; HTTP GET/POST and other bindings
 *   are ignored, each with a Downgrade.
 * - A port type bound several times (SOAP 1.1 and 1.2 ports, or an HTTP and an HTTPS port) is
 *   exposed once: the binding of the preferred `soapVersion`, else the other; among equals, the
 *   first whose port has an http(s) address, else the first.
 * - Messages: document/literal (one `element` part: its content becomes the arguments, see
 *   MessageShape), rpc (one argument per part, wrapped in an element named after the operation
 *   in the `soap:body` namespace; the reply wrapper is `<operation>Response`), `use="encoded"`,
 *   messages without parts, and `soap:body parts=` subsets.
 */
import type { Downgrade } from '../byo/types.ts';
import { jsonType } from './builtins.ts';
import type { ComplexDef, MessageShape, OperationModel, TypeRef } from './model.ts';
import { typeName } from './naming.ts';
import { documentationOf, qnameAttr, type WsdlComponent, type WsdlDocument } from './wsdl-reader.ts';
import { NS, attr, child, children, qnameKey, type XmlElement } from './xml.ts';
import type { XsdModeler } from './xsd-types.ts';

export interface OperationSet {
  operations: OperationModel[];
  /** Distinct (port type, operation) pairs the WSDL declares. */
  declared: number;
  downgrades: Downgrade[];
}

interface SoapBinding {
  node: XmlElement;
  name: string;
  version: '1.1' | '1.2';
  bindingNs: string;
  portTypeKey: string;
  address?: string;
}

export function buildOperations(doc: WsdlDocument, modeler: XsdModeler, preferred: '1.1' | '1.2'): OperationSet {
  const downgrades: Downgrade[] = [];
  const soapBindings: SoapBinding[] = [];
  for (const binding of doc.bindings) {
    const name = attr(binding.node, 'name') ?? '';
    const kind = binding.node.children.find((c) => c.local === 'binding');
    const version = kind?.ns === NS.soap11Binding ? '1.1' : kind?.ns === NS.soap12Binding ? '1.2' : undefined;
    if (!version || !kind) {
      const what = kind?.ns === NS.httpBinding ? `HTTP ${attr(kind, 'verb') ?? ''} binding` : `binding in ${kind?.ns ?? 'no namespace'}`;
      downgrades.push({ location: `wsdl:binding ${name}`, reason: `${what.replace(/\s+/g, ' ')} ignored: only SOAP 1.1 and 1.2 bindings are exposed` });
      continue;
    }
    const portType = qnameAttr(binding.node, 'type');
    soapBindings.push({
      node: binding.node, name, version, bindingNs: kind.ns, portTypeKey: portType ? qnameKey(portType) : '', address: addressOf(doc, binding, kind.ns),
    });
  }

  const operations: OperationModel[] = [];
  let declared = 0;
  for (const portType of doc.portTypes) {
    const portTypeName = attr(portType.node, 'name') ?? '';
    const ops = children(portType.node, 'operation', NS.wsdl);
    declared += new Set(ops.map((op) => attr(op, 'name'))).size;
    const binding = pickBinding(soapBindings.filter((b) => b.portTypeKey === qnameKey({ ns: portType.tns, local: portTypeName })), preferred);
    if (!binding) continue;
    for (const op of ops) {
      const model = buildOperation(doc, modeler, portTypeName, op, binding, downgrades);
      if (model) operations.push(model);
    }
  }
  return { operations, declared, downgrades };
}

function addressOf(doc: WsdlDocument, binding: WsdlComponent, bindingNs: string): string | undefined {
  const bindingKey = qnameKey({ ns: binding.tns, local: attr(binding.node, 'name') ?? '' });
  for (const service of doc.services) {
    for (const port of children(service.node, 'port', NS.wsdl)) {
      const ref = qnameAttr(port, 'binding');
      if (!ref || qnameKey(ref) !== bindingKey) continue;
      const location = attr(child(port, 'address', bindingNs) ?? port, 'location');
      if (location) return location;
    }
  }
  return undefined;
}

function pickBinding(candidates: SoapBinding[], preferred: '1.1' | '1.2'): SoapBinding | undefined {
  const ranked = [...candidates].sort((a, b) => rank(a, preferred) - rank(b, preferred));
  return ranked[0];
}

const rank = (b: SoapBinding, preferred: string): number =>
  (b.version === preferred ? 0 : 2) + (b.address && /^https?:\/\//i.test(b.address) ? 0 : 1);

function buildOperation(
  doc: WsdlDocument, modeler: XsdModeler, portType: string, op: XmlElement, binding: SoapBinding, downgrades: Downgrade[],
): OperationModel | undefined {
  const name = attr(op, 'name') ?? '';
  const inputName = attr(child(op, 'input', NS.wsdl) ?? op, 'name');
  const bindingOps = children(binding.node, 'operation', NS.wsdl).filter((b) => attr(b, 'name') === name);
  // Overloaded operations (same name, different input names) are told apart by the input name.
  const bindingOp = bindingOps.find((b) => attr(child(b, 'input', NS.wsdl) ?? b, 'name') === inputName) ?? bindingOps[0];
  if (!bindingOp) {
    downgrades.push({ location: `wsdl:operation ${portType}.${name}`, reason: `binding ${binding.name} does not bind it: not exposed` });
    return undefined;
  }
  const soapOp = child(bindingOp, 'operation', binding.bindingNs);
  const bindingStyle = attr(child(binding.node, 'binding', binding.bindingNs)!, 'style');
  const style = (attr(soapOp ?? bindingOp, 'style') ?? bindingStyle ?? 'document') === 'rpc' ? 'rpc' : 'document';
  const context = { doc, modeler, binding, style, name } as const;
  const input = messageShape(context, child(op, 'input', NS.wsdl), child(bindingOp, 'input', NS.wsdl), 'input');
  if (!input) {
    downgrades.push({ location: `wsdl:operation ${portType}.${name}`, reason: 'notification operation (output only): not exposed' });
    return undefined;
  }
  const headers = children(child(bindingOp, 'input', NS.wsdl) ?? bindingOp, 'header', binding.bindingNs);
  if (headers.length > 0) {
    downgrades.push({
      location: `wsdl:operation ${portType}.${name}`,
      reason: 'soap:header parts are not arguments; send them with the soapHeaders option',
    });
  }
  const model: OperationModel = {
    portType, name, binding: binding.name, soapVersion: binding.version, style,
    soapAction: attr(soapOp ?? bindingOp, 'soapAction') ?? '',
    input,
    output: messageShape(context, child(op, 'output', NS.wsdl), child(bindingOp, 'output', NS.wsdl), 'output'),
  };
  const docText = documentationOf(op) ?? documentationOf(bindingOp);
  if (docText !== undefined) model.doc = docText;
  if (binding.address !== undefined) model.address = binding.address;
  return model;
}

interface ShapeContext {
  doc: WsdlDocument;
  modeler: XsdModeler;
  binding: SoapBinding;
  style: 'document' | 'rpc';
  name: string;
}

function messageShape(
  context: ShapeContext, abstract: XmlElement | undefined, bound: XmlElement | undefined, direction: 'input' | 'output',
): MessageShape | undefined {
  if (!abstract) return undefined;
  const { doc, modeler, binding, style, name } = context;
  const body = bound ? child(bound, 'body', binding.bindingNs) : undefined;
  const encoded = body ? attr(body, 'use') === 'encoded' : false;
  const messageRef = qnameAttr(abstract, 'message');
  const message = messageRef ? doc.messages.get(qnameKey(messageRef)) ?? doc.messages.get(qnameKey({ ns: doc.tns, local: messageRef.local })) : undefined;
  let parts = message ? children(message.node, 'part', NS.wsdl) : [];
  const only = body ? attr(body, 'parts')?.trim().split(/\s+/) : undefined;
  if (only) parts = parts.filter((p) => only.includes(attr(p, 'name') ?? ''));

  const suffix = direction === 'input' ? '' : 'Response';
  if (style === 'rpc') {
    const ns = (body && attr(body, 'namespace')) || doc.tns;
    const def = modeler.syntheticType(typeName(`${name}${direction === 'input' ? 'Input' : 'Result'}`));
    for (const part of parts) addPart(modeler, def, part, true);
    return { wrapper: { name: `${name}${suffix}`, ns }, def, encoded };
  }
  // document: a single element part whose type is complex is the wrapper; its content is the shape.
  const first = parts[0];
  const elementName = first ? qnameAttr(first, 'element') : undefined;
  if (parts.length === 1 && elementName) {
    const element = modeler.globalElement(elementName);
    if (element?.type.kind === 'complex') {
      return { wrapper: { name: element.name, ns: element.ns }, def: element.type.def, encoded };
    }
  }
  const def = modeler.syntheticType(typeName(`${name}${direction === 'input' ? 'Input' : 'Result'}`));
  for (const part of parts) addPart(modeler, def, part, false);
  return { def, encoded };
}

/** One part as a field: an element part by its element, a type part as an unqualified accessor. */
function addPart(modeler: XsdModeler, def: ComplexDef, part: XmlElement, rpc: boolean): void {
  const partName = attr(part, 'name') ?? 'part';
  const elementName = qnameAttr(part, 'element');
  const typeRef = qnameAttr(part, 'type');
  let type: TypeRef;
  let name = partName;
  let ns = '';
  let nillable = false;
  if (elementName) {
    const element = modeler.globalElement(elementName);
    type = element?.type ?? jsonType(`element ${qnameKey(elementName)} is not defined in the WSDL's schemas: typed as JSON`);
    if (!rpc || element) {
      name = element?.name ?? elementName.local;
      ns = element?.ns ?? elementName.ns;
      nillable = element?.nillable ?? false;
    }
  } else {
    type = typeRef ? modeler.typeByName(typeRef) : modeler.typeByName({ ns: NS.xsd, local: 'anyType' });
  }
  modeler.addSyntheticField(def, { name, ns, type, minOccurs: 1, maxOccurs: 1, nillable }, partName);
}
