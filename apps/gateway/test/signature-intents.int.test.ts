// Typed data (EIP-712) and personal_sign messages as intents: the same policy decides them, the signer signs them
// under a ticket, the signature is stored with its audit record and verifies against the signer's address.
// Real anvil, Postgres, Redis and signer process (support/stack.ts); no mocks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, maxUint256, toHex, verifyMessage, verifyTypedData, type Address } from 'viem';
import { PERMIT_TYPES, TRANSFER_WITH_AUTHORIZATION_TYPES, eip712Fields, permitTypedData } from '@clawd402/testkit';
import { RECIPIENTS, getJson, postIntent } from './support/stack.ts';
import { stackWithSigner } from './support/suite.ts';

/** Anvil's dev account 4: the spender the policy trusts for permits (a public, well-known dev address). */
const ROUTER = RECIPIENTS[3]!;
/** Anvil's dev account 5: a spender no rule names. */
const STRANGER = RECIPIENTS[4]!;
/** Where the permit's token would live (no code needed: typed data is signed off chain). */
const TOKEN: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

const POLICY = `
policies:
  - name: orders_need_a_human
    conditions: { transaction_type: typed_data, typed_data_primary_type: Order }
    action: require_human_approval
    notification: { channels: [email], timeout: 600 }
  - name: no_unlimited_approvals
    conditions: { unlimited_approval: true }
    action: reject
  - name: permits_to_router
    conditions: { transaction_type: typed_data, typed_data_primary_type: Permit, spender_whitelist: ["${ROUTER}"] }
    action: auto_approve
  - name: payment_authorisations
    conditions: { transaction_type: typed_data, typed_data_primary_type: TransferWithAuthorization }
    action: auto_approve
  - name: messages
    conditions: { transaction_type: message }
    action: auto_approve
`;

function permit(owner: Address, spender: Address, value: bigint, chainId = 31337) {
  return permitTypedData(
    { name: 'Test USD', version: '1', chainId, verifyingContract: TOKEN },
    // Integers as decimal strings: JSON numbers beyond 2^53 would already be rounded.
    { owner, spender, value: value.toString(), nonce: '0', deadline: '4102444800' },
  );
}

/** A one-struct typed-data payload of the app `name` (version 1, at TOKEN on the test chain). */
function typedDataOf(name: string, primaryType: string, fields: { name: string; type: string }[], message: object) {
  return {
    domain: { name, version: '1', chainId: 31337, verifyingContract: TOKEN },
    types: { [primaryType]: fields },
    primaryType,
    message,
  };
}

