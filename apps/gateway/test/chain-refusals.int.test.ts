// Chain-safety refusals (issue 6): raw-hash signing (eth_sign style), a typed-data domain on another chain or on none
// (issue 18: unless a rule names its verifying contract), EIP-7702
// authorisations (chain id 0 always, any other unless a rule names the delegate) — each with the exact hostile input
// and the exact code, and each leaving nothing signed (the signer's own usage counters, and no signature stored).
// Legacy transactions are never produced: the transaction the signer signs for a contract call is EIP-1559 on the
// intent's chain. Real anvil, Postgres, Redis and signer process (support/stack.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, parseTransaction, toHex, verifyTypedData, type Address, type Hex } from 'viem';
import { PERMIT_TYPES, permitTypedData } from '@clawd402/testkit';
import { RECIPIENTS, postIntent, waitForStatus } from './support/stack.ts';
import { stackWithSigner } from './support/suite.ts';

/** Anvil dev account 6 stands in for an EIP-7702 delegate contract the operator allows (a well-known dev address). */
const ALLOWED_DELEGATE = RECIPIENTS[5]!;
/** Anvil dev account 7: a delegate no rule names. */
const OTHER_DELEGATE = RECIPIENTS[6]!;
const TOKEN: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
/** A contract whose domain omits chainId that the operator allows by name (no code needed: signed off chain). */
const CHAINLESS_ALLOWED: Address = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';

const POLICY = `
policies:
  - name: allowed_delegate
    conditions: { transaction_type: authorization, authorization_delegate: ["${ALLOWED_DELEGATE}"] }
    action: auto_approve
  - name: careless_authorisations
    description: approves authorisations without naming a delegate; the gateway must still refuse them
    conditions: { transaction_type: authorization, recipient_whitelist: ["${OTHER_DELEGATE}"] }
    action: auto_approve
  - name: chainless_permits_of_one_contract
    conditions: { transaction_type: typed_data, typed_data_without_chain_id: ["${CHAINLESS_ALLOWED}"] }
    action: auto_approve
  - name: any_permit
    description: approves permits without saying anything about chains; the gateway must still refuse chainless ones
    conditions: { transaction_type: typed_data, typed_data_primary_type: Permit }
    action: auto_approve
  - name: any_message
    conditions: { transaction_type: message }
    action: auto_approve
  - name: small_transfers_to_dev_accounts
    conditions: { transaction_type: transfer, max_value: "100", recipient_whitelist: ["${RECIPIENTS[0]}"] }
    action: auto_approve
`;

