// What the gateway accepts back from the signer (chain/ticketed-signing.ts): exactly the ticketed EIP-1559
// transaction, signed by the ticketed key. Anything else is refused `signer_internal` before it can be stored.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromRlp, keccak256, serializeTransaction, toRlp, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { SignerError } from '@clawd402/protocol';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { assertSignedAsAsked } from '../src/chain/ticketed-signing.ts';

const account = privateKeyToAccount(ANVIL_ACCOUNTS[0].privateKey); // anvil's public, well-known dev key
const other = privateKeyToAccount(ANVIL_ACCOUNTS[1].privateKey); // anvil's public, well-known dev key

const ticketed: TransactionSerializableEIP1559 = {
  type: 'eip1559',
  chainId: 31337,
  nonce: 7,
  to: ANVIL_ACCOUNTS[2].address,
  value: 10n ** 16n,
  data: '0xa9059cbb',
  gas: 60_000n,
  maxFeePerGas: 2_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
};
const digest = keccak256(serializeTransaction(ticketed));

const answer = (raw: Hex, from: Hex = account.address) => ({ raw, hash: keccak256(raw), from });

function refused(fn: () => void): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SignerError);
    assert.equal(error.code, 'signer_internal');
    return true;
  });
}

describe('assertSignedAsAsked: the signer hands back exactly the ticketed transaction', { timeout: 30_000 }, () => {
  test('the ticketed transaction, signed by the ticketed key, passes', async () => {
    const raw = await account.signTransaction(ticketed);
    assertSignedAsAsked(answer(raw), account.address, digest);
    assertSignedAsAsked(answer(raw), account.address.toLowerCase() as Hex, `0x${digest.slice(2).toUpperCase()}`);
  });

  test('another transaction (one field changed) is refused', async () => {
    for (const change of [
      { nonce: 8 },
      { value: 10n ** 16n + 1n },
      { to: ANVIL_ACCOUNTS[3].address },
      { data: '0xa9059cbc' as Hex },
      { gas: 60_001n },
      { maxFeePerGas: 2_000_000_001n },
      { chainId: 1 },
    ]) {
      const raw = await account.signTransaction({ ...ticketed, ...change });
      refused(() => assertSignedAsAsked(answer(raw), account.address, digest));
    }
  });

  test('a signature claimed by another key is refused', async () => {
    const raw = await other.signTransaction(ticketed);
    refused(() => assertSignedAsAsked(answer(raw, other.address), account.address, digest));
  });

  test('another transaction type carrying the same fields is refused', async () => {
    const { chainId, nonce, to, value, data, gas, maxFeePerGas: gasPrice } = ticketed;
    const fields = { chainId, nonce, to, value, data, gas, gasPrice };
    const legacy = await account.signTransaction({ ...fields, type: 'legacy' });
    refused(() => assertSignedAsAsked(answer(legacy), account.address, digest));
    const eip2930 = await account.signTransaction({ ...fields, type: 'eip2930' });
    refused(() => assertSignedAsAsked(answer(eip2930), account.address, digest));
  });

  test('bytes after the transaction, an extra field, a list for a signature field or bytes that are not RLP are refused', async () => {
    const raw = await account.signTransaction(ticketed);
    refused(() => assertSignedAsAsked(answer(`${raw}00`), account.address, digest));
    const items = fromRlp(`0x${raw.slice(4)}`, 'hex') as Hex[];
    const reencoded = (list: unknown[]): Hex => `0x02${toRlp(list as Hex[]).slice(2)}`;
    assert.equal(reencoded(items), raw); // the re-encoding itself is faithful
    refused(() => assertSignedAsAsked(answer(reencoded([...items, '0x01'])), account.address, digest));
    refused(() => assertSignedAsAsked(answer(reencoded(items.slice(0, 11))), account.address, digest));
    const listForR = [...items.slice(0, 10), [items[10]!], items[11]!];
    refused(() => assertSignedAsAsked(answer(reencoded(listForR)), account.address, digest));
    refused(() => assertSignedAsAsked(answer('0x02c0'), account.address, digest));
    refused(() => assertSignedAsAsked(answer('0x02ff'), account.address, digest));
  });
});
