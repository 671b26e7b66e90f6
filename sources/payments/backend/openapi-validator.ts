import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats, { type FormatsPlugin } from 'ajv-formats';
import yaml from 'js-yaml';

/**
 * Reads openapi.yaml and checks response bodies against it, for the contract tests. It lives
 * beside the contract so the tests judge the backend by the document the gateway reads.
 */
export const PAYMENTS_SPEC_PATH = new URL('../openapi.yaml', import.meta.url);

export interface SpecOperation {
  operationId: string;
  method: string;
  path: string;
  summary?: string;
  description?: string;
  parameters?: ParameterObject[];
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}

export interface ParameterObject {
  $ref?: string;
  name?: string;
  in?: string;
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Omit<SpecOperation, 'method' | 'path'>>>;
  components: { schemas: Record<string, unknown>; parameters?: Record<string, ParameterObject> };
}

// ajv-formats is CommonJS with a `default` export: under NodeNext the default import is the
// module object, whose `default` is the plugin (at run time both are callable).
const addFormats = (ajvFormats as unknown as { default: FormatsPlugin }).default;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function loadPaymentsSpec(): OpenApiDocument {
  return yaml.load(readFileSync(PAYMENTS_SPEC_PATH, 'utf8')) as OpenApiDocument;
}

export function specOperations(spec: OpenApiDocument): SpecOperation[] {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ ...op, method: method.toUpperCase(), path })));
}

/** Names of the query parameters an operation declares, with `#/components/parameters` refs resolved. */
export function queryParameterNames(spec: OpenApiDocument, op: SpecOperation): string[] {
  return (op.parameters ?? [])
    .map((param) => (param.$ref ? spec.components.parameters?.[param.$ref.split('/').at(-1)!] : param))
    .filter((param): param is ParameterObject => param?.in === 'query')
    .map((param) => param.name!);
}

export interface ResponseCheck {
  valid: boolean;
  /** Which response of the spec was used: the status, or `default`. */
  responseKey: string | undefined;
  errors: string;
}

export interface ResponseValidator {
  check(operationId: string, status: number, body: unknown): ResponseCheck;
}

/** Escapes one JSON pointer segment (RFC 6901). */
function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function createResponseValidator(spec: OpenApiDocument): ResponseValidator {
  // strict: false lets OpenAPI's own keywords through; Ajv understands OpenAPI's `nullable`.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(spec as object, 'openapi.json');
  const operations = new Map(specOperations(spec).map((op) => [op.operationId, op]));
  const compiled = new Map<string, ValidateFunction>();

  return {
    check(operationId, status, body) {
      const op = operations.get(operationId);
      if (!op) throw new Error(`openapi.yaml has no operation ${operationId}`);
      const responseKey = String(status) in op.responses ? String(status) : 'default' in op.responses ? 'default' : undefined;
      if (responseKey === undefined) return { valid: false, responseKey, errors: `no response declared for ${status}` };
      const response = op.responses[responseKey]!;
      const base = response.$ref
        ? response.$ref
        : `#/paths/${escapePointer(op.path)}/${op.method.toLowerCase()}/responses/${responseKey}`;
      const pointer = `openapi.json${base}/content/application~1json/schema`;
      let validate = compiled.get(pointer);
      if (!validate) {
        validate = ajv.compile({ $ref: pointer });
        compiled.set(pointer, validate);
      }
      const valid = validate(body);
      return { valid, responseKey, errors: valid ? '' : ajv.errorsText(validate.errors) };
    },
  };
}
