// POST /rpc as an Ethereum JSON-RPC endpoint: viem and ethers, unmodified, point at the gateway and move money through
// the intent path (real gateway, signer and anvil). Refusals are in json-rpc-refusals.int.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { erc20Abi, parseEther, parseUnits, verifyMessage, verifyTypedData, type Address, type Hex } from 'viem';
import { FetchRequest, JsonRpcProvider, verifyTypedData as ethersVerifyTypedData } from 'ethers';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { RECIPIENTS, getJson, startStack, type Stack } from './support/stack.ts';
import { deployTestUsd, fundSigner, registerTestUsd } from './support/test-usd.ts';
import { RPC_POLICY, request, rpcCall, rpcUrl, viemOverRpc } from './support/json-rpc.ts';

const TOKEN_HOLDER = ANVIL_ACCOUNTS[7].privateKey as Hex;
/** EIP-712 fields from `[name, type]` pairs. */
const fields = (...pairs: [string, string][]) => pairs.map(([name, type]) => ({ name, type }));
const MAIL = {
  domain: { name: 'Ether Mail', version: '1', chainId: 31337 },
  types: {
    Person: fields(['name', 'string'], ['wallet', 'address']),
    Mail: fields(['from', 'Person'], ['to', 'Person'], ['contents', 'string']),
  },
  primaryType: 'Mail',
  message: {
    from: { name: 'Cow', wallet: RECIPIENTS[0]! },
    to: { name: 'Bob', wallet: RECIPIENTS[1]! },
    contents: 'Hello, Bob!',
  },
} as const;

describe('POST /rpc: viem and ethers as drop-in wallets', { timeout: 300_000 }, () => {
  let stack: Stack;
  let token: string;
  let tusd: Address;

  before(async () => {
    stack = await startStack({ policy: RPC_POLICY });
    token = await stack.token();
    tusd = await deployTestUsd(stack, TOKEN_HOLDER, '1000000');
    await fundSigner(stack, TOKEN_HOLDER, [[tusd, parseUnits('1000', 6)]]);
    await registerTestUsd(stack, tusd);
  });
  after(async () => stack?.stop());

  test('viem sendTransaction answers the broadcast hash; waitForTransactionReceipt through /rpc sees it mined', async () => {
    const { wallet, reader } = viemOverRpc(stack, token);
    const to = RECIPIENTS[2]!;
    const before = await stack.chain.getBalance({ address: to });
    const hash = await wallet.sendTransaction({
      account: stack.signerAddress,
      chain: wallet.chain,
      to,
      value: parseEther('0.01'),
    });
    const receipt = await reader.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.from.toLowerCase(), stack.signerAddress.toLowerCase());
    assert.equal((await stack.chain.getBalance({ address: to })) - before, parseEther('0.01'));
    // The hash is the intent's: the same transaction the REST API shows.
    const listed = await getJson(`${stack.baseUrl}/v1/intents?limit=1`, token);
    assert.equal(listed.body.items[0].txHash, hash);
    assert.equal(listed.body.items[0].type, 'transfer');
  });

  test('viem writeContract: an ERC-20 transfer is a contract call the policy decodes as a transfer', async () => {
    const { wallet, reader } = viemOverRpc(stack, token);
    const to = RECIPIENTS[3]!;
    const hash = await wallet.writeContract({
      account: stack.signerAddress,
      chain: wallet.chain,
      address: tusd,
      abi: erc20Abi,
      functionName: 'transfer',
      args: [to, parseUnits('5', 6)],
    });
    assert.equal((await reader.waitForTransactionReceipt({ hash })).status, 'success');
    const balance = await reader.readContract({ address: tusd, abi: erc20Abi, functionName: 'balanceOf', args: [to] });
    assert.equal(balance, parseUnits('5', 6));
    const listed = await getJson(`${stack.baseUrl}/v1/intents?limit=1`, token);
    assert.equal(listed.body.items[0].type, 'contract_call');
    assert.equal(listed.body.items[0].decision.policy, 'small_transfers_to_dev_accounts');
  });

  test('viem signMessage and signTypedData: signatures recover to the signer address', async () => {
    const { wallet } = viemOverRpc(stack, token);
    const account = stack.signerAddress;
    const message = 'I agree to the terms (clawd402 json-rpc test)';
    const signature = await wallet.signMessage({ account, message });
    assert.equal(await verifyMessage({ address: account, message, signature }), true);
    const typedSignature = await wallet.signTypedData({ account, ...MAIL });
    assert.equal(await verifyTypedData({ address: account, ...MAIL, signature: typedSignature }), true);
  });

  test('eth_accounts, eth_chainId and the pending nonce answer for the agent; /rpc/:chainId names the chain', async () => {
    const { reader, wallet } = viemOverRpc(stack, token);
    assert.deepEqual(await wallet.getAddresses(), [stack.signerAddress]);
    assert.equal(await reader.getChainId(), 31337);
    const pending = await reader.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' });
    assert.equal(pending, await stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' }));
    const named = await rpcCall(stack, token, request(1, 'eth_chainId'), '/rpc/31337');
    assert.deepEqual(named.body, { jsonrpc: '2.0', id: 1, result: '0x7a69' });
  });

  test("a pending count for the agent's own address includes what the allocator handed out ahead of the chain", async () => {
    const { reader } = viemOverRpc(stack, token);
    const onChain = await stack.chain.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' });
    // As if three transactions were signed and stored but not yet seen by the node.
    await stack.pool.query('UPDATE nonces SET next_nonce = $2 WHERE chain_id = 31337 AND lower(address) = lower($1)', [
      stack.signerAddress,
      onChain + 3,
    ]);
    try {
      assert.equal(
        await reader.getTransactionCount({ address: stack.signerAddress, blockTag: 'pending' }),
        onChain + 3,
      );
      // Any other tag is the chain's own answer.
      assert.equal(await reader.getTransactionCount({ address: stack.signerAddress }), onChain);
    } finally {
      await stack.pool.query(
        'UPDATE nonces SET next_nonce = $2 WHERE chain_id = 31337 AND lower(address) = lower($1)',
        [stack.signerAddress, onChain],
      );
    }
  });

  test('ethers v6: getSigner, sendTransaction then wait, and signTypedData', async () => {
    const fetchRequest = new FetchRequest(rpcUrl(stack));
    fetchRequest.setHeader('authorization', `Bearer ${token}`);
    const provider = new JsonRpcProvider(fetchRequest, 31337, { staticNetwork: true, pollingInterval: 100 });
    try {
      const signer = await provider.getSigner(stack.signerAddress);
      const to = RECIPIENTS[4]!;
      const before = await stack.chain.getBalance({ address: to });
      const tx = await signer.sendTransaction({ to, value: parseEther('0.02') });
      const receipt = await tx.wait();
      assert.equal(receipt?.status, 1);
      assert.equal((await stack.chain.getBalance({ address: to })) - before, parseEther('0.02'));
      const signature = await signer.signTypedData(MAIL.domain, MAIL.types, MAIL.message);
      assert.equal(ethersVerifyTypedData(MAIL.domain, MAIL.types, MAIL.message, signature), stack.signerAddress);
    } finally {
      provider.destroy();
    }
  });
});
