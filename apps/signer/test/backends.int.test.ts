// Each software key backend end to end: keys made by the key directory, served by the signer, transactions accepted
// by anvil, typed data and personal_sign signatures recovered with viem and with ethers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { verifyMessage, verifyTypedData } from 'ethers';
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  recoverMessageAddress,
  recoverTypedDataAddress,
  toHex,
  type Hex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { toWireTransaction } from '@clawd402/protocol';
import { SignerClient } from '@clawd402/signer-client';
import { ANVIL_ACCOUNTS, startAnvil, type Anvil } from '@clawd402/testkit';
import { generateKey, importKey, startSigner, type KeyRecord, type RunningSigner } from '../src/index.ts';
import {
  gatewayKeys,
  messageTicketFor,
  permitTypedData,
  tempDir,
  ticketFor,
  typedDataTicketFor,
  writeFileText,
} from './support.ts';

// anvil's PUBLIC dev mnemonic (never real funds): importing it proves BIP-44 derivation against anvil's own accounts.
const ANVIL_PUBLIC_DEV_MNEMONIC = 'test test test test test test test test test test test junk';

describe('key backends: keystore and HD wallet', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const keyDir = join(tmp.dir, 'keys');
  const passwordFile = writeFileText(join(tmp.dir, 'password'), 'backend test password\n');
  let anvil: Anvil;
  let signer: RunningSigner;
  let client: SignerClient;
  const keys: Record<string, KeyRecord> = {};

  before(async () => {
    anvil = await startAnvil({});
    const common = { password: 'backend test password', scryptN: 1024 };
    keys.keystore = await generateKey(keyDir, { ...common, label: 'random keystore key', agent: 'agent-a' });
    // Import anvil's public mnemonic as an HD wallet; index 0 becomes a key, then generate derives index 1.
    const mnemonicFile = writeFileText(join(tmp.dir, 'mnemonic'), `${ANVIL_PUBLIC_DEV_MNEMONIC}\n`);
    keys.hd0 = await importKey(keyDir, { mnemonicFile, hdWallet: 'dev' }, { ...common, agent: 'agent-b' });
    keys.hd1 = await generateKey(keyDir, { ...common, hdWallet: 'dev', agent: 'agent-c' });
    signer = await startSigner({
      socketPath: join(tmp.dir, 'run', 'signer.sock'),
      keyDir,
      passwordFile,
      gatewayPublicKeys: [gw.publicKey],
      chains: [anvil.chainId],
      journalFile: join(tmp.dir, 'journal.jsonl'),
    });
    client = new SignerClient({ socketPath: signer.socketPath });
    // Fund the random key from anvil's (public) account 0.
    const funder = createWalletClient({
      account: privateKeyToAccount(ANVIL_ACCOUNTS[0].privateKey as Hex),
      transport: http(anvil.rpcUrl),
    });
    const chain = createPublicClient({ transport: http(anvil.rpcUrl) });
    await chain.waitForTransactionReceipt({
      hash: await funder.sendTransaction({ to: keys.keystore.address, value: parseEther('10'), chain: null }),
    });
  });
  after(async () => {
    await client?.close();
    await signer?.close();
    await anvil?.stop();
    tmp.cleanup();
  });

  test("HD keys derive BIP-44 m/44'/60'/0'/0/<index>, one index per agent (anvil accounts 0 and 1)", () => {
    assert.equal(keys.hd0!.path, "m/44'/60'/0'/0/0");
    assert.equal(keys.hd0!.address, ANVIL_ACCOUNTS[0].address);
    assert.equal(keys.hd1!.path, "m/44'/60'/0'/0/1");
    assert.equal(keys.hd1!.address, ANVIL_ACCOUNTS[1].address);
    assert.deepEqual(
      signer.keys.map((k) => k.address).sort(),
      [keys.keystore!.address, keys.hd0!.address, keys.hd1!.address].sort(),
    );
  });

  for (const name of ['keystore', 'hd0', 'hd1']) {
    test(`a transaction signed by the ${name} key is accepted and mined by anvil`, async () => {
      const from = keys[name]!.address;
      const chain = createPublicClient({ transport: http(anvil.rpcUrl) });
      const nonce = await chain.getTransactionCount({ address: from, blockTag: 'pending' });
      const block = await chain.getBlock();
      const tx = toWireTransaction({
        chainId: anvil.chainId,
        nonce,
        to: ANVIL_ACCOUNTS[5].address,
        value: 12_345n,
        data: '0x',
        gas: 21_000n,
        maxFeePerGas: block.baseFeePerGas! * 2n + 1_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
      });
      const signed = await client.signTransaction({ ticket: await ticketFor(gw, tx, from), transaction: tx });
      assert.equal(signed.from, from);
      const hash: Hex = await chain.request({ method: 'eth_sendRawTransaction', params: [signed.raw] });
      assert.equal(hash, signed.hash);
      const receipt = await chain.waitForTransactionReceipt({ hash });
      assert.equal(receipt.status, 'success');
      assert.equal(receipt.from.toLowerCase(), from.toLowerCase());
    });

    test(`typed data signed by the ${name} key recovers to it with viem and with ethers`, async () => {
      const from = keys[name]!.address;
      const typedData = permitTypedData(anvil.chainId, from);
      const { signature, from: signedBy } = await client.signTypedData({
        ticket: await typedDataTicketFor(gw, typedData, from, anvil.chainId),
        typedData,
      });
      assert.equal(signedBy, from);
      assert.equal(
        await recoverTypedDataAddress({ ...(typedData as object), signature } as Parameters<
          typeof recoverTypedDataAddress
        >[0]),
        from,
      );
      assert.equal(verifyTypedData(typedData.domain, typedData.types, typedData.message, signature), from);
    });

    test(`a personal_sign message signed by the ${name} key recovers to it with viem and with ethers`, async () => {
      const from = keys[name]!.address;
      const text = `clawd402 login for ${name}`;
      const message = toHex(text);
      const { signature } = await client.signMessage({
        ticket: await messageTicketFor(gw, message, from, anvil.chainId),
        message,
      });
      assert.equal(await recoverMessageAddress({ message: { raw: message }, signature }), from);
      assert.equal(verifyMessage(text, signature), from);
    });
  }

  test('list_keys gives addresses, metadata and usage counters, never key material', async () => {
    const { keys: listed } = await client.listKeys();
    const hd1 = listed.find((k) => k.address === keys.hd1!.address)!;
    assert.equal(hd1.backend, 'hd');
    assert.equal(hd1.path, "m/44'/60'/0'/0/1");
    assert.equal(hd1.agent, 'agent-c');
    assert.equal(hd1.state, 'active');
    assert.deepEqual(
      { ...hd1.usage, lastUsed: typeof hd1.usage.lastUsed },
      { transaction: 1, typed_data: 1, personal_sign: 1, lastUsed: 'string' },
    );
    assert.equal(listed.find((k) => k.address === keys.keystore!.address)!.backend, 'keystore');
    const text = JSON.stringify(listed).toLowerCase();
    assert.equal(text.includes(ANVIL_ACCOUNTS[1].privateKey.slice(2).toLowerCase()), false);
  });
});
