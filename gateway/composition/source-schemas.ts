import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, type GraphQLSchema } from 'graphql';

/**
 * The only module that reads GraphQL Mesh's output. `mesh build` (run by `npm start` and
 * `npm test`) turns each contract in .meshrc.yaml (OpenAPI, WSDL, SDL) into a GraphQL schema
 * under `.mesh/sources/<name>/schema.graphql`. Keeping every Mesh dependency behind this one
 * file is what lets the composition engine be replaced without touching the rest.
 */
export const DEFAULT_MESH_DIR = '.mesh';

export class MeshArtifactsMissing extends Error {
  readonly code = 'MESH_BUILD_MISSING';
  override readonly name = 'MeshArtifactsMissing';
}

export const DEFAULT_MESH_CONFIG = '.meshrc.yaml';

export function loadSourceSchemas(sourceNames: readonly string[], meshDir = DEFAULT_MESH_DIR): Map<string, GraphQLSchema> {
  const schemas = new Map<string, GraphQLSchema>();
  for (const name of sourceNames) {
    const file = join(meshDir, 'sources', name, 'schema.graphql');
    if (!existsSync(file)) {
      throw new MeshArtifactsMissing(
        `${file} is missing: run "npm run build:mesh" (npm start and npm test run it for you).`,
      );
    }
    // Mesh's own directives are declared in the file; the SDL is Mesh's, so it is trusted as valid.
    schemas.set(name, buildSchema(readFileSync(file, 'utf8'), { assumeValidSDL: true }));
  }
  return schemas;
}
