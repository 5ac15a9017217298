// LOG_IP_MODE=masked (docs/logging.md): what a log line keeps of a client address.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { loggerOptions, maskIpForLog as maskIp } from '../src/logging/logger-options.ts';

function capture(mode: 'masked' | 'full'): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  const { level, timestamp, redact, serializers } = loggerOptions('info', mode);
  return { log: pino({ level, timestamp, redact, serializers }, stream), lines };
}

describe('maskIp', { timeout: 10_000 }, () => {
  test('IPv4 keeps its /24, IPv6 its /48, IPv4-mapped counts as IPv4', () => {
    assert.equal(maskIp('203.0.113.57'), '203.0.113.x');
    assert.equal(maskIp('::ffff:198.51.100.23'), '198.51.100.x');
    assert.equal(maskIp('2001:db8:abcd:12::7'), '2001:db8:abcd:x:x:x:x:x');
    assert.equal(maskIp('fe80::1%eth0'), 'fe80:0:0:x:x:x:x:x');
    assert.equal(maskIp('2001:db8:1:2::/64'), '2001:db8:1:x:x:x:x:x');
  });

  test('text that is not an address is replaced whole', () => {
    assert.equal(maskIp('not-an-ip 203.0.113.57'), '(masked)');
    assert.equal(maskIp(''), '(masked)');
  });
});

describe('loggerOptions', { timeout: 10_000 }, () => {
  test('masked: every address field and ip: subject is masked; the time is ISO 8601; secrets are redacted', () => {
    const { log, lines } = capture('masked');
    log.info({ ip: '203.0.113.57', clientIp: '2001:db8:abcd:12::7', network: '203.0.113.0/24' }, 'a');
    log.info({ subject: 'client:ip:203.0.113.57', body: { password: 'hunter2-hunter2' } }, 'b');
    log.info({ req: { method: 'GET', url: '/x', host: 'h', ip: '203.0.113.57', headers: {} } }, 'c');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes('203.0.113.57'), text);
    assert.ok(!text.includes('abcd:12'), text);
    assert.ok(!text.includes('hunter2'), text);
    assert.equal(lines[0]!.ip, '203.0.113.x');
    assert.equal(lines[0]!.clientIp, '2001:db8:abcd:x:x:x:x:x');
    assert.equal(lines[1]!.subject, 'client:ip:203.0.113.x');
    assert.equal((lines[2]!.req as { remoteAddress: string }).remoteAddress, '203.0.113.x');
    assert.match(String(lines[0]!.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  test('full: addresses are logged whole', () => {
    const { log, lines } = capture('full');
    log.info({ ip: '203.0.113.57', subject: 'ip:203.0.113.57' }, 'a');
    assert.equal(lines[0]!.ip, '203.0.113.57');
    assert.equal(lines[0]!.subject, 'ip:203.0.113.57');
  });
});
