import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { withTransaction } from '../src/db/pool.ts';
import { securityReportJob } from '../src/jobs/security-report.ts';
import { recordLoginFailure } from '../src/repositories/auth-failures-repository.ts';
import { recordHygieneHit } from '../src/repositories/key-quarantine-repository.ts';
import { setBreakerLevel } from '../src/repositories/spend-repository.ts';
import { jobRuns, runNowOnlyJobsEnv } from './support/jobs.ts';
import { SMTP_LOGIN, localSmtpChannel, putChannel } from './support/notification-channels.ts';
import { decodeQp, startReceiver, startSmtpReceiver, type Receiver } from './support/receivers.ts';
import { callJson, startStack, type Stack } from './support/stack.ts';

const WEBHOOK_SECRET = 'whsec-test-only-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
/** What must never leave in a report: the raw source addresses and the user names tried. */
const PERSONAL = ['203.0.113.7', '2001:db8:1:2::5', 'mallory-tried', 'eve-tried', 'old-name-tried'];

/**
 * The weekly security report on a real stack (docs/security-status.md): known events are seeded through the code that
 * records them (failed logins that end in a block, hygiene hits that quarantine a key, a breaker change) or as rows
 * (incidents, an old key, events outside the week); the occurrence runs through the job runner; the webhook and
 * email channels get exactly those counts, no raw address and no user name; the same occurrence run again sends
 * nothing more; a week with nothing in it says so.
 */
