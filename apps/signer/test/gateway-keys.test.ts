import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { generateTicketKeyPair } from '@clawd402/signer-client';
import { parseGatewayPublicKeys, SignerConfigError, TicketVerifier } from '../src/index.ts';

describe('parseGatewayPublicKeys', () => {
  test('reads every SPKI PEM block of a rotation file', () => {
    const a = generateTicketKeyPair();
    const b = generateTicketKeyPair();
    const keys = parseGatewayPublicKeys(`# current\n${a.publicKeyPem}\n# next\n${b.publicKeyPem}`);
    assert.equal(keys.length, 2);
    assert.deepEqual(
      keys.map((k) => k.export({ format: 'pem', type: 'spki' })),
      [a.publicKeyPem, b.publicKeyPem],
    );
  });

  test('refuses a private key, a non-Ed25519 key and a file without keys', () => {
    assert.throws(() => parseGatewayPublicKeys(generateTicketKeyPair().privateKeyPem), SignerConfigError);
    const ec = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    assert.throws(() => parseGatewayPublicKeys(ec.publicKey), SignerConfigError);
    assert.throws(() => parseGatewayPublicKeys(''), SignerConfigError);
  });
});

describe('TicketVerifier gateway keys', () => {
  test('only Ed25519 public keys are accepted, at construction and at rotation (verify picks its scheme by key)', () => {
    const ed = generateKeyPairSync('ed25519');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const options = { keys: new Map<string, number>(), chains: new Set([1]) };
    for (const wrong of [rsa.publicKey, ec.publicKey, ed.privateKey]) {
      assert.throws(() => new TicketVerifier({ ...options, gatewayKeys: [ed.publicKey, wrong] }), {
        name: 'TypeError',
        message: 'gateway keys must be Ed25519 public keys',
      });
    }
    const verifier = new TicketVerifier({ ...options, gatewayKeys: [ed.publicKey] });
    assert.throws(() => verifier.setGatewayKeys([rsa.publicKey]), {
      message: 'gateway keys must be Ed25519 public keys',
    });
    assert.throws(() => verifier.setGatewayKeys([]), { message: 'at least one gateway key is required' });
    verifier.setGatewayKeys([ed.publicKey]);
  });
});
