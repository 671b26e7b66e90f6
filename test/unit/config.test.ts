import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/plugins/limits/limits.ts';
import { readMeshConfig } from '../../gateway/composition/byo/mesh-config.ts';
import { sourcesFileProblems } from '../helpers/sources-file.ts';
import { start } from '../../sources/demo/embedded.ts';
import { DEMO_CREDENTIALS } from '../../sources/demo/credentials.ts';

/** The least a production start needs: where tokens' keys, issuer and audience are. */
const IDP = { AUTH_JWKS_URL: 'https://idp.example/.well-known/jwks.json', AUTH_ISSUER: 'https://idp.example/', AUTH_AUDIENCE: 'https://api.example' };

function problemsOf(env: Record<string, string>, readFile?: (path: string) => string): string[] {
  try {
    loadConfig(env, readFile);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('loadConfig', () => {
  it('starts on embedded defaults given only the identity provider, in production mode', () => {
    const config = loadConfig(IDP);
    expect(config).toEqual({
      mode: 'production',
      port: 4000,
      host: '127.0.0.1',
      upstream: { timeoutMs: DEFAULTS.upstreamTimeoutMs, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes, requestDeadlineMs: 10_000 },
      drainMs: 10_000,
      shutdownDelayMs: 2_000,
      keepAliveTimeoutMs: 65_000,
      headersTimeoutMs: 10_000,
      readyCacheMs: 1_000,
      meshConfig: '.meshrc.yaml',
      corsOrigins: [],
      redisUrl: undefined,
      cache: true,
      limits: DEFAULT_LIMITS,
      trustedProxies: [],
      persistedDocuments: undefined,
      watch: false,
      metrics: true,
      logLevel: 'info',
      auth: {
        keys: { kind: 'remote', url: IDP.AUTH_JWKS_URL },
        issuer: IDP.AUTH_ISSUER,
        audience: IDP.AUTH_AUDIENCE,
        serviceAudience: undefined,
        algorithms: ['RS256'],
        tokenTypes: ['at+jwt'],
        clockToleranceSec: 30,
        jwks: { maxAgeMs: 600_000, staleIfErrorMs: 86_400_000, cooldownMs: 30_000 },
        apiKeys: [],
      },
      sourceEnv: IDP,
    });
  });

  it('refuses to start in production without auth settings, naming the missing one; development runs the dev issuer', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^AUTH_JWKS_URL: not set; production needs AUTH_JWKS_URL .*NODE_ENV=development/)]);
    expect(loadConfig({ NODE_ENV: 'development' }).auth.keys).toEqual({ kind: 'dev' });
    expect(problemsOf({ AUTH_JWKS_URL: IDP.AUTH_JWKS_URL })).toEqual([
      'AUTH_ISSUER: not set; tokens are only accepted from a named issuer',
      'AUTH_AUDIENCE: not set; tokens are only accepted for a named audience',
    ]);
  });

  it('reads secrets from JUNCTION_SECRETS_FILE for the sources file, the environment winning, and refuses what is not a variable', () => {
    const files: Record<string, string> = {
      '/run/secrets/junction.json': JSON.stringify({ PAYMENTS_SECRET_KEY: 'sk_from_file', MESSAGING_ACCOUNT_SID: 'AC1', MESSAGING_AUTH_TOKEN: 't' }),
      '/run/secrets/typo.json': JSON.stringify({ 'PAYMENT SECRET': 'x', TOKEN: 42 }),
    };
    const read = (path: string) => {
      if (!(path in files)) throw new Error(`ENOENT: ${path}`);
      return files[path]!;
    };
    const config = loadConfig({ ...IDP, JUNCTION_SECRETS_FILE: '/run/secrets/junction.json', MESSAGING_AUTH_TOKEN: 'from-env' }, read);
    expect(config.sourceEnv).toMatchObject({ PAYMENTS_SECRET_KEY: 'sk_from_file', MESSAGING_ACCOUNT_SID: 'AC1', MESSAGING_AUTH_TOKEN: 'from-env' });
    expect(problemsOf({ ...IDP, JUNCTION_SECRETS_FILE: '/run/secrets/typo.json' }, read)).toEqual([
      'JUNCTION_SECRETS_FILE: "PAYMENT SECRET" is not a variable name',
      'JUNCTION_SECRETS_FILE: TOKEN must be a string',
    ]);
    expect(problemsOf({ ...IDP, JUNCTION_SECRETS_FILE: '/nope.json' }, read)).toEqual([expect.stringMatching(/^JUNCTION_SECRETS_FILE="\/nope.json": cannot be read as JSON/)]);
  });

  it('reads API keys as hashes and refuses a plain key in their place', () => {
    const good = JSON.stringify([{ service: 'billing', sha256: 'a'.repeat(64), scopes: ['payments:read'] }]);
    const plain = JSON.stringify([{ service: 'billing', sha256: 'sk_plain_key', scopes: [] }]);
    const read = (path: string) => (path === 'good.json' ? good : plain);
    expect(loadConfig({ AUTH_API_KEYS_FILE: 'good.json' }, read).auth.apiKeys).toEqual([{ service: 'billing', sha256: 'a'.repeat(64), scopes: ['payments:read'] }]);
    expect(problemsOf({ AUTH_API_KEYS_FILE: 'plain.json' }, read)).toEqual([
      expect.stringMatching(/^AUTH_API_KEYS_FILE: \[0.sha256\] must be the hex SHA-256/),
      expect.stringMatching(/^AUTH_JWKS_URL: not set/), // with no usable key, production has no auth at all
    ]);
  });

  it('reads every limit and the trusted proxies from the environment', () => {
    const config = loadConfig({ ...IDP, MAX_DEPTH: '8', RATE_USER_PER_MIN: '60', TRUSTED_PROXIES: '10.0.0.1, 10.0.0.2' });
    expect(config.limits).toEqual({ ...DEFAULT_LIMITS, MAX_DEPTH: 8, RATE_USER_PER_MIN: 60 });
    expect(config.trustedProxies).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(problemsOf({ ...IDP, MAX_BODY_BYTES: '0' })).toEqual(['MAX_BODY_BYTES="0": must be at least 1']);
  });

  it('reads the CORS allow-list as origins only, and refuses anything else', () => {
    expect(loadConfig({ ...IDP, CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).corsOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(problemsOf({ ...IDP, CORS_ORIGINS: 'https://app.example.com/path' })).toEqual([expect.stringMatching(/^CORS_ORIGINS=.*must be an origin/)]);
  });

  it('reads persisted documents by hash and refuses a hash that is not its document\'s', () => {
    const doc = '{ merchant(id: "m") { id } }';
    const hash = createHash('sha256').update(doc).digest('hex');
    const read = (path: string) => JSON.stringify(path === 'good.json' ? { [hash]: doc } : { [hash]: `${doc} ` });
    expect(loadConfig({ ...IDP, PERSISTED_DOCUMENTS_FILE: 'good.json' }, read).persistedDocuments).toEqual(new Map([[hash, doc]]));
    expect(problemsOf({ ...IDP, PERSISTED_DOCUMENTS_FILE: 'bad.json' }, read)).toEqual([expect.stringMatching(/is not the SHA-256 of its document/)]);
  });

  it('pins algorithms to a list it knows and refuses none', () => {
    expect(loadConfig({ ...IDP, AUTH_ALGORITHMS: 'ES256' }).auth.algorithms).toEqual(['ES256']);
    expect(problemsOf({ ...IDP, AUTH_ALGORITHMS: 'none' })).toEqual([expect.stringMatching(/^AUTH_ALGORITHMS="none": Invalid option/)]);
  });

  it('turns on development mode only when NODE_ENV says so', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).mode).toBe('development');
    expect(loadConfig({ ...IDP, NODE_ENV: 'staging' }).mode).toBe('production');
  });

  it('reads the port and Redis from the environment, and keeps every variable for the sources file', () => {
    const config = loadConfig({ ...IDP, PAYMENTS_SECRET_KEY: 'sk', PORT: '8080', PAYMENTS_URL: 'https://payments.internal:8443', REDIS_URL: 'redis://127.0.0.1:6379/2', UPSTREAM_TIMEOUT_MS: '250' });
    expect(config.port).toBe(8080);
    expect(config.sourceEnv.PAYMENTS_URL).toBe('https://payments.internal:8443');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379/2');
    expect(config.upstream.timeoutMs).toBe(250);
  });

  it('reports every problem at once, naming the variable and the value received', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', UPSTREAM_TIMEOUT_MS: '0', LOG_LEVEL: 'loud', REDIS_URL: 'http://redis' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    expect(problems).toHaveLength(4);
    expect(problems.find((p) => p.startsWith('PORT='))).toContain('"eighty"');
    expect(problems.find((p) => p.startsWith('UPSTREAM_TIMEOUT_MS='))).toContain('at least 1');
    expect(problems.find((p) => p.startsWith('REDIS_URL='))).toContain('redis://');
    expect(problems.some((p) => p.startsWith('LOG_LEVEL='))).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...IDP, PAYMENTS_URL: '', PORT: '' }).port).toBe(4000);
  });

  it('returns a frozen configuration', () => {
    const config = loadConfig(IDP);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.sourceEnv)).toBe(true);
  });
});

