import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@clawd402/testkit';
import { SignerClient, generateTicketKeyPair } from '@clawd402/signer-client';
import { startSigner, type RunningSigner } from '@clawd402/signer';
import { generatePrivateKey } from 'viem/accounts';
import type pg from 'pg';
import { createPool, withTransaction } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { TSX_LOADER } from '../src/dev/signer-process.ts';
import { auditExitCode } from '../src/domain/audit-findings.ts';
import { canonicalJson } from '../src/lib/canonical-json.ts';
import { appendAudit, type AuditRow } from '../src/repositories/audit-repository.ts';
import { AuditCheckpointError, makeAuditCheckpoint, verifyAudit } from '../src/services/audit-checkpoints.ts';

const VERIFY_CLI = new URL('../src/cli/audit-verify.ts', import.meta.url).pathname;
const CHECKPOINT_CLI = new URL('../src/cli/audit-checkpoint.ts', import.meta.url).pathname;

type Row = AuditRow;

/**
 * An audit log that cannot be cut: every way of tampering with the stored chain — a deleted row, an edit of each hashed
 * field, the last rows cut off after a checkpoint, history rewritten under a checkpoint — is found by
 * `pnpm audit:verify` and named with its own finding and exit code. Tampering is done as the table owner with the
 * append-only triggers disabled: what an attacker holding the database could do.
 */
