import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwtVerifier, InvalidToken } from '../../gateway/auth/jwt.ts';
import { createTestIssuer, TEST_AUTH } from '../helpers/test-issuer.ts';

async function setup(clock: { now: number }) {
  const issuer = await createTestIssuer();
  const local = createLocalJWKSet(issuer.jwks);
  let keyLookups = 0;
  const keys: JWTVerifyGetKey = (header, token) => {
    keyLookups += 1;
    return local(header, token);
  };
  const verify = createJwtVerifier({
    keys, issuer: TEST_AUTH.issuer!, audience: TEST_AUTH.audience!, algorithms: ['RS256'], now: () => clock.now,
  });
  return { issuer, verify, lookups: () => keyLookups };
}

describe('createJwtVerifier', () => {
  it('checks a token\'s signature once, then trusts the same bytes for up to 60 s', async () => {
    const clock = { now: Date.now() };
    const { issuer, verify, lookups } = await setup(clock);
    const token = await issuer.token({ ttlSec: 3600, now: clock.now });
    for (let i = 0; i < 100; i++) expect((await verify(token)).id).toBe('user-1');
    expect(lookups()).toBe(1);
    clock.now += 61_000;
    await verify(token);
    expect(lookups()).toBe(2);
  });

  it('never trusts a remembered token past its exp (plus the 30 s skew)', async () => {
    const clock = { now: Date.now() };
    const { issuer, verify } = await setup(clock);
    const token = await issuer.token({ ttlSec: 10, now: clock.now });
    await verify(token);
    clock.now += 41_000;
    await expect(verify(token)).rejects.toBeInstanceOf(InvalidToken);
  });

  it('refuses algorithms from two families at construction (HS next to RS is how key confusion starts)', () => {
    expect(() => createJwtVerifier({ keys: (() => undefined) as never, issuer: 'i', audience: 'a', algorithms: ['RS256', 'HS256'] }))
      .toThrow('algorithms must be one family, got RS256, HS256');
  });
});
