import { randomUUID } from 'node:crypto';
import { DEMO_SCOPES } from '../../schema/index.ts';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWTPayload, type JWTHeaderParameters, type CryptoKey } from 'jose';
import { DEV_ISSUER } from '../../gateway/auth/dev-issuer.ts';
import type { AuthConfig } from '../../gateway/config.ts';
import { DEFAULTS } from '../../gateway/config.ts';

/** The auth settings tests run with, over the test issuer's keys (harness.ts). */
export const TEST_AUTH: AuthConfig = {
  keys: { kind: 'none' },
  issuer: 'https://issuer.junction.test/',
  audience: 'https://api.junction.test',
  serviceAudience: 'https://services.junction.test',
  algorithms: ['RS256'],
  tokenTypes: ['at+jwt'],
  clockToleranceSec: DEFAULTS.auth.clockToleranceSec,
  jwks: { maxAgeMs: DEFAULTS.auth.jwksMaxAgeSec * 1000, staleIfErrorMs: DEFAULTS.auth.jwksStaleIfErrorSec * 1000, cooldownMs: DEFAULTS.auth.jwksCooldownSec * 1000 },
  apiKeys: [],
};

export interface TokenOptions {
  sub?: string;
  scopes?: readonly string[];
  /** Claims to add or replace (set one to undefined to leave it out). */
  claims?: Partial<JWTPayload> & Record<string, unknown>;
  /** Header fields to add or replace. */
  header?: Partial<JWTHeaderParameters>;
  /** Lifetime in seconds from `now`. Default 300. */
  ttlSec?: number;
  /** Token time, in ms. Default Date.now(). */
  now?: number;
}

export interface TestIssuer {
  /** The public keys, as a JWKS document. */
  jwks: JSONWebKeySet;
  kid: string;
  privateKey: CryptoKey;
  /** A valid access token (every demo scope unless `scopes` says otherwise), adjustable per case. */
  token(options?: TokenOptions): Promise<string>;
  /** Adds a new signing key (rotation): later tokens use it; the JWKS lists both. */
  rotate(): Promise<void>;
}

export async function createTestIssuer(): Promise<TestIssuer> {
  const keys: { kid: string; privateKey: CryptoKey; publicJwk: Record<string, unknown> }[] = [];
  const jwks: JSONWebKeySet = { keys: [] };
  const addKey = async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    keys.push({ kid, privateKey, publicJwk });
    jwks.keys.push(publicJwk);
  };
  await addKey();
  const current = () => keys[keys.length - 1]!;
  const issuer: TestIssuer = {
    jwks,
    get kid() { return current().kid; },
    get privateKey() { return current().privateKey; },
    async token({ sub = 'user-1', scopes = DEMO_SCOPES, claims = {}, header = {}, ttlSec = 300, now = Date.now() } = {}) {
      const iat = Math.floor(now / 1000);
      const payload: Record<string, unknown> = {
        iss: TEST_AUTH.issuer, aud: TEST_AUTH.audience, sub, scope: scopes.join(' '), iat, exp: iat + ttlSec, ...claims,
      };
      for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: current().kid, typ: 'at+jwt', ...header }).sign(current().privateKey);
    },
    rotate: addKey,
  };
  return issuer;
}
