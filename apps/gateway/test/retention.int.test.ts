import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { verifyAudit } from '../src/services/audit-checkpoints.ts';
import { callJson, startStack, type Stack } from './support/stack.ts';
import { runJobNow, runNowOnlyJobsEnv } from './support/jobs.ts';

const DAY = 24 * 3600 * 1000;
const ago = (ms: number): Date => new Date(Date.now() - ms);

describe('retention, audit verification and backup jobs', { timeout: 300_000 }, () => {
  let stack: Stack;
  let owner: string;

  before(async () => {
    // Schedules far away: only "run now" runs them here. The in-process gateway runs the jobs.
    stack = await startStack({
      env: runNowOnlyJobsEnv('RETENTION_SCHEDULE', 'AUDIT_VERIFY_SCHEDULE', 'BACKUP_SCHEDULE'),
    });
    owner = await stack.loginAs('owner');
  });
  after(async () => stack?.stop());

  /** Rows of every purged table, one past retention ('old') and one inside it ('new') each. */
  async function seed(): Promise<void> {
    const { pool } = stack;
    const user = (await pool.query<{ id: string }>('SELECT id FROM users LIMIT 1')).rows[0]!.id;
    for (const [tag, expires] of [
      ['old', ago(8 * DAY)],
      ['new', ago(6 * DAY)],
    ] as const) {
      const session = randomUUID();
      await pool.query(
        `INSERT INTO sessions (id, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, '127.0.0.1', $4)`,
        [session, user, expires, `retention-${tag}`],
      );
      await pool.query('INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [
        randomUUID(),
        session,
        `retention-${tag}-${randomUUID()}`,
        expires,
      ]);
    }
    for (const [tag, days] of [
      ['old', 31],
      ['new', 29],
    ] as const) {
      await pool.query(`INSERT INTO auth_failures (ip, at, kind, reason) VALUES ('192.0.2.1', $1, 'login', $2)`, [
        ago(days * DAY),
        `retention-${tag}`,
      ]);
      await pool.query(`INSERT INTO ip_blocks (ip, blocked_at, until, reason) VALUES ($1, $2, $2, $3)`, [
        `192.0.2.${tag === 'old' ? 10 : 11}`,
        ago(days * DAY),
        `retention-${tag}`,
      ]);
      await pool.query(
        `INSERT INTO notification_outbox (channel, event, subject, payload, status, delivered_at, created_at)
         VALUES ('retention', 'test', $2, '{}', 'delivered', $1, $1)`,
        [ago(days * DAY), `retention-${tag}`],
      );
    }
    // An old pending notification and an old dead letter stay: only delivered rows are purged.
    await pool.query(
      `INSERT INTO notification_outbox (channel, event, subject, payload, status, created_at)
       VALUES ('retention', 'test', 'retention-pending', '{}', 'pending', $1), ('retention', 'test', 'retention-dead', '{}', 'dead', $1)`,
      [ago(90 * DAY)],
    );
    await pool.query(
      `INSERT INTO spend_minutes (scope, minute, usd_micros, count) VALUES ('retention-test', date_trunc('minute', $1::timestamptz), 1, 1),
         ('retention-test', date_trunc('minute', $2::timestamptz), 2, 1)`,
      [ago(49 * 3600 * 1000), ago(47 * 3600 * 1000)],
    );
    // Their hour rows (the gateway writes both): the hour of 49 h ago ended before the 48 h cutoff and goes with its
    // minute; the hour of 47 h ago did not, and both stay.
    await pool.query(
      `INSERT INTO spend_hours (scope, hour, usd_micros, count) VALUES ('retention-test', date_trunc('hour', $1::timestamptz, 'UTC'), 1, 1),
         ('retention-test', date_trunc('hour', $2::timestamptz, 'UTC'), 2, 1)`,
      [ago(49 * 3600 * 1000), ago(47 * 3600 * 1000)],
    );
    await pool.query(
      `INSERT INTO alerts (at, kind, severity) VALUES ($1, 'retention-old', 'low'), ($2, 'retention-new', 'low')`,
      [ago(366 * DAY), ago(364 * DAY)],
    );
    // Sealed personal values beside the audit chain (docs/privacy.md): 365 days.
    await pool.query(
      `INSERT INTO personal_data (ref, subject, field, sealed, created_at)
       VALUES ($1, 'user:retention', 'ip', 'retention-old', $3), ($2, 'user:retention', 'ip', 'retention-new', $4)`,
      [randomUUID(), randomUUID(), ago(366 * DAY), ago(364 * DAY)],
    );
  }

  it('a retention run deletes the rows past retention, keeps newer ones, and never touches the audit chain', async () => {
    await seed();
    const { pool } = stack;
    const auditBefore = Number((await pool.query('SELECT count(*) AS n FROM audit_log')).rows[0].n);
    const run = await runJobNow(stack, owner, 'retention');
    assert.equal(run.outcome, 'succeeded', JSON.stringify(run));
    assert.equal(run.detail.deleted.sessions, 1);
    assert.equal(run.detail.deleted.refresh_tokens, 1);
    assert.equal(run.detail.deleted.auth_failures, 1);
    assert.equal(run.detail.deleted.ip_blocks, 1);
    assert.equal(run.detail.deleted.notification_outbox, 1);
    assert.equal(run.detail.deleted.spend_minutes, 1);
    assert.equal(run.detail.deleted.spend_hours, 1);
    assert.equal(run.detail.deleted.alerts, 1);
    assert.equal(run.detail.deleted.personal_data, 1);

    const left = async (sql: string): Promise<string[]> => (await pool.query(sql)).rows.map((r) => r.tag);
    assert.deepEqual(await left(`SELECT sealed AS tag FROM personal_data WHERE subject = 'user:retention'`), [
      'retention-new',
    ]);
    assert.deepEqual(await left(`SELECT user_agent AS tag FROM sessions WHERE user_agent LIKE 'retention-%'`), [
      'retention-new',
    ]);
    assert.deepEqual(
      await left(
        `SELECT split_part(token_hash, '-', 2) AS tag FROM refresh_tokens WHERE token_hash LIKE 'retention-%'`,
      ),
      ['new'],
    );
    assert.deepEqual(await left(`SELECT reason AS tag FROM auth_failures WHERE reason LIKE 'retention-%'`), [
      'retention-new',
    ]);
    assert.deepEqual(await left(`SELECT reason AS tag FROM ip_blocks WHERE reason LIKE 'retention-%'`), [
      'retention-new',
    ]);
    assert.deepEqual(
      await left(`SELECT subject AS tag FROM notification_outbox WHERE channel = 'retention' ORDER BY subject`),
      ['retention-dead', 'retention-new', 'retention-pending'],
    );
    assert.deepEqual(await left(`SELECT usd_micros::text AS tag FROM spend_minutes WHERE scope = 'retention-test'`), [
      '2',
    ]);
    assert.deepEqual(await left(`SELECT usd_micros::text AS tag FROM spend_hours WHERE scope = 'retention-test'`), [
      '2',
    ]);
    assert.deepEqual(await left(`SELECT kind AS tag FROM alerts WHERE kind LIKE 'retention-%'`), ['retention-new']);

    // The audit chain is append-only: the purge removed nothing from it and it still verifies.
    const auditAfter = Number((await pool.query('SELECT count(*) AS n FROM audit_log')).rows[0].n);
    assert.ok(auditAfter >= auditBefore, 'no audit row is purged');
    const verified = await verifyAudit({ pool });
    assert.equal(verified.ok, true, JSON.stringify(verified.findings));

    // A second run finds nothing more.
    const again = await runJobNow(stack, owner, 'retention');
    assert.equal(again.outcome, 'succeeded');
    assert.equal(
      Object.values(again.detail.deleted as Record<string, number>).reduce((a, b) => a + b, 0),
      0,
    );
  });

  it('the backup job is skipped, not failed, when BACKUP_LOCATION is not set', async () => {
    const run = await runJobNow(stack, owner, 'backup');
    assert.equal(run.outcome, 'skipped');
    assert.equal(run.detail.reason, 'BACKUP_LOCATION is not set');
  });

  it('scheduled audit verification passes on an intact chain and raises a critical alert when it is broken', async () => {
    const ok = await runJobNow(stack, owner, 'audit-verify');
    assert.equal(ok.outcome, 'succeeded', JSON.stringify(ok));
    assert.ok(ok.detail.rows > 0);

    // Tamper with one audit row as the database owner would (triggers off), as audit-tamper.int.test.ts does.
    const c = await stack.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
      await c.query(`UPDATE audit_log SET actor = 'user:forged' WHERE seq = 1`);
      await c.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const broken = await runJobNow(stack, owner, 'audit-verify');
    assert.equal(broken.outcome, 'failed');
    assert.match(broken.error ?? '', /audit chain broken at seq 1/);
    const alerts = await stack.pool.query(
      `SELECT severity, detail FROM alerts WHERE kind = 'audit_verification_failed' ORDER BY id DESC LIMIT 1`,
    );
    assert.equal(alerts.rows[0]?.severity, 'critical');
    assert.equal(alerts.rows[0]?.detail.first.seq, 1);
  });

  it('run-now needs jobs:run and names a registered job', async () => {
    const viewer = await stack.loginAs('viewer');
    const listed = await callJson(stack.baseUrl, viewer, 'GET', '/admin/jobs');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((j: { name: string }) => j.name),
      ['audit-verify', 'backup', 'key-age', 'retention', 'security-report'],
    );
    const refused = await callJson(stack.baseUrl, viewer, 'POST', '/admin/jobs/retention/run');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'forbidden');
    const unknown = await callJson(stack.baseUrl, owner, 'POST', '/admin/jobs/no-such-job/run');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'not_found');
    const agent = await stack.token();
    const asAgent = await callJson(stack.baseUrl, agent, 'GET', '/admin/jobs');
    assert.equal(asAgent.status, 403);
  });
});
