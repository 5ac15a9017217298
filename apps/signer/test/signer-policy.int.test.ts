// The signer's own limits hold against a compromised gateway: every ticket here is validly signed by the trusted
// gateway key, yet the signer refuses what its policy does not allow, and the limits survive a restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { parseEther, toHex, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { SignerClient } from '@clawd402/signer-client';
import {
  generateKey,
  rotateKey,
  startSigner,
  type KeyRecord,
  type RunningSigner,
  type StartSignerOptions,
} from '../src/index.ts';
import {
  gatewayKeys,
  keystoreSignerOptions,
  messageTicketFor,
  permitTypedData,
  rejectsWith,
  tempDir,
  ticketFor,
  typedDataTicketFor,
  wireTx,
  writeFileText,
} from './support.ts';

const FEE = 21_000n * 2_000_000_000n; // gas × maxFeePerGas of wireTx(): counted as worst case

describe('signer policy against a compromised gateway', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const capped = generatePrivateKey();
  const cappedAddress = privateKeyToAccount(capped).address;
  const unlisted = generatePrivateKey();
  const unlistedAddress = privateKeyToAccount(unlisted).address;
  const journalFile = join(tmp.dir, 'journal.jsonl');
  const policyFile = writeFileText(
    join(tmp.dir, 'policy.yaml'),
    `version: 1
keys:
  "${cappedAddress}":
    chains: [31337]
    maxValuePerTx: "1"
    maxValuePerDay: "1.5"
    operations: [transaction]
`,
  );
  const options = (): StartSignerOptions => ({
    socketPath: join(tmp.dir, 'run', 'signer.sock'),
    privateKeys: [capped, unlisted],
    gatewayPublicKeys: [gw.publicKey],
    chains: [31337, 1],
    policyFile,
    journalFile,
  });
  let signer: RunningSigner;
  let client: SignerClient;
  const sign = async (value: bigint, from: Address = cappedAddress, overrides = {}) => {
    const tx = wireTx({ value: value.toString(), ...overrides });
    return client.signTransaction({ ticket: await ticketFor(gw, tx, from), transaction: tx });
  };

  before(async () => {
    signer = await startSigner(options());
    client = new SignerClient({ socketPath: signer.socketPath, connections: 2 });
  });
  after(async () => {
    await client?.close();
    await signer?.close();
    tmp.cleanup();
  });

  test('a validly signed ticket for a value above the per-transaction cap is refused with value_cap_exceeded', async () => {
    await rejectsWith(sign(parseEther('5')), 'value_cap_exceeded');
  });

  test('the per-transaction cap counts the worst-case fee: exactly the cap in value plus gas is value_cap_exceeded', async () => {
    await rejectsWith(sign(parseEther('1')), 'value_cap_exceeded');
    assert.equal((await sign(parseEther('1') - FEE)).from, cappedAddress);
  });

  test("operations the key's entry does not list are operation_not_allowed (typed data, personal_sign)", async () => {
    const typedData = permitTypedData();
    await rejectsWith(
      client.signTypedData({ ticket: await typedDataTicketFor(gw, typedData, cappedAddress), typedData }),
      'operation_not_allowed',
    );
    const message = toHex('hello');
    await rejectsWith(
      client.signMessage({ ticket: await messageTicketFor(gw, message, cappedAddress), message }),
      'operation_not_allowed',
    );
  });

  test("a chain the signer serves but the key's entry does not list is chain_not_allowed", async () => {
    await rejectsWith(sign(1n, cappedAddress, { chainId: 1 }), 'chain_not_allowed');
  });

  test('a key the policy does not name (and no default) signs nothing: operation_not_allowed', async () => {
    await rejectsWith(sign(1n, unlistedAddress), 'operation_not_allowed');
  });

  test('a ticket minted for a transaction cannot be used for a message: ticket_operation_mismatch', async () => {
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, cappedAddress);
    await rejectsWith(client.signMessage({ ticket, message: toHex('x') }), 'ticket_operation_mismatch');
  });

  test('the rolling-day cap: of two concurrent requests that only fit one at a time, exactly one signs', async () => {
    // Spent so far: 1 ETH (value + fee) from the test above. 0.5 ETH is left; each request needs 0.3 + fee.
    const results = await Promise.allSettled([sign(parseEther('0.3')), sign(parseEther('0.3'))]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected')!;
    assert.equal((refused.reason as { code?: string }).code, 'daily_cap_exceeded');
  });

  test('after a restart, a used ticket is still ticket_reused and the daily cap still counts earlier signatures', async () => {
    const tx = wireTx({ value: '1' });
    const ticket = await ticketFor(gw, tx, cappedAddress);
    await client.signTransaction({ ticket, transaction: tx });
    await client.close();
    await signer.close();

    signer = await startSigner(options());
    client = new SignerClient({ socketPath: signer.socketPath, connections: 2 });
    await rejectsWith(client.signTransaction({ ticket, transaction: tx }), 'ticket_reused');
    // 1.3 ETH + fees were signed before the restart; 0.3 more does not fit under 1.5.
    await rejectsWith(sign(parseEther('0.3')), 'daily_cap_exceeded');
    assert.equal((await sign(parseEther('0.1'))).from, cappedAddress);
    const listed = (await client.listKeys()).keys.find((k) => k.address === cappedAddress)!;
    assert.equal(listed.usage.transaction, 4);
    // (1 - fee) + fee, 0.3 + fee, 1 wei + fee, 0.1 + fee: the worst case of every signature, across the restart.
    assert.equal(BigInt(listed.spentLastDay), parseEther('1.4') + 1n + 3n * FEE);
  });
});

