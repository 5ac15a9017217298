import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import type { GatewayConfig } from '../src/config.ts';
import { SecurityStatusService, type SecurityStatus } from '../src/services/security-status-service.ts';
import { randomBytes } from 'node:crypto';
import { verifyAudit } from '../src/services/audit-checkpoints.ts';
import { callJson, nativeTransfer, postIntent, startStack, type Stack } from './support/stack.ts';
import { runJobNow, runNowOnlyJobsEnv } from './support/jobs.ts';

describe('key-age reminders, the security status and erasure of personal data', { timeout: 300_000 }, () => {
  let stack: Stack;
  let owner: string;

  before(async () => {
    // Schedules far away: only "run now" runs the jobs here.
    stack = await startStack({
      env: runNowOnlyJobsEnv('RETENTION_SCHEDULE', 'AUDIT_VERIFY_SCHEDULE', 'BACKUP_SCHEDULE', 'KEY_AGE_SCHEDULE'),
    });
    owner = await stack.loginAs('owner');
  });
  after(async () => stack?.stop());

  const backdateKeys = async (agentId: string, days: number): Promise<string> => {
    const { rows } = await stack.pool.query<{ key_id: string }>(
      `UPDATE api_keys SET created_at = now() - make_interval(days => $2) WHERE agent_id = $1 RETURNING key_id`,
      [agentId, days],
    );
    return rows[0]!.key_id;
  };

  it('the key-age job raises due (80 d), overdue (90 d) and critical (100 d) alerts, and none for young keys', async () => {
    const due = await backdateKeys((await stack.newAgent()).agentId, 85);
    const overdue = await backdateKeys((await stack.newAgent()).agentId, 95);
    const critical = await backdateKeys((await stack.newAgent()).agentId, 105);
    await stack.pool.query(
      `UPDATE settings SET updated_at = now() - interval '101 days' WHERE key = 'ticket_key_id' RETURNING key`,
    );
    const run = await runJobNow(stack, owner, 'key-age');
    assert.equal(run.outcome, 'succeeded', JSON.stringify(run));
    assert.deepEqual(
      { due: run.detail.due, overdue: run.detail.overdue, critical: run.detail.critical },
      { due: 1, overdue: 1, critical: 2 },
    );
    assert.equal(run.detail.signerUnreachable, false);
    assert.ok(run.detail.keys >= 6, 'API keys, access-token key, ticket key and the signer key are dated');

    const { rows } = await stack.pool.query<{ kind: string; severity: string; subject: string; detail: any }>(
      `SELECT kind, severity, subject, detail FROM alerts WHERE kind LIKE 'key_rotation_%' ORDER BY subject`,
    );
    const bySubject = new Map(rows.map((r) => [r.subject, r]));
    assert.equal(rows.length, 4, JSON.stringify(rows));
    assert.equal(bySubject.get(`agent_api_key:${due}`)?.kind, 'key_rotation_due');
    assert.equal(bySubject.get(`agent_api_key:${due}`)?.severity, 'medium');
    assert.equal(bySubject.get(`agent_api_key:${overdue}`)?.kind, 'key_rotation_overdue');
    assert.equal(bySubject.get(`agent_api_key:${overdue}`)?.severity, 'high');
    assert.equal(bySubject.get(`agent_api_key:${critical}`)?.kind, 'key_rotation_critical');
    assert.equal(bySubject.get(`agent_api_key:${critical}`)?.severity, 'critical');
    assert.equal(bySubject.get(`agent_api_key:${critical}`)?.detail.ageDays, 105);
    const ticket = rows.find((r) => r.subject.startsWith('ticket_key:sha256:'));
    assert.equal(ticket?.kind, 'key_rotation_critical');
    // The agent report uses the same thresholds.
    const report = await callJson(stack.baseUrl, owner, 'GET', '/admin/keys/age-report');
    assert.equal(report.status, 200);
    const statuses = new Map(report.body.items.map((k: { keyId: string; status: string }) => [k.keyId, k.status]));
    assert.equal(statuses.get(overdue), 'overdue');
    assert.equal(statuses.get(critical), 'critical');
  });

  it('GET /admin/security-status on a development-style stack scores low, each failing item with evidence and a fix', async () => {
    const res = await callJson(stack.baseUrl, owner, 'GET', '/admin/security-status');
    assert.equal(res.status, 200);
    const status = res.body as Omit<SecurityStatus, 'generatedAt'>;
    assert.equal(status.level, 'needs_attention');
    assert.equal(status.total, status.checks.length);
    assert.ok(status.score < status.total);
    const byId = new Map(status.checks.map((c) => [c.id, c]));
    for (const failing of ['production_mode', 'https', 'owners_totp', 'audit_verified', 'backups', 'key_ages']) {
      assert.equal(byId.get(failing)?.ok, false, failing);
      assert.ok(byId.get(failing)?.fix, `${failing} says what to fix`);
    }
    assert.equal(byId.get('backups')?.evidence, 'BACKUP_LOCATION unset');
    assert.match(byId.get('key_ages')!.evidence, /3 overdue/); // two API keys and the ticket key
    for (const passing of [
      'database_tls',
      'redis_tls',
      'admin_allowlist',
      'secrets_key',
      'default_deny',
      'signer_policy',
    ])
      assert.equal(byId.get(passing)?.ok, true, `${passing}: ${byId.get(passing)?.evidence}`);
  });

  it('only owners and admins read the security status', async () => {
    for (const role of ['operator', 'viewer', 'approver'] as const) {
      const res = await callJson(stack.baseUrl, await stack.loginAs(role), 'GET', '/admin/security-status');
      assert.equal(res.status, 403, role);
      assert.equal(res.body.code, 'forbidden');
    }
    const admin = await callJson(stack.baseUrl, await stack.loginAs('admin'), 'GET', '/admin/security-status');
    assert.equal(admin.status, 200);
  });

  it('a production-style configuration and state scores hardened, and each item flips when its setting does', async () => {
    // State: keys rotated, owners on TOTP, the audit chain verified, a backup taken.
    await stack.pool.query(`UPDATE api_keys SET revoked_at = now() WHERE created_at < now() - interval '80 days'`);
    await stack.pool.query(`UPDATE settings SET updated_at = now() WHERE key = 'ticket_key_id'`);
    await stack.pool.query(`UPDATE users SET totp_enabled_at = now() WHERE role = 'owner'`);
    assert.equal((await runJobNow(stack, owner, 'audit-verify')).outcome, 'succeeded');
    await stack.pool.query(
      `INSERT INTO job_runs (job, trigger, scheduled_for, attempt, runner, finished_at, outcome)
       VALUES ('backup', 'manual', now(), 1, 'test', now(), 'succeeded')`,
    );
    const hardened: GatewayConfig = {
      ...stack.config,
      env: 'production',
      trustedProxies: ['10.0.0.2'],
      jobs: { ...stack.config.jobs, backup: { ...stack.config.jobs.backup, location: '/var/backups/clawd402' } },
    };
    let production: FastifyInstance | null = null;
    try {
      production = await buildApp(hardened, { logger: false, tracker: false, notifications: false });
      const res = await production.inject({
        method: 'GET',
        url: '/admin/security-status',
        headers: { authorization: `Bearer ${owner}` },
      });
      assert.equal(res.statusCode, 200, res.body);
      const status = res.json<SecurityStatus>();
      assert.deepEqual(
        status.checks.filter((c) => !c.ok),
        [],
      );
      assert.equal(status.level, 'hardened');
      assert.equal(status.score, status.total);

      // Each item flips with its setting (same state, one setting changed).
      const score = (config: GatewayConfig): Promise<SecurityStatus> =>
        new SecurityStatusService({
          pool: stack.pool,
          config,
          policy: () => stack.app.services.policyStore.current(),
          signer: stack.app.services.signer,
        }).status();
      const failing = async (config: GatewayConfig): Promise<string[]> =>
        (await score(config)).checks.filter((c) => !c.ok).map((c) => c.id);
      assert.deepEqual(await failing({ ...hardened, env: 'test' }), ['production_mode']);
      assert.deepEqual(await failing({ ...hardened, trustedProxies: [] }), ['https']);
      assert.deepEqual(await failing({ ...hardened, databaseUrl: 'postgres://u@db.internal/x?sslmode=require' }), [
        'database_tls',
      ]);
      assert.deepEqual(await failing({ ...hardened, redisUrl: 'redis://redis.internal:6379' }), ['redis_tls']);
      assert.deepEqual(await failing({ ...hardened, redisUrl: null }), ['redis_tls']);
      assert.deepEqual(
        await failing({
          ...hardened,
          adminAllowedIps: [...hardened.adminAllowedIps, [hardened.adminAllowedIps[0]![0], 0]],
        }),
        ['admin_allowlist'],
      );
      assert.deepEqual(await failing({ ...hardened, secretsKey: null }), ['secrets_key']);
      assert.deepEqual(
        await failing({ ...hardened, notifications: { ...hardened.notifications, allowPrivateAddresses: true } }),
        ['notifications_public_only'],
      );
      assert.deepEqual(
        await failing({ ...hardened, jobs: { ...hardened.jobs, backup: { ...hardened.jobs.backup, location: null } } }),
        ['backups'],
      );
      assert.deepEqual(
        await failing({ ...hardened, chains: [...hardened.chains, { chainId: 8453, rpcUrl: 'https://rpc.example' }] }),
        ['signer_policy'],
      );
      // State flips too: an owner without TOTP, an overdue key.
      const lateOwner = await stack.loginAs('owner');
      assert.ok(lateOwner);
      assert.deepEqual(await failing(hardened), ['owners_totp']);
      await stack.pool.query(`UPDATE users SET totp_enabled_at = now() WHERE role = 'owner'`);
      const stale = await backdateKeys((await stack.newAgent()).agentId, 91);
      const keyCheck = (await score(hardened)).checks.find((c) => c.id === 'key_ages')!;
      assert.equal(keyCheck.ok, false);
      assert.match(keyCheck.evidence, new RegExp(`agent_api_key:${stale}`));
    } finally {
      await production?.close();
    }
  });

  /** Tables (public schema) with a row whose text form contains `needle`. */
  const tablesHolding = async (needle: string): Promise<string[]> => {
    const { rows } = await stack.pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const found: string[] = [];
    for (const { table_name: table } of rows) {
      const hit = await stack.pool.query(`SELECT 1 FROM "${table}" t WHERE t::text LIKE '%' || $1 || '%' LIMIT 1`, [
        needle,
      ]);
      if (hit.rowCount) found.push(table);
    }
    return found;
  };

  it('erasing a user leaves no readable name, address or user agent, keeps their audit records, and the chain verifies', async () => {
    const username = `erasure-${randomBytes(4).toString('hex')}`;
    const userAgent = `ErasureAgent/${randomBytes(4).toString('hex')}`;
    const password = randomBytes(16).toString('hex');
    const created = await callJson(stack.baseUrl, owner, 'POST', '/admin/users', {
      username,
      password,
      role: 'viewer',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const userId = created.body.id as string;
    const login = (pw: string): Promise<Response> =>
      fetch(`${stack.baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify({ username, password: pw }),
      });
    assert.equal((await login('wrong-password-for-erasure')).status, 401);
    assert.equal((await login(password)).status, 200);

    // The audit chain holds refs, never the values; the values are sealed beside it and readable until erasure.
    const records = await stack.pool.query<{ action: string; record: string }>(
      `SELECT action, record FROM audit_log WHERE subject = $1 OR actor = $1 ORDER BY seq`,
      [`user:${userId}`],
    );
    const login_ = records.rows.find((r) => r.action === 'auth.login');
    const ipRef = (JSON.parse(login_!.record) as { data: { ip: { pd: string } } }).data.ip.pd;
    const createdRecord = records.rows.find((r) => r.action === 'user.created')!;
    const nameRef = (JSON.parse(createdRecord.record) as { data: { username: { pd: string } } }).data.username.pd;
    const revealed = await stack.app.services.personalData.reveal([ipRef, nameRef]);
    assert.equal(revealed.get(ipRef)?.value, '127.0.0.1');
    assert.equal(revealed.get(nameRef)?.value, username);
    assert.deepEqual(
      (await tablesHolding(username)).sort(),
      ['auth_failures', 'users'],
      'before erasure the name is only in users and auth_failures',
    );
    assert.deepEqual(await tablesHolding(userAgent), ['sessions']);

    // Only owners erase; an unknown id is not_found.
    const viewer = await stack.loginAs('viewer');
    const refused = await callJson(stack.baseUrl, viewer, 'DELETE', `/admin/users/${userId}/personal-data`);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'forbidden');
    const unknown = await callJson(
      stack.baseUrl,
      owner,
      'DELETE',
      '/admin/users/00000000-0000-4000-8000-000000000000/personal-data',
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'not_found');

    const erased = await callJson(stack.baseUrl, owner, 'DELETE', `/admin/users/${userId}/personal-data`);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.ok(erased.body.erased.sealedValues >= 2);
    assert.equal(erased.body.erased.users, 1);
    assert.equal(erased.body.erased.authFailures, 1);

    assert.deepEqual(await tablesHolding(username), []);
    assert.deepEqual(await tablesHolding(userAgent), []);
    assert.equal((await stack.app.services.personalData.reveal([ipRef, nameRef])).size, 0);
    const sessions = await stack.pool.query<{ ip: string; user_agent: string | null; revoked_at: Date | null }>(
      'SELECT ip, user_agent, revoked_at FROM sessions WHERE user_id = $1',
      [userId],
    );
    assert.ok(sessions.rows.length > 0);
    for (const row of sessions.rows)
      assert.deepEqual([row.ip, row.user_agent, row.revoked_at !== null], ['erased', null, true]);
    // The account is gone for good: the old password no longer logs in.
    assert.equal((await login(password)).status, 401);

    // Every audit record of the user is still there, unchanged, and the chain verifies.
    const after = await stack.pool.query<{ record: string }>(
      `SELECT record FROM audit_log WHERE subject = $1 OR actor = $1 ORDER BY seq`,
      [`user:${userId}`],
    );
    assert.deepEqual(
      after.rows.slice(0, records.rows.length).map((r) => r.record),
      records.rows.map((r) => r.record),
    );
    assert.ok(after.rows.some((r) => JSON.parse(r.record).action === 'user.personal_data_erased'));
    const verified = await verifyAudit({ pool: stack.pool });
    assert.equal(verified.ok, true, JSON.stringify(verified.findings));
  });

  it("erasing an agent's memos clears them and keeps the intents", async () => {
    const agent = await stack.newAgent();
    const memo = `memo-for-erasure-${randomBytes(4).toString('hex')}`;
    const posted = await postIntent(stack.baseUrl, await stack.token(agent.apiKey), { ...nativeTransfer(), memo });
    assert.ok([200, 201, 202].includes(posted.status), JSON.stringify(posted.body));
    assert.deepEqual(await tablesHolding(memo), ['intents']);
    const erased = await callJson(stack.baseUrl, owner, 'DELETE', `/admin/agents/${agent.agentId}/personal-data`);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.equal(erased.body.erased.memos, 1);
    assert.deepEqual(await tablesHolding(memo), []);
    const kept = await stack.pool.query('SELECT id FROM intents WHERE agent_id = $1', [agent.agentId]);
    assert.equal(kept.rowCount, 1);
  });
});
