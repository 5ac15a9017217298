import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashTypedData, recoverTypedDataAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { PERMIT_TYPES, TRANSFER_WITH_AUTHORIZATION_TYPES, eip712Fields, permitTypedData } from '@clawd402/testkit';
import { decodeTypedData, MAX_TYPED_DATA_DEPTH, MAX_TYPED_DATA_VALUES, type DecodedTypedData } from '../src/index.ts';
import { ALICE, BOB, DAI, DEAD, MAX_UINT256, SIGNER, USDC } from './fixtures.ts';

// Anvil's account 0: a PUBLIC, well-known development key. Never holds real funds.
const ANVIL_DEV_KEY_0 = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

const usdcDomain = { name: 'USD Coin', version: '2', chainId: 1, verifyingContract: USDC } as const;
const eip2612 = (value: bigint | string | number) =>
  permitTypedData(usdcDomain, { owner: SIGNER, spender: BOB, value, nonce: 0, deadline: '1700000000' });

function ok(input: unknown): DecodedTypedData {
  const r = decodeTypedData(input);
  assert.equal(r.ok, true, r.ok ? '' : `${r.code}: ${r.message} (${r.field})`);
  return r;
}

function malformed(input: unknown, field?: string): void {
  const r = decodeTypedData(input);
  assert.equal(r.ok, false, 'expected a refusal');
  if (r.ok) return;
  assert.equal(r.code, 'decode.malformed_typed_data');
  if (field !== undefined) assert.equal(r.field, field, r.message);
}

