import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMeshConfig, SourceConfigError } from '../../gateway/composition/byo/mesh-config.ts';

/** The problems reading a sources file reports (SOURCES_FILE_INVALID); throws when it reports none. */
export function sourcesFileProblems(file: string, env: Record<string, string | undefined>): string[] {
  try {
    readMeshConfig(file, env);
  } catch (err) {
    if (err instanceof SourceConfigError) return err.problems;
    throw err;
  }
  throw new Error(`${file} was read without a problem`);
}

/** Writes a sources file (or, with another `extension`, a spec it names) to a fresh temporary path; returns the path. */
export function writeSourcesFile(text: string, extension = '.meshrc.yaml'): string {
  const file = join(tmpdir(), `junction-${randomBytes(6).toString('hex')}${extension}`);
  writeFileSync(file, text);
  return file;
}

/**
 * A sources file's text with one GraphQL source that is never called (the messaging SDL, at a port
 * nobody answers), its handler options ending with `options` (YAML lines indented by 8), then `rest`.
 */
export function offlineGraphqlSource(name: string, options: string, rest = ''): string {
  return `sources:
  - name: ${name}
    handler:
      graphql:
        endpoint: http://127.0.0.1:9/graphql
        source: ${join(process.cwd(), 'sources/messaging/schema.graphql')}
${options}${rest}`;
}
