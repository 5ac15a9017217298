import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, erc1155Abi, erc20Abi, erc721Abi, parseAbi, type Hex } from 'viem';
import { decodeCall, type DecodeCallResult, type DecodedCall } from '../src/index.ts';
import { ALICE, BOB, DAI, DEAD, MAX_UINT256, NFT, SIGNER, USDC } from './fixtures.ts';

const extensionsAbi = parseAbi([
  'function increaseAllowance(address spender, uint256 addedValue) returns (bool)',
  'function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)',
  'function permit(address holder, address spender, uint256 nonce, uint256 expiry, bool allowed, uint8 v, bytes32 r, bytes32 s)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
]);
const R: Hex = `0x${'ab'.repeat(32)}`;

function ok(result: DecodeCallResult): DecodedCall {
  assert.equal(result.ok, true, result.ok ? '' : `${result.code}: ${result.message}`);
  return result;
}

function decode(to: string, data: Hex, value = 0n): DecodedCall {
  return ok(decodeCall({ chainId: 1, to, data, value, from: SIGNER }));
}

describe('decodeCall: native coin', () => {
  it('empty calldata is a native transfer to `to`', () => {
    const r = decode(ALICE, '0x', 10n ** 18n);
    assert.equal(r.kind, 'native_transfer');
    assert.equal(r.selector, null);
    assert.deepEqual(r.effects, [
      {
        kind: 'native_transfer',
        asset: 'native',
        from: SIGNER,
        recipient: ALICE,
        amount: 10n ** 18n,
        target: ALICE,
        path: [],
      },
    ]);
    assert.deepEqual(r.flags, { delegatecall: false, unlimitedApproval: false, truncated: false });
  });

  it('value sent with a contract call is a native transfer to the contract besides the call', () => {
    const r = decode(USDC, '0x12345678', 5n);
    assert.deepEqual(
      r.effects.map((e) => [e.kind, e.amount]),
      [
        ['native_transfer', 5n],
        ['contract_call', undefined],
      ],
    );
  });
});

