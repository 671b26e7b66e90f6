/**
 * WS-Security UsernameToken header (OASIS Web Services Security 1.0, UsernameToken Profile 1.0).
 *
 * - `PasswordText` (default): the password as written, with a fresh Nonce and Created so a
 *   replayed message can be told apart.
 * - `PasswordDigest`: Base64(SHA-1(nonce bytes + Created + password)); the password itself is
 *   never sent.
 * The header is marked `mustUnderstand`, so a server that cannot check it refuses the call instead
 * of silently ignoring it. Clock and nonce are injectable for tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { escapeXml } from './xml.ts';

export const WSSE_NAMESPACE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
export const WSU_NAMESPACE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const PROFILE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0';
const BASE64_BINARY = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';

export interface UsernameTokenOptions {
  username: string;
  password: string;
  /** Default 'PasswordText'. */
  passwordType?: 'PasswordText' | 'PasswordDigest';
}

export interface TokenEnvironment {
  /** Default: the current time. */
  now?: () => Date;
  /** Default: 16 random bytes. */
  nonce?: () => Buffer;
}

/**
 * 16 bytes from the operating system's CSPRNG, drawn from a pool filled 4 KB at a time (as Node's
 * randomUUID does): one system call per 256 nonces rather than one per SOAP call. Each nonce is
 * its own copy, and no byte is handed out twice.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = POOL_BYTES;
function freshNonce(): Buffer {
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  poolAt += 16;
  return Buffer.from(pool.subarray(poolAt - 16, poolAt));
}

/** SHA-1 digest of nonce + created + password, Base64: the PasswordDigest value. */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')])).digest('base64');
}

/**
 * The `<wsse:Security>` header block; `envelopePrefix` is the prefix the envelope is written with
 * (for `mustUnderstand`).
 */
export function usernameTokenHeader(options: UsernameTokenOptions, envelopePrefix = 'soap', environment: TokenEnvironment = {}): string {
  const created = (environment.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const nonce = environment.nonce?.() ?? freshNonce();
  const type = options.passwordType ?? 'PasswordText';
  const password = type === 'PasswordDigest' ? passwordDigest(nonce, created, options.password) : options.password;
  return `<wsse:Security xmlns:wsse="${WSSE_NAMESPACE}" xmlns:wsu="${WSU_NAMESPACE}" ${envelopePrefix}:mustUnderstand="1">`
    + '<wsse:UsernameToken wsu:Id="UsernameToken-1">'
    + `<wsse:Username>${escapeXml(options.username)}</wsse:Username>`
    + `<wsse:Password Type="${PROFILE}#${type}">${escapeXml(password)}</wsse:Password>`
    + `<wsse:Nonce EncodingType="${BASE64_BINARY}">${nonce.toString('base64')}</wsse:Nonce>`
    + `<wsu:Created>${created}</wsu:Created>`
    + '</wsse:UsernameToken></wsse:Security>';
}

/**
 * A UsernameToken with the password as text and no Nonce or Created: the same bytes on every
 * call, so identical reads in flight can still share one upstream call (single flight keys on
 * the body). Only for a service that asks for nothing more, over TLS outside loopback.
 */
export function plainUsernameTokenHeader(username: string, password: string, envelopePrefix = 'soap'): string {
  return `<wsse:Security xmlns:wsse="${WSSE_NAMESPACE}" ${envelopePrefix}:mustUnderstand="1"><wsse:UsernameToken>`
    + `<wsse:Username>${escapeXml(username)}</wsse:Username>`
    + `<wsse:Password Type="${PROFILE}#PasswordText">${escapeXml(password)}</wsse:Password>`
    + '</wsse:UsernameToken></wsse:Security>';
}
