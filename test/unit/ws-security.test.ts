import { describe, expect, it } from 'vitest';
import { usernameTokenHeader } from '../../gateway/upstream/ws-security.ts';

describe('WS-Security UsernameToken', () => {
  it('gives every call a nonce of its own, 16 bytes, across refills of the random pool', () => {
    const nonces = Array.from({ length: 1_000 }, () => /<wsse:Nonce [^>]*>([^<]+)</.exec(usernameTokenHeader({ username: 'u', password: 'p' }))![1]!);
    expect(new Set(nonces).size).toBe(1_000);
    for (const nonce of nonces) expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
  });
});