describe('decodeCall: ERC-20', () => {
  it('transfer', () => {
    const r = decode(USDC, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 1_000_000n] }));
    assert.equal(r.kind, 'erc20_transfer');
    assert.equal(r.functionName, 'transfer');
    assert.equal(r.selector, '0xa9059cbb');
    assert.deepEqual(r.effects, [
      {
        kind: 'transfer',
        asset: USDC,
        from: SIGNER,
        recipient: DEAD,
        amount: 1_000_000n,
        standard: 'erc20',
        target: USDC,
        selector: '0xa9059cbb',
        path: [],
      },
    ]);
  });

  it("transferFrom moves the named owner's tokens; ERC-20 and ERC-721 share the selector", () => {
    const r = decode(USDC, encodeFunctionData({ abi: erc20Abi, functionName: 'transferFrom', args: [ALICE, BOB, 7n] }));
    assert.equal(r.kind, 'token_transfer_from');
    assert.deepEqual(r.effects[0], {
      kind: 'transfer',
      asset: USDC,
      from: ALICE,
      recipient: BOB,
      amount: 7n,
      spender: SIGNER,
      standard: 'erc20_or_erc721',
      target: USDC,
      selector: '0x23b872dd',
      path: [],
    });
  });

  it('approve of a bounded amount is not unlimited', () => {
    const r = decode(USDC, encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [BOB, 100n] }));
    assert.equal(r.kind, 'token_approve');
    assert.deepEqual(r.effects[0], {
      kind: 'approval',
      asset: USDC,
      from: SIGNER,
      spender: BOB,
      amount: 100n,
      unlimited: false,
      standard: 'erc20_or_erc721',
      target: USDC,
      selector: '0x095ea7b3',
      path: [],
    });
    assert.equal(r.flags.unlimitedApproval, false);
  });

  it('approve of 2^256 - 1 is flagged unlimited', () => {
    const r = decode(USDC, encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [BOB, MAX_UINT256] }));
    assert.equal(r.effects[0]!.unlimited, true);
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('approve of 2^255 is unlimited; 2^255 - 1 is not', () => {
    const at = (amount: bigint) =>
      decode(USDC, encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [BOB, amount] }));
    assert.equal(at(1n << 255n).flags.unlimitedApproval, true);
    assert.equal(at((1n << 255n) - 1n).flags.unlimitedApproval, false);
  });

  it('increaseAllowance', () => {
    const r = decode(
      DAI,
      encodeFunctionData({ abi: extensionsAbi, functionName: 'increaseAllowance', args: [BOB, MAX_UINT256] }),
    );
    assert.equal(r.kind, 'erc20_increase_allowance');
    assert.equal(r.effects[0]!.kind, 'approval');
    assert.equal(r.effects[0]!.spender, BOB);
    assert.equal(r.effects[0]!.amount, MAX_UINT256);
    assert.equal(r.flags.unlimitedApproval, true);
  });

  it('EIP-2612 permit calldata names owner, spender, value and deadline', () => {
    const data = encodeFunctionData({
      abi: extensionsAbi,
      functionName: 'permit',
      args: [ALICE, BOB, 50n, 1_700_000_000n, 27, R, R],
    });
    const r = decode(USDC, data);
    assert.equal(r.kind, 'erc20_permit');
    assert.deepEqual(r.effects[0], {
      kind: 'permit',
      asset: USDC,
      from: ALICE,
      spender: BOB,
      amount: 50n,
      unlimited: false,
      deadline: 1_700_000_000n,
      standard: 'erc20',
      target: USDC,
      selector: '0xd505accf',
      path: [],
    });
  });

  it('unlimited EIP-2612 permit calldata is flagged', () => {
    const data = encodeFunctionData({
      abi: extensionsAbi,
      functionName: 'permit',
      args: [ALICE, BOB, MAX_UINT256, 1n, 27, R, R],
    });
    assert.equal(decode(USDC, data).flags.unlimitedApproval, true);
  });

  it('DAI permit with allowed = true is an unlimited permit; allowed = false revokes', () => {
    const allow = decode(
      DAI,
      encodeFunctionData({ abi: extensionsAbi, functionName: 'permit', args: [ALICE, BOB, 0n, 0n, true, 27, R, R] }),
    );
    assert.equal(allow.kind, 'dai_permit');
    assert.deepEqual(
      [
        allow.effects[0]!.kind,
        allow.effects[0]!.from,
        allow.effects[0]!.spender,
        allow.effects[0]!.amount,
        allow.effects[0]!.unlimited,
      ],
      ['permit', ALICE, BOB, MAX_UINT256, true],
    );
    assert.equal(allow.flags.unlimitedApproval, true);
    const revoke = decode(
      DAI,
      encodeFunctionData({ abi: extensionsAbi, functionName: 'permit', args: [ALICE, BOB, 0n, 0n, false, 27, R, R] }),
    );
    assert.equal(revoke.effects[0]!.amount, 0n);
    assert.equal(revoke.flags.unlimitedApproval, false);
  });

  it('EIP-3009 transferWithAuthorization is a transfer from the authoriser', () => {
    const data = encodeFunctionData({
      abi: extensionsAbi,
      functionName: 'transferWithAuthorization',
      args: [ALICE, DEAD, 9n, 0n, 99n, R, 28, R, R],
    });
    const r = decode(USDC, data);
    assert.equal(r.kind, 'erc3009_transfer');
    assert.deepEqual(
      [r.effects[0]!.kind, r.effects[0]!.from, r.effects[0]!.recipient, r.effects[0]!.amount, r.effects[0]!.deadline],
      ['transfer', ALICE, DEAD, 9n, 99n],
    );
  });
});

describe('decodeCall: ERC-721', () => {
  it('safeTransferFrom(from, to, tokenId)', () => {
    const data = encodeFunctionData({ abi: erc721Abi, functionName: 'safeTransferFrom', args: [SIGNER, DEAD, 42n] });
    const r = decode(NFT, data);
    assert.equal(r.kind, 'erc721_safe_transfer');
    assert.deepEqual(r.effects[0], {
      kind: 'transfer',
      asset: NFT,
      from: SIGNER,
      recipient: DEAD,
      tokenId: 42n,
      spender: SIGNER,
      standard: 'erc721',
      target: NFT,
      selector: '0x42842e0e',
      path: [],
    });
  });

  it('safeTransferFrom(from, to, tokenId, data)', () => {
    const data = encodeFunctionData({
      abi: erc721Abi,
      functionName: 'safeTransferFrom',
      args: [SIGNER, DEAD, 42n, '0xbeef'],
    });
    const r = decode(NFT, data);
    assert.equal(r.selector, '0xb88d4fde');
    assert.equal(r.effects[0]!.recipient, DEAD);
    assert.equal(r.effects[0]!.tokenId, 42n);
  });

  it('transferFrom on an NFT reads as the shared ERC-20/721 transferFrom', () => {
    const r = decode(
      NFT,
      encodeFunctionData({ abi: erc721Abi, functionName: 'transferFrom', args: [SIGNER, BOB, 3n] }),
    );
    assert.equal(r.effects[0]!.standard, 'erc20_or_erc721');
    assert.equal(r.effects[0]!.amount, 3n);
    assert.equal(r.effects[0]!.recipient, BOB);
  });

  it('approve(spender, tokenId)', () => {
    const r = decode(NFT, encodeFunctionData({ abi: erc721Abi, functionName: 'approve', args: [BOB, 3n] }));
    assert.equal(r.effects[0]!.kind, 'approval');
    assert.equal(r.effects[0]!.spender, BOB);
    assert.equal(r.effects[0]!.amount, 3n);
  });

  it('setApprovalForAll(operator, true) is an unlimited approval_for_all; false revokes', () => {
    const grant = decode(
      NFT,
      encodeFunctionData({ abi: erc721Abi, functionName: 'setApprovalForAll', args: [BOB, true] }),
    );
    assert.equal(grant.kind, 'set_approval_for_all');
    assert.deepEqual(grant.effects[0], {
      kind: 'approval_for_all',
      asset: NFT,
      from: SIGNER,
      spender: BOB,
      approved: true,
      unlimited: true,
      target: NFT,
      selector: '0xa22cb465',
      path: [],
    });
    assert.equal(grant.flags.unlimitedApproval, true);
    const revoke = decode(
      NFT,
      encodeFunctionData({ abi: erc721Abi, functionName: 'setApprovalForAll', args: [BOB, false] }),
    );
    assert.equal(revoke.effects[0]!.approved, false);
    assert.equal(revoke.flags.unlimitedApproval, false);
  });
});