describe('chain-safety refusals', () => {
  const ctx = stackWithSigner({ policy: POLICY });
  const stored = async (id: string) =>
    (
      await ctx.stack.pool.query<{ status: string; signature: string | null }>(
        'SELECT status, signature FROM intents WHERE id = $1',
        [id],
      )
    ).rows[0]!;

  test('a raw 32-byte hash (what eth_sign signs) is refused with chain.raw_hash_signing, even though messages are allowed', async () => {
    const before = await ctx.usage();
    const hash = keccak256(toHex('a Safe transaction hash, or an order digest'));
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'message',
      chainId: 31337,
      message: { raw: hash },
    });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.code, 'policy_denied');
    assert.equal(res.body.intent.status, 'rejected');
    assert.equal(res.body.intent.decision.policy, null);
    assert.deepEqual(
      res.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['chain.raw_hash_signing'],
    );
    assert.equal(res.body.intent.signing.signature, null);
    assert.deepEqual(await stored(res.body.intent.id), { status: 'rejected', signature: null });
    assert.deepEqual(await ctx.usage(), before);
    // Upper-case hex is the same hash.
    const upper = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'message',
      chainId: 31337,
      message: { raw: `0x${hash.slice(2).toUpperCase()}` },
    });
    assert.equal(upper.body.intent.decision.reasons[0].code, 'chain.raw_hash_signing');
    assert.deepEqual(await ctx.usage(), before);
  });

  test('32 raw bytes that are readable text are not a hash, and are signed', async () => {
    const raw = toHex('exactly thirty-two bytes of text'); // 32 printable ASCII bytes
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'message', chainId: 31337, message: { raw } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'signed');
  });

  test('typed data whose domain names another chain is refused with chain.chain_id_mismatch', async () => {
    const before = await ctx.usage();
    const typedData = permitTypedData(
      { name: 'Test USD', version: '1', chainId: 1, verifyingContract: TOKEN },
      { owner: ctx.stack.signerAddress, spender: RECIPIENTS[1], value: '1', nonce: '0', deadline: '4102444800' },
    );
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['chain.chain_id_mismatch'],
    );
    assert.deepEqual(await stored(res.body.intent.id), { status: 'rejected', signature: null });
    // The domain's chain id in another notation is still chain 1.
    for (const chainId of ['1', '0x1', '0x0001']) {
      const other = await postIntent(ctx.stack.baseUrl, ctx.token, {
        type: 'typed_data',
        chainId: 31337,
        typedData: { ...typedData, domain: { ...typedData.domain, chainId } },
      });
      assert.equal(other.status, 403, JSON.stringify(other.body));
      assert.equal(other.body.intent.decision.reasons[0].code, 'chain.chain_id_mismatch');
    }
    assert.deepEqual(await ctx.usage(), before);
  });

  test('typed data without domain.chainId (replayable on every chain) is refused with chain.typed_data_without_chain_id', async () => {
    const before = await ctx.usage();
    // The exact hostile payload: an EIP-2612 permit whose domain leaves chainId out, which a rule approving any permit
    // would otherwise let through. Its signature would be valid for the same token address on every chain.
    const typedData = permitTypedData(
      { name: 'Test USD', version: '1', verifyingContract: TOKEN },
      { owner: ctx.stack.signerAddress, spender: RECIPIENTS[1], value: '1', nonce: '0', deadline: '4102444800' },
    );
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.code, 'policy_denied');
    assert.equal(res.body.intent.status, 'rejected');
    assert.equal(res.body.intent.decision.policy, 'any_permit');
    assert.deepEqual(
      res.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['chain.typed_data_without_chain_id', 'policy.rule_matched'],
    );
    assert.equal(res.body.intent.signing.signature, null);
    assert.deepEqual(await stored(res.body.intent.id), { status: 'rejected', signature: null });
    // A domain with no verifyingContract either cannot be named by any rule.
    const bare = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'typed_data',
      chainId: 31337,
      typedData: { ...typedData, domain: { name: 'Test USD', version: '1' } },
    });
    assert.equal(bare.status, 403, JSON.stringify(bare.body));
    assert.equal(bare.body.intent.decision.reasons[0].code, 'chain.typed_data_without_chain_id');
    assert.deepEqual(await ctx.usage(), before);
  });

  test('typed data without domain.chainId is signed when a rule names its verifying contract in typed_data_without_chain_id', async () => {
    const typedData = permitTypedData(
      { name: 'Legacy', version: '1', verifyingContract: CHAINLESS_ALLOWED },
      { owner: ctx.stack.signerAddress, spender: RECIPIENTS[1], value: '1', nonce: '0', deadline: '4102444800' },
    );
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.decision.policy, 'chainless_permits_of_one_contract');
    assert.deepEqual(
      res.body.decision.reasons.map((r: { code: string }) => r.code),
      ['policy.rule_matched', 'policy.typed_data_without_chain_id_allowed'],
    );
    assert.equal(
      await verifyTypedData({
        address: ctx.stack.signerAddress,
        domain: typedData.domain,
        types: PERMIT_TYPES,
        primaryType: 'Permit',
        message: {
          owner: ctx.stack.signerAddress,
          spender: RECIPIENTS[1]!,
          value: 1n,
          nonce: 0n,
          deadline: 4102444800n,
        },
        signature: res.body.signing.signature as Hex,
      }),
      true,
    );
  });

  test('an EIP-7702 authorisation with chain_id 0 is refused, even for a delegate a rule allows', async () => {
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'authorization',
      chainId: 0,
      delegate: ALLOWED_DELEGATE,
    });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.type, 'authorization');
    assert.equal(res.body.intent.chainId, 0);
    assert.equal(res.body.intent.decision.policy, null);
    assert.deepEqual(
      res.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['chain.eip7702_authorization'],
    );
    assert.deepEqual(await stored(res.body.intent.id), { status: 'rejected', signature: null });
  });

  test('an EIP-7702 authorisation is refused unless the deciding rule names its delegate', async () => {
    // A rule that approves authorisations without authorization_delegate does not count.
    const careless = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'authorization',
      chainId: 31337,
      delegate: OTHER_DELEGATE,
      nonce: 0,
    });
    assert.equal(careless.status, 403, JSON.stringify(careless.body));
    assert.equal(careless.body.intent.decision.policy, 'careless_authorisations');
    assert.equal(careless.body.intent.decision.reasons[0].code, 'chain.eip7702_authorization');
    // No rule at all: the same code first, then the default deny.
    const unknown = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'authorization',
      chainId: 31337,
      delegate: RECIPIENTS[7],
    });
    assert.deepEqual(
      unknown.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['chain.eip7702_authorization', 'policy.default_deny'],
    );
  });

  test('an authorisation a rule allows stops at eip7702_signing_unsupported: the signer cannot sign one, nothing is signed', async () => {
    const before = await ctx.usage();
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'authorization',
      chainId: 31337,
      delegate: ALLOWED_DELEGATE,
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'eip7702_signing_unsupported');
    assert.equal(res.body.intent.status, 'failed');
    assert.deepEqual(
      res.body.intent.decision.reasons.map((r: { code: string }) => r.code),
      ['policy.rule_matched', 'policy.authorization_delegate_allowed'],
    );
    assert.deepEqual(res.body.intent.signing.request, { chainId: 31337, delegate: ALLOWED_DELEGATE, nonce: null });
    assert.deepEqual(await stored(res.body.intent.id), { status: 'failed', signature: null });
    assert.deepEqual(await ctx.usage(), before);
  });

  test('a contract call is signed as an EIP-1559 (type 2) transaction carrying the intent chain id, never legacy', async () => {
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'contract_call',
      chainId: 31337,
      to: RECIPIENTS[0],
      data: '0x',
      value: '0.001',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { rows } = await ctx.stack.pool.query<{ raw_tx: Hex }>('SELECT raw_tx FROM intents WHERE id = $1', [
      res.body.id,
    ]);
    const signed = parseTransaction(rows[0]!.raw_tx);
    assert.equal(signed.type, 'eip1559');
    assert.equal(signed.chainId, 31337);
    assert.equal(rows[0]!.raw_tx.slice(0, 4), '0x02');
    await waitForStatus(ctx.stack.baseUrl, ctx.token, res.body.id, ['confirmed', 'failed']);
    const mined = await ctx.stack.chain.getTransaction({ hash: res.body.txHash });
    assert.equal(mined.type, 'eip1559');
    assert.equal(mined.chainId, 31337);
  });
});
