// clawd402 backup end to end, as an operator runs it: real Postgres, the real signer as a process, the CLI as a
// process. Backup → wipe → restore → integrity; a tampered backup fails verify; a wrong key changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { fromWireTransaction, SignerError, toWireTransaction, transactionDigest } from '@clawd402/protocol';
import { generateTicketKeyPair, SignerClient, TicketIssuer } from '@clawd402/signer-client';
import { createTestDatabase, type TestDatabase } from '@clawd402/testkit';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createSilentLogger, startSigner } from '@clawd402/signer';
import { clawd402, run, SIGNER_CLI, startSignerProcess } from './support.ts';
import { databaseContents, seedGatewayDatabase } from './seed.ts';

const tmp = mkdtempSync(join(tmpdir(), 'c402b-'));
const passwordFile = join(tmp, 'password');
const gatewayKeyFile = join(tmp, 'gateway.pub');
const keyDir = join(tmp, 'keys');
const journal = join(tmp, 'journal.jsonl');
const socket = join(tmp, 'run', 's.sock');
const store = join(tmp, 'store');
const identity = join(tmp, 'offline-identity.txt');
const wrongIdentity = join(tmp, 'other-identity.txt');
const { privateKeyPem, publicKeyPem } = generateTicketKeyPair();
const issuer = new TicketIssuer({ privateKey: createPrivateKey(privateKeyPem), keyId: 'gw-test', lifetimeSeconds: 60 });

let source: TestDatabase;
let target: TestDatabase;
let recipient: string;
let backupId: string;
let address: `0x${string}`;
/** A transaction and ticket the signer signed before the backup: the restored signer must refuse the ticket. */
let used: { ticket: string; transaction: ReturnType<typeof toWireTransaction>; at: number };

const serveArgs = () => [
  '--socket',
  socket,
  '--key-dir',
  keyDir,
  '--password-file',
  passwordFile,
  '--gateway-key',
  gatewayKeyFile,
  '--journal',
  journal,
  '--chains',
  '31337',
];
let nonce = 0;
function transfer() {
  return toWireTransaction({
    chainId: 31337,
    nonce: nonce++,
    to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    value: 10n ** 15n,
    data: '0x',
    gas: 21_000n,
    maxFeePerGas: 2_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });
}
async function signOnce(client: SignerClient, transaction = transfer()) {
  const ticket = await issuer.issue({
    intentId: `i-${nonce}`,
    chainId: 31337,
    signerKeyId: address,
    digest: transactionDigest(fromWireTransaction(transaction)),
  });
  return { ticket, transaction, signed: await client.signTransaction({ ticket, transaction }) };
}

/** `clawd402 backup restore` of backup `id` in `store` with `identityFile` into `keys`, `journalFile` and a database. */
function restoreBackup(
  id: string,
  identityFile: string,
  keys: string,
  journalFile: string,
  databaseUrl: string,
  extra: string[] = [],
): ReturnType<typeof clawd402> {
  return clawd402(
    [
      'backup',
      'restore',
      '--from',
      store,
      '--id',
      id,
      '--identity',
      identityFile,
      '--signer-key-dir',
      keys,
      '--signer-journal',
      journalFile,
      ...extra,
    ],
    { DATABASE_URL: databaseUrl },
  );
}

