import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWalletClient,
  encodeFunctionData,
  erc20Abi,
  getContractAddress,
  http,
  maxUint256,
  parseAbi,
  parseEther,
  type Address,
  type Hex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, deployPermitToken, permitTypedData } from '@clawd402/testkit';
import { upsertAsset } from '../src/repositories/assets-repository.ts';
import { RECIPIENTS, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';

// Anvil's public, well-known dev accounts (never real funds). Account 8 deploys the token first (nonce 0), so its
// address is known before the stack starts; account 3 signs a permit; account 5 is a spender.
const DEPLOYER = ANVIL_ACCOUNTS[8];
const PERMIT_OWNER = ANVIL_ACCOUNTS[3];
const SPENDER = ANVIL_ACCOUNTS[5].address as Address;
const TOKEN = getContractAddress({ from: DEPLOYER.address, nonce: 0n });
const BLOCKED = '0x000000000000000000000000000000000000dEaD' as const;
const TOKEN_ABI = parseAbi([
  'function multicall(bytes[] data) returns (bytes[])',
  'function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)',
  'function nonces(address owner) view returns (uint256)',
]);

const POLICY = `
policies:
  - name: deny_deadbeef
    conditions: { transaction_type: contract_call, function_selector: "0xdeadbeef" }
    action: reject
  - name: no_unlimited_approvals
    conditions: { unlimited_approval: true }
    action: reject
  - name: blocked_recipients
    conditions: { recipient_blacklist: ["${BLOCKED}"] }
    action: reject
  - name: batches_on_our_token
    conditions: { transaction_type: contract_call, recipient_whitelist: ["${TOKEN}"], function_selector: "multicall(bytes[])" }
    action: auto_approve
  - name: small_transfers
    conditions: { transaction_type: transfer, max_value: "100", recipient_whitelist: [${RECIPIENTS.slice(0, 5)
      .map((r) => `"${r}"`)
      .join(', ')}] }
    action: auto_approve
  - name: bounded_approvals
    conditions: { transaction_type: approve, max_value: "50" }
    action: auto_approve
`;

const transfer = (to: Address, amount: bigint): Hex =>
  encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, amount] });
const multicall = (calls: Hex[]): Hex =>
  encodeFunctionData({ abi: TOKEN_ABI, functionName: 'multicall', args: [calls] });

