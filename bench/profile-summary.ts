/**
 * Sums up a V8 CPU profile (`node --cpu-prof`, e.g. from `BENCH_CPU_PROF=1 npm run bench`): self
 * time by package or project folder, and the functions with the most self time.
 * Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [skip=0]
 * `skip` leaves out the first seconds of the profile (start-up: compiling and loading modules).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<package> (scoped too), a project folder, or V8's own (GC, program, idle). */
function owner(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path.slice(path.lastIndexOf('node_modules/')));
  if (inModules) return inModules[1]!;
  if (path.startsWith('node:')) return path.includes('undici') ? 'node: fetch (undici)' : path.includes('modules/') ? 'node: module loader' : `node: ${path.replace(/^node:(internal\/)?/, '')}`;
  const project = /\/(gateway|sources|schema|bench)\/([^/]+)/.exec(path);
  return project ? `${project[1]}/${project[2]}` : path;
}

function main(): void {
  const [file, topArg, skipArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const top = Number(topArg ?? 25);
  const skipUs = Number(skipArg ?? 0) * 1e6;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= skipUs) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busy = total - idle;

  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const who = owner(url, functionName);
    byOwner.set(who, (byOwner.get(who) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'}  ${who}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const list = (title: string, map: Map<string, number>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}\n`);
    }
  };
  process.stdout.on('error', () => process.exit(0)); // e.g. piped into head
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled${skipUs > 0 ? ` after the first ${skipUs / 1e6} s` : ''}, `
    + `${(busy / 1e6).toFixed(1)} s busy (percentages are of busy time)\n`);
  list('Self time by package / project folder', byOwner);
  list('Functions with the most self time', byFunction);
}

main();