describe('weekly security report', { timeout: 300_000 }, () => {
  let stack: Stack;
  let owner: string;
  let http: Receiver;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let auditDir: string;

  const reports = () => http.received.filter((r) => r.headers['x-clawd402-event'] === 'security.report');
  // Quoted-printable bytes back to UTF-8 text (the report has →, ≥ and –).
  const reportMails = () =>
    smtp.mails
      .map((m) => Buffer.from(decodeQp(m.raw), 'latin1').toString('utf8'))
      .filter((text) => text.includes('Weekly security report'));
  async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>): Promise<T> {
    for (let i = 0; i < 600; i += 1) {
      const value = await fn();
      if (value) return value;
      await stack.app.services.notifications.dispatchOnce();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  /** The job as the gateway builds it (app.ts), to run one occurrence directly. */
  const job = () =>
    securityReportJob({
      pool: stack.pool,
      signer: stack.app.services.signer,
      securityStatus: stack.app.services.securityStatus,
      settings: { ...stack.config.jobs.securityReport, keyAge: stack.config.jobs.keyAge },
      schedule: stack.config.jobs.securityReport.schedule,
    });
  const runOccurrence = (scheduledFor: Date) =>
    job().run({
      log: pino({ level: 'silent' }),
      signal: new AbortController().signal,
      attempt: 2,
      trigger: 'schedule',
      scheduledFor,
    });
  const outbox = async (dedupeKey: string) =>
    (
      await stack.pool.query<{ channel: string; subject: string; payload: any }>(
        `SELECT channel, subject, payload FROM notification_outbox
          WHERE event = 'security.report' AND dedupe_key = $1 ORDER BY channel`,
        [dedupeKey],
      )
    ).rows;

  before(async () => {
    [http, smtp] = await Promise.all([startReceiver(), startSmtpReceiver(SMTP_LOGIN)]);
    auditDir = mkdtempSync(join(tmpdir(), 'dependency-audit-'));
    writeFileSync(
      join(auditDir, 'dependency-audit.json'),
      JSON.stringify({ checkedAt: '2026-11-28T09:15:00Z', outcome: 'passed', detail: '{"high":0,"critical":0}' }),
    );
    stack = await startStack({
      env: {
        NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'true',
        ...runNowOnlyJobsEnv(
          'RETENTION_SCHEDULE',
          'AUDIT_VERIFY_SCHEDULE',
          'BACKUP_SCHEDULE',
          'KEY_AGE_SCHEDULE',
          'SECURITY_REPORT_SCHEDULE',
        ),
        SECURITY_REPORT_CHANNELS: 'ops-hook,ops-mail',
        DEPENDENCY_AUDIT_FILE: join(auditDir, 'dependency-audit.json'),
      },
    });
    owner = await stack.loginAs('owner');
    const put = (name: string, body: unknown) => putChannel(stack.baseUrl, owner, name, body);
    await put('ops-hook', { kind: 'webhook', url: `${http.url}/hooks/ops`, secret: WEBHOOK_SECRET });
    await put('ops-mail', localSmtpChannel(smtp.port, ['security@example.com']));
  });

  after(async () => {
    await stack?.stop();
    await http?.close();
    await smtp?.close();
    if (auditDir) rmSync(auditDir, { recursive: true, force: true });
  });

  it('GET /admin/security-report: 404 not_found before the first report; security:read only', async () => {
    const none = await callJson(stack.baseUrl, owner, 'GET', '/admin/security-report');
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'not_found');
    const viewer = await callJson(stack.baseUrl, await stack.loginAs('viewer'), 'GET', '/admin/security-report');
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, 'forbidden');
  });

  it('a scheduled occurrence reports exactly the seeded week to each channel, once, with no address or name', async () => {
    // 10 failed logins from one address (the tenth blocks it) and 2 from an IPv6 address, two names tried.
    for (let i = 0; i < 10; i += 1)
      await recordLoginFailure(stack.pool, { ip: '203.0.113.7', reason: 'bad_password', subject: 'mallory-tried' });
    for (let i = 0; i < 2; i += 1)
      await recordLoginFailure(stack.pool, { ip: '2001:db8:1:2::5', reason: 'bad_password', subject: 'eve-tried' });
    // Outside the week: a failed login and a block 8–10 days old, an incident opened before it (resolved within it).
    await stack.pool.query(
      `INSERT INTO auth_failures (ip, kind, reason, subject, at)
       VALUES ('198.51.100.1', 'login', 'bad_password', 'old-name-tried', now() - interval '8 days')`,
    );
    await stack.pool.query(
      `INSERT INTO ip_blocks (ip, blocked_at, until, reason)
       VALUES ('198.51.100.1', now() - interval '10 days', now() - interval '9 days', 'failed_logins')`,
    );
    await stack.pool.query(
      `INSERT INTO incidents (rule, severity, subject, summary, opened_at, status, resolved_at, resolved_by)
       VALUES ('cost_spike', 'high', 'agent:00000000-0000-4000-8000-000000000001', 'old spike',
               now() - interval '10 days', 'resolved', now() - interval '3 days', 'user:test')`,
    );
    // In the week: one critical incident, still open.
    await stack.pool.query(
      `INSERT INTO incidents (rule, severity, subject, summary)
       VALUES ('policy_bypass', 'critical', 'agent:00000000-0000-4000-8000-000000000002', 'bypass attempts')`,
    );
    // Three hygiene hits quarantine one key.
    const suspect = await stack.newAgent('suspect');
    const { rows: keyRows } = await stack.pool.query<{ id: string }>('SELECT id FROM api_keys WHERE agent_id = $1', [
      suspect.agentId,
    ]);
    for (let i = 0; i < 3; i += 1)
      await recordHygieneHit(stack.pool, {
        apiKeyId: keyRows[0]!.id,
        agentId: suspect.agentId,
        category: 'secret',
        rule: 'private_key',
        field: 'memo',
      });
    // One breaker change; one API key 95 days old (overdue).
    await withTransaction(stack.pool, (client) =>
      setBreakerLevel(client, 'global', 'normal', 'warning', { spendUsd: '60', thresholdUsd: '50' }),
    );
    const old = await stack.newAgent('old-key');
    await stack.pool.query(`UPDATE api_keys SET created_at = now() - interval '95 days' WHERE agent_id = $1`, [
      old.agentId,
    ]);

    // The occurrence, two seconds from now (after every seeded event), as the runner claims it.
    const { rows } = await stack.pool.query<{ t: Date }>(
      `UPDATE jobs SET occurrence_at = date_trunc('second', now()) + interval '2 seconds',
                       next_run_at = date_trunc('second', now()) + interval '2 seconds'
        WHERE name = 'security-report' RETURNING occurrence_at AS t`,
    );
    const occurrence = rows[0]!.t;
    const run = await until('the scheduled run', async () => {
      const { rows: runs } = await stack.pool.query<{ outcome: string; detail: any }>(
        `SELECT outcome, detail FROM job_runs WHERE job = 'security-report' AND trigger = 'schedule'
            AND scheduled_for = $1 AND outcome <> 'running'`,
        [occurrence],
      );
      return runs[0];
    });
    assert.equal(run.outcome, 'succeeded', JSON.stringify(run.detail));
    assert.deepEqual(run.detail.sent, ['ops-hook', 'ops-mail']);
    const { rows: stored } = await stack.pool.query<{ report: any }>(
      'SELECT report FROM security_reports WHERE occurrence = $1',
      [occurrence],
    );
    const report = stored[0]!.report;
    assert.equal(report.to, occurrence.toISOString());
    assert.equal(report.quiet, false);
    assert.deepEqual(report.failedSignIns, {
      total: 12,
      byKind: { login: 12, api_key: 0, refresh: 0 },
      sourceNetworks: 2,
      topNetworks: [
        { network: '203.0.113.0/24', count: 10 },
        { network: '2001:db8:1::/48', count: 2 },
      ],
      namesTried: 2,
    });
    assert.deepEqual(report.ipBlocks, { started: 1, byReason: { failed_logins: 1 }, inForceAtEnd: 1 });
    assert.deepEqual(report.quarantines, { started: 1, keys: 1, keysRevokedByGateway: 0 });
    assert.deepEqual(report.incidents, {
      opened: { critical: 1, high: 0, medium: 0, low: 0 },
      resolved: { critical: 0, high: 1, medium: 0, low: 0 },
      openAtEnd: { critical: 1, high: 0, medium: 0, low: 0 },
    });
    assert.equal(report.breakers.changes, 1);
    assert.deepEqual(
      report.breakers.list.map((c: any) => [c.scope, c.from, c.to, c.by]),
      [['global', 'normal', 'warning', 'the gateway']],
    );
    assert.deepEqual(
      [report.keyAges.due, report.keyAges.overdue, report.keyAges.critical, report.keyAges.signerUnreachable],
      [0, 1, 0, false],
    );
    const status = await callJson(stack.baseUrl, owner, 'GET', '/admin/security-status');
    assert.deepEqual(
      [report.securityStatus.score, report.securityStatus.total],
      [status.body.score, status.body.total],
    );
    assert.deepEqual(report.dependencyAudit, {
      recorded: true,
      checkedAt: '2026-11-28T09:15:00.000Z',
      outcome: 'passed',
      note: '{"high":0,"critical":0}',
    });

    // One outbox row per channel; the webhook and the email carry those counts and nothing personal.
    const dedupeKey = `security-report:${occurrence.toISOString()}`;
    assert.deepEqual(
      (await outbox(dedupeKey)).map((r) => r.channel),
      ['ops-hook', 'ops-mail'],
    );
    const hook = await until('the webhook delivery', async () => reports()[0]);
    const body = JSON.parse(hook.body);
    assert.equal(body.dedupeKey, dedupeKey);
    assert.deepEqual(body.payload.report.failedSignIns.byKind, { login: 12, api_key: 0, refresh: 0 });
    assert.equal(
      body.subject,
      `Weekly security report ${report.from.slice(0, 10)} – ${report.to.slice(0, 10)}: 12 failed sign-ins, 1 IP block, 1 quarantine, 1 incident opened`,
    );
    const mail = await until('the email', async () => reportMails()[0]);
    assert.match(mail, /12 in the week: 12 operator logins, 0 API-key exchanges, 0 token refreshes\./);
    assert.match(mail, /203\.0\.113\.0\/24: 10/);
    assert.match(mail, /1 started \(failed_logins 1\); 1 in force at the end of the week\./);
    assert.match(mail, /1 quarantine \(1 key\); 0 keys revoked by the gateway\./);
    assert.match(
      mail,
      /Opened 1 \(critical 1\); resolved 1 \(high 1\); open at the end of the week 1 \(critical 1\)\./,
    );
    assert.match(mail, /global: normal → warning \(the gateway\)/);
    assert.match(mail, /0 due \(≥ 80 d\), 1 overdue \(≥ 90 d\), 0 critical \(≥ 100 d\)\./);
    assert.match(mail, /pnpm audit passed on 2026-11-28/);
    for (const text of [hook.body, mail, JSON.stringify(report)])
      for (const personal of PERSONAL) assert.ok(!text.includes(personal), `"${personal}" left in a report`);

    // The same occurrence again (a retry after a replica died before recording its run): nothing sent twice.
    const again = await runOccurrence(occurrence);
    assert.equal(again.outcome, 'succeeded');
    assert.deepEqual([again.detail?.alreadyMade, again.detail?.sent], [true, []]);
    assert.equal((await outbox(dedupeKey)).length, 2);
    await stack.app.services.notifications.dispatchOnce();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stack.app.services.notifications.dispatchOnce();
    assert.equal(reports().length, 1, 'the webhook got the report once');
    assert.equal(reportMails().length, 1, 'the mailbox got the report once');

    // The run history (jobs:read, viewers too) has the headline figures only, not the report.
    const viewer = await stack.loginAs('viewer');
    const history = (await jobRuns(stack.baseUrl, viewer, 'security-report')).find(
      (r) => r.scheduledFor === occurrence.toISOString(),
    );
    assert.equal(history?.detail.failedSignIns, 12);
    assert.equal(history?.detail.report, undefined);
    assert.ok(!JSON.stringify(history).includes('203.0.113.0/24'));

    // Operators read the latest report.
    const latest = await callJson(stack.baseUrl, owner, 'GET', '/admin/security-report');
    assert.equal(latest.status, 200);
    assert.deepEqual(latest.body.channels, ['ops-hook', 'ops-mail']);
    assert.equal(latest.body.occurrence, occurrence.toISOString());
    assert.equal(latest.body.subject, body.subject);
    assert.deepEqual(latest.body.report.failedSignIns, report.failedSignIns);
    assert.deepEqual(
      latest.body.sections.map((s: { title: string }) => s.title),
      body.payload.sections.map((s: { title: string }) => s.title),
    );
  });

  it('a week with nothing in it says so, in the subject and the body', async () => {
    const occurrence = new Date(Date.now() - 30 * 86_400_000);
    const result = await runOccurrence(occurrence);
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.detail?.quiet, true);
    const rows = await outbox(`security-report:${occurrence.toISOString()}`);
    assert.equal(rows.length, 2);
    assert.match(rows[0]!.subject, /^Weekly security report \d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d: a quiet week$/);
    assert.deepEqual(rows[0]!.payload.sections[0], {
      title: 'A quiet week',
      lines: ['No failed sign-ins, IP blocks, API-key quarantines, incidents or circuit-breaker changes this week.'],
    });
    const mail = await until('the quiet-week email', async () => reportMails().find((m) => m.includes('a quiet week')));
    assert.match(mail, /Failed sign-ins\r?\n {2}None\./);
    assert.match(mail, /overdue/, 'key ages are still reported');
  });
});
