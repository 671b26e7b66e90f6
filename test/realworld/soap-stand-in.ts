/**
 * A stand-in SOAP server for the real-world WSDL tests: node:http on 127.0.0.1 (port 0) that
 * records every request and answers a well-formed response envelope for the operation, built
 * from the operation's output schema with sample values.
 *
 * It writes its XML by hand, differently from the handler under test (a default namespace
 * declaration on every element instead of prefixes), and reads requests with fast-xml-parser
 * directly, so the handler's own XML code is not checking itself.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { arrayItemOf, shapeOf, type ComplexDef, type OperationModel, type TypeRef } from '../../gateway/composition/soap/model.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  contentType: string;
  /** The SOAPAction header as sent (with its quotes), when there was one. */
  soapAction?: string;
  body: string;
  /** Namespace of the Envelope element. */
  envelopeNamespace: string;
  /** Local name and namespace of the Body's first element. */
  bodyElement: { local: string; ns: string };
  /** Parsed Header blocks (fast-xml-parser objects), keyed by their qualified names. */
  header: Record<string, unknown> | undefined;
}

export interface StandIn {
  url: string;
  requests: RecordedRequest[];
  /** What to answer next (an envelope). */
  reply: { status: number; contentType: string; body: string };
  close(): Promise<void>;
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', processEntities: false, parseTagValue: false });

type Node = Record<string, unknown>;

function elementKey(node: Node): string | undefined {
  return Object.keys(node).find((k) => !k.startsWith('@_') && !k.startsWith('#') && k !== '?xml');
}

function namespaceOf(name: string, ...scopes: Node[]): string {
  const prefix = name.includes(':') ? name.slice(0, name.indexOf(':')) : '';
  const attrName = prefix === '' ? '@_xmlns' : `@_xmlns:${prefix}`;
  for (const scope of scopes) if (typeof scope[attrName] === 'string') return scope[attrName] as string;
  return '';
}

/** Reads the parts of a request the tests assert on. */
export function readRequest(body: string): Pick<RecordedRequest, 'envelopeNamespace' | 'bodyElement' | 'header'> {
  const document = parser.parse(body) as Node;
  const envelopeName = elementKey(document) ?? '';
  const envelope = (document[envelopeName] ?? {}) as Node;
  const prefix = envelopeName.includes(':') ? `${envelopeName.split(':')[0]}:` : '';
  const soapBody = (envelope[`${prefix}Body`] ?? {}) as Node;
  const firstName = elementKey(soapBody) ?? '';
  const first = (typeof soapBody[firstName] === 'object' ? soapBody[firstName] : {}) as Node;
  return {
    envelopeNamespace: namespaceOf(envelopeName, envelope),
    bodyElement: { local: firstName.replace(/^.*:/, ''), ns: namespaceOf(firstName, first, soapBody, envelope) },
    header: envelope[`${prefix}Header`] as Record<string, unknown> | undefined,
  };
}

export async function startStandIn(): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const soapAction = req.headers.soapaction;
      requests.push({
        method: req.method ?? '', path: req.url ?? '', headers: req.headers, contentType: req.headers['content-type'] ?? '',
        ...(typeof soapAction === 'string' ? { soapAction } : {}), body, ...readRequest(body),
      });
      res.writeHead(standIn.reply.status, { 'content-type': standIn.reply.contentType });
      res.end(standIn.reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const standIn: StandIn = {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply: { status: 500, contentType: 'text/plain', body: 'no reply configured' },
    close: () => new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
  return standIn;
}

const SOAP_ENVELOPE = { '1.1': 'http://schemas.xmlsoap.org/soap/envelope/', '1.2': 'http://www.w3.org/2003/05/soap-envelope' } as const;

/** A 200 reply envelope for the operation, with sample values for its whole output. */
export function sampleReply(op: OperationModel): { status: number; contentType: string; body: string } {
  const output = op.output;
  let content = '';
  if (output) {
    const members = membersXml(output.def, 0);
    content = output.wrapper ? element(output.wrapper.name, output.wrapper.ns, members.attrs, members.body) : members.body;
  }
  const contentType = op.soapVersion === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8';
  const body = `<?xml version="1.0" encoding="utf-8"?>\n<env:Envelope xmlns:env="${SOAP_ENVELOPE[op.soapVersion]}"><env:Body>${content}</env:Body></env:Envelope>`;
  return { status: 200, contentType, body };
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function element(name: string, ns: string, attrs: string, body: string): string {
  return `<${name} xmlns="${escape(ns)}"${attrs}>${body}</${name}>`;
}

/** Sample lexical values, by XSD type; strings name the element they are in. */
export function sampleText(type: TypeRef, owner: string): string {
  switch (type.kind) {
    case 'enum': return type.def.values[0]?.value ?? '';
    case 'list': return `${sampleText(type.item, owner)} ${sampleText(type.item, owner)}`;
    case 'complex': return `${owner}-sample`;
    case 'scalar':
      switch (type.scalar) {
        case 'Int': return '7';
        case 'Float': return '2.5';
        case 'Boolean': return 'true';
        case 'JSON': return `${owner}-sample`;
        default:
          if (type.xsd === 'dateTime') return '2024-01-02T03:04:05Z';
          if (type.xsd === 'date') return '2024-01-02';
          if (type.xsd === 'decimal') return '12.50';
          if (/integer|long|unsigned/i.test(type.xsd)) return '12345678901';
          return `${owner}-sample`;
      }
  }
}

const MAX_DEPTH = 4;

function membersXml(def: ComplexDef, depth: number): { attrs: string; body: string } {
  let attrs = '';
  let prefixes = 0;
  for (const a of def.attributes) {
    const value = escape(sampleText(a.type, a.name));
    if (a.ns === '') attrs += ` ${a.name}="${value}"`;
    else attrs += ` xmlns:sa${++prefixes}="${escape(a.ns)}" sa${prefixes}:${a.name}="${value}"`;
  }
  let body = def.text ? escape(sampleText(def.text.type, 'value')) : '';
  for (const f of def.fields) {
    if (depth >= MAX_DEPTH && f.minOccurs === 0) continue;
    const count = f.maxOccurs > 1 ? (depth < 2 ? 2 : 1) : 1;
    for (let i = 0; i < count; i++) body += valueXml(f.name, f.ns, f.type, depth + 1);
  }
  if (def.any) body += '<anything xmlns="">any-sample</anything>';
  return { attrs, body };
}

function valueXml(name: string, ns: string, type: TypeRef, depth: number): string {
  if (type.kind !== 'complex') return element(name, ns, '', escape(sampleText(type, name)));
  const def = type.def;
  if (depth > MAX_DEPTH + 4) return element(name, ns, '', '');
  switch (shapeOf(def)) {
    case 'array': {
      const item = arrayItemOf(def);
      const items = [0, 1].map(() => valueXml(item.name, item.ns, item.type, depth + 1)).join('');
      return element(name, ns, '', items);
    }
    case 'json': return element(name, ns, '', '<anything xmlns="">any-sample</anything>');
    case 'empty': return element(name, ns, '', '');
    case 'text': return element(name, ns, '', escape(sampleText(def.text!.type, 'value')));
    case 'object': {
      const members = membersXml(def, depth);
      return element(name, ns, members.attrs, members.body);
    }
  }
}
