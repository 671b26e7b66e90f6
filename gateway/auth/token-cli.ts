/**
 * `junction token` (bin/junction.mjs, gateway/cli.ts), also `npm run -s token -- --sub <id> --scopes "<space separated>" [--ttl <seconds>]`: prints an access
 * token from the embedded dev issuer (the key `npm start` verifies with), and nothing else, so
 * that `TOKEN=$(npm run -s token -- --sub alice --scopes "orders:read")` works.
 *
 * `npm run -s api-key -- --service <name> --scopes "<space separated>"`: prints a new random API
 * key and, on stderr, the entry to add to AUTH_API_KEYS_FILE (its SHA-256 only).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { hashApiKey } from './api-keys.ts';
import { loadDevIssuer } from './dev-issuer.ts';

const [command, ...rest] = process.argv.slice(2);
const usage = {
  token: 'junction token --sub <id> --scopes "<space separated>" [--ttl <seconds>]   (or npm run -s token -- ...)',
  'api-key': 'junction api-key --service <name> --scopes "<space separated>"   (or npm run -s api-key -- ...)',
};

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

try {
  if (command === 'token') {
    const { values } = parseArgs({ args: rest, options: { sub: { type: 'string' }, scopes: { type: 'string', default: '' }, ttl: { type: 'string', default: '3600' } } });
    if (!values.sub) fail(`--sub is required\nusage: ${usage.token}`);
    const ttlSec = Number(values.ttl);
    if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > 86_400) fail(`--ttl must be whole seconds from 1 to 86400, got ${JSON.stringify(values.ttl)}`);
    const issuer = await loadDevIssuer();
    process.stdout.write(`${await issuer.mint({ sub: values.sub, scopes: values.scopes.split(/\s+/).filter(Boolean), ttlSec })}\n`);
  } else if (command === 'api-key') {
    const { values } = parseArgs({ args: rest, options: { service: { type: 'string' }, scopes: { type: 'string', default: '' } } });
    if (!values.service) fail(`--service is required\nusage: ${usage['api-key']}`);
    const key = `jk_${randomBytes(24).toString('base64url')}`;
    process.stdout.write(`${key}\n`);
    const entry = { service: values.service, sha256: hashApiKey(key), scopes: values.scopes.split(/\s+/).filter(Boolean) };
    process.stderr.write(`Add to the JSON array in AUTH_API_KEYS_FILE (the key itself is not stored anywhere):\n${JSON.stringify(entry)}\n`);
  } else {
    fail(`usage:\n  ${usage.token}\n  ${usage['api-key']}`);
  }
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
