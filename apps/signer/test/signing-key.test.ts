import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { hashMessage, serializeTransaction, keccak256 } from 'viem';
import { fromWireTransaction } from '@clawd402/protocol';
import { wireTx } from './support.ts';
import { SigningKey } from '../src/index.ts';

describe('SigningKey', () => {
  const privateKey = generatePrivateKey();
  const key = new SigningKey(privateKey);
  const hex = privateKey.slice(2).toLowerCase();

  test('exposes id and address (the checksummed address), never the key', () => {
    const { address } = privateKeyToAccount(privateKey);
    assert.equal(key.id, address);
    assert.equal(key.address, address);
    assert.deepEqual(key.info(), { id: address, address });
  });

  test('JSON, util.inspect, a pino log line and its own enumerable state do not contain the key', () => {
    const lines: string[] = [];
    const logger = pino({}, { write: (line: string) => lines.push(line) });
    logger.info({ key, nested: { key } }, 'a key');
    const views = [
      JSON.stringify(key),
      inspect(key, { showHidden: true, depth: 10 }),
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- String(key) is one of the views that must not leak
      String(key),
      ...lines,
      JSON.stringify(Object.entries(key)),
    ];
    for (const view of views) assert.equal(view.toLowerCase().includes(hex), false, view);
  });

  test("signatures are byte-identical to viem's (RFC 6979, low-s) for transactions and messages", async () => {
    const account = privateKeyToAccount(privateKey);
    for (let i = 0; i < 20; i += 1) {
      const tx = fromWireTransaction(wireTx({ value: String(i * 7919) }));
      assert.equal(
        await key.signTransaction(tx, keccak256(serializeTransaction(tx))),
        await account.signTransaction(tx),
      );
      const message = `message ${i}`;
      assert.equal(await key.signMessage('0x', hashMessage(message)), await account.signMessage({ message }));
    }
  });

  test('an invalid key is refused with a message that does not quote it', () => {
    const zero = `0x${'0'.repeat(64)}` as const;
    assert.throws(
      () => new SigningKey(zero),
      (e: unknown) => e instanceof TypeError && !e.message.includes('0'.repeat(64)),
    );
    assert.throws(() => new SigningKey('0x1234'), TypeError);
  });
});
