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
