import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, hashTypedData, type Hex } from 'viem';
import {
  decodeCall,
  decodeTypedData,
  permit2Abi,
  PERMIT2_ADDRESS,
  type DecodedCall,
  type DecodedTypedData,
} from '../src/index.ts';
import { eip712Fields } from '@clawd402/testkit';
import { ALICE, BOB, DAI, DEAD, MAX_UINT160, MAX_UINT256, PERMIT2, SIGNER, USDC } from './fixtures.ts';

const SIG: Hex = `0x${'22'.repeat(65)}`;

function call(data: Hex): DecodedCall {
  const r = decodeCall({ chainId: 1, to: PERMIT2, data, from: SIGNER });
  assert.equal(r.ok, true, r.ok ? '' : `${r.code}: ${r.message}`);
  return r;
}

const details = (token: Hex, amount: bigint) => ({ token, amount, expiration: 1_800_000_000, nonce: 0 });

describe('Permit2 calldata: AllowanceTransfer', () => {
  it('the address constant is the canonical Permit2', () => {
    assert.equal(PERMIT2_ADDRESS, PERMIT2);
  });

  it('approve(token, spender, amount, expiration)', () => {
    const r = call(
      encodeFunctionData({ abi: permit2Abi, functionName: 'approve', args: [USDC, BOB, 1000n, 1_800_000_000] }),
    );
    assert.equal(r.kind, 'permit2_approve');
    assert.deepEqual(r.effects[0], {
      kind: 'approval',
      asset: USDC,
      from: SIGNER,
      spender: BOB,
      amount: 1000n,
      unlimited: false,
      expiration: 1_800_000_000n,
      standard: 'erc20',
      target: PERMIT2,
      selector: '0x87517c45',
      path: [],
    });
  });

  it('approve of uint160 max is unlimited (and so is 2^159; 2^159 - 1 is not)', () => {
    const at = (amount: bigint) =>
      call(encodeFunctionData({ abi: permit2Abi, functionName: 'approve', args: [USDC, BOB, amount, 0] }));
    assert.equal(at(MAX_UINT160).flags.unlimitedApproval, true);
    assert.equal(at(1n << 159n).flags.unlimitedApproval, true);
    assert.equal(at((1n << 159n) - 1n).flags.unlimitedApproval, false);
  });

  it('permit(owner, PermitSingle, signature)', () => {
    const data = encodeFunctionData({
      abi: permit2Abi,
      functionName: 'permit',
      args: [ALICE, { details: details(USDC, MAX_UINT160), spender: BOB, sigDeadline: 99n }, SIG],
    });
    const r = call(data);
    assert.equal(r.kind, 'permit2_permit');
    assert.deepEqual(r.effects[0], {
      kind: 'permit',
      asset: USDC,
      from: ALICE,
      spender: BOB,
      amount: MAX_UINT160,
      unlimited: true,
      expiration: 1_800_000_000n,
      deadline: 99n,
      standard: 'erc20',
      target: PERMIT2,
      selector: '0x2b67b570',
      path: [],
    });
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('permit(owner, PermitBatch, signature) yields one permit per token', () => {
    const data = encodeFunctionData({
      abi: permit2Abi,
      functionName: 'permit',
      args: [ALICE, { details: [details(USDC, 1n), details(DAI, 2n)], spender: BOB, sigDeadline: 99n }, SIG],
    });
    const r = call(data);
    assert.equal(r.kind, 'permit2_permit_batch');
    assert.deepEqual(
      r.effects.map((e) => [e.kind, e.asset, e.spender, e.amount]),
      [
        ['permit', USDC, BOB, 1n],
        ['permit', DAI, BOB, 2n],
      ],
    );
  });

  it('transferFrom(from, to, amount, token) and its batch form', () => {
    const one = call(
      encodeFunctionData({ abi: permit2Abi, functionName: 'transferFrom', args: [ALICE, DEAD, 5n, USDC] }),
    );
    assert.equal(one.kind, 'permit2_transfer_from');
    assert.deepEqual(
      [
        one.effects[0]!.kind,
        one.effects[0]!.asset,
        one.effects[0]!.from,
        one.effects[0]!.recipient,
        one.effects[0]!.amount,
      ],
      ['transfer', USDC, ALICE, DEAD, 5n],
    );
    const batch = call(
      encodeFunctionData({
        abi: permit2Abi,
        functionName: 'transferFrom',
        args: [
          [
            { from: ALICE, to: DEAD, amount: 1n, token: USDC },
            { from: ALICE, to: BOB, amount: 2n, token: DAI },
          ],
        ],
      }),
    );
    assert.equal(batch.kind, 'permit2_transfer_from_batch');
    assert.deepEqual(
      batch.effects.map((e) => [e.asset, e.recipient, e.amount]),
      [
        [USDC, DEAD, 1n],
        [DAI, BOB, 2n],
      ],
    );
  });
});

describe('Permit2 calldata: SignatureTransfer', () => {
  const permit = { permitted: { token: USDC, amount: 100n }, nonce: 1n, deadline: 77n };

  it('permitTransferFrom moves the requested amount from the owner to the named recipient', () => {
    const data = encodeFunctionData({
      abi: permit2Abi,
      functionName: 'permitTransferFrom',
      args: [permit, { to: DEAD, requestedAmount: 60n }, ALICE, SIG],
    });
    const r = call(data);
    assert.equal(r.kind, 'permit2_permit_transfer_from');
    assert.deepEqual(r.effects[0], {
      kind: 'transfer',
      asset: USDC,
      from: ALICE,
      recipient: DEAD,
      amount: 60n,
      spender: SIGNER,
      deadline: 77n,
      standard: 'erc20',
      target: PERMIT2,
      selector: '0x30f28b7a',
      path: [],
    });
  });

  it('batch permitTransferFrom pairs each permitted token with its transfer', () => {
    const data = encodeFunctionData({
      abi: permit2Abi,
      functionName: 'permitTransferFrom',
      args: [
        {
          permitted: [
            { token: USDC, amount: 1n },
            { token: DAI, amount: 2n },
          ],
          nonce: 1n,
          deadline: 77n,
        },
        [
          { to: DEAD, requestedAmount: 1n },
          { to: BOB, requestedAmount: 2n },
        ],
        ALICE,
        SIG,
      ],
    });
    const r = call(data);
    assert.equal(r.kind, 'permit2_permit_batch_transfer_from');
    assert.deepEqual(
      r.effects.map((e) => [e.asset, e.recipient, e.amount]),
      [
        [USDC, DEAD, 1n],
        [DAI, BOB, 2n],
      ],
    );
  });

  it('a batch whose lists differ in length is malformed (Permit2 would revert)', () => {
    const data = encodeFunctionData({
      abi: permit2Abi,
      functionName: 'permitTransferFrom',
      args: [
        { permitted: [{ token: USDC, amount: 1n }], nonce: 1n, deadline: 77n },
        [
          { to: DEAD, requestedAmount: 1n },
          { to: BOB, requestedAmount: 2n },
        ],
        ALICE,
        SIG,
      ],
    });
    const r = decodeCall({ chainId: 1, to: PERMIT2, data });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'decode.malformed_calldata');
  });

  it('permitWitnessTransferFrom, single and batch', () => {
    const witness: Hex = `0x${'33'.repeat(32)}`;
    const typeString = 'Order witness)Order(address maker)TokenPermissions(address token,uint256 amount)';
    const single = call(
      encodeFunctionData({
        abi: permit2Abi,
        functionName: 'permitWitnessTransferFrom',
        args: [permit, { to: DEAD, requestedAmount: 100n }, ALICE, witness, typeString, SIG],
      }),
    );
    assert.equal(single.kind, 'permit2_permit_witness_transfer_from');
    assert.equal(single.effects[0]!.recipient, DEAD);
    const batch = call(
      encodeFunctionData({
        abi: permit2Abi,
        functionName: 'permitWitnessTransferFrom',
        args: [
          { permitted: [{ token: DAI, amount: 5n }], nonce: 2n, deadline: 9n },
          [{ to: BOB, requestedAmount: 5n }],
          ALICE,
          witness,
          typeString,
          SIG,
        ],
      }),
    );
    assert.equal(batch.kind, 'permit2_permit_batch_witness_transfer_from');
    assert.deepEqual([batch.effects[0]!.asset, batch.effects[0]!.recipient], [DAI, BOB]);
  });

  it('a uint160 amount with dirty high bits is malformed, not read as a huge allowance', () => {
    const data = encodeFunctionData({ abi: permit2Abi, functionName: 'approve', args: [USDC, BOB, 1n, 0] });
    // The third word (amount) gets a bit set above bit 160: Permit2 (Solidity 0.8) would revert on it.
    const at = 10 + 64 * 2;
    const dirty = `${data.slice(0, at)}01${data.slice(at + 2)}` as Hex;
    const r = decodeCall({ chainId: 1, to: PERMIT2, data: dirty });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'decode.malformed_calldata');
  });
});

