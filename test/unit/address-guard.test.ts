import { describe, expect, it } from 'vitest';
import { createAddressGuard, normaliseAllowedHost, refusedRangeOf, type Resolver } from '../../gateway/webhooks/address-guard.ts';
import { ConfigError, loadConfig } from '../../gateway/config.ts';

/** Names resolved from a table, as a DNS server would answer them: no network. */
const table = (entries: Record<string, string[]>): Resolver => async (hostname) => {
  const addresses = entries[hostname];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const DNS = table({
  'hooks.example.com': ['93.184.215.14'],
  'dual.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'sneaky.example.com': ['93.184.215.14', '10.1.2.3'],
  'metadata.example.com': ['169.254.169.254'],
  'internal.example.com': ['10.0.0.5'],
  'v6private.example.com': ['fd12:3456::1'],
});

describe('refusedRangeOf', () => {
  it('refuses every loopback, private, link-local, shared, reserved and multicast IPv4 address', () => {
    const refused = ['127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
      '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', '192.0.0.170', '198.18.0.1', '192.0.2.1'];
    expect(refused.filter((address) => refusedRangeOf(address) === undefined)).toEqual([]);
    expect(refusedRangeOf('169.254.169.254')).toMatch(/link-local.*metadata/);
    expect(refusedRangeOf('100.64.0.1')).toMatch(/shared/);
  });

  it('allows public IPv4 addresses, including the neighbours of refused ranges', () => {
    const allowed = ['93.184.215.14', '8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.0', '100.63.255.255', '100.128.0.0', '11.0.0.1', '169.253.255.255', '223.255.255.255', '9.255.255.255'];
    expect(allowed.filter((address) => refusedRangeOf(address) !== undefined)).toEqual([]);
  });

  it('refuses IPv6 loopback, unspecified, unique-local, link-local, site-local and multicast, allows global unicast', () => {
    for (const address of ['::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fec0::1', 'ff02::1', '2001:db8::1', '100::1', '64:ff9b:1::1']) {
      expect(refusedRangeOf(address), address).toBeDefined();
    }
    for (const address of ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', '2a00:1450:4001:82a::200e', '2001:4860:4860::8888']) {
      expect(refusedRangeOf(address), address).toBeUndefined();
    }
  });

  it('judges an IPv6 address that carries an IPv4 address by that address (mapped, compatible, NAT64, 6to4)', () => {
    expect(refusedRangeOf('::ffff:127.0.0.1')).toMatch(/loopback.*written as IPv6/);
    expect(refusedRangeOf('::ffff:7f00:1')).toMatch(/loopback/);
    expect(refusedRangeOf('::ffff:169.254.169.254')).toMatch(/link-local/);
    expect(refusedRangeOf('::ffff:a00:1')).toMatch(/private/);
    expect(refusedRangeOf('::127.0.0.1')).toMatch(/loopback/);
    expect(refusedRangeOf('64:ff9b::10.0.0.1')).toMatch(/private/);
    expect(refusedRangeOf('2002:c0a8:101::1')).toMatch(/private/);
    expect(refusedRangeOf('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toMatch(/Teredo/);
    expect(refusedRangeOf('::ffff:93.184.215.14')).toBeUndefined();
    expect(refusedRangeOf('64:ff9b::5db8:d70e')).toBeUndefined();
  });

  it('refuses what is not an address at all', () => {
    expect(refusedRangeOf('localhost')).toBe('not an IP address');
  });
});

describe('normaliseAllowedHost', () => {
  it('reads entries as a URL reads hosts: case, trailing dots, IPv6 spellings and ports made one form', () => {
    expect(normaliseAllowedHost('Hooks.Internal.Example.')).toBe('hooks.internal.example');
    expect(normaliseAllowedHost('hooks.internal.example:8443')).toBe('hooks.internal.example:8443');
    expect(normaliseAllowedHost('[0:0:0::1]:8080')).toBe('[::1]:8080');
    expect(normaliseAllowedHost('[::1]')).toBe('[::1]');
    expect(normaliseAllowedHost('127.0.0.1:80')).toBe('127.0.0.1:80');
  });

  it('refuses what is not a host or host:port', () => {
    for (const entry of ['', 'http://hooks.example.com', 'hooks.example.com/path', 'user@hooks.example.com', '::1', 'host:0', 'host:70000', 'a b']) {
      expect(normaliseAllowedHost(entry), entry).toBeUndefined();
    }
  });
});

describe('createAddressGuard', () => {
  const guard = createAddressGuard({ resolve: DNS });

  it('takes a public https URL, and names the address the connection must go to', async () => {
    expect(await guard.check('https://hooks.example.com/junction')).toMatchObject({ ok: true, hostname: 'hooks.example.com', address: '93.184.215.14', family: 4, allowed: false });
    expect(await guard.check('https://dual.example.com/')).toMatchObject({ ok: true, address: '93.184.215.14' });
  });

  it('refuses loopback, private and metadata addresses, given as literals or behind names', async () => {
    const cases: [string, string][] = [
      ['https://127.0.0.1/hook', 'private_address'],
      ['https://10.1.2.3/hook', 'private_address'],
      ['https://169.254.169.254/latest/meta-data/', 'private_address'],
      ['https://[::1]/hook', 'private_address'],
      ['https://[::ffff:127.0.0.1]/hook', 'private_address'],
      ['https://0x7f.1/hook', 'private_address'],
      ['https://2130706433/hook', 'private_address'],
      ['https://metadata.example.com/', 'private_address'],
      ['https://internal.example.com/', 'private_address'],
      ['https://v6private.example.com/', 'private_address'],
    ];
    for (const [url, reason] of cases) expect(await guard.check(url), url).toMatchObject({ ok: false, reason });
  });

  it('refuses a name when any one of its addresses is refused (the connection could be made to that one)', async () => {
    const refused = await guard.check('https://sneaky.example.com/');
    expect(refused).toMatchObject({ ok: false, reason: 'private_address' });
    expect(refused.ok || refused.message).toBe('private (10.0.0.0/8) addresses are not posted to unless DELIVERY_ALLOWED_HOSTS names the host (sneaky.example.com resolves to one)');
  });

  it('resolves `localhost` with the system resolver, and refuses it', async () => {
    expect(await createAddressGuard().check('https://localhost:9/')).toMatchObject({ ok: false, reason: 'private_address' });
  });

  it('refuses other schemes, credentials in the URL, over-long URLs, relative URLs and names that do not resolve', async () => {
    expect(await guard.check('ftp://hooks.example.com/')).toMatchObject({ ok: false, reason: 'scheme' });
    expect(await guard.check('file:///etc/passwd')).toMatchObject({ ok: false, reason: 'scheme' });
    expect(await guard.check('https://user:secret@hooks.example.com/')).toMatchObject({ ok: false, reason: 'credentials' });
    expect(await guard.check(`https://hooks.example.com/${'a'.repeat(2_048)}`)).toMatchObject({ ok: false, reason: 'too_long' });
    expect(await guard.check('/hooks')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await guard.check('https://nowhere.example.com/')).toMatchObject({ ok: false, reason: 'unresolvable' });
  });

  it('requires https in production, takes http when told not to', async () => {
    expect(await guard.check('http://hooks.example.com/')).toMatchObject({ ok: false, reason: 'https_required' });
    expect(await createAddressGuard({ resolve: DNS, requireHttps: false }).check('http://hooks.example.com/')).toMatchObject({ ok: true });
  });

  it('posts to a host the allow-list names, on any port or on the one port named, over http too', async () => {
    const allowing = createAddressGuard({ resolve: DNS, allowedHosts: ['internal.example.com', '127.0.0.1:8080', '[::1]'] });
    expect(await allowing.check('http://internal.example.com/hook')).toMatchObject({ ok: true, address: '10.0.0.5', allowed: true });
    expect(await allowing.check('https://internal.example.com:9443/hook')).toMatchObject({ ok: true, allowed: true });
    expect(await allowing.check('http://127.0.0.1:8080/hook')).toMatchObject({ ok: true, address: '127.0.0.1', allowed: true });
    expect(await allowing.check('http://127.0.0.1:8081/hook')).toMatchObject({ ok: false, reason: 'https_required' });
    expect(await allowing.check('https://127.0.0.1:8081/hook')).toMatchObject({ ok: false, reason: 'private_address' });
    expect(await allowing.check('http://[::1]:7000/')).toMatchObject({ ok: true, address: '::1', family: 6 });
    // The allow-list names hosts, not addresses: another name resolving to an allowed address is still refused.
    expect(await allowing.check('https://metadata.example.com/')).toMatchObject({ ok: false, reason: 'private_address' });
  });

  it('matches the default port an entry names, written or not in the URL', async () => {
    const allowing = createAddressGuard({ resolve: DNS, allowedHosts: ['internal.example.com:443'] });
    expect(await allowing.check('https://internal.example.com/')).toMatchObject({ ok: true });
    expect(await allowing.check('https://internal.example.com:443/')).toMatchObject({ ok: true });
    expect(await allowing.check('http://internal.example.com/')).toMatchObject({ ok: false, reason: 'https_required' });
  });

  it('refuses an allow-list entry that is no host, naming it', () => {
    expect(() => createAddressGuard({ allowedHosts: ['http://x'] })).toThrow('allowedHosts: "http://x" is not a host or host:port');
  });
});

describe('DELIVERY_ALLOWED_HOSTS', () => {
  const IDP = { AUTH_JWKS_URL: 'https://idp.example.com/jwks.json', AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'https://api.example.com' };

  it('is read as a comma- or space-separated list of hosts; unset, no host is allowed', () => {
    expect(loadConfig({ ...IDP, DELIVERY_ALLOWED_HOSTS: 'hooks.internal.example:8443, 10.0.0.5 [::1]' }).deliveryAllowedHosts).toEqual(['hooks.internal.example:8443', '10.0.0.5', '[::1]']);
    expect(loadConfig(IDP).deliveryAllowedHosts).toBeUndefined();
  });

  it('refuses an entry that is not a host or host:port, naming the variable and the value', () => {
    try {
      loadConfig({ ...IDP, DELIVERY_ALLOWED_HOSTS: 'https://hooks.example.com/in' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual(['DELIVERY_ALLOWED_HOSTS="https://hooks.example.com/in": each must be a host or host:port, e.g. hooks.internal.example:8443 or [fd00::5]']);
    }
  });
});
