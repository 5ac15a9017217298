/**
 * Notifications against real Postgres: channels through the admin API (secrets sealed, never answered), the outbox
 * committing with the caller's transaction, the dispatcher (one deterministic pass at a time, clock injected)
 * delivering to local receivers — generic webhook with HMAC, Slack, PagerDuty, email over a local SMTP server —
 * retrying with backoff, dead-lettering, refusing redirects and non-public destinations at send time.
 *
 * No chain or signer is involved, so the gateway is built on a fresh database alone (no anvil, no signer process).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import pino from 'pino';
import { createTestDatabase, type TestDatabase } from '@clawd402/testkit';
import { configFixture, type ConfigFixture } from './support/config-env.ts';
import { buildApp } from '../src/app.ts';
import { loadConfig, type GatewayConfig } from '../src/config.ts';
import { withTransaction } from '../src/db/pool.ts';
import {
  NotificationDispatcher,
  enqueueNotification,
  listChannelNames,
  verifyWebhookSignature,
  type Resolver,
} from '../src/notifications/index.ts';
import {
  findNotificationState,
  listNotificationStates,
  upsertChannel,
} from '../src/repositories/notifications-repository.ts';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { secretContext } from '../src/notifications/channel-settings.ts';
import { notificationDispatcher } from '../src/workers/gateway-workers.ts';
import { decodeQp, startReceiver, startSmtpReceiver } from './support/receivers.ts';
import { Worker } from '../src/workers/worker.ts';

const PASSWORD = 'correct horse battery staple';
const CONSOLE = 'https://console.example.com';
// Test-only secrets (never real): an HMAC secret, a fake Slack path token, an SMTP password, a PagerDuty routing key.
const WEBHOOK_SECRET = 'whsec-test-only-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const SLACK_TOKEN = 'T000TEST/B000TEST/testonlyXXXXXXXXXXXXXXXXXX9zQ';
const SMTP_PASSWORD = 'smtp-test-only-password-Kq7w';
const ROUTING_KEY = 'R0UT1NGKEYTESTONLY00000000000Zx4';

describe('notifications', () => {
  let fixture: ConfigFixture;
  let db: TestDatabase;
  let config: GatewayConfig;
  let app: FastifyInstance;
  let strictApp: FastifyInstance;
  let pool: pg.Pool;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const tokens: Record<string, string> = {};
  let nowMs = Date.now();
  const clock = (): Date => new Date(nowMs);
  const silent = pino({ level: 'silent' });

  /** A dispatcher under the test's control: injected clock, jitter fixed at the midpoint, small backoff. */
  const dispatcher = (over: { allowPrivateAddresses?: boolean; maxAttempts?: number; resolve?: Resolver } = {}) =>
    new NotificationDispatcher({
      pool,
      secrets: app.services.secrets,
      log: silent,
      settings: {
        production: false,
        allowPrivateAddresses: over.allowPrivateAddresses ?? true,
        maxAttempts: over.maxAttempts ?? 5,
        timeoutMs: 5_000,
        consoleBaseUrl: CONSOLE,
      },
      clock,
      random: () => 0.5,
      backoff: { baseMs: 1_000, capMs: 60_000 },
      ...(over.resolve ? { resolve: over.resolve } : {}),
    });

  const call = (
    target: FastifyInstance,
    role: string,
    method: 'GET' | 'PUT' | 'DELETE' | 'POST',
    url: string,
    payload?: unknown,
  ) =>
    target.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens[role]}` },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  const admin = (method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, payload?: unknown) =>
    call(app, 'admin', method, url, payload);
  const lastRow = async (channel: string) => (await listNotificationStates(pool, channel, 1))[0]!;

  before(async () => {
    fixture = configFixture('clawd402-notify-');
    db = await createTestDatabase();
    config = loadConfig({
      ...fixture.test,
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      // No chain or signer is contacted by anything under test here.
      CHAIN_RPC_URLS: '31337=http://127.0.0.1:1',
      SIGNER_SOCKET: join(fixture.dir, 'no-signer.sock'),
      SECRETS_KEY_FILE: fixture.file('secrets.key', randomBytes(32).toString('hex')),
      RATE_LIMIT_IP_PER_MIN: '1000000',
      RATE_LIMIT_PRINCIPAL_PER_MIN: '1000000',
      RATE_LIMIT_PRINCIPAL_BURST: '1000000',
      RATE_LIMIT_ADMIN_PER_MIN: '1000000',
      RATE_LIMIT_AUTH_PER_MIN: '1000000',
      NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'true',
      CONSOLE_BASE_URL: CONSOLE,
    });
    // `app` allows private destinations (the receivers listen on 127.0.0.1); `strictApp` is the default rule.
    app = await buildApp(config, { logger: false, tracker: false, notifications: false });
    strictApp = await buildApp(
      { ...config, notifications: { ...config.notifications, allowPrivateAddresses: false } },
      { logger: false, tracker: false, notifications: false },
    );
    pool = app.services.pool;
    for (const role of ['owner', 'admin', 'operator', 'approver', 'viewer']) {
      await createUser(pool, {
        username: `${role}-user`,
        passwordHash: await hashPassword(PASSWORD),
        role: role as 'owner',
      });
      const login = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: `${role}-user`, password: PASSWORD },
      });
      assert.equal(login.statusCode, 200, login.body);
      tokens[role] = login.json().access_token;
    }
    receiver = await startReceiver();
    // The test clock runs an hour ahead of Postgres' now(), so rows enqueued during a test are due at once; tests
    // then move it forward explicitly.
    nowMs = Date.now() + 3_600_000;
  });
  after(async () => {
    await receiver?.close();
    await strictApp?.close();
    await app?.close();
    await db?.drop();
    fixture?.remove();
  });

  test('a webhook reaches the receiver signed; verifyWebhookSignature accepts it and refuses a tampered body or an old timestamp', async () => {
    const saved = await admin('PUT', '/admin/notifications/channels/ops-hook', {
      kind: 'webhook',
      url: `${receiver.url}/hooks/ops`,
      secret: WEBHOOK_SECRET,
    });
    assert.equal(saved.statusCode, 201, saved.body);
    assert.equal(
      (
        await admin('PUT', '/admin/notifications/channels/ops-hook', {
          kind: 'webhook',
          url: `${receiver.url}/hooks/ops`,
          secret: WEBHOOK_SECRET,
        })
      ).statusCode,
      200,
      'a second PUT replaces',
    );

    await withTransaction(pool, (client) =>
      enqueueNotification(client, {
        channel: 'ops-hook',
        event: 'approval.requested',
        subject: 'Approve 2 ETH',
        payload: { approvalId: 'apr_7', amount: '2' },
        dedupeKey: 'approval:apr_7',
      }),
    );
    const before = receiver.received.length;
    await dispatcher().dispatchOnce();
    const delivery = receiver.received.slice(before).find((r) => r.url === '/hooks/ops');
    assert.ok(delivery, 'the receiver got the webhook');
    assert.equal(delivery.headers['content-type'], 'application/json');
    const header = delivery.headers['x-clawd402-signature'] as string;
    assert.match(
      header,
      new RegExp(`^t=${Math.floor(nowMs / 1000)},v1=[0-9a-f]{64}$`),
      'signed with the dispatcher clock',
    );
    const body = JSON.parse(delivery.body);
    assert.equal(body.event, 'approval.requested');
    assert.equal(body.dedupeKey, 'approval:apr_7');
    assert.deepEqual(body.payload, { approvalId: 'apr_7', amount: '2' });
    assert.equal(body.links.approve, `${CONSOLE}/console/approvals/apr_7?decision=approve`);
    assert.equal(delivery.headers['x-clawd402-delivery'], body.id);

    assert.equal(verifyWebhookSignature(WEBHOOK_SECRET, header, delivery.body, clock(), 300), true);
    assert.equal(
      verifyWebhookSignature(WEBHOOK_SECRET, header, delivery.body.replace('"2"', '"200"'), clock(), 300),
      false,
      'tampered body',
    );
    assert.equal(
      verifyWebhookSignature(WEBHOOK_SECRET, header, delivery.body, new Date(nowMs + 301_000), 300),
      false,
      'old timestamp (replay)',
    );

    const row = await lastRow('ops-hook');
    assert.deepEqual([row.status, row.attempts, row.lastHttpStatus, row.lastErrorCode], ['delivered', 1, 200, null]);
  });

  test('the outbox commits with the caller: a rolled-back transaction leaves nothing; a repeated dedupe key is enqueued once', async () => {
    await assert.rejects(
      withTransaction(pool, async (client) => {
        await enqueueNotification(client, {
          channel: 'rollback-check',
          event: 'approval.requested',
          subject: 'never',
          payload: {},
        });
        throw new Error('the approval failed');
      }),
      /the approval failed/,
    );
    assert.equal((await listNotificationStates(pool, 'rollback-check')).length, 0);
    await enqueueNotification(pool, {
      channel: 'dedupe-check',
      event: 'breaker.tripped',
      subject: 'once',
      payload: {},
      dedupeKey: 'breaker:global:soft',
    });
    await enqueueNotification(pool, {
      channel: 'dedupe-check',
      event: 'breaker.tripped',
      subject: 'twice',
      payload: {},
      dedupeKey: 'breaker:global:soft',
    });
    assert.equal((await listNotificationStates(pool, 'dedupe-check')).length, 1);
    await assert.rejects(
      enqueueNotification(pool, { channel: 'Bad Name', event: 'x', subject: 's', payload: {} }),
      TypeError,
    );
  });

  test('a failing endpoint is retried with exponential backoff and jitter, then dead-lettered', async () => {
    receiver.setRespond((r) => (r.url === '/flaky' ? { status: 500 } : { status: 200 }));
    await admin('PUT', '/admin/notifications/channels/flaky', {
      kind: 'webhook',
      url: `${receiver.url}/flaky`,
      secret: WEBHOOK_SECRET,
    });
    await enqueueNotification(pool, {
      channel: 'flaky',
      event: 'breaker.tripped',
      subject: 'Breaker soft',
      payload: {},
    });
    const d = dispatcher({ maxAttempts: 3 });
    const hits = () => receiver.received.filter((r) => r.url === '/flaky').length;

    await d.dispatchOnce();
    let row = await lastRow('flaky');
    assert.deepEqual(
      [row.status, row.attempts, row.lastHttpStatus, row.lastErrorCode],
      ['pending', 1, 500, 'http_error'],
    );
    assert.equal(row.nextAttemptAt.getTime(), nowMs + 750, 'attempt 1 waits base (1 s) with jitter 0.5 → 750 ms');
    assert.ok(!row.lastError?.includes('upstream body'), 'the upstream body is never stored');

    await d.dispatchOnce();
    assert.equal(hits(), 1, 'not due yet: no attempt');

    nowMs += 750;
    await d.dispatchOnce();
    row = await lastRow('flaky');
    assert.deepEqual([row.status, row.attempts], ['pending', 2]);
    assert.equal(row.nextAttemptAt.getTime(), nowMs + 1_500, 'attempt 2 waits twice as long');

    nowMs += 1_500;
    await d.dispatchOnce();
    row = await lastRow('flaky');
    assert.deepEqual(
      [row.status, row.attempts, row.lastErrorCode],
      ['dead', 3, 'http_error'],
      'dead after NOTIFY_MAX_ATTEMPTS',
    );

    nowMs += 3_600_000;
    await d.dispatchOnce();
    assert.equal(hits(), 3, 'a dead notification is never tried again');
    receiver.setRespond(() => ({ status: 200 }));
  });

  test('a redirect is not followed: the delivery fails as redirect_refused and the target is never contacted', async () => {
    receiver.setRespond((r) =>
      r.url === '/moved' ? { status: 302, headers: { location: `${receiver.url}/redirect-target` } } : { status: 200 },
    );
    await admin('PUT', '/admin/notifications/channels/moved', {
      kind: 'webhook',
      url: `${receiver.url}/moved`,
      secret: WEBHOOK_SECRET,
    });
    await enqueueNotification(pool, { channel: 'moved', event: 'approval.requested', subject: 'x', payload: {} });
    await dispatcher().dispatchOnce();
    const row = await lastRow('moved');
    assert.deepEqual([row.status, row.lastErrorCode, row.lastHttpStatus], ['dead', 'redirect_refused', 302]);
    assert.equal(receiver.received.filter((r) => r.url === '/redirect-target').length, 0);
    receiver.setRespond(() => ({ status: 200 }));
  });

  test('the connection goes to the address resolved once (pinned), with the URL host in the Host header', async () => {
    // `.test` names never resolve through real DNS: only the injected resolver knows this one.
    await upsertChannel(pool, {
      name: 'pinned',
      settings: { kind: 'webhook', url: `http://receiver.clawd402.test:${receiver.port}/pinned` },
      secretSealed: app.services.secrets!.seal(WEBHOOK_SECRET, secretContext('pinned', 'webhook')),
      secretHint: null,
    });
    let lookups = 0;
    const resolve: Resolver = async (host) => {
      lookups += 1;
      assert.equal(host, 'receiver.clawd402.test');
      return [{ address: '127.0.0.1', family: 4 }];
    };
    await enqueueNotification(pool, { channel: 'pinned', event: 'approval.requested', subject: 'x', payload: {} });
    await dispatcher({ resolve }).dispatchOnce();
    const hit = receiver.received.find((r) => r.url === '/pinned');
    assert.equal(hit?.headers.host, `receiver.clawd402.test:${receiver.port}`);
    assert.equal(lookups, 1, 'resolved once per delivery');
    assert.equal((await lastRow('pinned')).status, 'delivered');
  });

  test('send time: a stored destination that is (now) private is refused without connecting (setting off)', async () => {
    await admin('PUT', '/admin/notifications/channels/now-private', {
      kind: 'webhook',
      url: `${receiver.url}/now-private`,
      secret: WEBHOOK_SECRET,
    });
    await enqueueNotification(pool, { channel: 'now-private', event: 'approval.requested', subject: 'x', payload: {} });
    await dispatcher({ allowPrivateAddresses: false }).dispatchOnce();
    const row = await lastRow('now-private');
    assert.deepEqual([row.status, row.lastErrorCode], ['dead', 'notification_destination_forbidden']);
    assert.equal(receiver.received.filter((r) => r.url === '/now-private').length, 0);

    // DNS rebinding: public when saved, loopback when sent.
    await upsertChannel(pool, {
      name: 'rebinding',
      settings: { kind: 'webhook', url: `http://rebind.clawd402.test:${receiver.port}/rebinding` },
      secretSealed: app.services.secrets!.seal(WEBHOOK_SECRET, secretContext('rebinding', 'webhook')),
      secretHint: null,
    });
    await enqueueNotification(pool, { channel: 'rebinding', event: 'approval.requested', subject: 'x', payload: {} });
    await dispatcher({
      allowPrivateAddresses: false,
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    }).dispatchOnce();
    assert.equal((await lastRow('rebinding')).lastErrorCode, 'notification_destination_forbidden');
    assert.equal(receiver.received.filter((r) => r.url === '/rebinding').length, 0);
  });

  test('save time: every non-public address form is refused with notification_destination_forbidden (setting off)', async () => {
    const forms = [
      'http://127.0.0.1/x',
      'http://localhost/x',
      'http://2130706433/x',
      'http://0177.0.0.1/x',
      'http://0x7f000001/x',
      'http://[::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://[::ffff:7f00:1]/x',
      'http://10.0.0.1/x',
      'http://172.16.0.1/x',
      'http://192.168.0.1/x',
      'http://[fc00::1]/x',
      'http://169.254.169.254/x',
      'http://[fd00:ec2::254]/x',
      'http://[fe80::1]/x',
      'http://100.64.0.1/x',
      'http://0.0.0.0/x',
      'http://224.0.0.1/x',
    ];
    for (const url of forms) {
      for (const body of [
        { kind: 'webhook', url, secret: WEBHOOK_SECRET },
        { kind: 'slack', url },
        { kind: 'pagerduty', routingKey: ROUTING_KEY, url },
      ]) {
        const res = await call(strictApp, 'admin', 'PUT', '/admin/notifications/channels/ssrf', body);
        assert.deepEqual(
          [res.statusCode, res.json().code],
          [422, 'notification_destination_forbidden'],
          `${body.kind} ${url}: ${res.body}`,
        );
      }
    }
    const ftp = await call(strictApp, 'admin', 'PUT', '/admin/notifications/channels/ssrf', {
      kind: 'webhook',
      url: 'file:///etc/passwd',
      secret: WEBHOOK_SECRET,
    });
    assert.deepEqual([ftp.statusCode, ftp.json().code], [400, 'notification_url_invalid']);
    assert.equal((await listChannelNames(pool)).includes('ssrf'), false, 'nothing was stored');
  });

  test('Slack: text and blocks with Approve / Reject link buttons to the console reach the incoming webhook', async () => {
    const saved = await admin('PUT', '/admin/notifications/channels/slack', {
      kind: 'slack',
      url: `${receiver.url}/services/${SLACK_TOKEN}`,
    });
    assert.equal(saved.statusCode, 201, saved.body);
    await enqueueNotification(pool, {
      channel: 'slack',
      event: 'approval.requested',
      subject: 'payroll-bot wants to send 2 ETH <!channel>',
      payload: { approvalId: 'apr_9', amount: '2', asset: 'ETH' },
    });
    await dispatcher().dispatchOnce();
    const hit = receiver.received.find((r) => r.url === `/services/${SLACK_TOKEN}`);
    assert.ok(hit, 'Slack got the message');
    const message = JSON.parse(hit.body);
    assert.equal(message.text, 'payroll-bot wants to send 2 ETH &lt;!channel&gt;');
    assert.equal(message.blocks[0].type, 'section');
    const actions = message.blocks.find((b: { type: string }) => b.type === 'actions');
    assert.deepEqual(
      actions.elements.map((e: { text: { text: string }; url: string; style: string }) => [
        e.text.text,
        e.url,
        e.style,
      ]),
      [
        ['Approve', `${CONSOLE}/console/approvals/apr_9?decision=approve`, 'primary'],
        ['Reject', `${CONSOLE}/console/approvals/apr_9?decision=reject`, 'danger'],
      ],
    );
    assert.equal((await lastRow('slack')).status, 'delivered');
  });

  test('PagerDuty: an Events v2 trigger with the routing key and dedup_key reaches the configured endpoint', async () => {
    receiver.setRespond((r) => (r.url === '/v2/enqueue' ? { status: 202 } : { status: 200 }));
    const saved = await admin('PUT', '/admin/notifications/channels/oncall', {
      kind: 'pagerduty',
      routingKey: ROUTING_KEY,
      url: `${receiver.url}/v2/enqueue`,
      severity: 'error',
    });
    assert.equal(saved.statusCode, 201, saved.body);
    await enqueueNotification(pool, {
      channel: 'oncall',
      event: 'breaker.emergency',
      subject: 'Emergency breaker: nothing is signed',
      payload: { scope: 'global' },
      dedupeKey: 'breaker:global:emergency',
    });
    await dispatcher().dispatchOnce();
    const hit = receiver.received.find((r) => r.url === '/v2/enqueue');
    assert.ok(hit);
    const event = JSON.parse(hit.body);
    assert.equal(event.routing_key, ROUTING_KEY);
    assert.equal(event.event_action, 'trigger');
    assert.equal(event.dedup_key, 'breaker:global:emergency');
    assert.deepEqual(
      [
        event.payload.summary,
        event.payload.source,
        event.payload.severity,
        event.payload.class,
        event.payload.custom_details,
      ],
      ['Emergency breaker: nothing is signed', 'clawd402', 'error', 'breaker.emergency', { scope: 'global' }],
    );
    const row = await lastRow('oncall');
    assert.deepEqual([row.status, row.lastHttpStatus], ['delivered', 202]);
    receiver.setRespond(() => ({ status: 200 }));
  });

  test('email arrives at a local SMTP server, authenticated, with the approval links', async () => {
    const smtp = await startSmtpReceiver({ username: 'mailer', password: SMTP_PASSWORD });
    const { mails, port } = smtp;
    try {
      const saved = await admin('PUT', '/admin/notifications/channels/email', {
        kind: 'email',
        host: '127.0.0.1',
        port,
        tls: 'none',
        username: 'mailer',
        password: SMTP_PASSWORD,
        from: 'clawd402@example.com',
        to: ['approvers@example.com', 'cfo@example.com'],
      });
      assert.equal(saved.statusCode, 201, saved.body);
      await enqueueNotification(pool, {
        channel: 'email',
        event: 'approval.requested',
        subject: 'Approve 2 ETH to 0x7099...79C8',
        payload: { approvalId: 'apr_mail', amount: '2' },
      });
      await dispatcher().dispatchOnce();
      assert.equal(mails.length, 1);
      const mail = mails[0]!;
      assert.equal(mail.user, 'mailer');
      assert.equal(mail.from, 'clawd402@example.com');
      assert.deepEqual(mail.to, ['approvers@example.com', 'cfo@example.com']);
      assert.match(mail.raw, /^Subject: \[Clawd402\] Approve 2 ETH to/m);
      const text = decodeQp(mail.raw);
      assert.ok(text.includes(`Approve: ${CONSOLE}/console/approvals/apr_mail?decision=approve`), text);
      assert.ok(text.includes(`Reject:  ${CONSOLE}/console/approvals/apr_mail?decision=reject`));
      assert.equal((await lastRow('email')).status, 'delivered');

      // A wrong password is an SMTP 535: permanent, dead at once.
      await admin('PUT', '/admin/notifications/channels/email-bad', {
        kind: 'email',
        host: '127.0.0.1',
        port,
        tls: 'none',
        username: 'mailer',
        password: 'wrong-password-test-only',
        from: 'clawd402@example.com',
        to: ['approvers@example.com'],
      });
      await enqueueNotification(pool, { channel: 'email-bad', event: 'approval.requested', subject: 'x', payload: {} });
      await dispatcher().dispatchOnce();
      const bad = await lastRow('email-bad');
      assert.deepEqual([bad.status, bad.lastErrorCode], ['dead', 'smtp_error']);
    } finally {
      await smtp.close();
    }
  });

  test('the test endpoint delivers a test message and answers the outcome; failures are reported, not retried', async () => {
    const ok = await admin('POST', '/admin/notifications/channels/ops-hook/test');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(
      { ...ok.json<object>(), id: 'x' },
      { id: 'x', channel: 'ops-hook', delivered: true, status: 'delivered', attempts: 1, httpStatus: 200, error: null },
    );
    const hit = receiver.received.at(-1)!;
    assert.equal(JSON.parse(hit.body).event, 'notification.test');
    assert.equal(
      verifyWebhookSignature(WEBHOOK_SECRET, hit.headers['x-clawd402-signature'] as string, hit.body, new Date(), 300),
      true,
    );
    assert.equal((await findNotificationState(pool, ok.json().id))?.status, 'delivered');

    const failing = await admin('POST', '/admin/notifications/channels/flaky/test');
    receiver.setRespond((r) => (r.url === '/flaky' ? { status: 500 } : { status: 200 }));
    const failed = await admin('POST', '/admin/notifications/channels/flaky/test');
    receiver.setRespond(() => ({ status: 200 }));
    assert.equal(failing.json().delivered, true);
    assert.deepEqual(
      [
        failed.statusCode,
        failed.json().delivered,
        failed.json().status,
        failed.json().httpStatus,
        failed.json().error.code,
      ],
      [200, false, 'dead', 500, 'http_error'],
    );

    const missing = await admin('POST', '/admin/notifications/channels/no-such-channel/test');
    assert.deepEqual([missing.statusCode, missing.json().code], [404, 'not_found']);
    const audited = await pool.query(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'notification_channel.tested' AND subject = 'notification_channel:ops-hook'",
    );
    assert.equal(audited.rows[0].n, 1);
  });

  test('secrets are sealed at rest and never returned by GET: only a hint of the last four characters', async () => {
    const list = await call(app, 'viewer', 'GET', '/admin/notifications/channels');
    assert.equal(list.statusCode, 200);
    const text = list.body;
    for (const secret of [WEBHOOK_SECRET, SLACK_TOKEN, 'testonlyXXXX', SMTP_PASSWORD, ROUTING_KEY, '/services/'])
      assert.ok(!text.includes(secret), `GET leaks ${secret}`);
    const byName = Object.fromEntries(list.json().items.map((c: { name: string }) => [c.name, c]));
    assert.deepEqual(byName['ops-hook'].secret, { hint: '…b1a0' });
    assert.equal(byName['ops-hook'].settings.url, `${receiver.url}/hooks/ops`);
    assert.deepEqual(byName.slack.settings, {});
    assert.deepEqual(byName.slack.secret, { hint: `${receiver.url}/…X9zQ` });
    assert.deepEqual(byName.oncall.settings, { url: `${receiver.url}/v2/enqueue`, severity: 'error' });
    assert.deepEqual(byName.oncall.secret, { hint: '…0Zx4' });
    assert.equal(byName.email.settings.username, 'mailer');
    assert.deepEqual(byName.email.secret, { hint: '…Kq7w' });

    const stored = await pool.query(
      "SELECT settings::text || coalesce(secret_sealed, '') AS t FROM notification_channels",
    );
    const dump = stored.rows.map((r) => r.t).join('\n');
    for (const secret of [WEBHOOK_SECRET, SLACK_TOKEN, SMTP_PASSWORD, ROUTING_KEY])
      assert.ok(!dump.includes(secret), 'sealed at rest');
    const audit = await pool.query(
      "SELECT string_agg(record, '\n') AS t FROM audit_log WHERE action LIKE 'notification_channel.%'",
    );
    for (const secret of [WEBHOOK_SECRET, SLACK_TOKEN, SMTP_PASSWORD, ROUTING_KEY])
      assert.ok(!String(audit.rows[0].t).includes(secret), 'not in the audit log');
  });

  test('without SECRETS_KEY_FILE a channel with a secret is refused with secrets_unavailable', async () => {
    const keyless = await buildApp(
      { ...config, secretsKey: null },
      { logger: false, tracker: false, notifications: false },
    );
    try {
      const res = await call(keyless, 'admin', 'PUT', '/admin/notifications/channels/keyless', {
        kind: 'webhook',
        url: `${receiver.url}/k`,
        secret: WEBHOOK_SECRET,
      });
      assert.deepEqual([res.statusCode, res.json().code], [503, 'secrets_unavailable']);
      assert.equal((await listChannelNames(pool)).includes('keyless'), false);
    } finally {
      await keyless.close();
    }
  });

  test('only owners and admins change channels; viewers and operators read; approvers and agents get 403', async () => {
    const body = { kind: 'webhook', url: `${receiver.url}/rbac`, secret: WEBHOOK_SECRET };
    for (const role of ['operator', 'viewer', 'approver']) {
      for (const [method, url, payload] of [
        ['PUT', '/admin/notifications/channels/rbac', body],
        ['DELETE', '/admin/notifications/channels/ops-hook', undefined],
        ['POST', '/admin/notifications/channels/ops-hook/test', undefined],
      ] as const) {
        const res = await call(app, role, method, url, payload);
        assert.deepEqual([res.statusCode, res.json().code], [403, 'forbidden'], `${role} ${method} ${url}`);
      }
    }
    assert.equal((await call(app, 'operator', 'GET', '/admin/notifications/channels')).statusCode, 200);
    assert.deepEqual((await call(app, 'approver', 'GET', '/admin/notifications/channels')).json().code, 'forbidden');
    assert.equal((await call(app, 'owner', 'PUT', '/admin/notifications/channels/rbac', body)).statusCode, 201);
    assert.equal((await call(app, 'owner', 'DELETE', '/admin/notifications/channels/rbac')).statusCode, 204);
    const gone = await call(app, 'owner', 'DELETE', '/admin/notifications/channels/rbac');
    assert.deepEqual([gone.statusCode, gone.json().code], [404, 'not_found']);
  });

  test('listChannelNames lists what is configured, for the policy linter', async () => {
    const names = await listChannelNames(pool);
    assert.deepEqual(names, [...names].sort());
    for (const name of ['email', 'flaky', 'oncall', 'ops-hook', 'slack']) assert.ok(names.includes(name), name);
  });

  test('a notification for a channel nobody configured is retried, then dead-lettered as channel_not_configured', async () => {
    await enqueueNotification(pool, { channel: 'not-yet', event: 'approval.requested', subject: 'x', payload: {} });
    const d = dispatcher({ maxAttempts: 2 });
    await d.dispatchOnce();
    assert.deepEqual(
      [(await lastRow('not-yet')).status, (await lastRow('not-yet')).lastErrorCode],
      ['pending', 'channel_not_configured'],
    );
    nowMs += 60_000;
    await d.dispatchOnce();
    assert.equal((await lastRow('not-yet')).status, 'dead');
  });

  test('operators list dead letters and send one again; viewers may read but not retry; a live row cannot be retried', async () => {
    await enqueueNotification(pool, { channel: 'gone', event: 'breaker.warning', subject: 'dead soon', payload: {} });
    const d = dispatcher({ maxAttempts: 1 });
    await d.dispatchOnce();
    const dead = await lastRow('gone');
    assert.equal(dead.status, 'dead');

    const listed = await call(app, 'viewer', 'GET', '/admin/notifications/outbox?status=dead&channel=gone');
    assert.equal(listed.statusCode, 200, listed.body);
    assert.deepEqual(
      listed.json().items.map((n: { id: string; lastErrorCode: string }) => [n.id, n.lastErrorCode]),
      [[dead.id, 'channel_not_configured']],
    );
    const byViewer = await call(app, 'viewer', 'POST', `/admin/notifications/outbox/${dead.id}/retry`);
    assert.deepEqual([byViewer.statusCode, byViewer.json().code], [403, 'forbidden']);

    const retried = await admin('POST', `/admin/notifications/outbox/${dead.id}/retry`);
    assert.equal(retried.statusCode, 200, retried.body);
    assert.deepEqual(
      [retried.json().status, retried.json().attempts, retried.json().lastErrorCode],
      ['pending', 0, null],
    );
    const again = await admin('POST', `/admin/notifications/outbox/${dead.id}/retry`);
    assert.deepEqual([again.statusCode, again.json().code], [404, 'not_found']);
    const audit = await pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'notifications.retried' AND subject = $1`,
      [`notification:${dead.id}`],
    );
    assert.equal(audit.rows[0].n, 1);
  });

  test('a started dispatcher LISTENs and delivers a committed notification on its own, long before its 60 s timer (NOTIFY wakes it)', async () => {
    const live = new Worker(notificationDispatcher(dispatcher(), { intervalMs: 60_000, listenUrl: db.url }), silent);
    // Its first pass runs at start; afterwards only NOTIFY can wake it before the 60 s timer.
    live.start();
    try {
      for (let i = 0; i < 100 && !live.listening; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(live.listening, true);
      await withTransaction(pool, (client) =>
        enqueueNotification(client, { channel: 'ops-hook', event: 'approval.requested', subject: 'live', payload: {} }),
      );
      let row = await lastRow('ops-hook');
      for (let i = 0; i < 100 && row.status !== 'delivered'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        row = await lastRow('ops-hook');
      }
      assert.equal(row.status, 'delivered');
    } finally {
      await live.stop();
    }
  });
});
