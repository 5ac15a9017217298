import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:tls';
import selfsigned from 'selfsigned';
import { startServer } from '../src/server.ts';
import { startStack, type Stack } from './support/stack.ts';

function get(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(url);
  const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(u, { rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('native TLS', () => {
  let stack: Stack;
  let server: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    stack = await startStack();
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    server = await startServer({
      ...stack.config,
      port: 0,
      httpRedirectPort: 0,
      tls: { cert: pems.cert, key: pems.private },
    });
  });
  after(async () => {
    await server?.close();
    await stack?.stop();
  });

  test('HTTPS answers with HSTS max-age=31536000; includeSubDomains; preload', async () => {
    assert.match(server.url, /^https:/);
    const res = await get(`${server.url}/health`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains; preload');
  });

  test('plain HTTP is answered with a 301 to the same path over HTTPS', async () => {
    const res = await get(`${server.redirectUrl}/v1/intents?limit=5`);
    assert.equal(res.status, 301);
    const location = new URL(String(res.headers.location));
    assert.equal(location.protocol, 'https:');
    assert.equal(location.port, new URL(server.url).port);
    assert.equal(`${location.pathname}${location.search}`, '/v1/intents?limit=5');
  });

  test('TLS 1.1 is refused; TLS 1.2 negotiates ECDHE with AES-GCM', async () => {
    const port = Number(new URL(server.url).port);
    const attempt = (options: object) =>
      new Promise<{ ok: boolean; cipher?: string }>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
          const cipher = socket.getCipher().name;
          socket.end();
          resolve({ ok: true, cipher });
        });
        socket.on('error', () => resolve({ ok: false }));
      });
    assert.equal(
      (await attempt({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).ok,
      false,
    );
    const tls12 = await attempt({ maxVersion: 'TLSv1.2' });
    assert.equal(tls12.ok, true);
    assert.match(tls12.cipher!, /^ECDHE-(RSA|ECDSA)-AES(128|256)-GCM-SHA(256|384)$/);
    const cbc = await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256:AES128-SHA' });
    assert.equal(cbc.ok, false, 'CBC suites are not offered');
  });
});
