// The Ledger backend against Ledger's own recorded APDU exchanges, replayed with @ledgerhq/hw-transport-mocker
// (no physical device here). See fixtures/ledger-recordings.ts for where each exchange comes from and how far its
// genuineness can be checked. The replayer fails on any byte that differs from the recording, so these tests also
// prove the signer sends exactly the APDUs the device answered.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Transaction, verifyTypedData } from 'ethers';
import {
  createPublicClient,
  http,
  parseTransaction,
  recoverTransactionAddress,
  recoverTypedDataAddress,
  toHex,
  type Hex,
  type TransactionSerializableEIP1559,
} from 'viem';
import { openTransportReplayer, RecordStore } from '@ledgerhq/hw-transport-mocker';
import { toWireTransaction, typedDataDigest, type WireTypedData } from '@clawd402/protocol';
import { SignerClient } from '@clawd402/signer-client';
import { startAnvil } from '@clawd402/testkit';
import {
  addLedgerKey,
  LedgerDevice,
  ledgerAddress,
  startSigner,
  type LedgerTransport,
  type RunningSigner,
} from '../src/index.ts';
import {
  DEVICE_ADDRESS,
  DEVICE_TX,
  LEGACY_PERSONAL_SIGN,
  SPECULOS_PERMIT,
  SPECULOS_TX,
} from './fixtures/ledger-recordings.ts';
import {
  gatewayKeys,
  keystoreSignerOptions,
  messageTicketFor,
  rejectsWith,
  tempDir,
  ticketFor,
  writeFileText,
} from './support.ts';

const PACKAGE_DIR = dirname(createRequire(import.meta.url).resolve('@ledgerhq/hw-app-eth/package.json'));
const packageFile = (relative: string): string => readFileSync(join(PACKAGE_DIR, relative), 'utf8');

function wireOf(unsigned: Hex) {
  const tx = parseTransaction(unsigned) as TransactionSerializableEIP1559;
  return toWireTransaction({
    chainId: tx.chainId,
    nonce: tx.nonce!,
    to: tx.to!,
    value: tx.value ?? 0n,
    data: tx.data ?? '0x',
    gas: tx.gas!,
    maxFeePerGas: tx.maxFeePerGas!,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas!,
  });
}

/**
 * A device waiting for a person who never comes: a real hw-transport Transport (the mocker's) whose exchange never
 * answers. Records whether the signer closed it.
 */
async function silentTransport(): Promise<LedgerTransport & { closed: boolean }> {
  const transport = (await openTransportReplayer(RecordStore.fromString(''))) as unknown as LedgerTransport & {
    closed: boolean;
  };
  const close = transport.close.bind(transport);
  transport.closed = false;
  transport.exchange = () => new Promise<Buffer>(() => {});
  transport.close = async () => {
    transport.closed = true;
    await close();
  };
  return transport;
}

