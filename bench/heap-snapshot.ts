/**
 * A heap census of a Node process started with `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>`:
 * the signal makes it write a heap snapshot (after a full garbage collection) into the folder; the
 * file is read, its nodes are counted by class, and it is deleted (tens of MB each).
 */
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './measures.ts';

export interface ClassTally {
  count: number;
  bytes: number;
}

export interface HeapCensus {
  /** Self sizes of every node summed: the heap the garbage collector left. */
  bytes: number;
  /** The part of `bytes` in no class: compiled code and V8's hidden nodes. */
  uncountedBytes: number;
  /** By class (see `classOf`). */
  classes: Map<string, ClassTally>;
}

/** The part of the .heapsnapshot JSON the census reads. */
interface SnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

// The types whose name says what the node is for are kept apart by name: an object's name is its
// constructor, a closure's its function, a native's the embedder's class (Node / TCPSocketWrap).
// The others are lumped: strings of every kind, hidden classes, regexps. Left out: V8's compiled
// code and its metadata (`code`), which the JIT went on adding to in every run (+0.9% to +1.5% from
// round 2 to 5, still some +0.1% a round in rounds 6 to 10 of a longer run) and V8 flushes when
// unused; and `hidden` and `synthetic` nodes (V8 internals, the snapshot's roots). All count in the
// heap's size.
const BY_NAME: Record<string, string> = { object: '', closure: '(closure) ', array: '(array) ', native: '(native) ' };
const LUMPED: Record<string, string> = {
  string: '(strings)', 'concatenated string': '(strings)', 'sliced string': '(strings)',
  regexp: '(regexp)', number: '(number)', symbol: '(symbol)', bigint: '(bigint)', 'object shape': '(object shape)',
};

function classOf(type: string, name: string): string | undefined {
  const prefix = BY_NAME[type];
  if (prefix === undefined) return LUMPED[type];
  return name ? `${prefix}${name}` : prefix.trim() || '(no name)';
}

export function census(file: SnapshotFile): HeapCensus {
  const fields = file.snapshot.meta.node_fields;
  const types = file.snapshot.meta.node_types[0];
  const at = (field: string) => {
    const i = fields.indexOf(field);
    if (i < 0) throw new Error(`heap snapshot without ${field} among its node fields (${fields.join(', ')})`);
    return i;
  };
  const [typeAt, nameAt, sizeAt] = [at('type'), at('name'), at('self_size')];
  const { nodes, strings } = file;
  const classes = new Map<string, ClassTally>();
  let bytes = 0;
  let uncountedBytes = 0;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const size = nodes[i + sizeAt]!;
    bytes += size;
    const key = classOf(types[nodes[i + typeAt]!]!, strings[nodes[i + nameAt]!]!);
    if (key === undefined) {
      uncountedBytes += size;
      continue;
    }
    const tally = classes.get(key);
    if (tally) {
      tally.count++;
      tally.bytes += size;
    } else {
      classes.set(key, { count: 1, bytes: size });
    }
  }
  return { bytes, uncountedBytes, classes };
}

/**
 * Two snapshots, the census from the second. A signal whose request has ended dies only in the
 * garbage collection the first one runs, and what a FinalizationRegistry holds for it (the timer
 * of AbortSignal.timeout, its closure, context and WeakRef) is let go by a callback that runs after
 * that collection: in one snapshot after each rest those classes swung by up to a thousand objects
 * from round to round, in the second they stayed put.
 */
export async function takeCensus(pid: number, dir: string): Promise<HeapCensus> {
  await takeSnapshot(pid, dir);
  return census(await takeSnapshot(pid, dir));
}

/**
 * Signals the process and waits for its new snapshot. Node creates the file before it collects
 * garbage and builds the snapshot, then writes it piece by piece: the file is read once its size
 * has stopped changing, and taken only when it parses (a partial file does not). Deleted once read.
 */
async function takeSnapshot(pid: number, dir: string, timeoutMs = 120_000): Promise<SnapshotFile> {
  const isSnapshot = (f: string) => f.endsWith('.heapsnapshot');
  const old = new Set(readdirSync(dir).filter(isSnapshot));
  process.kill(pid, 'SIGUSR2');
  const start = Date.now();
  let path: string | undefined;
  let lastSize = 0;
  while (Date.now() - start < timeoutMs) {
    await sleep(500);
    if (!path) {
      const name = readdirSync(dir).find((f) => isSnapshot(f) && !old.has(f));
      if (!name) continue;
      path = join(dir, name);
    }
    const size = statSync(path).size;
    if (size > 0 && size === lastSize) {
      let parsed: SnapshotFile | undefined;
      try {
        parsed = JSON.parse(readFileSync(path, 'utf8')) as SnapshotFile;
      } catch {
        // still being written
      }
      if (parsed) {
        unlinkSync(path);
        return parsed;
      }
    }
    lastSize = size;
  }
  throw new Error(`no complete heap snapshot from process ${pid} in ${dir} within ${timeoutMs} ms${path ? ` (${path} is incomplete)` : ''}`);
}
