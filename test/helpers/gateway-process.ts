import { spawn, type ChildProcess } from 'node:child_process';

/** Junction's real entry point (`gateway/main.ts`) as a process of its own, on free ports. */
export interface GatewayProcess {
  child: ChildProcess;
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Everything it wrote so far, stdout and stderr. */
  output: () => string;
}

/**
 * Starts the gateway with demo backends on port 0 and resolves once it says where it listens.
 * `env` is all it gets besides PATH and the ports: no variable of the test's own leaks in.
 */
export async function startGatewayProcess(env: Record<string, string>, running?: ChildProcess[]): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/main.ts'], {
    env: { PATH: process.env.PATH, PORT: '0', PAYMENTS_PORT: '0', MAPS_PORT: '0', MESSAGING_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running?.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /GraphQL\s+(http:\/\/\S+)\/graphql/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening:\n${output}`)));
  });
  return { child, url, output: () => output };
}

/** SIGTERM, resolving with the exit code (null when it died of a signal). */
export function stopProcess(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
    // A test that failed while the process was stopped (SIGSTOP) would otherwise leave it hanging.
    child.kill('SIGCONT');
  });
}