describe('Ledger backend, replaying recorded APDU exchanges', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const keyDir = join(tmp.dir, 'keys');
  const passwordFile = writeFileText(join(tmp.dir, 'password'), 'ledger test password\n');
  /** What the next device operation talks to. */
  let nextTransport: () => Promise<LedgerTransport> = () => Promise.reject(new Error('no transport set'));
  const replay = (apdus: string) => () =>
    openTransportReplayer(RecordStore.fromString(apdus)) as Promise<LedgerTransport>;
  let signer: RunningSigner;
  let client: SignerClient;

  before(async () => {
    await addLedgerKey(keyDir, { address: DEVICE_TX.address, path: DEVICE_TX.path, label: 'physical device' });
    await addLedgerKey(keyDir, { address: SPECULOS_TX.address, path: SPECULOS_TX.path, label: 'speculos' });
    await addLedgerKey(keyDir, {
      address: LEGACY_PERSONAL_SIGN.reportedAddress,
      path: LEGACY_PERSONAL_SIGN.path,
      label: 'legacy fixture',
    });
    writeFileText(
      join(tmp.dir, 'policy.yaml'),
      `version: 1\ndefault:\n  chains: [1, 3]\n  maxValuePerTx: "1"\n  maxValuePerDay: "2"\n  operations: [transaction, typed_data, personal_sign]\n`,
    );
    signer = await startSigner({
      ...keystoreSignerOptions(tmp.dir, keyDir, passwordFile, gw),
      ledger: { transport: () => nextTransport(), timeoutMs: 2_000 },
    });
    client = new SignerClient({ socketPath: signer.socketPath, timeoutMs: 10_000 });
  });
  after(async () => {
    await client?.close();
    await signer?.close();
    tmp.cleanup();
  });

  test('the recordings used here are byte for byte the ones in the installed @ledgerhq/hw-app-eth package', () => {
    const unit = packageFile('tests/Eth.unit.test.ts');
    for (const data of [
      DEVICE_TX.request,
      DEVICE_TX.response,
      SPECULOS_TX.request,
      SPECULOS_TX.response,
      LEGACY_PERSONAL_SIGN.request,
      LEGACY_PERSONAL_SIGN.response,
    ]) {
      assert.ok(unit.includes(data), `${data.slice(0, 24)}… is not in the package's tests/Eth.unit.test.ts`);
    }
    for (const line of DEVICE_ADDRESS.apdus.trim().split('\n'))
      assert.ok(unit.includes(line.slice(3)), 'getAddress exchange');
  });

  test('getAddress with confirmation on the device: the replayed physical device reports its address', async () => {
    nextTransport = replay(DEVICE_ADDRESS.apdus);
    const device = new LedgerDevice({ transport: () => nextTransport() });
    assert.equal(
      await ledgerAddress(device, DEVICE_ADDRESS.path, { display: true, chainId: DEVICE_ADDRESS.chainId }),
      DEVICE_ADDRESS.address,
    );
  });

  for (const [name, rec] of [
    ['physical device', DEVICE_TX],
    ['Speculos', SPECULOS_TX],
  ] as const) {
    test(`a transaction signed through the replayed ${name} exchange is valid (viem, ethers) and accepted by anvil`, async () => {
      const tx = wireOf(rec.unsigned);
      nextTransport = replay(`=> ${rec.request}\n<= ${rec.response}\n`);
      const signed = await client.signTransaction({ ticket: await ticketFor(gw, tx, rec.address), transaction: tx });
      assert.equal(signed.from, rec.address);
      assert.equal(
        await recoverTransactionAddress({ serializedTransaction: signed.raw as `0x02${string}` }),
        rec.address,
      );
      assert.equal(Transaction.from(signed.raw).from, rec.address);

      // anvil on the recording's chain, the device's account funded and at the recorded nonce: the node accepts it.
      const anvil = await startAnvil({ chainId: tx.chainId });
      try {
        const chain = createPublicClient({ transport: http(anvil.rpcUrl) });
        await chain.request({ method: 'anvil_setBalance' as never, params: [rec.address, toHex(10n ** 18n)] as never });
        await chain.request({ method: 'anvil_setNonce' as never, params: [rec.address, toHex(tx.nonce)] as never });
        const hash: Hex = await chain.request({ method: 'eth_sendRawTransaction', params: [signed.raw] });
        const receipt = await chain.waitForTransactionReceipt({ hash });
        assert.equal(receipt.status, 'success');
        assert.equal(receipt.from.toLowerCase(), rec.address.toLowerCase());
      } finally {
        await anvil.stop();
      }
    });
  }

  test('EIP-712 typed data through the replayed Speculos exchange: the device hashes the full message; recovers with viem and ethers', async () => {
    const typedData = JSON.parse(packageFile(SPECULOS_PERMIT.messageFile)) as WireTypedData;
    nextTransport = replay(SPECULOS_PERMIT.apduFiles.map(packageFile).join('\n'));
    const ticket = await gw.issuer.issue({
      intentId: 'permit',
      chainId: 1,
      signerKeyId: SPECULOS_PERMIT.address,
      digest: typedDataDigest(typedData),
      operation: 'typed_data',
    });
    const { signature, from } = await client.signTypedData({ ticket, typedData });
    assert.equal(from, SPECULOS_PERMIT.address);
    assert.equal(
      await recoverTypedDataAddress({ ...(typedData as object), signature } as Parameters<
        typeof recoverTypedDataAddress
      >[0]),
      SPECULOS_PERMIT.address,
    );
    const { EIP712Domain: _, ...types } = typedData.types;
    assert.equal(verifyTypedData(typedData.domain, types, typedData.message, signature), SPECULOS_PERMIT.address);
  });

  test("declined on the device (status 0x6985) is device_rejected, and the day's reservation is given back", async () => {
    const tx = wireOf(DEVICE_TX.unsigned);
    const before = (await client.listKeys()).keys.find((k) => k.address === DEVICE_TX.address)!.spentLastDay;
    nextTransport = replay(`=> ${DEVICE_TX.request}\n<= 6985\n`);
    await rejectsWith(
      client.signTransaction({ ticket: await ticketFor(gw, tx, DEVICE_TX.address), transaction: tx }),
      'device_rejected',
    );
    const afterDecline = (await client.listKeys()).keys.find((k) => k.address === DEVICE_TX.address)!.spentLastDay;
    assert.equal(afterDecline, before);
  });

  test('a locked device (status 0x5515) is device_locked', async () => {
    const tx = wireOf(DEVICE_TX.unsigned);
    nextTransport = replay(`=> ${DEVICE_TX.request}\n<= 5515\n`);
    await rejectsWith(
      client.signTransaction({ ticket: await ticketFor(gw, tx, DEVICE_TX.address), transaction: tx }),
      'device_locked',
    );
  });

  test('no confirmation within the device timeout is device_timeout, and the transport is closed', async () => {
    const tx = wireOf(DEVICE_TX.unsigned);
    const silent = await silentTransport();
    nextTransport = async () => silent;
    await rejectsWith(
      client.signTransaction({ ticket: await ticketFor(gw, tx, DEVICE_TX.address), transaction: tx }),
      'device_timeout',
    );
    assert.equal(silent.closed, true);
  });

  test('an absent device (no Ledger on USB, or no HID support on this machine) is device_unavailable', async () => {
    // The production transport: @ledgerhq/hw-transport-node-hid, loaded lazily. Here it finds no device (or no
    // native HID binding at all); either way the signer answers device_unavailable instead of crashing.
    const device = new LedgerDevice({ timeoutMs: 10_000 });
    await rejectsWith(ledgerAddress(device, "m/44'/60'/0'/0/0"), 'device_unavailable');
  });

  test('a device that signs with a different key than configured is device_key_mismatch (nothing is returned)', async () => {
    nextTransport = replay(`=> ${LEGACY_PERSONAL_SIGN.request}\n<= ${LEGACY_PERSONAL_SIGN.response}\n`);
    const ticket = await messageTicketFor(gw, LEGACY_PERSONAL_SIGN.message, LEGACY_PERSONAL_SIGN.reportedAddress, 1);
    await rejectsWith(client.signMessage({ ticket, message: LEGACY_PERSONAL_SIGN.message }), 'device_key_mismatch');
  });
});
