// The wire transaction crosses the gateway→signer socket: anything but an exact plain EIP-1559 call is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TransactionSerializableEIP1559 } from 'viem';
import { fromWireTransaction, toWireTransaction, transactionDigest, type WireTransaction } from '../src/index.ts';

const WIRE: WireTransaction = Object.freeze({
  type: 'eip1559',
  chainId: 31337,
  nonce: 7,
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  value: '1500000000000000000',
  data: '0xa9059cbb',
  gas: '21000',
  maxFeePerGas: '2000000000',
  maxPriorityFeePerGas: '1000000000',
});

/** WIRE with some fields replaced (or removed, with `undefined` and `drop`). */
function wire(changes: Record<string, unknown>, drop: string[] = []): WireTransaction {
  const copy: Record<string, unknown> = { ...WIRE, ...changes };
  for (const name of drop) delete copy[name];
  return copy as unknown as WireTransaction;
}

function refused(value: unknown, why: string): void {
  assert.throws(() => fromWireTransaction(value as WireTransaction), TypeError, why);
}

describe('fromWireTransaction', () => {
  test('converts a valid wire transaction to viem bigints', () => {
    assert.deepEqual(fromWireTransaction(WIRE), {
      type: 'eip1559',
      chainId: 31337,
      nonce: 7,
      to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      value: 1_500_000_000_000_000_000n,
      data: '0xa9059cbb',
      gas: 21_000n,
      maxFeePerGas: 2_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
  });

  test('accepts zero values, empty data and nonce 0', () => {
    assert.doesNotThrow(() =>
      fromWireTransaction(wire({ nonce: 0, value: '0', data: '0x', maxPriorityFeePerGas: '0' })),
    );
  });

  test('refuses a non-object', () => {
    for (const value of [null, undefined, 'tx', 1, true]) refused(value, String(value));
  });

  test('refuses an array with the right values', () => {
    refused(Object.values(WIRE), 'array');
  });

  test('refuses an extra field', () => {
    for (const extra of ['from', 'accessList', 'gasPrice', 'v', 'r', 's', 'yParity', 'chain', 'input']) {
      refused(wire({ [extra]: '0x' }), extra);
    }
  });

  test('refuses a missing field', () => {
    for (const name of Object.keys(WIRE)) refused(wire({}, [name]), name);
  });

  test('refuses a field that is present but undefined', () => {
    for (const name of Object.keys(WIRE)) refused(wire({ [name]: undefined }), name);
  });

  test('refuses any type but eip1559', () => {
    for (const type of ['legacy', 'eip2930', 'eip4844', 'eip7702', 'EIP1559', '0x2', 2, null])
      refused(wire({ type }), String(type));
  });

  test('refuses a chain id that is not a positive safe integer', () => {
    for (const chainId of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '31337', 31337n]) {
      refused(wire({ chainId }), String(chainId));
    }
  });

  test('refuses a negative, fractional or non-number nonce', () => {
    for (const nonce of [-1, 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '7', 7n, null]) {
      refused(wire({ nonce }), String(nonce));
    }
  });

  test('refuses a malformed `to`', () => {
    for (const to of [
      '',
      '0x',
      '0x1234',
      WIRE.to.slice(2),
      `${WIRE.to}00`,
      '0x70997970C51812dc3A010C7d01b50e0d17dc79Cg',
      null,
      1,
    ]) {
      refused(wire({ to }), String(to));
    }
  });

  test('refuses data that is not 0x-prefixed even-length hex', () => {
    for (const data of ['', '0xabc', 'a9059cbb', '0xzz', '0X00', null]) refused(wire({ data }), String(data));
  });

  test('refuses decimal strings with leading zeros, signs, hex, fractions, exponents or spaces', () => {
    const bad = [
      '',
      '01',
      '00',
      '+1',
      '-1',
      '-0',
      '0x10',
      '0X10',
      '1.0',
      '1.',
      '.5',
      '1e3',
      ' 1',
      '1 ',
      '1_000',
      '１',
      'NaN',
    ];
    for (const field of ['value', 'gas', 'maxFeePerGas', 'maxPriorityFeePerGas']) {
      for (const value of bad) refused(wire({ [field]: value }), `${field}=${JSON.stringify(value)}`);
      // JSON numbers and bigints are not decimal strings either.
      for (const value of [1, 1n, null]) refused(wire({ [field]: value }), `${field}=${String(value)}`);
    }
  });

  test('refuses decimal strings of more than 78 digits', () => {
    for (const field of ['value', 'gas', 'maxFeePerGas', 'maxPriorityFeePerGas']) {
      refused(wire({ [field]: `1${'0'.repeat(78)}` }), field);
    }
  });

  test('accepts 2^256 - 1', () => {
    const max = ((1n << 256n) - 1n).toString();
    assert.equal(fromWireTransaction(wire({ value: max })).value, (1n << 256n) - 1n);
  });

  // A 78-digit string can exceed 2^256 - 1, which no EIP-1559 field can hold; viem then serialises `value` and `gas`
  // as 33-byte integers and digests them. Reported; not fixed here (no source changes).
  test('refuses a value or gas of 2^256', () => {
    const over = (1n << 256n).toString();
    refused(wire({ value: over }), 'value');
    refused(wire({ gas: over }), 'gas');
  });

  // fromWire accepts any-case hex for `to`; a mixed-case address with a bad EIP-55 checksum then makes viem throw
  // InvalidAddressError inside transactionDigest, which the signer answers as signer_internal, not invalid_params.
  test('refuses a mixed-case `to` with a bad checksum', () => {
    refused(wire({ to: '0x70997970C51812dc3A010C7d01b50e0d17dc79c8' }), 'bad checksum');
  });

  test('accepts all-lowercase and all-uppercase `to`', () => {
    assert.doesNotThrow(() => transactionDigest(fromWireTransaction(wire({ to: WIRE.to.toLowerCase() }))));
    assert.doesNotThrow(() => fromWireTransaction(wire({ to: `0x${WIRE.to.slice(2).toUpperCase()}` })));
  });
});

describe('toWireTransaction', () => {
  const TX = {
    chainId: 8453,
    nonce: 42,
    to: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' as const,
    value: 0n,
    data: '0xa9059cbb000000000000000000000000' as const,
    gas: 65_000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 10n ** 9n,
  };

  test('writes bigints as decimal strings and sets type eip1559', () => {
    assert.deepEqual(toWireTransaction(TX), {
      type: 'eip1559',
      chainId: 8453,
      nonce: 42,
      to: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
      value: '0',
      data: '0xa9059cbb000000000000000000000000',
      gas: '65000',
      maxFeePerGas: '10000000000',
      maxPriorityFeePerGas: '1000000000',
    });
  });

  test('round-trips through JSON and fromWireTransaction', () => {
    for (const tx of [
      TX,
      { ...TX, value: (1n << 256n) - 1n, nonce: 0, data: '0x' as const },
      { ...TX, value: 2n ** 53n + 1n },
    ]) {
      const wireTx = JSON.parse(JSON.stringify(toWireTransaction(tx))) as WireTransaction;
      assert.deepEqual(fromWireTransaction(wireTx), { type: 'eip1559', ...tx });
    }
  });

  test('fromWire → toWire is the identity on a valid wire transaction', () => {
    assert.deepEqual(toWireTransaction(fromWireTransaction(WIRE) as Parameters<typeof toWireTransaction>[0]), WIRE);
  });
});

describe('transactionDigest', () => {
  const base = fromWireTransaction(WIRE);

  test('is a 32-byte lowercase hex digest and deterministic', () => {
    const digest = transactionDigest(base);
    assert.match(digest, /^0x[0-9a-f]{64}$/);
    assert.equal(transactionDigest(fromWireTransaction({ ...WIRE })), digest);
  });

  test('changes when any single field changes', () => {
    const variants: [string, TransactionSerializableEIP1559][] = [
      ['chainId', { ...base, chainId: 31338 }],
      ['nonce', { ...base, nonce: 8 }],
      ['to', { ...base, to: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' }],
      ['value', { ...base, value: base.value! + 1n }],
      ['data', { ...base, data: '0xa9059cbc' }],
      ['data (appended byte)', { ...base, data: '0xa9059cbb00' }],
      ['gas', { ...base, gas: base.gas! + 1n }],
      ['maxFeePerGas', { ...base, maxFeePerGas: base.maxFeePerGas! + 1n }],
      ['maxPriorityFeePerGas', { ...base, maxPriorityFeePerGas: base.maxPriorityFeePerGas! + 1n }],
    ];
    const digests = new Map<string, string>([['base', transactionDigest(base)]]);
    for (const [name, tx] of variants) digests.set(name, transactionDigest(tx));
    assert.equal(new Set(digests.values()).size, digests.size, JSON.stringify(Object.fromEntries(digests), null, 1));
  });

  test('does not depend on the case of `to`', () => {
    assert.equal(transactionDigest({ ...base, to: base.to!.toLowerCase() as `0x${string}` }), transactionDigest(base));
  });
});