describe('audit log tampering is detected and named', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let signer: RunningSigner;
  let client: SignerClient;
  let pristine: Row[];
  const dir = mkdtempSync(join(tmpdir(), 'c402a-'));
  const socketPath = join(dir, 'signer.sock');

  before(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, 4);
    await migrate(pool);
    signer = await startSigner({
      socketPath,
      privateKeys: [generatePrivateKey()],
      gatewayPublicKeys: [generateTicketKeyPair().publicKeyPem],
      checkpointDir: join(dir, 'checkpoints'),
    });
    client = new SignerClient({ socketPath });
    for (let i = 1; i <= 30; i += 1) {
      await appendAudit(pool, {
        actor: 'system:test',
        action: 'intent.signed',
        subject: `intent:${i}`,
        data: { nonce: i, value: `${i}000` },
      });
    }
    const checkpoint = await makeAuditCheckpoint({ pool, signer: client });
    assert.equal(checkpoint?.count, 30);
    pristine = await rows();
  });
  after(async () => {
    await client?.close();
    await signer?.close();
    await pool?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  // Put the chain back exactly as it was before each tampering.
  afterEach(async () => {
    await asOwner(async (c) => {
      await c.query('DELETE FROM audit_log');
      for (const r of pristine) {
        await c.query(
          'INSERT INTO audit_log (seq, at, actor, action, subject, record, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [r.seq, r.at, r.actor, r.action, r.subject, r.record, r.prev_hash, r.hash],
        );
      }
    });
  });

  async function rows(): Promise<Row[]> {
    return (
      await pool.query<Row>(
        'SELECT seq, at, actor, action, subject, record, prev_hash, hash FROM audit_log ORDER BY seq',
      )
    ).rows;
  }
  async function asOwner(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    await withTransaction(pool, async (c) => {
      await c.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
      await c.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER');
      await fn(c);
      await c.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
      await c.query('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER');
    });
  }
  const verify = () => verifyAudit({ pool, signer: client });
  // Asynchronous on purpose: the signer answering the CLI runs in this process.
  function runCli(
    cli: string,
    env: Record<string, string> = {},
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', TSX_LOADER, cli],
        { env: { ...process.env, DATABASE_URL: db.url, SIGNER_SOCKET: socketPath, ...env }, timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      );
    });
  }
  /** Rewrite one row's record with `edit` applied, and its columns with `columns`, keeping the JSON canonical. */
  async function forgeRecord(
    seq: number,
    edit: (record: Record<string, unknown>) => void,
    columns: Record<string, unknown> = {},
  ): Promise<void> {
    const row = pristine[seq - 1]!;
    const record = JSON.parse(row.record) as Record<string, unknown>;
    edit(record);
    await asOwner(async (c) => {
      await c.query('UPDATE audit_log SET record = $1 WHERE seq = $2', [canonicalJson(record), seq]);
      for (const [name, value] of Object.entries(columns))
        await c.query(`UPDATE audit_log SET ${name} = $1 WHERE seq = $2`, [value, seq]);
    });
  }

  test('the untouched chain and its checkpoint verify: exit 0', async () => {
    const result = await verify();
    assert.deepEqual(result.findings, []);
    assert.deepEqual(result.checkpointsChecked, [30]);
    const cli = await runCli(VERIFY_CLI);
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /audit log verified: 30 rows, head [0-9a-f]{64}, checkpoints at 30/);
  });

  test('a deleted row is named as row_missing (exit 3), and the link after it is not reported twice', async () => {
    await asOwner(async (c) => void (await c.query('DELETE FROM audit_log WHERE seq = 12')));
    const result = await verify();
    assert.deepEqual(result.findings, [{ kind: 'row_missing', seq: 12, detail: 'row 12 is missing' }]);
    const cli = await runCli(VERIFY_CLI);
    assert.equal(cli.status, 3, cli.stdout);
    assert.match(cli.stdout, /BROKEN at seq 12: row_missing: row 12 is missing/);
  });

  for (const field of ['at', 'actor', 'action', 'subject', 'data'] as const) {
    test(`an edit of the hashed field "${field}" (record and its column alike) is named as hash_mismatch at its row (exit 5)`, async () => {
      const forged: Record<string, { record: unknown; column?: unknown }> = {
        at: { record: '2020-01-01T00:00:00.000Z', column: new Date('2020-01-01T00:00:00.000Z') },
        actor: { record: 'user:someone-else', column: 'user:someone-else' },
        action: { record: 'intent.cancelled', column: 'intent.cancelled' },
        subject: { record: 'intent:999', column: 'intent:999' },
        data: { record: { nonce: 7, value: '7000000' } },
      };
      const { record, column } = forged[field]!;
      await forgeRecord(7, (r) => void (r[field] = record), column === undefined ? {} : { [field]: column });
      const { findings } = await verify();
      assert.deepEqual(
        findings,
        [{ kind: 'hash_mismatch', seq: 7, detail: 'hash does not match the record' }],
        'only that row is named',
      );
      assert.equal(auditExitCode(findings), 5);
    });
  }

  for (const column of ['at', 'actor', 'action', 'subject'] as const) {
    test(`an edit of only the query column "${column}" is named as column_mismatch naming it (exit 6)`, async () => {
      const value =
        column === 'at' ? new Date('2021-06-01T00:00:00.000Z') : column === 'subject' ? null : 'system:forged';
      await asOwner(async (c) => void (await c.query(`UPDATE audit_log SET ${column} = $1 WHERE seq = 9`, [value])));
      const { findings } = await verify();
      assert.deepEqual(findings, [
        { kind: 'column_mismatch', seq: 9, detail: `column ${column} differs from the hashed record` },
      ]);
      assert.equal(auditExitCode(findings), 6);
    });
  }

  test('an edited prev_hash is link_broken (exit 4); an edited hash is hash_mismatch and breaks the next link', async () => {
    await asOwner(async (c) => void (await c.query("UPDATE audit_log SET prev_hash = repeat('a', 64) WHERE seq = 5")));
    const linkBroken = (await verify()).findings;
    assert.deepEqual(
      linkBroken.map((f) => [f.kind, f.seq]),
      [
        ['link_broken', 5],
        ['hash_mismatch', 5],
      ],
    );
    assert.equal(auditExitCode(linkBroken), 4);
    await asOwner(
      async (c) => void (await c.query(`UPDATE audit_log SET prev_hash = $1 WHERE seq = 5`, [pristine[4]!.prev_hash])),
    );
    await asOwner(async (c) => void (await c.query("UPDATE audit_log SET hash = repeat('b', 64) WHERE seq = 5")));
    assert.deepEqual(
      (await verify()).findings.map((f) => [f.kind, f.seq]),
      [
        ['hash_mismatch', 5],
        ['link_broken', 6],
      ],
    );
    const cli = await runCli(VERIFY_CLI);
    assert.equal(cli.status, 5, cli.stdout);
  });

  test('history rewritten consistently to the end (every hash recomputed) passes the walk but not the checkpoint: checkpoint_mismatch (exit 9)', async () => {
    await forgeRecord(3, (r) => void ((r.data as Record<string, unknown>).value = '999999999'));
    await asOwner(async (c) => {
      let prev = pristine[1]!.hash;
      for (const r of (await c.query<Row>('SELECT seq, record FROM audit_log WHERE seq >= 3 ORDER BY seq')).rows) {
        const hash = createHash('sha256')
          .update(prev + r.record, 'utf8')
          .digest('hex');
        await c.query('UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3', [prev, hash, r.seq]);
        prev = hash;
      }
    });
    const result = await verify();
    assert.deepEqual(
      result.findings.map((f) => [f.kind, f.seq]),
      [['checkpoint_mismatch', 30]],
    );
    assert.equal((await runCli(VERIFY_CLI)).status, 9);
  });

  test('SECURITY: the last 10 rows cut off after a checkpoint (and its Postgres copy deleted) are named as chain_truncated (exit 8)', async () => {
    for (let i = 31; i <= 40; i += 1)
      await appendAudit(pool, {
        actor: 'system:test',
        action: 'intent.signed',
        subject: `intent:${i}`,
        data: { nonce: i },
      });
    const cli = await runCli(CHECKPOINT_CLI);
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /audit checkpoint: 40 rows, head [0-9a-f]{64}, signed /);
    const extended = await rows();

    // The attacker holds the database: cut the tail and every trace of the checkpoint in Postgres. The chain that is
    // left is perfectly consistent on its own.
    await asOwner(async (c) => {
      await c.query('DELETE FROM audit_log WHERE seq > 30');
      await c.query('DELETE FROM audit_checkpoints WHERE count > 30');
    });
    const result = await verify();
    assert.equal(result.findings.length, 1);
    assert.equal(result.findings[0]!.kind, 'chain_truncated');
    assert.equal(result.findings[0]!.seq, 40);
    assert.match(
      result.findings[0]!.detail,
      /the chain ends at seq 30 but the checkpoint signed at .* counts 40 rows: 10 cut from the end/,
    );
    const out = await runCli(VERIFY_CLI);
    assert.equal(out.status, 8, out.stdout);
    assert.match(out.stdout, /BROKEN at seq 40: chain_truncated/);

    // Nor will the signer bless the shorter chain: a new checkpoint is refused.
    await assert.rejects(
      makeAuditCheckpoint({ pool, signer: client }),
      (e: unknown) => e instanceof AuditCheckpointError && e.reason === 'chain_truncated',
    );
    pristine = extended; // afterEach restores the full chain
  });

  test('without the signer, only the Postgres copies are checked and the output says so; a copy of its checkpoint file and pinned key stand in for it', async () => {
    const cli = await runCli(VERIFY_CLI, { SIGNER_SOCKET: '' });
    assert.match(cli.stdout, /note: no signer configured/);
    const offHost = await runCli(VERIFY_CLI, {
      SIGNER_SOCKET: '',
      AUDIT_CHECKPOINT_FILE: join(dir, 'checkpoints/checkpoints.jws'),
      AUDIT_CHECKPOINT_PUBLIC_KEY_FILE: join(dir, 'checkpoints/checkpoint-ed25519.pub.pem'),
    });
    assert.equal(offHost.status, 0, offHost.stdout + offHost.stderr);
    assert.match(offHost.stdout, /audit log verified: 40 rows, head [0-9a-f]{64}, checkpoints at 40, 30/);
  });

  test('a checkpoint copy forged in Postgres is checkpoint_invalid (exit 10); the signer refuses to sign a shorter or different head', async () => {
    const fake = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'clawd402-audit-checkpoint+jws' })).toString('base64url')}.${Buffer.from(JSON.stringify({ v: 1, count: 99, head: 'c'.repeat(64), at: new Date().toISOString() })).toString('base64url')}.${'A'.repeat(86)}`;
    await asOwner(
      async (c) =>
        void (await c.query('INSERT INTO audit_checkpoints (count, head, signed_at, jws) VALUES (99, $1, now(), $2)', [
          'c'.repeat(64),
          fake,
        ])),
    );
    try {
      assert.deepEqual(
        (await verify()).findings.map((f) => f.kind),
        ['checkpoint_invalid'],
      );
    } finally {
      await asOwner(async (c) => void (await c.query('DELETE FROM audit_checkpoints WHERE count = 99')));
    }
    const latest = (await client.getCheckpoint()).checkpoint!;
    const count = JSON.parse(Buffer.from(latest.split('.')[1]!, 'base64url').toString()).count as number;
    await assert.rejects(
      client.signCheckpoint({ count: count - 1, head: 'd'.repeat(64) }),
      (e: unknown) => (e as { code?: string }).code === 'checkpoint_regressed',
    );
    await assert.rejects(
      client.signCheckpoint({ count, head: 'd'.repeat(64) }),
      (e: unknown) => (e as { code?: string }).code === 'checkpoint_conflict',
    );
  });
});
