// Which lane an address signs on (signing-lane-keys.ts): in-memory keys share a chain's few lanes, a Ledger or an
// address the signer has not listed gets a lane of its own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyListing } from '@clawd402/protocol';
import { SHARED_SIGNING_LANES, SigningLaneKeys } from '../src/intent-path/signing-lane-keys.ts';

const address = (i: number) => `0x${i.toString(16).padStart(40, '0')}`;
const listing = (keys: [string, KeyListing['backend']][]) => ({
  keys: keys.map(([a, backend]) => ({ address: a, backend }) as KeyListing),
});

describe('signing lane keys', { timeout: 10_000 }, () => {
  test('keystore, HD and memory keys share the shared lanes of their chain; a Ledger address has its own', async () => {
    const fast = Array.from({ length: 40 }, (_, i) => address(i + 1));
    const ledger = address(0xbeef);
    const keys = new SigningLaneKeys({
      listKeys: async () =>
        listing([
          ...fast.map((a, i): [string, KeyListing['backend']] => [a, (['keystore', 'hd', 'memory'] as const)[i % 3]!]),
          [ledger, 'ledger'],
        ]),
    });
    await keys.relist();
    const lanes = new Set(fast.map((a) => keys.laneOf(1, a)));
    assert.equal(lanes.size, SHARED_SIGNING_LANES);
    assert.ok([...lanes].every((lane) => lane.startsWith('1:shared:')));
    assert.equal(keys.laneOf(1, ledger), `1:${ledger}`);
    assert.notEqual(keys.laneOf(1, fast[0]!), keys.laneOf(8453, fast[0]!), 'lanes are per chain');
    assert.equal(
      keys.laneOf(1, fast[0]!.toUpperCase().replace('0X', '0x')),
      keys.laneOf(1, fast[0]!),
      'case does not matter',
    );
  });

  test('an unlisted address gets its own lane and asks for the listing again, at most every 5 s', async () => {
    let now = 0;
    let reads = 0;
    let held: [string, KeyListing['backend']][] = [];
    const keys = new SigningLaneKeys(
      {
        listKeys: async () => {
          reads += 1;
          return listing(held);
        },
      },
      () => now,
    );
    await keys.relist();
    assert.equal(reads, 1);
    const added = address(7);
    held = [[added, 'hd']];
    assert.equal(keys.laneOf(1, added), `1:${added}`, 'not listed yet: a lane of its own');
    await keys.listed();
    assert.equal(reads, 1, 'within 5 s of the last read the listing is not read again');
    now = 5_000;
    assert.equal(keys.laneOf(1, added), `1:${added}`);
    await keys.listed();
    assert.equal(reads, 2);
    assert.match(keys.laneOf(1, added), /^1:shared:\d$/, 'listed now: it shares a lane');
  });

  test('a listing that fails keeps the last one, and a signer that never answered leaves every address on its own lane', async () => {
    let now = 0;
    let fail = false;
    const a = address(9);
    const keys = new SigningLaneKeys(
      {
        listKeys: async () => {
          if (fail) throw new Error('signer_unavailable');
          return listing([[a, 'keystore']]);
        },
      },
      () => now,
    );
    await keys.relist();
    const shared = keys.laneOf(1, a);
    fail = true;
    now = 10_000;
    await keys.relist();
    assert.equal(keys.laneOf(1, a), shared);

    const never = new SigningLaneKeys({ listKeys: () => Promise.reject(new Error('signer_unavailable')) });
    await never.relist();
    assert.equal(never.laneOf(1, a), `1:${a}`);
  });
});
