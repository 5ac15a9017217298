import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { SignerError } from '@clawd402/protocol';
import { SignerClient } from '@clawd402/signer-client';
import { keccak256, parseTransaction, recoverTransactionAddress, type Address } from 'viem';
import { createKeystoreFile, startSigner, type RunningSigner } from '../src/index.ts';
import { CHAIN_ID, gatewayKeys, tempDir, ticketFor, wireTx, writeFileText } from './support.ts';

describe('sign_transaction over the socket', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  let signer: RunningSigner;
  let client: SignerClient;
  let address: Address;

  before(async () => {
    const passwordFile = writeFileText(join(tmp.dir, 'password'), 'correct horse\n');
    const keystore = join(tmp.dir, 'key.json');
    ({ address } = await createKeystoreFile({ out: keystore, password: 'correct horse', scryptN: 1024 }));
    signer = await startSigner({
      socketPath: join(tmp.dir, 'run', 'signer.sock'),
      keystoreFiles: [keystore],
      passwordFile,
      gatewayPublicKeys: [gw.publicKeyPem],
      chains: [CHAIN_ID],
    });
    client = new SignerClient({ socketPath: signer.socketPath, connections: 2 });
  });
  after(async () => {
    await client.close();
    await signer.close();
    tmp.cleanup();
  });

  test('a valid ticket signs: the raw tx recovers to the keystore address and hash = keccak256(raw)', async () => {
    const tx = wireTx({ value: '123456789' });
    const result = await client.signTransaction({ ticket: await ticketFor(gw, tx, address), transaction: tx });

    assert.equal(result.from, address);
    assert.equal(result.hash, keccak256(result.raw));
    assert.equal(await recoverTransactionAddress({ serializedTransaction: result.raw as `0x02${string}` }), address);
    const parsed = parseTransaction(result.raw);
    assert.equal(parsed.chainId, CHAIN_ID);
    assert.equal(parsed.nonce, tx.nonce);
    assert.equal(parsed.value, 123456789n);
    assert.equal(parsed.to?.toLowerCase(), tx.to.toLowerCase());
  });

  test('status lists the held key and the allowed chains', async () => {
    assert.deepEqual(await client.status(), { keys: [{ id: address, address }], chains: [CHAIN_ID] });
  });

  test('two concurrent sign requests with one ticket: exactly one signs, the other is ticket_reused', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    // Two connections (connections: 2) so the requests race through separate sockets, not just one pipeline.
    const outcomes = await Promise.allSettled([
      client.signTransaction({ ticket, transaction: tx }),
      client.signTransaction({ ticket, transaction: tx }),
      client.signTransaction({ ticket, transaction: tx }),
    ]);
    const signed = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(signed.length, 1);
    assert.equal(refused.length, 2);
    for (const r of refused) {
      assert.ok(r.reason instanceof SignerError);
      assert.equal(r.reason.code, 'ticket_reused');
    }
  });

  test('pipelined requests with distinct tickets each get their own answer', async () => {
    const txs = Array.from({ length: 20 }, () => wireTx());
    const tickets = await Promise.all(txs.map((tx) => ticketFor(gw, tx, address)));
    const results = await Promise.all(
      txs.map((tx, i) => client.signTransaction({ ticket: tickets[i]!, transaction: tx })),
    );
    results.forEach((r, i) => assert.equal(parseTransaction(r.raw).nonce, txs[i]!.nonce));
    assert.equal(new Set(results.map((r) => r.hash)).size, txs.length);
  });
});