describe('policies see what calldata really does', () => {
  let stack: Stack;
  let token: string;
  const call = (to: Address, data: Hex) =>
    postIntent(stack.baseUrl, token, { type: 'contract_call', chainId: 31337, to, data });
  const nonceOfSigner = () => stack.chain.getTransactionCount({ address: stack.signerAddress });
  const balanceOf = (owner: Address) =>
    stack.chain.readContract({ address: TOKEN, abi: erc20Abi, functionName: 'balanceOf', args: [owner] });

  before(async () => {
    stack = await startStack({ policy: POLICY });
    token = await stack.token();
    const deployerKey = DEPLOYER.privateKey as Hex;
    assert.equal(
      await deployPermitToken({
        rpcUrl: stack.anvil.rpcUrl,
        deployerKey,
        name: 'Permit Token',
        symbol: 'PTK',
        supply: parseEther('1000000'),
      }),
      TOKEN,
    );
    const deployer = createWalletClient({
      account: privateKeyToAccount(deployerKey),
      transport: http(stack.anvil.rpcUrl),
    });
    const hash = await deployer.writeContract({
      address: TOKEN,
      abi: erc20Abi,
      functionName: 'transfer',
      args: [stack.signerAddress, parseEther('1000')],
      chain: null,
    });
    await stack.chain.waitForTransactionReceipt({ hash });
    await upsertAsset(
      stack.pool,
      {
        chainId: 31337,
        asset: TOKEN,
        symbol: 'PTK',
        decimals: 18,
        priceSource: { kind: 'static', usd: '1', maxAgeSeconds: null },
      },
      'system:test',
    );
  });
  after(async () => stack?.stop());

  test('a multicall wrapping a transfer to a blacklisted address is denied (blacklist bypass through a batch)', async () => {
    const nonce = await nonceOfSigner();
    const res = await call(
      TOKEN,
      multicall([transfer(RECIPIENTS[0]!, parseEther('1')), transfer(BLOCKED, parseEther('1'))]),
    );
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.code, 'policy_denied');
    assert.equal(res.body.intent.decision.policy, 'blocked_recipients');
    assert.ok(
      res.body.intent.decision.reasons.some((r: { code: string }) => r.code === 'policy.recipient_blacklisted'),
    );
    // The simulation ran first and is stored with the rejected intent: both transfers, both declared.
    assert.deepEqual(res.body.intent.simulation.recipients, [RECIPIENTS[0], BLOCKED]);
    assert.equal(await nonceOfSigner(), nonce);
  });

  test('a multicall of transfers to allowed recipients goes through, valued at what leaves the signer', async () => {
    const [a, b] = [RECIPIENTS[0]!, RECIPIENTS[1]!];
    const [beforeA, beforeB] = [await balanceOf(a), await balanceOf(b)];
    const res = await call(TOKEN, multicall([transfer(a, parseEther('1')), transfer(b, parseEther('2'))]));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.decision.action, 'auto_approve');
    assert.equal(res.body.decision.money.valueUsd, '3');
    assert.equal((await waitForStatus(stack.baseUrl, token, res.body.id, ['confirmed', 'failed'])).status, 'confirmed');
    assert.equal((await balanceOf(a)) - beforeA, parseEther('1'));
    assert.equal((await balanceOf(b)) - beforeB, parseEther('2'));
  });

  test('an ERC-20 transfer sent as a contract call is judged as the transfer it is: its recipient and token amount', async () => {
    const tooMuch = await call(TOKEN, transfer(RECIPIENTS[0]!, parseEther('150')));
    assert.equal(tooMuch.status, 403, JSON.stringify(tooMuch.body));
    assert.equal(tooMuch.body.intent.decision.policy, null); // over max_value: no rule matches
    const elsewhere = await call(TOKEN, transfer(RECIPIENTS[7]!, parseEther('1')));
    assert.equal(elsewhere.status, 403);
    const fine = await call(TOKEN, transfer(RECIPIENTS[0]!, parseEther('50')));
    assert.equal(fine.status, 201, JSON.stringify(fine.body));
    assert.equal(fine.body.decision.policy, 'small_transfers');
    assert.equal(fine.body.decision.money.valueUsd, '50');
  });

  test('an unlimited approve is caught by the rule for unlimited approvals; a bounded one is not', async () => {
    const unlimited = await call(
      TOKEN,
      encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [SPENDER, maxUint256] }),
    );
    assert.equal(unlimited.status, 403, JSON.stringify(unlimited.body));
    assert.equal(unlimited.body.intent.decision.policy, 'no_unlimited_approvals');
    // Just under 2^255 is still "unlimited" (at least half the field's range), so it cannot slip under the rule.
    const halfRange = await call(
      TOKEN,
      encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [SPENDER, 1n << 255n] }),
    );
    assert.equal(halfRange.body.intent.decision.policy, 'no_unlimited_approvals');
    const bounded = await call(
      TOKEN,
      encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [SPENDER, parseEther('10')] }),
    );
    assert.equal(bounded.status, 201, JSON.stringify(bounded.body));
    assert.equal(bounded.body.decision.policy, 'bounded_approvals');
  });

  test('an unlimited EIP-2612 permit sent as calldata is caught by the rule for unlimited approvals', async () => {
    const owner = privateKeyToAccount(PERMIT_OWNER.privateKey);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const nonce = await stack.chain.readContract({
      address: TOKEN,
      abi: TOKEN_ABI,
      functionName: 'nonces',
      args: [owner.address],
    });
    const signature = await owner.signTypedData(
      permitTypedData(
        { name: 'Permit Token', version: '1', chainId: 31337, verifyingContract: TOKEN },
        { owner: owner.address, spender: SPENDER, value: maxUint256, nonce, deadline },
      ),
    );
    const r: Hex = `0x${signature.slice(2, 66)}`;
    const s: Hex = `0x${signature.slice(66, 130)}`;
    const v = Number.parseInt(signature.slice(130, 132), 16);
    const res = await call(
      TOKEN,
      encodeFunctionData({
        abi: TOKEN_ABI,
        functionName: 'permit',
        args: [owner.address, SPENDER, maxUint256, deadline, v, r, s],
      }),
    );
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.decision.policy, 'no_unlimited_approvals');
    // The permit is valid: the simulation passed, and the signer itself grants nothing.
    assert.equal(res.body.intent.simulation.status, 'passed');
    assert.deepEqual(res.body.intent.simulation.approvals, []);
  });

  test('an unknown selector stays a contract_call with that selector', async () => {
    const res = await call(RECIPIENTS[5]!, '0xdeadbeef00000000');
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.decision.policy, 'deny_deadbeef');
    assert.equal(res.body.intent.type, 'contract_call');
  });

  test("a call tree nested beyond the decoder's depth is refused as unknown with calldata_too_complex (hiding a transfer deep in batches)", async () => {
    let data = transfer(BLOCKED, 1n);
    for (let i = 0; i < 10; i++) data = multicall([data]);
    const nonce = await nonceOfSigner();
    const res = await call(TOKEN, data);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'calldata_too_complex');
    assert.equal(await nonceOfSigner(), nonce);
  });

  test('calldata whose known selector does not decode is refused with calldata_malformed (truncated transfer arguments)', async () => {
    const truncated = transfer(RECIPIENTS[0]!, 1n).slice(0, 2 + 8 + 64) as Hex; // selector + recipient, no amount
    const res = await call(TOKEN, truncated);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'calldata_malformed');
    assert.equal(res.body.details.selector, '0xa9059cbb');
  });
});
