/**
 * Alerts that reach people, and the operator's read side, against the real stack (gateway, Postgres, Redis, signer,
 * anvil): each alert kind raised by the event that causes it, routed by severity to local receivers (PagerDuty and
 * Slack over HTTP, email over SMTP, the medium digest), exactly once within the deduplication window; operators find
 * an intent across agents with its audit trail and the chain segment verified; ack/resolve audited; RBAC enforced.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ChainRegistry } from '../src/chain/chain-registry.ts';
import { AlertWatch } from '../src/alerts/index.ts';
import { startReceiver, startSmtpReceiver, type Receiver } from './support/receivers.ts';
import { SMTP_LOGIN, localSmtpChannel, putChannel } from './support/notification-channels.ts';
import { rpc } from './support/submission.ts';
import {
  RECIPIENTS,
  TEST_POLICY,
  callJson,
  postIntent,
  startStack,
  waitForStatus,
  type Stack,
} from './support/stack.ts';

// ETH is 2,000 USD (the development default). 1 ETH or more needs a human; smaller transfers to dev accounts pass.
const POLICY = TEST_POLICY.replace(
  'policies:\n',
  `policies:
  - name: big_needs_a_human
    conditions: { transaction_type: transfer, min_value_usd: 1000 }
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }
`,
);

describe('alerts and the operator read side', { timeout: 300_000 }, () => {
  let stack: Stack;
  let http: Receiver;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let agentToken: string;
  const tokens: Record<'owner' | 'operator' | 'viewer' | 'approver', string> = {
    owner: '',
    operator: '',
    viewer: '',
    approver: '',
  };

  /** Events each receiver got, in order. */
  const pagerduty = () =>
    http.received.filter((r) => r.url === '/pd').map((r) => JSON.parse(r.body).payload.class as string);
  const slack = () =>
    http.received.filter((r) => r.url === '/slack').map((r) => /Clawd402 · ([a-z0-9_.]+)/.exec(r.body)?.[1] ?? '');
  const email = () => smtp.mails.map((m) => /^X-Clawd402-Event: (\S+)/m.exec(m.raw)?.[1] ?? '');
  const count = (events: string[], kind: string) => events.filter((e) => e === `alert.${kind}`).length;

  /**
   * Route everything raised (the background router may hold the routing lock: wait until nothing is left) and deliver
   * what is due now (the workers do the same on their own).
   */
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 100; i += 1) {
      await stack.app.services.alertRouter.routeOnce();
      const left = await stack.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM alerts WHERE routed_at IS NULL',
      );
      if (left.rows[0]!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stack.app.services.notifications.dispatchOnce();
  };
  /** Wait until `check` holds (deliveries are asynchronous), flushing between looks. */
  const until = async (what: string, check: () => boolean): Promise<void> => {
    for (let i = 0; i < 150; i += 1) {
      if (check()) return;
      await flush();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const outbox = await stack.pool.query(
      'SELECT channel, event, status, attempts, last_error_code, last_http_status FROM notification_outbox ORDER BY id',
    );
    assert.fail(
      `never happened: ${what}; got pagerduty ${pagerduty().join(',')}; slack ${slack().join(',')}; email ${email().join(',')}; outbox ${JSON.stringify(outbox.rows)}`,
    );
  };
  const alertsOf = async (kind: string) =>
    (
      await stack.pool.query<{
        id: string;
        severity: string;
        subject: string;
        channels: string[];
        occurrences: number;
        detail: Record<string, unknown>;
      }>(
        'SELECT id, severity, subject, channels, occurrences, detail FROM alerts WHERE kind = $1 AND duplicate_of IS NULL ORDER BY id',
        [kind],
      )
    ).rows;
  const outboxRows = async (kind: string) =>
    (
      await stack.pool.query<{ channel: string }>(
        'SELECT channel FROM notification_outbox WHERE event = $1 ORDER BY channel',
        [`alert.${kind}`],
      )
    ).rows.map((r) => r.channel);
  const transfer = async (to: string, amount: string, token = agentToken) => {
    const res = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: stack.anvil.chainId,
      to,
      asset: 'native',
      amount,
    });
    return res;
  };
  const watch = () => stack.app.services.alertWatch.tick();

  before(async () => {
    [http, smtp] = await Promise.all([startReceiver(), startSmtpReceiver(SMTP_LOGIN)]);
    stack = await startStack({
      policy: POLICY,
      env: {
        NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'true',
        // The watch runs when the test says (its worker's first tick is an hour away).
        ALERT_WATCH_INTERVAL_MS: '3600000',
        ALERT_HOURLY_SPEND_USD: '50',
        CIRCUIT_BREAKER_WARNING: '50',
        ALERT_APPROVAL_EXPIRING_SECONDS: '900',
      },
    });
    agentToken = await stack.token();
    for (const role of ['owner', 'operator', 'viewer', 'approver'] as const) tokens[role] = await stack.loginAs(role);
    const put = (name: string, body: unknown) => putChannel(stack.baseUrl, tokens.owner, name, body);
    await put('pagerduty', {
      kind: 'pagerduty',
      routingKey: 'R0UT1NGKEYTESTONLY00000000000Zx4',
      url: `${http.url}/pd`,
    });
    await put('slack', { kind: 'slack', url: `${http.url}/slack` });
    await put('email', localSmtpChannel(smtp.port, ['oncall@example.com']));
  });

  after(async () => {
    await stack?.stop();
    await http?.close();
    await smtp?.close();
  });

  test('a confirmed transfer raises new_recipient, rapid_spending and breaker_level_changed; high reaches Slack and email once, medium waits for the digest', async () => {
    const sent = await transfer(RECIPIENTS[4]!, '0.05'); // 100 USD: above the 50 USD hourly threshold and the warning
    assert.ok([201, 202].includes(sent.status), JSON.stringify(sent.body));
    await waitForStatus(stack.baseUrl, agentToken, sent.body.id, ['confirmed']);
    await watch();
    await watch(); // a second look while the conditions still hold raises nothing new
    await flush();

    const rapid = await alertsOf('rapid_spending');
    assert.deepEqual(
      rapid.map((a) => [a.severity, a.subject, a.channels]),
      [['high', `agent:${stack.agent.agentId}`, ['slack', 'email']]],
    );
    const [first] = await alertsOf('new_recipient');
    assert.deepEqual(
      [first?.severity, first?.subject, first?.channels],
      ['medium', `recipient:${stack.anvil.chainId}:${RECIPIENTS[4]!.toLowerCase()}`, []],
    );
    const breaker = await alertsOf('breaker_level_changed');
    assert.ok(breaker.length >= 1, 'the warning level was crossed');
    assert.ok(breaker.every((a) => a.severity === 'high' && a.detail.to === 'warning'));

    await until(
      'rapid_spending on Slack and email',
      () => count(slack(), 'rapid_spending') === 1 && count(email(), 'rapid_spending') === 1,
    );
    assert.equal(count(pagerduty(), 'rapid_spending'), 0, 'high does not page');
    assert.deepEqual(await outboxRows('rapid_spending'), ['email', 'slack'], 'one notification per channel');
    assert.equal(count(slack(), 'new_recipient') + count(email(), 'new_recipient'), 0, 'medium is not sent at once');

    // The digest: nothing before the interval, then one email carrying every medium alert.
    assert.equal(await stack.app.services.alertRouter.digestOnce(), 0);
    const carried = await stack.app.services.alertRouter.digestOnce(new Date(Date.now() + 2 * 86_400_000));
    assert.ok(carried >= 1);
    await until('the digest by email', () => count(email(), 'digest') === 1);
    const digest = smtp.mails.find((m) => /^X-Clawd402-Event: alert\.digest/m.test(m.raw))!;
    assert.match(digest.raw.replace(/=\r?\n/g, ''), /new_recipient/);
    assert.equal(await stack.app.services.alertRouter.digestOnce(new Date(Date.now() + 4 * 86_400_000)), 0, 'once');
  });

  test('a fee above 1.5× the trailing median raises gas_spike (medium: kept for the digest, not sent at once)', async () => {
    for (let i = 0; i < 5; i += 1) {
      const sent = await transfer(RECIPIENTS[5]!, '0.0001');
      assert.ok([201, 202].includes(sent.status), JSON.stringify(sent.body));
      await waitForStatus(stack.baseUrl, agentToken, sent.body.id, ['confirmed']);
    }
    await watch();
    assert.equal((await alertsOf('gas_spike')).length, 0, 'steady fees raise nothing');
    await rpc(stack.anvil.rpcUrl, 'anvil_setNextBlockBaseFeePerGas', ['0x174876e800']); // 100 gwei
    await rpc(stack.anvil.rpcUrl, 'evm_mine');
    // The gateway shares a fee quote for two seconds: wait until it quotes the new base fee.
    for (let i = 0; i < 100; i += 1) {
      if ((await stack.app.services.chains.marketFees(stack.anvil.chainId)).maxFeePerGas >= 100_000_000_000n) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const spiked = await transfer(RECIPIENTS[5]!, '0.0001');
    assert.ok([201, 202].includes(spiked.status), JSON.stringify(spiked.body));
    await watch();
    await flush();
    const [spike, ...more] = await alertsOf('gas_spike');
    assert.equal(more.length, 0);
    assert.deepEqual(
      [spike?.severity, spike?.subject, spike?.channels],
      ['medium', `chain:${stack.anvil.chainId}`, []],
    );
    assert.equal(spike?.detail.intentId, spiked.body.id);
    assert.ok(BigInt(spike!.detail.maxFeePerGas as string) * 2n > BigInt(spike!.detail.medianFeePerGas as string) * 3n);
    await waitForStatus(stack.baseUrl, agentToken, spiked.body.id, ['confirmed']);
  });

  test('the signer unreachable pages PagerDuty and Slack exactly once however often it fails; three failures raise transactions_failing', async () => {
    await stack.signer.stop();
    try {
      for (let i = 0; i < 3; i += 1) {
        const res = await transfer(RECIPIENTS[6]!, '0.0001');
        assert.equal(res.body.code, 'signer_unavailable', JSON.stringify(res.body));
      }
    } finally {
      await stack.restartSigner();
    }
    await until(
      'signer_unreachable on PagerDuty and Slack',
      () => count(pagerduty(), 'signer_unreachable') === 1 && count(slack(), 'signer_unreachable') === 1,
    );
    const [alert, ...others] = await alertsOf('signer_unreachable');
    assert.equal(others.length, 0);
    assert.deepEqual([alert?.severity, alert?.channels, alert?.occurrences], ['critical', ['pagerduty', 'slack'], 3]);
    assert.deepEqual(await outboxRows('signer_unreachable'), ['pagerduty', 'slack'], 'repeats folded, never sent');
    assert.equal(count(email(), 'signer_unreachable'), 0);
    const pd = http.received.find((r) => r.url === '/pd' && r.body.includes('alert.signer_unreachable'))!;
    assert.equal(JSON.parse(pd.body).payload.severity, 'critical');

    await watch();
    await watch();
    await flush(); // routing is the router's (it may not have run yet): channels are set when it has
    const failing = await alertsOf('transactions_failing');
    assert.deepEqual(
      failing.filter((a) => a.subject === `agent:${stack.agent.agentId}`).map((a) => [a.severity, a.channels]),
      [['high', ['slack', 'email']]],
    );
    await until(
      'transactions_failing on Slack and email',
      () => count(slack(), 'transactions_failing') >= 1 && count(email(), 'transactions_failing') >= 1,
    );
    // One per agent and one per destination address at most, each sent once per channel.
    assert.equal(count(slack(), 'transactions_failing'), failing.length);
  });

  test('a pending approval about to expire raises approval_expiring (high) once', async () => {
    const big = await transfer(RECIPIENTS[7]!, '1'); // 2,000 USD: needs a human within 600 s
    assert.equal(big.status, 202, JSON.stringify(big.body));
    assert.equal(big.body.status, 'pending_approval');
    await watch();
    await watch();
    const alerts = await alertsOf('approval_expiring');
    assert.equal(alerts.length, 1);
    assert.deepEqual([alerts[0]!.severity, alerts[0]!.detail.intentId], ['high', big.body.id]);
    await until(
      'approval_expiring on Slack and email',
      () => count(slack(), 'approval_expiring') === 1 && count(email(), 'approval_expiring') === 1,
    );
  });

  test('an RPC endpoint down raises rpc_endpoint_down and rpc_failover (high); GET /admin/chains shows endpoint health', async () => {
    const [chain] = stack.config.chains;
    const chains = new ChainRegistry([{ ...chain!, rpcUrls: ['http://127.0.0.1:1', stack.anvil.rpcUrl] }]);
    await chains.checkHealth();
    const watcher = new AlertWatch({
      pool: stack.pool,
      health: () => chains.health(),
      settings: { ...stack.config.alerts.watch, dedupSeconds: stack.config.alerts.routing.dedupSeconds },
      log: pino({ level: 'silent' }),
    });
    await watcher.tick();
    await watcher.tick();
    const down = await alertsOf('rpc_endpoint_down');
    assert.deepEqual(
      down.map((a) => [a.severity, a.subject]),
      [['high', `chain:${stack.anvil.chainId}:rpc #1`]],
    );
    const failover = await alertsOf('rpc_failover');
    assert.deepEqual(
      failover.map((a) => [a.subject, a.detail.from, a.detail.to]),
      [[`chain:${stack.anvil.chainId}`, 'rpc #1', 'rpc #2']],
    );
    assert.ok(!JSON.stringify([down, failover]).includes('127.0.0.1:1'), 'no RPC URL in an alert');
    await until('RPC alerts on Slack and email', () =>
      ['rpc_endpoint_down', 'rpc_failover'].every((k) => count(slack(), k) === 1 && count(email(), k) === 1),
    );

    const health = await callJson(stack.baseUrl, tokens.viewer, 'GET', '/admin/chains');
    assert.equal(health.status, 200);
    assert.deepEqual(
      health.body.items.map((c: any) => [c.chainId, c.serving, c.rpc.map((e: any) => e.endpoint)]),
      [[stack.anvil.chainId, 'rpc #1', ['rpc #1']]],
    );
    assert.equal((await callJson(stack.baseUrl, tokens.approver, 'GET', '/admin/chains')).body.code, 'forbidden');
  });

  test('an operator finds one intent across agents, reads its decision and audit trail, and sees the chain segment verified', async () => {
    const other = await stack.newAgent('alerts-other');
    const otherToken = await stack.token(other.apiKey);
    const sent = await transfer(RECIPIENTS[8]!, '0.0002', otherToken);
    assert.ok([201, 202].includes(sent.status), JSON.stringify(sent.body));
    await waitForStatus(stack.baseUrl, otherToken, sent.body.id, ['confirmed']);

    const op = tokens.operator;
    const list = await callJson(
      stack.baseUrl,
      op,
      'GET',
      `/admin/intents?agent=${other.agentId}&status=confirmed&chain=${stack.anvil.chainId}&minUsd=0.1&maxUsd=1&since=${encodeURIComponent(new Date(Date.now() - 600_000).toISOString())}`,
    );
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(
      list.body.items.map((i: any) => [i.agentId, i.intent.id, i.valueUsd]),
      [[other.agentId, sent.body.id, '0.4']],
    );
    // Keyset pagination across agents: one at a time, every intent once, newest first.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await callJson(
        stack.baseUrl,
        tokens.viewer,
        'GET',
        `/admin/intents?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(page.status, 200);
      seen.push(...page.body.items.map((i: any) => i.intent.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const total = await stack.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM intents');
    assert.equal(seen.length, total.rows[0]!.n);
    assert.equal(new Set(seen).size, seen.length);
    assert.equal(
      (await callJson(stack.baseUrl, op, 'GET', '/admin/intents?cursor=bm9wZQ')).body.code,
      'invalid_cursor',
    );

    const detail = await callJson(stack.baseUrl, op, 'GET', `/admin/intents/${sent.body.id}`);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    assert.equal(detail.body.agentId, other.agentId);
    assert.deepEqual(
      [detail.body.intent.decision.action, detail.body.intent.decision.policy],
      ['auto_approve', 'small_transfers_to_dev_accounts'],
    );
    assert.ok(Array.isArray(detail.body.intent.decision.reasons), 'the decision with its reasons');
    const actions = detail.body.audit.map((r: any) => r.action);
    assert.ok(actions.includes('intent.confirmed'), actions.join(','));
    assert.ok(detail.body.audit.every((r: any) => r.subject === `intent:${sent.body.id}`));
    assert.equal(detail.body.auditSegment.ok, true);
    assert.ok(detail.body.auditSegment.rows >= detail.body.audit.length);
    assert.equal(detail.body.transactions.length, 1);
    assert.equal((await callJson(stack.baseUrl, op, 'GET', '/admin/intents/not-a-uuid')).status, 404);

    const audit = await callJson(
      stack.baseUrl,
      tokens.viewer,
      'GET',
      `/admin/audit?subject=intent:${sent.body.id}&limit=2`,
    );
    assert.equal(audit.status, 200);
    assert.equal(audit.body.items.length, 2);
    assert.equal(audit.body.segment.ok, true);
    assert.deepEqual(audit.body.segment.findings, []);
    const older = await callJson(
      stack.baseUrl,
      tokens.viewer,
      'GET',
      `/admin/audit?subject=intent:${sent.body.id}&before=${audit.body.nextBefore}`,
    );
    assert.ok(older.body.items.every((r: any) => r.seq < audit.body.nextBefore));
    const byPrefix = await callJson(
      stack.baseUrl,
      op,
      'GET',
      '/admin/audit?subject=intent:&action=intent.confirmed&limit=100',
    );
    assert.ok(byPrefix.body.items.some((r: any) => r.subject === `intent:${sent.body.id}`));
    assert.equal((await callJson(stack.baseUrl, tokens.approver, 'GET', '/admin/audit')).body.code, 'forbidden');
    assert.equal((await callJson(stack.baseUrl, tokens.approver, 'GET', '/admin/intents')).body.code, 'forbidden');
  });

  test('alerts are acknowledged and resolved by operators, audited; viewers and approvers are refused', async () => {
    const [alert] = await alertsOf('signer_unreachable');
    const listed = await callJson(stack.baseUrl, tokens.viewer, 'GET', '/admin/alerts?severity=critical&status=open');
    assert.equal(listed.status, 200);
    assert.ok(listed.body.items.some((a: any) => a.id === alert!.id && a.occurrences === 3));
    assert.equal((await callJson(stack.baseUrl, tokens.approver, 'GET', '/admin/alerts')).body.code, 'forbidden');
    const refused = await callJson(stack.baseUrl, tokens.viewer, 'POST', `/admin/alerts/${alert!.id}/ack`, {});
    assert.deepEqual([refused.status, refused.body.code], [403, 'forbidden']);

    const acked = await callJson(stack.baseUrl, tokens.operator, 'POST', `/admin/alerts/${alert!.id}/ack`, {
      note: 'restarting the signer',
    });
    assert.equal(acked.status, 200, JSON.stringify(acked.body));
    assert.equal(acked.body.status, 'acknowledged');
    assert.match(acked.body.acknowledgedBy, /^user:/);
    const again = await callJson(stack.baseUrl, tokens.operator, 'POST', `/admin/alerts/${alert!.id}/ack`, {});
    assert.deepEqual([again.status, again.body.code], [409, 'alert_state_conflict']);
    const resolved = await callJson(stack.baseUrl, tokens.operator, 'POST', `/admin/alerts/${alert!.id}/resolve`);
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.equal(resolved.body.status, 'resolved');
    assert.equal(
      (await callJson(stack.baseUrl, tokens.operator, 'POST', '/admin/alerts/999999999/ack', {})).status,
      404,
    );
    assert.equal((await callJson(stack.baseUrl, tokens.operator, 'POST', '/admin/alerts/x/ack', {})).status, 404);

    const trail = await callJson(stack.baseUrl, tokens.operator, 'GET', `/admin/audit?subject=alert:${alert!.id}`);
    assert.deepEqual(trail.body.items.map((r: any) => [r.action, r.actor, r.data.note]).reverse(), [
      ['alert.acknowledged', acked.body.acknowledgedBy, 'restarting the signer'],
      ['alert.resolved', acked.body.acknowledgedBy, null],
    ]);
    assert.equal(trail.body.segment.ok, true);
    const page = await callJson(stack.baseUrl, tokens.viewer, 'GET', '/admin/alerts?limit=2');
    assert.equal(page.body.items.length, 2);
    const next = await callJson(
      stack.baseUrl,
      tokens.viewer,
      'GET',
      `/admin/alerts?limit=2&before=${page.body.nextBefore}`,
    );
    assert.ok(next.body.items.every((a: any) => BigInt(a.id) < BigInt(page.body.nextBefore)));
  });

  test('ten failed logins block the address: ip_blocked reaches Slack and email once; an operator lists and lifts the block (audited), a viewer cannot', async () => {
    const login = (password: string) =>
      fetch(`${stack.baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'nobody-here', password }),
      });
    for (let i = 0; i < 10; i += 1) await login(`wrong-password-${i}`);
    assert.equal((await login('wrong-again')).status, 403);
    await until(
      'ip_blocked on Slack and email',
      () => count(slack(), 'ip_blocked') === 1 && count(email(), 'ip_blocked') === 1,
    );
    const [blocked, ...more] = await alertsOf('ip_blocked');
    assert.equal(more.length, 0);
    assert.equal(blocked?.severity, 'high');

    const list = await callJson(stack.baseUrl, tokens.viewer, 'GET', '/admin/ip-blocks');
    assert.equal(list.status, 200);
    const ip = blocked.detail.ip as string;
    assert.deepEqual(
      list.body.items.map((b: any) => [b.ip, b.reason]),
      [[ip, 'failed_logins']],
    );
    const refused = await callJson(
      stack.baseUrl,
      tokens.viewer,
      'DELETE',
      `/admin/ip-blocks/${encodeURIComponent(ip)}`,
    );
    assert.deepEqual([refused.status, refused.body.code], [403, 'forbidden']);
    const lifted = await callJson(
      stack.baseUrl,
      tokens.operator,
      'DELETE',
      `/admin/ip-blocks/${encodeURIComponent(ip)}`,
    );
    assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
    assert.equal((await callJson(stack.baseUrl, tokens.viewer, 'GET', '/admin/ip-blocks')).body.items.length, 0);
    assert.equal(
      (await callJson(stack.baseUrl, tokens.operator, 'DELETE', `/admin/ip-blocks/${encodeURIComponent(ip)}`)).status,
      404,
    );
    const audit = await callJson(stack.baseUrl, tokens.operator, 'GET', `/admin/audit?action=ip_block.lifted`);
    assert.deepEqual(
      audit.body.items.map((r: any) => r.subject),
      [`ip:${ip}`],
    );
    await stack.loginAs('viewer'); // logging in works again
  });
});
