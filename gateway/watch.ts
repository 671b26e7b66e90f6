/**
 * What `junction dev` watches, and the watching: a change to the sources file, a spec it names, the
 * contract or a module it names calls `onChange` once the files have settled.
 *
 * Folders are watched rather than files: editors save by writing a new file and renaming it over
 * the old one, which ends a watch on the file itself. The sources file's folder, each spec's and
 * each `additionalTypeDefs` file's folder are watched alone (the sources file usually sits at the repository's root, beside
 * node_modules); a module's folder with its subfolders (schema/ holds the demo's contract and its
 * links). Only files of the kinds a configuration is made of count.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { MeshConfig } from './composition/byo/mesh-config.ts';

/** Changes closer together than this are one change: a save often writes several files, or one file twice. */
export const WATCH_SETTLE_MS = 200;

/** The kinds of file a configuration is made of; others (logs, reports, editors' swap files) are ignored. */
const CONFIGURATION_FILE = /\.(ya?ml|json|graphql|gql|wsdl|xsd|xml|[mc]?[tj]s)$/i;

export interface WatchedFolder {
  path: string;
  recursive: boolean;
}

/** The folders to watch for a sources file: its own, each local spec's, and each module's (with subfolders). */
export function foldersOf(file: MeshConfig): WatchedFolder[] {
  const folders = new Map<string, boolean>();
  const add = (path: string, recursive: boolean) => folders.set(path, (folders.get(path) ?? false) || recursive);
  add(dirname(resolve(file.file)), false);
  for (const entry of file.entries) {
    const source = (entry.options as { source?: string }).source;
    if (source && !/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) add(dirname(isAbsolute(source) ? source : join(file.baseDir, source)), false);
  }
  for (const typeDefs of file.typeDefFiles ?? []) add(dirname(typeDefs), false);
  for (const module of [file.contract, file.plugins, ...file.resolvers.filter((r): r is string => typeof r === 'string').map((r) => join(file.baseDir, r))]) {
    if (module) add(dirname(module), true);
  }
  // A folder watched with its subfolders already covers those under it.
  const recursive = [...folders].filter(([, r]) => r).map(([path]) => path);
  return [...folders]
    .filter(([path]) => !recursive.some((parent) => path.startsWith(`${parent}/`)))
    .map(([path, r]) => ({ path, recursive: r }));
}

/**
 * Watches the folders; `onChange` gets the files changed since the last call, WATCH_SETTLE_MS after
 * the last of them. Returns a function that stops watching.
 */
export function watchFolders(folders: readonly WatchedFolder[], onChange: (files: string[]) => void): () => void {
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const { path, recursive } of folders) {
    try {
      const watcher = watch(path, { recursive, persistent: false }, (_event, name) => {
        // Hidden folders (.git, an editor's) and node_modules hold nothing of the configuration; a
        // hidden file may (.meshrc.yaml).
        if (!name || !CONFIGURATION_FILE.test(name) || name.split('/').slice(0, -1).some((part) => part === 'node_modules' || part.startsWith('.'))) return;
        changed.add(join(path, name));
        clearTimeout(timer);
        timer = setTimeout(() => {
          const files = [...changed];
          changed.clear();
          onChange(files);
        }, WATCH_SETTLE_MS);
      });
      // A folder removed while watched: the watch ends, the others go on.
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // A folder that does not exist (a spec not yet written): nothing to watch there.
    }
  }
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
