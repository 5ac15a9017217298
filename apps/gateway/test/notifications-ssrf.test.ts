/**
 * SSRF: notification URLs (webhook, Slack, PagerDuty) are checked when a channel is saved and again before every
 * delivery. Each hostile spelling of a non-public address below is refused with `notification_destination_forbidden`
 * when NOTIFY_ALLOW_PRIVATE_ADDRESSES is off. Pure: no network (names resolve through an injected resolver).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Clawd402Error } from '@clawd402/protocol';
import { loadConfig } from '../src/config.ts';
import { checkDestination, nonPublicReason, type Resolver } from '../src/notifications/destination-policy.ts';
import { assertConfigRefused, configFixture } from './support/config-env.ts';

const dns =
  (answers: Record<string, string[]>): Resolver =>
  async (hostname) => {
    const found = answers[hostname];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
const strict = { production: false, allowPrivateAddresses: false, resolve: dns({}) };

async function refusedWith(
  url: string,
  code: string,
  rules: Parameters<typeof checkDestination>[1] = strict,
): Promise<Clawd402Error> {
  try {
    await checkDestination(url, rules);
  } catch (error) {
    assert.ok(error instanceof Clawd402Error, `${url}: ${String(error)}`);
    assert.equal(error.code, code, `${url} → ${error.code}`);
    return error;
  }
  assert.fail(`${url} was accepted`);
}

describe('notification SSRF: every non-public address form is refused (setting off)', () => {
  const hostile: [string, string][] = [
    ['loopback', 'http://127.0.0.1/hook'],
    ['loopback, elsewhere in 127/8', 'http://127.8.9.10:8080/hook'],
    ['loopback, short form', 'http://127.1/hook'],
    ['loopback, decimal', 'http://2130706433/hook'],
    ['loopback, octal', 'http://0177.0.0.1/hook'],
    ['loopback, hex', 'http://0x7f000001/hook'],
    ['loopback, dotted hex', 'http://0x7f.0.0.1/hook'],
    ['IPv6 loopback', 'http://[::1]/hook'],
    ['IPv4-mapped IPv6 loopback, dotted', 'http://[::ffff:127.0.0.1]/hook'],
    ['IPv4-mapped IPv6 loopback, hex', 'http://[::ffff:7f00:1]/hook'],
    ['IPv4-compatible IPv6 loopback', 'http://[::127.0.0.1]/hook'],
    ['private 10/8', 'http://10.0.0.1/hook'],
    ['private 172.16/12, low', 'http://172.16.0.1/hook'],
    ['private 172.16/12, high', 'http://172.31.255.254/hook'],
    ['private 192.168/16', 'http://192.168.1.1/hook'],
    ['IPv4-mapped private', 'http://[::ffff:10.0.0.1]/hook'],
    ['unique local fc00::/7', 'http://[fc00::1]/hook'],
    ['unique local fd00::/8', 'http://[fd12:3456::1]/hook'],
    ['link-local 169.254/16', 'http://169.254.1.1/hook'],
    ['cloud metadata (IPv4)', 'http://169.254.169.254/latest/meta-data/'],
    ['cloud metadata (IPv4-mapped)', 'http://[::ffff:169.254.169.254]/latest/meta-data/'],
    ['cloud metadata (AWS IPv6)', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['cloud metadata, decimal', 'http://2852039166/latest/meta-data/'],
    ['IPv6 link-local fe80::/10', 'http://[fe80::1]/hook'],
    ['CGNAT 100.64/10, low', 'http://100.64.0.1/hook'],
    ['CGNAT 100.64/10, high', 'http://100.127.255.254/hook'],
    ['0.0.0.0', 'http://0.0.0.0/hook'],
    ['0.0.0.0/8', 'http://0.1.2.3/hook'],
    ['unspecified IPv6', 'http://[::]/hook'],
    ['multicast', 'http://224.0.0.1/hook'],
    ['multicast, SSDP', 'http://239.255.255.250/hook'],
    ['IPv6 multicast', 'http://[ff02::1]/hook'],
    ['broadcast', 'http://255.255.255.255/hook'],
    ['NAT64 carrying loopback', 'http://[64:ff9b::7f00:1]/hook'],
    ['6to4 carrying loopback', 'http://[2002:7f00:1::1]/hook'],
    ['https is no excuse', 'https://127.0.0.1/hook'],
  ];
  for (const [name, url] of hostile) {
    test(`${name}: ${url}`, async () => {
      await refusedWith(url, 'notification_destination_forbidden');
    });
  }

  test('a host name resolving to a private address is refused', async () => {
    const error = await refusedWith('https://hooks.internal.example/x', 'notification_destination_forbidden', {
      ...strict,
      resolve: dns({ 'hooks.internal.example': ['10.1.2.3'] }),
    });
    assert.equal(error.details?.reason, 'private');
    assert.ok(!JSON.stringify(error.details).includes('10.1.2.3'), 'the resolved address is not echoed');
  });

  test('a host name with one public and one private address is refused (every address must be public)', async () => {
    await refusedWith('https://mixed.example/x', 'notification_destination_forbidden', {
      ...strict,
      resolve: dns({ 'mixed.example': ['93.184.216.34', '127.0.0.1'] }),
    });
    await refusedWith('https://mixed6.example/x', 'notification_destination_forbidden', {
      ...strict,
      resolve: dns({ 'mixed6.example': ['2606:4700::1', '::ffff:169.254.169.254'] }),
    });
  });

  test('localhost (resolved by the system resolver) is refused', async () => {
    await refusedWith('http://localhost:8402/hook', 'notification_destination_forbidden', {
      production: false,
      allowPrivateAddresses: false,
    });
  });

  test('DNS rebinding: the check runs on every call and pins what it resolved this time', async () => {
    let answer = '93.184.216.34';
    const rules = { ...strict, resolve: (async () => [{ address: answer, family: 4 as const }]) satisfies Resolver };
    const first = await checkDestination('https://rebind.example/hook', rules);
    assert.deepEqual(first.pinned, { address: '93.184.216.34', family: 4 });
    assert.equal(first.hostname, 'rebind.example');
    answer = '127.0.0.1';
    await refusedWith('https://rebind.example/hook', 'notification_destination_forbidden', rules);
  });

  test('public addresses pass, and the first resolved address is pinned', async () => {
    assert.deepEqual((await checkDestination('http://93.184.216.34/hook', strict)).pinned, {
      address: '93.184.216.34',
      family: 4,
    });
    assert.deepEqual((await checkDestination('https://[2606:4700::1]/hook', strict)).pinned, {
      address: '2606:4700::1',
      family: 6,
    });
    const named = await checkDestination('https://hooks.example.com/x', {
      ...strict,
      resolve: dns({ 'hooks.example.com': ['93.184.216.34', '93.184.216.35'] }),
    });
    assert.equal(named.pinned.address, '93.184.216.34');
  });

  test('an unresolvable name is notification_destination_unresolvable', async () => {
    await refusedWith('https://nowhere.example/x', 'notification_destination_unresolvable');
  });

  test('schemes other than http(s), user info, and plain http in production are notification_url_invalid', async () => {
    for (const url of [
      'ftp://93.184.216.34/x',
      'file:///etc/passwd',
      'gopher://93.184.216.34:70/_x',
      'javascript:alert(1)',
      'not a url',
      '/relative',
    ]) {
      await refusedWith(url, 'notification_url_invalid');
    }
    assert.equal(
      (await refusedWith('https://user:pass@93.184.216.34/x', 'notification_url_invalid')).details?.reason,
      'userinfo',
    );
    const production = { ...strict, production: true };
    assert.equal(
      (await refusedWith('http://93.184.216.34/x', 'notification_url_invalid', production)).details?.reason,
      'https_required',
    );
    await checkDestination('https://93.184.216.34/x', production);
  });

  test('NOTIFY_ALLOW_PRIVATE_ADDRESSES lets private destinations through (local testing)', async () => {
    const open = { ...strict, allowPrivateAddresses: true };
    assert.deepEqual((await checkDestination('http://127.0.0.1:9/x', open)).pinned, {
      address: '127.0.0.1',
      family: 4,
    });
    // …but still not other schemes.
    await refusedWith('file:///etc/passwd', 'notification_url_invalid', open);
  });

  test('nonPublicReason classifies by range, across spellings', () => {
    assert.equal(nonPublicReason('8.8.8.8'), null);
    assert.equal(nonPublicReason('2606:4700::1'), null);
    assert.equal(nonPublicReason('0177.0.0.1'), 'loopback');
    assert.equal(nonPublicReason('2130706433'), 'loopback');
    assert.equal(nonPublicReason('0x7f000001'), 'loopback');
    assert.equal(nonPublicReason('::ffff:7f00:1'), 'ipv4Mapped(loopback)');
    assert.equal(
      nonPublicReason('::ffff:8.8.8.8'),
      'ipv4Mapped(unicast)',
      'mapped forms are refused even for public IPv4',
    );
    assert.equal(nonPublicReason('100.64.0.1'), 'carrierGradeNat');
    assert.equal(nonPublicReason('fd00:ec2::254'), 'uniqueLocal');
    assert.equal(nonPublicReason('not-an-ip'), 'not an IP address');
  });
});

describe('NOTIFY_ALLOW_PRIVATE_ADDRESSES in production', () => {
  test('production refuses the setting at boot, naming it', () => {
    const fixture = configFixture('clawd402-notify-config-');
    try {
      const env = { ...fixture.production, NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'true' };
      assertConfigRefused(env, 'NOTIFY_ALLOW_PRIVATE_ADDRESSES');
      assertConfigRefused(
        { ...env, NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'false', CONSOLE_BASE_URL: 'http://console.example.com' },
        'CONSOLE_BASE_URL',
      );
      assertConfigRefused(
        { ...env, NODE_ENV: 'test', NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'yes' },
        'NOTIFY_ALLOW_PRIVATE_ADDRESSES',
      );
      const ok = loadConfig({
        ...env,
        NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'false',
        CONSOLE_BASE_URL: 'https://console.example.com/',
      });
      assert.equal(ok.notifications.allowPrivateAddresses, false);
      assert.equal(ok.consoleBaseUrl, 'https://console.example.com');
    } finally {
      fixture.remove();
    }
  });
});