describe('decodeTypedData: recognised payloads', () => {
  it('EIP-2612 Permit: owner, spender, value, deadline; the digest is what the signer signs', async () => {
    const r = ok(eip2612(1000n));
    assert.equal(r.kind, 'erc20_permit');
    assert.equal(r.primaryType, 'Permit');
    assert.deepEqual(r.domain, { name: 'USD Coin', version: '2', chainId: 1, verifyingContract: USDC });
    assert.deepEqual(r.effects, [
      {
        kind: 'permit',
        asset: USDC,
        from: SIGNER,
        spender: BOB,
        amount: 1000n,
        unlimited: false,
        deadline: 1_700_000_000n,
        standard: 'erc20',
        target: USDC,
        path: [],
      },
    ]);
    const account = privateKeyToAccount(ANVIL_DEV_KEY_0);
    const payload = { domain: usdcDomain, types: PERMIT_TYPES, primaryType: 'Permit' as const, message: r.message };
    const signature = await account.signTypedData(payload);
    assert.equal(await recoverTypedDataAddress({ ...payload, signature }), SIGNER);
    assert.equal(r.digest, hashTypedData(payload));
  });

  it('an unlimited EIP-2612 permit is flagged', () => {
    const r = ok(eip2612(MAX_UINT256.toString()));
    assert.equal(r.effects[0]!.unlimited, true);
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('DAI Permit with allowed = true is unlimited', () => {
    const r = ok({
      domain: { name: 'Dai Stablecoin', version: '1', chainId: 1, verifyingContract: DAI },
      types: {
        Permit: eip712Fields('address holder,address spender,uint256 nonce,uint256 expiry,bool allowed'),
      },
      primaryType: 'Permit',
      message: { holder: SIGNER, spender: BOB, nonce: 0, expiry: 0, allowed: true },
    });
    assert.equal(r.kind, 'dai_permit');
    assert.deepEqual(
      [r.effects[0]!.asset, r.effects[0]!.spender, r.effects[0]!.amount, r.effects[0]!.unlimited],
      [DAI, BOB, MAX_UINT256, true],
    );
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('EIP-3009 TransferWithAuthorization (x402) is a transfer with recipient and amount', () => {
    const r = ok({
      domain: usdcDomain,
      types: TRANSFER_WITH_AUTHORIZATION_TYPES,
      primaryType: 'TransferWithAuthorization',
      message: {
        from: SIGNER,
        to: DEAD,
        value: '10000',
        validAfter: 0,
        validBefore: 1_800_000_000,
        nonce: `0x${'00'.repeat(31)}01`,
      },
    });
    assert.equal(r.kind, 'erc3009_transfer');
    assert.deepEqual(r.effects, [
      {
        kind: 'transfer',
        asset: USDC,
        from: SIGNER,
        recipient: DEAD,
        amount: 10_000n,
        deadline: 1_800_000_000n,
        standard: 'erc20',
        target: USDC,
        path: [],
      },
    ]);
  });

  it('an unrecognised payload is `unknown` with no effects, and still has its digest', () => {
    const payload = {
      domain: { name: 'Mail', version: '1', chainId: 1 },
      types: {
        Mail: eip712Fields('address to,string contents'),
      },
      primaryType: 'Mail',
      message: { to: ALICE, contents: 'hi' },
    } as const;
    const r = ok(payload);
    assert.equal(r.kind, 'unknown');
    assert.deepEqual(r.effects, []);
    assert.equal(r.digest, hashTypedData(payload));
  });

  it('a Permit without verifyingContract cannot be attributed to a token and is unknown', () => {
    const r = ok({ ...eip2612(1n), domain: { name: 'USD Coin', version: '2', chainId: 1 } });
    assert.equal(r.kind, 'unknown');
  });

  it('accepts the JSON text of eth_signTypedData_v4, with an EIP712Domain type that matches the domain', () => {
    const json = JSON.stringify({
      ...eip2612('5'),
      types: {
        EIP712Domain: eip712Fields('string name,string version,uint256 chainId,address verifyingContract'),
        ...PERMIT_TYPES,
      },
    });
    const r = ok(json);
    assert.equal(r.effects[0]!.amount, 5n);
    assert.equal(r.digest, ok(eip2612(5n)).digest);
  });

  it('integers may be numbers, decimal strings or hex strings and hash the same', () => {
    const d = ok(eip2612(255n)).digest;
    assert.equal(ok(eip2612(255)).digest, d);
    assert.equal(ok(eip2612('255')).digest, d);
    assert.equal(ok(eip2612('0xff')).digest, d);
  });
});

describe('decodeTypedData: malformed payloads are refused', () => {
  it('not an object, or not JSON', () => {
    malformed(null, '');
    malformed([], '');
    malformed('{not json', '');
  });

  it('missing or unknown top-level keys', () => {
    const { message: _m, ...noMessage } = eip2612(1n);
    malformed(noMessage);
    malformed({ ...eip2612(1n), extra: 1 }, 'extra');
  });

  it('unknown domain fields and null domain values', () => {
    malformed({ ...eip2612(1n), domain: { ...usdcDomain, verifyingContractt: USDC } }, 'domain.verifyingContractt');
    malformed({ ...eip2612(1n), domain: { ...usdcDomain, version: null } }, 'domain.version');
  });

  it('an EIP712Domain type that leaves out verifyingContract (display spoof) is refused', () => {
    // viem and most signers would hash only the declared fields: the signature would not bind the contract shown.
    malformed(
      {
        ...eip2612(1n),
        types: {
          EIP712Domain: eip712Fields('string name,string version,uint256 chainId'),
          ...PERMIT_TYPES,
        },
      },
      'types.EIP712Domain',
    );
  });

  it('an EIP712Domain type in a non-standard order is refused', () => {
    malformed({
      ...eip2612(1n),
      types: {
        EIP712Domain: eip712Fields('string version,string name,uint256 chainId,address verifyingContract'),
        ...PERMIT_TYPES,
      },
    });
  });

  it('primaryType missing from types, or EIP712Domain', () => {
    malformed({ ...eip2612(1n), primaryType: 'Nope' }, 'primaryType');
    malformed({ ...eip2612(1n), primaryType: 'EIP712Domain' }, 'primaryType');
  });

  it('message fields missing or not declared', () => {
    malformed({ ...eip2612(1n), message: { owner: SIGNER, spender: BOB, value: 1, nonce: 0 } }, 'message.deadline');
    malformed(
      { ...eip2612(1n), message: { owner: SIGNER, spender: BOB, value: 1, nonce: 0, deadline: 1, recipient: DEAD } },
      'message.recipient',
    );
    malformed(
      JSON.parse(
        `{"domain":{},"types":{"A":[{"name":"x","type":"uint8"}]},"primaryType":"A","message":{"x":1,"__proto__":{"y":2}}}`,
      ),
    );
  });

  it('bad values: checksum, range, unsafe numbers, bool strings, wrong bytes size', () => {
    const bad = (message: Record<string, unknown>, field: string) =>
      malformed({ ...eip2612(1n), message: { ...eip2612(1n).message, ...message } }, field);
    bad({ spender: '0x3c44CdDdB6a900fa2b585dd299e03d12FA4293BC' }, 'message.spender');
    bad({ value: (MAX_UINT256 + 1n).toString() }, 'message.value');
    bad({ value: -1 }, 'message.value');
    bad({ value: 1e21 }, 'message.value');
    bad({ value: '1.5' }, 'message.value');
    const boolAndBytes32 = (message: { b: unknown; h: string }) => ({
      domain: {},
      types: { A: eip712Fields('bool b,bytes32 h') },
      primaryType: 'A',
      message,
    });
    malformed(boolAndBytes32({ b: 'true', h: `0x${'00'.repeat(32)}` }), 'message.b');
    malformed(boolAndBytes32({ b: true, h: '0x00' }), 'message.h');
  });

  it('undeclared field types, bare int/uint, and structs named like atomic types', () => {
    malformed(
      { domain: {}, types: { A: [{ name: 'x', type: 'B' }] }, primaryType: 'A', message: { x: {} } },
      'types.A[0].type',
    );
    malformed(
      { domain: {}, types: { A: [{ name: 'x', type: 'uint' }] }, primaryType: 'A', message: { x: 1 } },
      'types.A[0].type',
    );
    malformed(
      { domain: {}, types: { address: [{ name: 'x', type: 'uint8' }] }, primaryType: 'address', message: { x: 1 } },
      'types.address',
    );
    malformed({
      domain: {},
      types: {
        A: eip712Fields('uint8 x,uint8 x'),
      },
      primaryType: 'A',
      message: { x: 1 },
    });
  });

  it(`nesting deeper than ${MAX_TYPED_DATA_DEPTH} levels is refused`, () => {
    let message: unknown = { next: [] };
    for (let i = 0; i < MAX_TYPED_DATA_DEPTH + 2; i++) message = { next: [message] };
    malformed({ domain: {}, types: { Node: [{ name: 'next', type: 'Node[]' }] }, primaryType: 'Node', message });
  });

  it(`more than ${MAX_TYPED_DATA_VALUES} values is refused`, () => {
    malformed({
      domain: {},
      types: { A: [{ name: 'xs', type: 'uint8[]' }] },
      primaryType: 'A',
      message: { xs: Array.from({ length: MAX_TYPED_DATA_VALUES + 1 }, () => 1) },
    });
  });

  it('a fixed-size array with the wrong number of items', () => {
    malformed(
      { domain: {}, types: { A: [{ name: 'xs', type: 'uint8[2]' }] }, primaryType: 'A', message: { xs: [1] } },
      'message.xs',
    );
  });

  it('never throws, whatever it is given', () => {
    for (const input of [
      undefined,
      0,
      true,
      Symbol('x'),
      () => 1,
      new Map(),
      { domain: 1, types: 2, primaryType: 3, message: 4 },
    ]) {
      assert.equal(decodeTypedData(input).ok, false);
    }
  });
});