describe('decodeCall: ERC-1155', () => {
  it('safeTransferFrom(from, to, id, value, data)', () => {
    const data = encodeFunctionData({
      abi: erc1155Abi,
      functionName: 'safeTransferFrom',
      args: [SIGNER, ALICE, 5n, 12n, '0x'],
    });
    const r = decode(NFT, data);
    assert.equal(r.kind, 'erc1155_transfer');
    assert.deepEqual(r.effects[0], {
      kind: 'transfer',
      asset: NFT,
      from: SIGNER,
      recipient: ALICE,
      tokenId: 5n,
      amount: 12n,
      spender: SIGNER,
      standard: 'erc1155',
      target: NFT,
      selector: '0xf242432a',
      path: [],
    });
  });

  it('safeBatchTransferFrom yields one transfer per id', () => {
    const data = encodeFunctionData({
      abi: erc1155Abi,
      functionName: 'safeBatchTransferFrom',
      args: [SIGNER, ALICE, [1n, 2n], [10n, 20n], '0x'],
    });
    const r = decode(NFT, data);
    assert.equal(r.kind, 'erc1155_batch_transfer');
    assert.deepEqual(
      r.effects.map((e) => [e.tokenId, e.amount, e.recipient]),
      [
        [1n, 10n, ALICE],
        [2n, 20n, ALICE],
      ],
    );
  });

  it('setApprovalForAll on an ERC-1155 reads the same', () => {
    const r = decode(
      NFT,
      encodeFunctionData({ abi: erc1155Abi, functionName: 'setApprovalForAll', args: [BOB, true] }),
    );
    assert.equal(r.effects[0]!.kind, 'approval_for_all');
  });
});

describe('decodeCall: unknown calls', () => {
  it('an unknown selector is an unknown_call with a contract_call effect carrying the selector', () => {
    const r = decode(USDC, '0xdeadbeef00000000000000000000000000000000000000000000000000000000000000ff');
    assert.equal(r.kind, 'unknown_call');
    assert.equal(r.selector, '0xdeadbeef');
    assert.equal(r.functionName, undefined);
    assert.deepEqual(r.effects, [
      { kind: 'contract_call', asset: USDC, from: SIGNER, target: USDC, selector: '0xdeadbeef', path: [] },
    ]);
  });

  it('data shorter than a selector has no selector and still is a contract call', () => {
    const r = decode(USDC, '0xabcd');
    assert.equal(r.selector, null);
    assert.deepEqual(
      r.effects.map((e) => e.kind),
      ['contract_call'],
    );
  });

  it('upper-case calldata decodes the same as lower-case', () => {
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 1n] });
    const upper: Hex = `0x${data.slice(2).toUpperCase()}`;
    assert.deepEqual(decode(USDC, upper), decode(USDC, data));
  });

  it("without `from`, effects that move the sender's own assets have no from", () => {
    const r = ok(
      decodeCall({
        chainId: 1,
        to: USDC,
        data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 1n] }),
      }),
    );
    assert.equal(r.effects[0]!.from, undefined);
    assert.equal('from' in r.effects[0]!, false);
  });

  it('the result is frozen', () => {
    const r = decode(USDC, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [DEAD, 1n] }));
    assert.equal(Object.isFrozen(r), true);
    assert.equal(Object.isFrozen(r.effects[0]), true);
    assert.throws(() => {
      (r.effects as unknown as unknown[]).push({});
    }, TypeError);
  });
});