describe('signature intents', () => {
  const ctx = stackWithSigner({ policy: POLICY });

  test('an EIP-2612 permit is signed, stored with its audit record, and verifies against the signer address', async () => {
    const typedData = permit(ctx.stack.signerAddress, ROUTER, 1_000_000n);
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'typed_data',
      chainId: 31337,
      typedData,
      memo: 'permit for the router',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.type, 'typed_data');
    assert.equal(res.body.status, 'signed');
    assert.equal(res.body.decision.policy, 'permits_to_router');
    assert.equal(res.body.txHash, null);
    assert.equal(res.body.nonce, null);
    assert.equal(res.body.signing.operation, 'typed_data');
    assert.deepEqual(res.body.signing.request, typedData);
    const signature = res.body.signing.signature as `0x${string}`;
    assert.match(signature, /^0x[0-9a-f]{130}$/);
    assert.equal(
      await verifyTypedData({
        address: ctx.stack.signerAddress,
        domain: { ...typedData.domain, chainId: 31337 },
        types: PERMIT_TYPES,
        primaryType: 'Permit',
        message: {
          owner: ctx.stack.signerAddress,
          spender: ROUTER,
          value: 1_000_000n,
          nonce: 0n,
          deadline: 4102444800n,
        },
        signature,
      }),
      true,
    );

    // The stored intent answers the same, and its audit trail records the decision and the signature (digest, key).
    const read = await getJson(`${ctx.stack.baseUrl}/v1/intents/${res.body.id}`, ctx.token);
    assert.equal(read.body.status, 'signed');
    assert.equal(read.body.signing.signature, signature);
    const { rows } = await ctx.stack.pool.query<{ action: string; record: string }>(
      'SELECT action, record FROM audit_log WHERE subject = $1 ORDER BY seq',
      [`intent:${res.body.id}`],
    );
    assert.deepEqual(
      rows.map((r) => r.action),
      ['intent.decided', 'intent.signed'],
    );
    assert.ok(rows[1]!.record.includes(res.body.signing.digest));

    // `signed` is final for a signature: the receipt tracker and its sweeps leave it alone.
    await ctx.stack.app.services.tracker.poll();
    await ctx.stack.app.services.tracker.reconcile();
    assert.equal((await getJson(`${ctx.stack.baseUrl}/v1/intents/${res.body.id}`, ctx.token)).body.status, 'signed');
  });

  test('a domain chainId sent as a hex or decimal string is signed as its number (as eth_signTypedData_v4 sends it)', async () => {
    for (const chainId of ['0x7a69', '31337']) {
      const typedData = permit(ctx.stack.signerAddress, ROUTER, 5n);
      const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
        type: 'typed_data',
        chainId: 31337,
        typedData: { ...typedData, domain: { ...typedData.domain, chainId } },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.signing.request.domain.chainId, 31337);
      const ok = await verifyTypedData({
        address: ctx.stack.signerAddress,
        domain: { ...typedData.domain, chainId: 31337 },
        types: PERMIT_TYPES,
        primaryType: 'Permit',
        message: { owner: ctx.stack.signerAddress, spender: ROUTER, value: 5n, nonce: 0n, deadline: 4102444800n },
        signature: res.body.signing.signature,
      });
      assert.equal(ok, true, chainId);
    }
  });

  test('an unlimited permit is caught by the unlimited_approval rule and nothing is signed', async () => {
    const before = await ctx.usage();
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'typed_data',
      chainId: 31337,
      typedData: permit(ctx.stack.signerAddress, ROUTER, maxUint256),
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'policy_denied');
    assert.equal(res.body.intent.status, 'rejected');
    assert.equal(res.body.intent.decision.policy, 'no_unlimited_approvals');
    assert.equal(res.body.intent.signing.signature, null);
    assert.deepEqual(await ctx.usage(), before);
  });

  test('a permit to a spender no rule names falls to the default deny', async () => {
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, {
      type: 'typed_data',
      chainId: 31337,
      typedData: permit(ctx.stack.signerAddress, STRANGER, 5n),
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.intent.decision.reasons[0].code, 'policy.default_deny');
  });

  test('a personal_sign text message is signed and verifies; so are raw bytes that are not a hash', async () => {
    const text = 'Sign in to example.org\nNonce: 7';
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'message', chainId: 31337, message: text });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'signed');
    assert.deepEqual(res.body.signing.request, { text });
    assert.equal(
      await verifyMessage({ address: ctx.stack.signerAddress, message: text, signature: res.body.signing.signature }),
      true,
    );

    const raw = toHex(new Uint8Array(40).map((_, i) => i)); // 40 bytes of binary: not a 32-byte hash
    const bytes = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'message', chainId: 31337, message: { raw } });
    assert.equal(bytes.status, 201, JSON.stringify(bytes.body));
    assert.equal(
      await verifyMessage({
        address: ctx.stack.signerAddress,
        message: { raw },
        signature: bytes.body.signing.signature,
      }),
      true,
    );
  });

  test('text that looks like a hash is signed as its characters, never as the 32 bytes it spells', async () => {
    const hashText = keccak256(toHex('a text an agent was told to sign'));
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'message', chainId: 31337, message: hashText });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(
      await verifyMessage({
        address: ctx.stack.signerAddress,
        message: hashText,
        signature: res.body.signing.signature,
      }),
      true,
    );
    assert.equal(
      await verifyMessage({
        address: ctx.stack.signerAddress,
        message: { raw: hashText },
        signature: res.body.signing.signature,
      }),
      false,
    );
  });

  test('an Idempotency-Key retry answers the stored signature and signs nothing again', async () => {
    const body = { type: 'message', chainId: 31337, message: 'idempotent hello' };
    const first = await postIntent(ctx.stack.baseUrl, ctx.token, body, { 'idempotency-key': 'sig-once' });
    assert.equal(first.status, 201);
    const before = await ctx.usage();
    const again = await postIntent(ctx.stack.baseUrl, ctx.token, body, { 'idempotency-key': 'sig-once' });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.signing.signature, first.body.signing.signature);
    assert.deepEqual(await ctx.usage(), before);
  });

  test('a rule asking a human for a signature rejects it instead (a signature intent cannot wait for an approval)', async () => {
    const typedData = typedDataOf('Exchange', 'Order', eip712Fields('address maker,uint256 amount'), {
      maker: ctx.stack.signerAddress,
      amount: '10',
    });
    const before = await ctx.usage();
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.status, 'rejected');
    assert.equal(res.body.intent.decision.policy, 'orders_need_a_human');
    assert.equal(res.body.intent.decision.reasons[0].code, 'signature.human_approval_unsupported');
    assert.equal(res.body.intent.decision.approval, undefined);
    const { rows } = await ctx.stack.pool.query('SELECT id FROM approvals WHERE intent_id = $1', [res.body.intent.id]);
    assert.equal(rows.length, 0);
    assert.deepEqual(await ctx.usage(), before);
  });

  test('what an unrecognised payload grants is unknown: an unlimited_approval rule rejects it, failing closed', async () => {
    const typedData = typedDataOf('Governor', 'Ballot', eip712Fields('uint256 proposalId,uint8 support'), {
      proposalId: '1',
      support: 1,
    });
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.decision.policy, 'no_unlimited_approvals');
    assert.equal(res.body.intent.decision.reasons[0].code, 'policy.condition_unknown_fact');
  });

  test('malformed typed data is refused before anything is recorded', async () => {
    const bad = permit(ctx.stack.signerAddress, ROUTER, 1n) as { message: Record<string, unknown> };
    bad.message = { ...bad.message, extra: '1' }; // a field the type does not declare
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData: bad });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, 'typed_data_malformed');
    assert.equal(res.body.intent, undefined);
  });

  test('an EIP-3009 transfer authorisation that cannot be valued in USD is refused (money fails closed)', async () => {
    const typedData = {
      domain: { name: 'Test USD', version: '2', chainId: 31337, verifyingContract: TOKEN },
      types: TRANSFER_WITH_AUTHORIZATION_TYPES,
      primaryType: 'TransferWithAuthorization',
      message: {
        from: ctx.stack.signerAddress,
        to: ROUTER,
        value: '1000000',
        validAfter: '0',
        validBefore: '4102444800',
        nonce: keccak256(toHex('x402')),
      },
    };
    const before = await ctx.usage();
    const res = await postIntent(ctx.stack.baseUrl, ctx.token, { type: 'typed_data', chainId: 31337, typedData });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.intent.decision.policy, 'payment_authorisations');
    assert.ok(res.body.intent.decision.reasons.some((r: { code: string }) => r.code === 'price.unavailable'));
    assert.deepEqual(await ctx.usage(), before);
  });
});
