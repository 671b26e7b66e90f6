import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';

/**
 * The embedded identity provider for development: one ES256 key pair, kept in a git-ignored file
 * so that `npm start` and `npm run -s token` (two processes) sign and verify with the same key.
 * Never used in production: config.ts refuses to start there without real auth settings.
 */
export const DEV_ISSUER = Object.freeze({
  issuer: 'urn:junction:dev-issuer',
  audience: 'junction',
  algorithm: 'ES256',
  keyFile: '.junction/dev-issuer-key.json',
  ttlSec: 3600,
});

export interface DevIssuer {
  issuer: string;
  audience: string;
  /** The public half, as a JWKS document. */
  jwks: JSONWebKeySet;
  keys: JWTVerifyGetKey;
  mint(claims: { sub: string; scopes: readonly string[]; ttlSec?: number }): Promise<string>;
}

/** Loads the dev key pair from `keyFile`, creating it on first use. */
export async function loadDevIssuer(keyFile: string = DEV_ISSUER.keyFile): Promise<DevIssuer> {
  let privateJwk: JWK;
  try {
    privateJwk = JSON.parse(readFileSync(keyFile, 'utf8')) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = await generateKeyPair(DEV_ISSUER.algorithm, { extractable: true });
    privateJwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: DEV_ISSUER.algorithm, use: 'sig' };
    mkdirSync(dirname(keyFile), { recursive: true });
    try {
      writeFileSync(keyFile, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      // Another process (npm start next to npm run token) wrote it first: use theirs.
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      privateJwk = JSON.parse(readFileSync(keyFile, 'utf8')) as JWK;
    }
  }
  const { d: _private, ...publicJwk } = privateJwk;
  const jwks: JSONWebKeySet = { keys: [publicJwk] };
  const signingKey = await importJWK(privateJwk, DEV_ISSUER.algorithm);
  return {
    issuer: DEV_ISSUER.issuer,
    audience: DEV_ISSUER.audience,
    jwks,
    keys: createLocalJWKSet(jwks),
    mint: ({ sub, scopes, ttlSec = DEV_ISSUER.ttlSec }) =>
      new SignJWT({ scope: scopes.join(' ') })
        .setProtectedHeader({ alg: DEV_ISSUER.algorithm, kid: privateJwk.kid!, typ: 'at+jwt' })
        .setIssuer(DEV_ISSUER.issuer)
        .setAudience(DEV_ISSUER.audience)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime(`${ttlSec}s`)
        .sign(signingKey),
  };
}
