/**
 * The `junction` command (bin/junction.mjs runs this file through tsx):
 *
 *   junction start                       the gateway, as `npm start` runs it (gateway/main.ts)
 *   junction dev                         the same, reloading when a configuration file changes
 *   junction check [--config <file>]     validates the configuration, every problem at once; exit 1 on any
 *   junction diff [--config <file>] [--json] <source> <newer spec>   contract drift (gateway/drift/command.ts)
 *   junction token --sub <id> --scopes "<space separated>" [--ttl <seconds>]
 *   junction api-key --service <name> --scopes "<space separated>"
 *
 * An unknown command prints the usage and exits 2, as a bad flag does.
 */
import { parseArgs } from 'node:util';
import { STARTUP_ERRORS } from '../schema/errors.ts';

const USAGE = `usage: junction <command>

  start                      run the gateway (NODE_ENV defaults to development, as with npm start);
                             SIGHUP reloads its configuration without dropping a request
  dev                        run it in development, reloading whenever the sources file, a spec, the
                             contract or a module the file names changes (JUNCTION_WATCH=on)
  check [--config <file>]    validate the environment, the sources file, its contract and every spec
                             it names, without opening a port or calling a backend; every problem is
                             listed, exit 1 on any (the file defaults to JUNCTION_CONFIG, then .meshrc.yaml)
  diff [--config <file>] [--json] <source> <newer spec: file or http(s) URL>
                             compare the spec the source's entry names with a newer one: each change
                             breaking, dangerous or safe, with the public fields it affects; exit 1
                             on a breaking change (or a newer spec that does not load), 0 otherwise
  token --sub <id> --scopes "<space separated>" [--ttl <seconds>]
                             print an access token from the development issuer
  api-key --service <name> --scopes "<space separated>"
                             print a new API key, and on stderr its entry for AUTH_API_KEYS_FILE
  help                       this text
`;

/** Exit status of a bad command line: the same as a bad flag to token or api-key. */
const USAGE_EXIT = 2;

async function check(args: string[]): Promise<number> {
  let values: { config?: string };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: 'string' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return USAGE_EXIT;
  }
  // As `npm start`: development unless NODE_ENV says otherwise, so that check answers for what starts.
  const env = { ...process.env, NODE_ENV: process.env.NODE_ENV || 'development', ...(values.config ? { JUNCTION_CONFIG: values.config } : {}) };
  // Imported here, not above: the loaders it pulls in take a second, which help and token need not wait for.
  const { checkConfiguration } = await import('./check.ts');
  const result = await checkConfiguration(env);
  if (result.problems.length > 0) {
    process.stderr.write(`junction check: ${result.problems.length} problem(s):\n`);
    for (const { code, message } of result.problems) process.stderr.write(`  [${code}] ${message}\n`);
    // Any start-up problem exits as start-up would (all of STARTUP_ERRORS exit with the same status).
    return STARTUP_ERRORS[result.problems[0]!.code].exitStatus;
  }
  const { sources, operations } = result.summary!;
  const total = operations.query + operations.mutation + operations.subscription;
  process.stdout.write(`junction check: ${result.file} is valid: ${sources.length} source(s) (${sources.join(', ')}), ${total} operations exposed (${operations.query} queries, ${operations.mutation} mutations, ${operations.subscription} subscriptions)\n`);
  return 0;
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'start':
    if (!process.env.NODE_ENV) process.env.NODE_ENV = 'development';
    await import('./main.ts');
    break;
  case 'dev':
    process.env.NODE_ENV = process.env.NODE_ENV || 'development';
    process.env.JUNCTION_WATCH = 'on';
    await import('./main.ts');
    break;
  case 'check':
    process.exit(await check(rest));
    break;
  case 'diff':
    process.exit(await (await import('./drift/command.ts')).diffCommand(rest));
    break;
  case 'token':
  case 'api-key':
    // token-cli.ts reads the command and its flags from process.argv, which has the same shape here.
    await import('./auth/token-cli.ts');
    break;
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE);
    break;
  default:
    process.stderr.write(`junction: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    process.exit(USAGE_EXIT);
}
