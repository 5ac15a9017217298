import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey } from '../src/security/client-address.ts';
import { canonicalPath, methodClassOf, routeClassOf } from '../src/plugins/app/rate-limit.ts';

/** The identity a client is rate-limited under (security: an attacker must not mint fresh buckets). */
describe('rate-limit client key', () => {
  test('IPv4 is itself', () => {
    assert.equal(clientKey('203.0.113.7'), '203.0.113.7');
  });

  test('IPv4-mapped IPv6, in any spelling, is counted as the IPv4', () => {
    for (const mapped of ['::ffff:203.0.113.7', '::FFFF:203.0.113.7', '0:0:0:0:0:ffff:cb00:7107', '::ffff:cb00:7107']) {
      assert.equal(clientKey(mapped), '203.0.113.7', mapped);
    }
  });

  test('1,000 addresses of one IPv6 /64 give one key', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i += 1) {
      const a = (i * 7919) & 0xffff;
      keys.add(clientKey(`2001:db8:1:2:${a.toString(16)}:${(i & 0xff).toString(16)}:beef:${i.toString(16)}`));
    }
    assert.deepEqual([...keys], ['2001:db8:1:2::/64']);
  });

  test('spellings of one IPv6 address give one key (case, zero compression, zone index)', () => {
    for (const spelling of [
      '2001:DB8:1:2::1',
      '2001:0db8:0001:0002:0000:0000:0000:0001',
      '2001:db8:1:2:0:0:0:1',
      '2001:db8:1:2::1%eth0',
    ]) {
      assert.equal(clientKey(spelling), '2001:db8:1:2::/64', spelling);
    }
  });

  test('neighbouring /64s are different clients', () => {
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
  });

  test('loopback and unparsable text', () => {
    assert.equal(clientKey('127.0.0.1'), '127.0.0.1');
    assert.equal(clientKey('::1'), '::/64');
    assert.equal(clientKey('Not-An-Address'), 'raw:not-an-address');
    assert.equal(clientKey('x'.repeat(500)).length, 'raw:'.length + 64, 'bounded');
  });
});

describe('rate-limit route buckets', () => {
  test('variants of a path canonicalise to the route they imitate', () => {
    for (const variant of [
      '/auth/token',
      '/AUTH/TOKEN',
      '/auth/token/',
      '//auth//token',
      '/auth/%74oken',
      '/auth%2Ftoken',
      '/auth/token;x=1',
      '/./auth/./token',
      '/auth/x/../token',
      '/auth/token?x=1',
      '/Auth/Token/#frag',
    ]) {
      assert.equal(canonicalPath(variant), '/auth/token', variant);
    }
    assert.equal(canonicalPath('/%zz'), '/%zz', 'a malformed escape is kept as text');
    assert.equal(canonicalPath('/'), '/');
  });

  test('route classes and method classes', () => {
    const routes: [string, string | null][] = [
      ['/v1/intents', 'intents'],
      ['/v1/intents/:id', 'intents'],
      ['/auth/token', 'auth'],
      ['/admin/users/:id', 'admin'],
      ['/health', null],
      ['/administrator', null],
    ];
    for (const [route, expected] of routes) assert.equal(routeClassOf(route), expected, route);
    const methods: [string, string][] = [
      ['GET', 'read'],
      ['HEAD', 'read'],
      ['POST', 'write'],
      ['DELETE', 'write'],
    ];
    for (const [method, expected] of methods) assert.equal(methodClassOf(method), expected, method);
  });
});
