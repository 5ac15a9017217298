// Hostile and refused JSON-RPC requests on POST /rpc: every way around the policy answers a stable code and signs
// nothing; denials and waits carry what REST carries. Real gateway, signer and anvil.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, parseEther, stringToHex, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, getJson, startStack, type Stack } from './support/stack.ts';
import { RPC_POLICY, STRANGER, request, rpcCall, rpcErrorOf, viemOverRpc } from './support/json-rpc.ts';

describe('POST /rpc refusals', { timeout: 300_000 }, () => {
  let stack: Stack;
  let token: string;
  const sent = () => stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' });
  const send = (tx: Record<string, unknown>, id = 1) =>
    request(id, 'eth_sendTransaction', [{ from: stack.signerAddress, ...tx }]);
  /** Answers the single response's error after checking nothing was signed or sent for it. */
  const refused = async (body: unknown, path?: string) => {
    const nonce = await sent();
    const res = await rpcCall(stack, token, body, path);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await sent(), nonce, 'nothing was broadcast');
    assert.ok(res.body.error, JSON.stringify(res.body));
    return res.body.error;
  };

  before(async () => {
    stack = await startStack({ policy: RPC_POLICY });
    token = await stack.token();
  });
  after(async () => stack?.stop());

  test('a transfer the policy denies reaches viem with policy_denied, its reasons and decision.money', async () => {
    const { wallet } = viemOverRpc(stack, token);
    const nonce = await sent();
    const error = await wallet
      .sendTransaction({ account: stack.signerAddress, chain: wallet.chain, to: STRANGER, value: parseEther('0.01') })
      .then(() => assert.fail('the denied transfer was answered with a hash'), rpcErrorOf);
    assert.equal(error.code, -32003);
    assert.equal(error.data.code, 'policy_denied');
    assert.equal(error.data.status, 'rejected');
    assert.ok(error.data.reasons.length > 0);
    assert.deepEqual(error.data.reasons, error.data.decision.reasons);
    assert.ok(error.data.decision.money, 'decision.money as REST shows it');
    // The same intent, the same decision, as REST answers it.
    const rest = await getJson(`${stack.baseUrl}/v1/intents/${error.data.intentId}`, token);
    assert.equal(rest.body.status, 'rejected');
    assert.deepEqual(rest.body.decision, error.data.decision);
    assert.equal(await sent(), nonce);
  });

  test('a transfer that needs a human answers intent_pending_approval with the intent id and where to wait', async () => {
    const { wallet } = viemOverRpc(stack, token);
    const nonce = await sent();
    const error = await wallet
      .sendTransaction({
        account: stack.signerAddress,
        chain: wallet.chain,
        to: RECIPIENTS[1]!,
        value: parseEther('0.5'),
      })
      .then(() => assert.fail('a transfer waiting for a human was answered with a hash'), rpcErrorOf);
    assert.equal(error.code, -32040);
    assert.equal(error.data.code, 'intent_pending_approval');
    assert.equal(error.data.status, 'pending_approval');
    assert.equal(error.data.wait, `/v1/intents/${error.data.intentId}?wait=60`);
    assert.equal(error.data.decision.action, 'require_human_approval');
    const rest = await getJson(`${stack.baseUrl}/v1/intents/${error.data.intentId}`, token);
    assert.equal(rest.body.status, 'pending_approval');
    assert.equal(await sent(), nonce);
  });

  test('eth_sendRawTransaction is refused: a transaction signed elsewhere would skip the policy', async () => {
    const outsider = privateKeyToAccount(ANVIL_ACCOUNTS[9].privateKey);
    const raw = await outsider.signTransaction({
      chainId: 31337,
      to: STRANGER,
      value: 1n,
      nonce: await stack.chain.getTransactionCount({ address: outsider.address }),
      gas: 21_000n,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 1n,
    });
    const before = await stack.chain.getBalance({ address: STRANGER });
    const error = await refused(request(1, 'eth_sendRawTransaction', [raw]));
    assert.deepEqual([error.code, error.data.code], [4200, 'rpc_method_refused']);
    assert.equal(await stack.chain.getBalance({ address: STRANGER }), before);
  });

  test('eth_sign of a raw hash and eth_signTransaction are refused', async () => {
    const hash = keccak256(stringToHex('anything'));
    const ethSign = await refused(request(1, 'eth_sign', [stack.signerAddress, hash]));
    assert.deepEqual([ethSign.code, ethSign.data.code], [4200, 'rpc_method_refused']);
    const signTx = await refused(request(2, 'eth_signTransaction', [{ from: stack.signerAddress, to: RECIPIENTS[0] }]));
    assert.deepEqual([signTx.code, signTx.data.code], [4200, 'rpc_method_refused']);
  });

  test('personal_sign of a bare 32-byte hash is denied by the path (chain.raw_hash_signing)', async () => {
    const hash = keccak256(stringToHex('a transaction hash in disguise'));
    const error = await refused(request(1, 'personal_sign', [hash, stack.signerAddress]));
    assert.deepEqual([error.code, error.data.code], [-32003, 'policy_denied']);
    assert.equal(error.data.reasons[0].code, 'chain.raw_hash_signing');
  });

  test('an unknown method and EIP-5792 wallet_sendCalls are refused with codes', async () => {
    const unknown = await refused(request(1, 'eth_doSomethingNew', []));
    assert.deepEqual([unknown.code, unknown.data.code], [-32601, 'rpc_method_not_found']);
    const calls = await refused(request(2, 'wallet_sendCalls', [{ calls: [{ to: STRANGER, value: '0x1' }] }]));
    assert.deepEqual([calls.code, calls.data.code], [4200, 'rpc_method_refused']);
  });

  test('a from other than the signer, a nonce, another chain id and a gas below need are refused', async () => {
    const other = await refused(send({ from: RECIPIENTS[0], to: RECIPIENTS[0], value: '0x1' }));
    assert.deepEqual([other.code, other.data.code], [4100, 'rpc_from_mismatch']);
    const nonce = await refused(send({ to: RECIPIENTS[0], value: '0x1', nonce: '0x0' }));
    assert.deepEqual([nonce.code, nonce.data.code], [-32602, 'rpc_nonce_unsupported']);
    const chain = await refused(send({ to: RECIPIENTS[0], value: '0x1', chainId: '0x1' }));
    assert.deepEqual([chain.code, chain.data.code], [4901, 'rpc_chain_mismatch']);
    const gas = await refused(send({ to: RECIPIENTS[0], value: '0x1', gas: '0x1' }));
    assert.deepEqual([gas.code, gas.data.code], [-32000, 'gas_limit_exceeded']);
  });

  test('a batch over 20 requests is refused whole and runs none of them', async () => {
    const batch = Array.from({ length: 21 }, (_, i) => send({ to: RECIPIENTS[0], value: '0x1' }, i));
    const nonce = await sent();
    const res = await rpcCall(stack, token, batch);
    assert.equal(res.status, 200);
    assert.equal(res.body.id, null);
    assert.deepEqual([res.body.error.code, res.body.error.data.code], [-32005, 'rpc_batch_too_large']);
    assert.equal(await sent(), nonce);
  });

  test('a batch with one denied element answers the others, in order', async () => {
    const res = await rpcCall(stack, token, [
      request(1, 'eth_chainId'),
      send({ to: STRANGER, value: toHex(parseEther('0.01')) }, 2),
      send({ to: RECIPIENTS[5], value: toHex(parseEther('0.001')) }, 3),
      request(4, 'personal_sign', [stringToHex('batched hello'), stack.signerAddress]),
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.map((r: { id: number }) => r.id),
      [1, 2, 3, 4],
    );
    assert.equal(res.body[0].result, '0x7a69');
    assert.equal(res.body[1].error.data.code, 'policy_denied');
    const receipt = await stack.chain.waitForTransactionReceipt({ hash: res.body[2].result });
    assert.equal(receipt.status, 'success');
    assert.match(res.body[3].result, /^0x[0-9a-f]{130}$/);
  });

  test('malformed bodies: not JSON, a duplicate member, no jsonrpc, no id', async () => {
    const notJson = await rpcCall(stack, token, '{"jsonrpc":"2.0",');
    assert.equal(notJson.status, 400);
    assert.deepEqual([notJson.body.error.code, notJson.body.error.data.code], [-32700, 'invalid_json']);
    const duplicate = await rpcCall(
      stack,
      token,
      '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","method":"eth_sendTransaction"}',
    );
    assert.deepEqual([duplicate.body.error.code, duplicate.body.error.data.code], [-32700, 'json_duplicate_key']);
    const noVersion = await refused({ id: 1, method: 'eth_chainId' });
    assert.deepEqual([noVersion.code, noVersion.data.code], [-32600, 'rpc_invalid_request']);
    const notification = await refused({ jsonrpc: '2.0', method: 'eth_sendTransaction', params: [] });
    assert.deepEqual([notification.code, notification.data.code], [-32600, 'rpc_invalid_request']);
  });

  test('eth_getLogs wider than 1,000 blocks is refused', async () => {
    const error = await refused(request(1, 'eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x7d0' }]));
    assert.deepEqual([error.code, error.data.code], [-32005, 'rpc_range_too_large']);
  });

  test('no token answers 401 unauthenticated; an unconfigured chain answers 400 chain_not_configured', async () => {
    const res = await fetch(`${stack.baseUrl}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request(1, 'eth_accounts')),
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'unauthenticated');
    const otherChain = await rpcCall(stack, token, request(1, 'eth_chainId'), '/rpc/1');
    assert.deepEqual([otherChain.status, otherChain.body.code], [400, 'chain_not_configured']);
  });
});