describe('the demo sources, as .meshrc.yaml declares them', () => {
  const URLS = { PAYMENTS_URL: 'https://pay.example', MAPS_URL: 'https://maps.example', MESSAGING_URL: 'https://chat.example' };

  it('needs the gateway\'s own credentials for every backend given by URL, naming each variable', () => {
    expect(sourcesFileProblems('.meshrc.yaml', { ...URLS, MAPS_USERNAME: 'junction' })).toEqual([
      'sources[0] (payments).handler.openapi.auth.bearer: {env.PAYMENTS_SECRET_KEY} is used but PAYMENTS_SECRET_KEY is not set',
      'sources[0] (payments).handler.openapi.webhooks[0].secrets[0]: {env.PAYMENTS_WEBHOOK_SECRET} is used but PAYMENTS_WEBHOOK_SECRET is not set',
      'sources[1] (maps).handler.soap.security.password: {env.MAPS_API_KEY} is used but MAPS_API_KEY is not set',
      'sources[2] (messaging).handler.graphql.auth.basic.username: {env.MESSAGING_ACCOUNT_SID} is used but MESSAGING_ACCOUNT_SID is not set',
      'sources[2] (messaging).handler.graphql.auth.basic.password: {env.MESSAGING_AUTH_TOKEN} is used but MESSAGING_AUTH_TOKEN is not set',
      'sources[2] (messaging).handler.graphql.webhooks[0].secrets[0]: {env.MESSAGING_WEBHOOK_SECRET} is used but MESSAGING_WEBHOOK_SECRET is not set',
    ].map((p) => p.replace('.handler.soap.', '.handler../gateway/composition/soap/mesh-handler.ts.')));
  });

  it('reads each source\'s URL, timeout and quota from its variables; unset ones leave the option out', () => {
    const credentials = { PAYMENTS_SECRET_KEY: 'sk', PAYMENTS_WEBHOOK_SECRET: 'whsec_x', MAPS_USERNAME: 'u', MAPS_API_KEY: 'k', MESSAGING_ACCOUNT_SID: 'AC1', MESSAGING_AUTH_TOKEN: 't', MESSAGING_WEBHOOK_SECRET: 't' };
    const file = readMeshConfig('.meshrc.yaml', { ...URLS, ...credentials, PAYMENTS_TIMEOUT_MS: '250', MESSAGING_MAX_SENDS_PER_SEC: '5' });
    const [payments, maps, messaging] = file.entries;
    expect(payments!.options).toMatchObject({ endpoint: 'https://pay.example', timeoutMs: 250, auth: { bearer: 'sk' } });
    expect(payments!.options.quota).toBeUndefined();
    expect(maps!.options).toMatchObject({ endpoint: 'https://maps.example/soap', security: { username: 'u', password: 'k' } });
    expect(maps!.options.timeoutMs).toBeUndefined();
    expect(messaging!.options).toMatchObject({ endpoint: 'https://chat.example/graphql', quota: { perSec: 5, operations: ['sendMessage'] } });
    expect(file.contract).toMatch(/schema\/index\.ts$/);
  });

  it('refuses a URL that is not http(s), and a timeout out of range', () => {
    const credentials = { PAYMENTS_SECRET_KEY: 'sk', PAYMENTS_WEBHOOK_SECRET: 'whsec_x', MAPS_USERNAME: 'u', MAPS_API_KEY: 'k', MESSAGING_ACCOUNT_SID: 'AC1', MESSAGING_AUTH_TOKEN: 't', MESSAGING_WEBHOOK_SECRET: 't' };
    const problems = sourcesFileProblems('.meshrc.yaml', { ...URLS, ...credentials, MAPS_URL: 'ftp://maps', PAYMENTS_TIMEOUT_MS: '0' });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^sources\[0\] \(payments\)\.handler\.openapi\.timeoutMs: /);
    // The endpoint and the probe, both read from MAPS_URL.
    expect(problems[1]).toMatch(/^sources\[1\] \(maps\)\.handler\..*\.probe: must be an http\(s\) URL/);
    expect(problems[2]).toMatch(/^sources\[1\] \(maps\)\.handler\..*\.endpoint: must be an http\(s\) URL/);
  });

  it('embedded: in development a backend given by URL without credentials gets the demo ones; in production none', async () => {
    const dev = await start({ env: URLS, mode: 'development' });
    const prod = await start({ env: URLS, mode: 'production' });
    try {
      expect(dev.started).toEqual([]);
      expect(dev.env).toMatchObject({ PAYMENTS_SECRET_KEY: DEMO_CREDENTIALS.payments.secretKey, MAPS_API_KEY: DEMO_CREDENTIALS.maps.apiKey });
      expect(prod.env).toEqual({});
      // Some of a backend's credentials given: none are filled in (the missing one is named at start).
      const partial = await start({ env: { ...URLS, MAPS_USERNAME: 'me' }, mode: 'development' });
      expect(partial.env.MAPS_API_KEY).toBeUndefined();
    } finally {
      await dev.close();
      await prod.close();
    }
  });
});
