import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, type GraphQLSchema } from 'graphql';
import yaml from 'js-yaml';
import { addWsdlDocumentation } from './wsdl-documentation.ts';

/**
 * The only module that reads GraphQL Mesh's output. `mesh build` (run by `npm start` and
 * `npm test`) turns each contract in .meshrc.yaml (OpenAPI, WSDL, SDL) into a GraphQL schema
 * under `.mesh/sources/<name>/schema.graphql`. Keeping every Mesh dependency behind this one
 * file is what lets the composition engine be replaced without touching the rest.
 */
export const DEFAULT_MESH_DIR = '.mesh';

export class MeshArtifactsMissing extends Error {
  override readonly name = 'MeshArtifactsMissing';
}

export const DEFAULT_MESH_CONFIG = '.meshrc.yaml';

interface MeshSource {
  name: string;
  handler: Record<string, { source?: string } | undefined>;
}

/** The WSDL file of each SOAP source in .meshrc.yaml, by source name. */
function soapContracts(meshConfig: string): Map<string, string> {
  const parsed = yaml.load(readFileSync(meshConfig, 'utf8')) as { sources?: MeshSource[] } | undefined;
  const contracts = new Map<string, string>();
  for (const source of parsed?.sources ?? []) {
    const wsdl = source.handler.soap?.source;
    if (wsdl && !/^https?:/.test(wsdl)) contracts.set(source.name, wsdl);
  }
  return contracts;
}

export function loadSourceSchemas(
  sourceNames: readonly string[],
  meshDir = DEFAULT_MESH_DIR,
  meshConfig = DEFAULT_MESH_CONFIG,
): Map<string, GraphQLSchema> {
  const schemas = new Map<string, GraphQLSchema>();
  const wsdls = soapContracts(meshConfig);
  for (const name of sourceNames) {
    const file = join(meshDir, 'sources', name, 'schema.graphql');
    if (!existsSync(file)) {
      throw new MeshArtifactsMissing(
        `${file} is missing: run "npm run build:mesh" (npm start and npm test run it for you).`,
      );
    }
    // Mesh's own directives are declared in the file; the SDL is Mesh's, so it is trusted as valid.
    let schema = buildSchema(readFileSync(file, 'utf8'), { assumeValidSDL: true });
    const wsdl = wsdls.get(name);
    if (wsdl) schema = addWsdlDocumentation(schema, readFileSync(wsdl, 'utf8'));
    schemas.set(name, schema);
  }
  return schemas;
}