describe('clawd402 backup create | verify | restore', { timeout: 240_000 }, () => {
  before(async () => {
    writeFileSync(passwordFile, 'backup test password\n', { mode: 0o600 });
    writeFileSync(gatewayKeyFile, publicKeyPem, { mode: 0o600 });
    source = await createTestDatabase();
    target = await createTestDatabase();
    await seedGatewayDatabase(source.url, { intents: 300 });
    const generated = run(SIGNER_CLI, [
      'keys',
      'generate',
      '--key-dir',
      keyDir,
      '--password-file',
      passwordFile,
      '--label',
      'hot',
      '--scrypt-n',
      '1024',
    ]);
    assert.equal(await generated.exit, 0, generated.stderr());
    address = JSON.parse(generated.stdout()).address;
    const keygen = await clawd402(['backup', 'keygen', '--out', identity]);
    assert.equal(keygen.status, 0, keygen.stderr);
    recipient = keygen.json.recipient;
    assert.equal((await clawd402(['backup', 'keygen', '--out', wrongIdentity])).status, 0);
  });
  after(async () => {
    await source?.drop();
    await target?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('backup (signer running) → wipe → restore: identical database, audit chain verifies, the restored signer refuses a used ticket with ticket_reused', async () => {
    const signer = await startSignerProcess(serveArgs());
    const client = new SignerClient({ socketPath: socket });
    try {
      await signOnce(client);
      const last = await signOnce(client);
      used = { ticket: last.ticket, transaction: last.transaction, at: Date.now() };
      const created = await clawd402(
        [
          'backup',
          'create',
          '--to',
          store,
          '--recipient',
          recipient,
          '--signer-key-dir',
          keyDir,
          '--signer-journal',
          journal,
        ],
        { DATABASE_URL: source.url },
      );
      assert.equal(created.status, 0, JSON.stringify(created.json) + created.stderr);
      backupId = created.json.id;
      assert.deepEqual(
        created.json.parts.map((p: { name: string }) => p.name),
        ['database.tar.gz.age', 'signer.tar.gz.age'],
      );
      assert.equal(created.json.usedTickets, 2);
    } finally {
      await client.close();
      await signer.stop();
    }
    // Nothing in the backup is readable without the identity: no plaintext key material or table data.
    const manifest = readFileSync(join(store, backupId, 'manifest.json'), 'utf8');
    assert.doesNotMatch(manifest, /AGE-SECRET-KEY|ciphertext|memo /);
    for (const part of ['database.tar.gz.age', 'signer.tar.gz.age']) {
      const bytes = readFileSync(join(store, backupId, part));
      assert.ok(bytes.subarray(0, 22).toString('latin1').startsWith('age-encryption.org/v1'));
      assert.equal(bytes.includes(Buffer.from('"crypto"')), false);
    }

    // Wipe: the signer's state is gone; the target database is a new, empty one.
    rmSync(keyDir, { recursive: true });
    rmSync(journal);
    const restored = await restoreBackup(backupId, identity, keyDir, journal, target.url);
    assert.equal(restored.status, 0, JSON.stringify(restored.json) + restored.stderr);
    assert.equal(restored.json.database.ok, true);
    assert.equal(restored.json.database.audit.ok, true);
    assert.equal(restored.json.database.audit.rows, 301);
    assert.ok(restored.json.database.tables.every((t: { sameContent: boolean }) => t.sameContent));
    assert.equal(restored.json.signer.ok, true);
    assert.equal(restored.json.signer.liveTicketsRemembered, restored.json.signer.liveTickets);

    // Compared outright, not through the tool's own hashes: every table, row for row.
    assert.deepEqual(await databaseContents(target.url), await databaseContents(source.url));
    // The restored audit log is still append-only.
    const db = new pg.Client({ connectionString: target.url });
    await db.connect();
    try {
      await assert.rejects(db.query('UPDATE audit_log SET actor = actor WHERE seq = 1'), /append-only/);
      await assert.rejects(db.query('DELETE FROM audit_log WHERE seq = 1'), /append-only/);
    } finally {
      await db.end();
    }

    // The restored signer, started on the restored key directory and journal, refuses the used ticket with
    // ticket_reused and signs a fresh one with the restored key. Its clock is pinned to the moment the ticket was
    // used: tickets live at most 60 s, and on a loaded machine backup and restore can take longer than that (a real
    // replay after that would be refused as ticket_expired instead, which proves nothing about the journal).
    const again = await startSigner({
      socketPath: socket,
      keyDir,
      passwordFile,
      journalFile: journal,
      gatewayPublicKeys: [createPublicKey(publicKeyPem)],
      chains: [31337],
      logger: createSilentLogger(),
      now: () => used.at,
    });
    const client2 = new SignerClient({ socketPath: socket });
    try {
      assert.deepEqual(
        again.keys.map((k) => k.address),
        [address],
      );
      await assert.rejects(client2.signTransaction(used), (error: unknown) => {
        assert.ok(error instanceof SignerError);
        assert.equal(error.code, 'ticket_reused');
        return true;
      });
      const fresh = transfer();
      const freshTicket = await new TicketIssuer({
        privateKey: createPrivateKey(privateKeyPem),
        keyId: 'gw-test',
        now: () => used.at,
      }).issue({
        intentId: 'fresh',
        chainId: 31337,
        signerKeyId: address,
        digest: transactionDigest(fromWireTransaction(fresh)),
      });
      assert.equal((await client2.signTransaction({ ticket: freshTicket, transaction: fresh })).from, address);
    } finally {
      await client2.close();
      await again.close();
    }
  });

  test('verify: an intact backup passes with and without the identity', async () => {
    const plain = await clawd402(['backup', 'verify', '--from', store, '--id', backupId]);
    assert.equal(plain.status, 0, JSON.stringify(plain.json));
    assert.equal(plain.json.decrypted, false);
    const full = await clawd402(['backup', 'verify', '--from', store, '--identity', identity]);
    assert.equal(full.status, 0, JSON.stringify(full.json));
    assert.equal(full.json.id, backupId);
    assert.equal(full.json.decrypted, true);
  });

  test('verify: one flipped byte in a part fails with backup_hash_mismatch (exit 1)', async () => {
    const copy = join(tmp, 'tampered');
    const { cpSync } = await import('node:fs');
    cpSync(store, copy, { recursive: true });
    const part = join(copy, backupId, 'database.tar.gz.age');
    const bytes = readFileSync(part);
    bytes[bytes.length - 100]! ^= 0x01;
    writeFileSync(part, bytes);
    const result = await clawd402(['backup', 'verify', '--from', copy, '--id', backupId]);
    assert.equal(result.status, 1);
    assert.equal(result.json.error.code, 'backup_hash_mismatch');
    assert.equal(result.json.error.detail.part, 'database.tar.gz.age');

    // Rewriting the manifest to match the changed part does not help: age authenticates every chunk.
    const manifestPath = join(copy, backupId, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const { createHash } = await import('node:crypto');
    manifest.parts[0].sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const deep = await clawd402(['backup', 'verify', '--from', copy, '--id', backupId, '--identity', identity]);
    assert.equal(deep.status, 1);
    assert.equal(deep.json.error.code, 'backup_content_invalid');
  });

  test('restore with the wrong identity fails with backup_decrypt_failed (exit 3) and changes nothing', async () => {
    const empty = await createTestDatabase();
    const otherKeys = join(tmp, 'keys-wrong');
    const otherJournal = join(tmp, 'journal-wrong.jsonl');
    try {
      const result = await restoreBackup(backupId, wrongIdentity, otherKeys, otherJournal, empty.url);
      assert.equal(result.status, 3);
      assert.equal(result.json.error.code, 'backup_decrypt_failed');
      assert.equal((await databaseContents(empty.url)).size, 0);
      assert.equal(existsSync(otherKeys), false);
      assert.equal(existsSync(otherJournal), false);
      assert.doesNotMatch(JSON.stringify(result.json), /AGE-SECRET-KEY/);
    } finally {
      await empty.drop();
    }
  });

  test('restore into a database that is not empty is refused with restore_target_not_empty (exit 3), before decrypting', async () => {
    const freshKeys = join(tmp, 'keys-2');
    const result = await restoreBackup(backupId, identity, freshKeys, join(tmp, 'j2.jsonl'), target.url, [
      '--work-dir',
      join(tmp, 'work'),
    ]);
    assert.equal(result.status, 3);
    assert.equal(result.json.error.code, 'restore_target_not_empty');
    assert.equal(existsSync(freshKeys), false);
    assert.equal(existsSync(join(tmp, 'work')) && readdirSync(join(tmp, 'work')).length > 0, false);
  });
});
