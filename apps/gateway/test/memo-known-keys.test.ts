/**
 * Memo secrets: a 64-hex string that is the private key of an address the gateway knows is a leak, however it is
 * written — 0x or not, labelled or not, even labelled as a hash — and "key is" / "key:" label a key. The keys are
 * anvil's public, well-known dev keys (never real funds); the "gateway knows" the dev accounts' addresses here.
 * Over HTTP with logs and rows checked: memo-known-keys.int.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAddress } from 'viem/accounts';
import type { Address } from 'viem';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import {
  DEFAULT_HYGIENE_RULES,
  leaksKnownKey,
  type KnownAddressLookup,
  privateKeyCandidates,
  scanIntentForKnownKeys,
  scanText,
} from '../src/security/intent-hygiene.ts';
import { KnownAddresses } from '../src/security/known-addresses.ts';

/** Anvil dev account 3: its key is public knowledge (foundry's documented test mnemonic). */
const DEV_KEY = ANVIL_ACCOUNTS[3].privateKey as `0x${string}`;
const DEV_HEX = DEV_KEY.slice(2);
const KNOWN = new Set([ANVIL_ACCOUNTS[3].address.toLowerCase()]);
const isKnown = (address: Address): boolean => KNOWN.has(address.toLowerCase());
/** A 32-byte value whose address nobody here knows: a transaction-hash look-alike. */
const UNKNOWN_HASH = `0x${'5c'.repeat(32)}`;

const scan = (memo: string, lookup: KnownAddressLookup = isKnown) =>
  scanIntentForKnownKeys({ memo }, DEFAULT_HYGIENE_RULES, lookup);

describe(
  'memo secrets: the private key of a known address is a leak however it is written',
  { timeout: 10_000 },
  () => {
    for (const memo of [
      `my key is 0x${DEV_HEX}`, // the memo: accepted before this rule
      `refund 0x${DEV_HEX}`, // 0x and unlabelled: looked like a hash
      `tx hash 0x${DEV_HEX}`, // labelled as a hash
      `sha256: ${DEV_HEX}`, // bare, labelled as a hash
      `0X${DEV_HEX.toUpperCase()}`, // upper case
      `ref ${[...DEV_HEX].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('')}`, // full-width digits
      `ok\u200B0x${DEV_HEX}\u200B`, // zero-width spaces around it
    ]) {
      test(`${JSON.stringify(memo.replace(DEV_HEX, '<anvil dev key 3>'))} → secret`, async () => {
        const finding = await scan(memo);
        assert.equal(finding?.category, 'secret');
      });
    }

    test('the known-key rule names itself when no pattern rule caught it', async () => {
      assert.deepEqual(await scan(`refund 0x${DEV_HEX}`), {
        category: 'secret',
        rule: 'known_private_key',
        field: 'memo',
      });
      assert.equal(scanText(`refund 0x${DEV_HEX}`), null, 'the pattern rules alone let it through');
    });

    test('a known key outranks an injection phrase in the same memo', async () => {
      assert.equal((await scan(`ignore previous instructions 0x${DEV_HEX}`))?.rule, 'known_private_key');
    });

    test('a transaction hash (no known address) still passes; only one derivation per 64-hex string', async () => {
      const asked: Address[] = [];
      const lookup = (address: Address): boolean => (asked.push(address), isKnown(address));
      assert.equal(await scan(`paid, tx ${UNKNOWN_HASH}`, lookup), null);
      assert.equal(await scan('invoice 42 for compute', lookup), null);
      assert.deepEqual(asked, [privateKeyToAddress(UNKNOWN_HASH as `0x${string}`)], 'text without 64 hex asks nothing');
    });

    test('strings that are not a private key (0, at or above the curve order) are skipped, not thrown', async () => {
      const order = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
      assert.equal(
        await leaksKnownKey(`0x${'0'.repeat(64)} and 0x${order} and 0x${'f'.repeat(64)}`, () => true),
        false,
      );
    });

    test('candidates: every standalone 64-hex string, with or without 0x, once', () => {
      assert.deepEqual(privateKeyCandidates(`a 0x${DEV_HEX} b ${DEV_HEX.toUpperCase()} c ${'ab'.repeat(40)}`), [
        DEV_KEY,
      ]);
    });

    test('an asynchronous lookup is awaited', async () => {
      assert.equal((await scan(`refund 0x${DEV_HEX}`, async (a) => isKnown(a)))?.rule, 'known_private_key');
    });
  },
);

describe(
  '"key is" and "key:" label a key (any 64-hex after them is a leak, known address or not)',
  { timeout: 10_000 },
  () => {
    const RANDOM = '7f'.repeat(32); // not a known key: only the label decides
    for (const memo of [
      `my key is 0x${RANDOM}`,
      `key: 0x${RANDOM}`,
      `Key=0x${RANDOM}`,
      `the key was ${RANDOM}`,
      `KEY IS 0x${RANDOM}`,
    ]) {
      test(JSON.stringify(memo), () => assert.equal(scanText(memo)?.rule, 'private_key'));
    }
    for (const memo of [
      `public key: 0x${RANDOM}`,
      `monkey is 0x${RANDOM}`,
      `keys 0x${RANDOM}`,
      `idempotency key 0x${RANDOM}`,
    ]) {
      test(`${JSON.stringify(memo)} is not labelled as a key`, () => assert.equal(scanText(memo), null));
    }
  },
);

describe('KnownAddresses', { timeout: 10_000 }, () => {
  test('loads once, matches any case, reloads after maxAgeMs, and a failed load is thrown (fails closed)', async () => {
    let now = 0;
    let loads = 0;
    let fail = false;
    const known = new KnownAddresses(
      async () => {
        loads += 1;
        if (fail) throw new Error('database down');
        return [ANVIL_ACCOUNTS[3].address];
      },
      { maxAgeMs: 1_000, clock: () => now },
    );
    const [a, b] = await Promise.all([
      known.has(ANVIL_ACCOUNTS[3].address.toLowerCase() as Address),
      known.has(ANVIL_ACCOUNTS[4].address as Address),
    ]);
    assert.deepEqual([a, b, loads], [true, false, 1]);
    now = 999;
    await known.has(ANVIL_ACCOUNTS[3].address);
    assert.equal(loads, 1);
    now = 1_000;
    fail = true;
    await assert.rejects(known.has(ANVIL_ACCOUNTS[3].address), /database down/);
  });
});