describe('rotation: the old key signs only cancellations; the new one inherits its limits', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const keyDir = join(tmp.dir, 'keys');
  const password = 'rotation password';
  const passwordFile = writeFileText(join(tmp.dir, 'password'), password);
  let old: KeyRecord;
  let fresh: KeyRecord;
  let signer: RunningSigner;
  let client: SignerClient;

  before(async () => {
    old = await generateKey(keyDir, { password, scryptN: 1024, agent: 'agent-7', label: 'treasury' });
    writeFileText(
      join(tmp.dir, 'policy.yaml'),
      `version: 1\nkeys:\n  "${old.id}":\n    chains: [31337]\n    maxValuePerTx: "1"\n    maxValuePerDay: "1"\n    operations: [transaction, typed_data]\n`,
    );
    signer = await startSigner(keystoreSignerOptions(tmp.dir, keyDir, passwordFile, gw));
    client = new SignerClient({ socketPath: signer.socketPath });
    const tx = wireTx({ value: parseEther('0.6').toString() });
    await client.signTransaction({ ticket: await ticketFor(gw, tx, old.id), transaction: tx });
    ({ new: fresh } = await rotateKey(keyDir, { key: old.id, password, scryptN: 1024 }));
    await client.close();
    await signer.close();
    signer = await startSigner(keystoreSignerOptions(tmp.dir, keyDir, passwordFile, gw));
    client = new SignerClient({ socketPath: signer.socketPath });
  });
  after(async () => {
    await client?.close();
    await signer?.close();
    tmp.cleanup();
  });

  test('the new key takes over the agent and label; the old one is cancel_only and points to it', async () => {
    const listed = (await client.listKeys()).keys;
    const o = listed.find((k) => k.id === old.id)!;
    const n = listed.find((k) => k.id === fresh.id)!;
    assert.deepEqual(
      [o.state, o.rotatedTo, n.state, n.rotatedFrom, n.agent, n.label],
      ['cancel_only', fresh.id, 'active', old.id, 'agent-7', 'treasury'],
    );
  });

  test('the old key signs a zero-value self-transfer (a cancellation)', async () => {
    const tx = wireTx({ value: '0', to: old.address });
    assert.equal(
      (await client.signTransaction({ ticket: await ticketFor(gw, tx, old.id), transaction: tx })).from,
      old.address,
    );
  });

  test('the old key refuses anything else with key_cancel_only: a payment, a self-transfer with value, typed data', async () => {
    for (const overrides of [
      { value: '1' },
      { value: '1', to: old.address },
      { value: '0', to: old.address, data: '0x00' as Hex },
    ]) {
      const tx = wireTx(overrides);
      await rejectsWith(
        client.signTransaction({ ticket: await ticketFor(gw, tx, old.id), transaction: tx }),
        'key_cancel_only',
      );
    }
    const typedData = permitTypedData();
    await rejectsWith(
      client.signTypedData({ ticket: await typedDataTicketFor(gw, typedData, old.id), typedData }),
      'key_cancel_only',
    );
  });

  test("the new key uses the old key's policy entry and the same rolling day (rotation does not reset the cap)", async () => {
    // 0.6 ETH + fee was spent by the old key; 0.5 more does not fit under the shared 1 ETH day.
    const big = wireTx({ value: parseEther('0.5').toString() });
    await rejectsWith(
      client.signTransaction({ ticket: await ticketFor(gw, big, fresh.id), transaction: big }),
      'daily_cap_exceeded',
    );
    const small = wireTx({ value: parseEther('0.1').toString() });
    assert.equal(
      (await client.signTransaction({ ticket: await ticketFor(gw, small, fresh.id), transaction: small })).from,
      fresh.address,
    );
    const message = toHex('not allowed by the inherited entry');
    await rejectsWith(
      client.signMessage({ ticket: await messageTicketFor(gw, message, fresh.id), message }),
      'operation_not_allowed',
    );
  });
});