// Typed data as Uniswap's permit2-sdk builds it.
const permit2Domain = { name: 'Permit2', chainId: 1, verifyingContract: PERMIT2 } as const;
const permitDetailsType = eip712Fields('address token,uint160 amount,uint48 expiration,uint48 nonce');
const tokenPermissionsType = eip712Fields('address token,uint256 amount');

function typed(payload: Parameters<typeof hashTypedData>[0]): DecodedTypedData {
  const r = decodeTypedData(payload);
  assert.equal(r.ok, true, r.ok ? '' : `${r.code}: ${r.message}`);
  const decoded = r;
  assert.equal(decoded.digest, hashTypedData(payload), 'the digest is the standard EIP-712 digest');
  return decoded;
}

describe('Permit2 typed data', () => {
  it('PermitSingle: spender, token, amount, expiration, sigDeadline; uint160 max is unlimited', () => {
    const r = typed({
      domain: permit2Domain,
      types: {
        PermitSingle: eip712Fields('PermitDetails details,address spender,uint256 sigDeadline'),
        PermitDetails: permitDetailsType,
      },
      primaryType: 'PermitSingle',
      message: {
        details: { token: USDC, amount: MAX_UINT160, expiration: 1_800_000_000, nonce: 3 },
        spender: BOB,
        sigDeadline: 1_700_000_000n,
      },
    });
    assert.equal(r.kind, 'permit2_permit');
    assert.deepEqual(r.effects, [
      {
        kind: 'permit',
        asset: USDC,
        spender: BOB,
        amount: MAX_UINT160,
        unlimited: true,
        expiration: 1_800_000_000n,
        deadline: 1_700_000_000n,
        standard: 'erc20',
        target: PERMIT2,
        path: [],
      },
    ]);
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('PermitBatch yields one permit per token', () => {
    const r = typed({
      domain: permit2Domain,
      types: {
        PermitBatch: eip712Fields('PermitDetails[] details,address spender,uint256 sigDeadline'),
        PermitDetails: permitDetailsType,
      },
      primaryType: 'PermitBatch',
      message: {
        details: [
          { token: USDC, amount: 5n, expiration: 1, nonce: 0 },
          { token: DAI, amount: 6n, expiration: 2, nonce: 0 },
        ],
        spender: BOB,
        sigDeadline: 9n,
      },
    });
    assert.equal(r.kind, 'permit2_permit_batch');
    assert.deepEqual(
      r.effects.map((e) => [e.asset, e.amount, e.expiration, e.unlimited]),
      [
        [USDC, 5n, 1n, false],
        [DAI, 6n, 2n, false],
      ],
    );
  });

  it('PermitTransferFrom and PermitBatchTransferFrom (SignatureTransfer)', () => {
    const single = typed({
      domain: permit2Domain,
      types: {
        PermitTransferFrom: eip712Fields('TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline'),
        TokenPermissions: tokenPermissionsType,
      },
      primaryType: 'PermitTransferFrom',
      message: { permitted: { token: USDC, amount: MAX_UINT256 }, spender: BOB, nonce: 1n, deadline: 2n },
    });
    assert.equal(single.kind, 'permit2_permit_transfer_from');
    assert.deepEqual(
      [single.effects[0]!.asset, single.effects[0]!.spender, single.effects[0]!.unlimited, single.effects[0]!.deadline],
      [USDC, BOB, true, 2n],
    );

    const batch = typed({
      domain: permit2Domain,
      types: {
        PermitBatchTransferFrom: eip712Fields(
          'TokenPermissions[] permitted,address spender,uint256 nonce,uint256 deadline',
        ),
        TokenPermissions: tokenPermissionsType,
      },
      primaryType: 'PermitBatchTransferFrom',
      message: {
        permitted: [
          { token: USDC, amount: 1n },
          { token: DAI, amount: 2n },
        ],
        spender: BOB,
        nonce: 1n,
        deadline: 2n,
      },
    });
    assert.equal(batch.kind, 'permit2_permit_batch_transfer_from');
    assert.equal(batch.effects.length, 2);
  });

  it('PermitWitnessTransferFrom with an arbitrary witness struct', () => {
    const r = typed({
      domain: permit2Domain,
      types: {
        PermitWitnessTransferFrom: eip712Fields(
          'TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,Order witness',
        ),
        TokenPermissions: tokenPermissionsType,
        Order: eip712Fields('address maker,uint256 minOut'),
      },
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: DAI, amount: 10n },
        spender: BOB,
        nonce: 1n,
        deadline: 2n,
        witness: { maker: ALICE, minOut: 3n },
      },
    });
    assert.equal(r.kind, 'permit2_permit_witness_transfer_from');
    assert.deepEqual([r.effects[0]!.asset, r.effects[0]!.amount, r.effects[0]!.spender], [DAI, 10n, BOB]);
  });

  it('a Permit2-named type with different fields is not recognised', () => {
    const r = typed({
      domain: permit2Domain,
      types: { PermitSingle: [{ name: 'spender', type: 'address' }] },
      primaryType: 'PermitSingle',
      message: { spender: BOB },
    });
    assert.equal(r.kind, 'unknown');
    assert.deepEqual(r.effects, []);
  });
});
