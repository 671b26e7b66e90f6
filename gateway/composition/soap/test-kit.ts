/**
 * Test helpers for the SOAP handler's unit tests: inline WSDLs written to a temporary directory,
 * and a fetch that records each request and answers with a canned reply (no sockets).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execute, parse, validate, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { loadSoapSource, type SoapSourceOptions } from './index.ts';

export interface RecordedCall {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

export interface CannedReply {
  status?: number;
  contentType?: string;
  body: string;
}

export interface FakeBackend {
  fetch: typeof fetch;
  calls: RecordedCall[];
  /** The reply for the next calls. */
  reply: CannedReply;
}

export function fakeBackend(reply: CannedReply = { body: '' }): FakeBackend {
  const backend: FakeBackend = {
    calls: [],
    reply,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      backend.calls.push({ url: String(input), method: init?.method ?? 'GET', headers: new Headers(init?.headers), body: String(init?.body ?? '') });
      const { status = 200, contentType = 'text/xml; charset=utf-8', body } = backend.reply;
      return new Response(body, { status, headers: { 'content-type': contentType } });
    }) as typeof fetch,
  };
  return backend;
}

/** Writes files (name -> text) into a fresh temporary directory and returns its path. */
export function writeFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'junction-soap-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';

/** A reply envelope around `body` (SOAP 1.1 unless `version` says otherwise). */
export function envelope(body: string, version: '1.1' | '1.2' = '1.1'): string {
  return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${version === '1.1' ? SOAP11 : SOAP12}"><s:Body>${body}</s:Body></s:Envelope>`;
}

/** A WSDL 1.1 document: `types` is the inside of wsdl:types, `rest` messages/portTypes/bindings/services. */
export function wsdl(tns: string, types: string, rest: string): string {
  return `<?xml version="1.0"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:http="http://schemas.xmlsoap.org/wsdl/http/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
  xmlns:tns="${tns}" targetNamespace="${tns}">
  <wsdl:types>${types}</wsdl:types>
  ${rest}
</wsdl:definitions>`;
}

export async function loadInline(files: Record<string, string>, options: Partial<SoapSourceOptions> & { backend?: FakeBackend } = {}) {
  const cwd = writeFiles(files);
  const { backend = fakeBackend(), ...rest } = options;
  const source = await loadSoapSource({
    name: 'test', source: Object.keys(files)[0]!, cwd, endpoint: 'http://soap.test/service', fetch: backend.fetch, ...rest,
  });
  return { source, backend, cwd };
}

/** Validates, then executes (a field on the wrong root type must fail, not silently vanish). */
export async function run(schema: GraphQLSchema, document: string, variableValues?: Record<string, unknown>): Promise<ExecutionResult> {
  const parsed = parse(document);
  const errors = validate(schema, parsed);
  if (errors.length > 0) return { errors };
  return execute({ schema, document: parsed, variableValues }) as Promise<ExecutionResult>;
}
