// The EIP-3009 test token against a real anvil: what x402's `exact` scheme relies on (USDC's FiatTokenV2 surface).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createPublicClient,
  createWalletClient,
  http,
  parseSignature,
  toHex,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  ANVIL_ACCOUNTS,
  TRANSFER_WITH_AUTHORIZATION_TYPES,
  deployEip3009Token,
  loadArtifact,
  startAnvil,
  type Anvil,
} from '../src/index.ts';

const [deployer, payer, payee, relayer] = ANVIL_ACCOUNTS;

describe('Eip3009Token', { timeout: 180_000 }, () => {
  let anvil: Anvil;
  let token: Address;
  let client: PublicClient;
  const abi = () => loadArtifact('Eip3009Token').abi;

  before(async () => {
    anvil = await startAnvil();
    token = await deployEip3009Token({
      rpcUrl: anvil.rpcUrl,
      deployerKey: deployer.privateKey,
      name: 'USD Coin',
      symbol: 'USDC',
      version: '2',
      supply: 1_000_000n * 10n ** 6n,
    });
    client = createPublicClient({ transport: http(anvil.rpcUrl) });
    const wallet = createWalletClient({
      account: privateKeyToAccount(deployer.privateKey),
      transport: http(anvil.rpcUrl),
    });
    const hash = await wallet.writeContract({
      address: token,
      abi: abi(),
      functionName: 'transfer',
      args: [payer.address, 100n * 10n ** 6n],
      chain: null,
    });
    await client.waitForTransactionReceipt({ hash, timeout: 30_000 });
  });
  after(() => anvil?.stop());

  const read = (functionName: string, args: unknown[] = []) =>
    client.readContract({ address: token, abi: abi(), functionName, args });
  const now = async () => (await client.getBlock()).timestamp;

  async function authorize(value: bigint, nonce: Hex, window: { validAfter: bigint; validBefore: bigint }) {
    const account = privateKeyToAccount(payer.privateKey);
    const message = { from: payer.address, to: payee.address, value, ...window, nonce };
    const signature = await account.signTypedData({
      domain: { name: 'USD Coin', version: '2', chainId: anvil.chainId, verifyingContract: token },
      types: TRANSFER_WITH_AUTHORIZATION_TYPES,
      primaryType: 'TransferWithAuthorization',
      message,
    });
    return { message, signature };
  }

  async function submit(args: unknown[]): Promise<string> {
    const wallet = createWalletClient({
      account: privateKeyToAccount(relayer.privateKey),
      transport: http(anvil.rpcUrl),
    });
    try {
      await client.simulateContract({
        account: relayer.address,
        address: token,
        abi: abi(),
        functionName: 'transferWithAuthorization',
        args,
      });
    } catch (error) {
      return (error as Error).message.match(/FiatTokenV2: [a-z ]+/)?.[0] ?? (error as Error).message;
    }
    const hash = await wallet.writeContract({
      address: token,
      abi: abi(),
      functionName: 'transferWithAuthorization',
      args,
      chain: null,
    });
    const receipt = await client.waitForTransactionReceipt({ hash, timeout: 30_000 });
    return receipt.status === 'success' ? 'ok' : 'reverted';
  }

  const argsOf = (m: Awaited<ReturnType<typeof authorize>>['message']) =>
    [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce] as const;

  test('USDC-like: 6 decimals, name, EIP-712 version "2"', async () => {
    assert.equal(await read('decimals'), 6);
    assert.equal(await read('name'), 'USD Coin');
    assert.equal(await read('version'), '2');
    assert.equal(loadArtifact('Eip3009Token').sourceName, 'contracts/Eip3009Token.sol');
  });

  test('a relayer submits a signed authorisation (bytes signature): the payee is paid, the nonce is used', async () => {
    const t = await now();
    const nonce = toHex(1n, { size: 32 });
    const { message, signature } = await authorize(1_500_000n, nonce, { validAfter: 0n, validBefore: t + 300n });
    const before = (await read('balanceOf', [payee.address])) as bigint;
    assert.equal(await read('authorizationState', [payer.address, nonce]), false);
    assert.equal(await submit([...argsOf(message), signature]), 'ok');
    assert.equal(await read('balanceOf', [payee.address]), before + 1_500_000n);
    assert.equal(await read('authorizationState', [payer.address, nonce]), true);
    // The same authorisation again is refused.
    assert.equal(await submit([...argsOf(message), signature]), 'FiatTokenV2: authorization is used or canceled');
  });

  test('the (v, r, s) overload pays too', async () => {
    const t = await now();
    const { message, signature } = await authorize(10n, toHex(2n, { size: 32 }), {
      validAfter: 0n,
      validBefore: t + 300n,
    });
    const { v, r, s } = parseSignature(signature);
    assert.equal(await submit([...argsOf(message), Number(v), r, s]), 'ok');
  });

  test('expired, not yet valid, altered amount: refused with FiatTokenV2 reasons', async () => {
    const t = await now();
    const expired = await authorize(10n, toHex(3n, { size: 32 }), { validAfter: 0n, validBefore: t - 1n });
    assert.equal(
      await submit([...argsOf(expired.message), expired.signature]),
      'FiatTokenV2: authorization is expired',
    );
    const early = await authorize(10n, toHex(4n, { size: 32 }), { validAfter: t + 600n, validBefore: t + 900n });
    assert.equal(
      await submit([...argsOf(early.message), early.signature]),
      'FiatTokenV2: authorization is not yet valid',
    );
    const good = await authorize(10n, toHex(5n, { size: 32 }), { validAfter: 0n, validBefore: t + 300n });
    const altered = { ...good.message, value: 11n };
    assert.equal(await submit([...argsOf(altered), good.signature]), 'FiatTokenV2: invalid signature');
    assert.equal(await read('authorizationState', [payer.address, good.message.nonce]), false);
  });
});
