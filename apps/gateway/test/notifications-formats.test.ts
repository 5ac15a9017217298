/** Pure parts of notifications: webhook signatures (for receivers), message formats, approval links, backoff. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type pg from 'pg';
import { NotificationDispatcher } from '../src/notifications/dispatcher.ts';
import { approvalLinks, type NotificationMessage } from '../src/notifications/message-content.ts';
import { emailMessage } from '../src/notifications/email-channel.ts';
import { pagerDutyEvent } from '../src/notifications/pagerduty-channel.ts';
import { slackMessage } from '../src/notifications/slack-channel.ts';
import { signWebhook, verifyWebhookSignature } from '../src/notifications/webhook-signature.ts';

const SECRET = 'whsec-test-only-0123456789abcdef0123456789';
const message = (over: Partial<NotificationMessage> = {}): NotificationMessage => ({
  id: '42',
  channel: 'slack',
  event: 'approval.requested',
  subject: 'Approve 2 ETH to 0x7099…79C8',
  payload: { approvalId: 'apr_1', amount: '2', asset: 'ETH', agent: 'payroll-bot' },
  dedupeKey: 'approval:apr_1',
  createdAt: new Date('2025-01-02T03:04:05.000Z'),
  ...over,
});

describe('verifyWebhookSignature', () => {
  const body = JSON.stringify({ id: '1', event: 'approval.requested' });
  const t = 1_700_000_000;
  const header = signWebhook(SECRET, body, t);

  test('accepts the header signWebhook made, within the tolerance either side', () => {
    assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
    assert.equal(verifyWebhookSignature(SECRET, header, body, t, 300), true);
    assert.equal(verifyWebhookSignature(SECRET, header, Buffer.from(body), new Date((t + 300) * 1000), 300), true);
    assert.equal(verifyWebhookSignature(SECRET, header, body, t - 300, 300), true);
  });

  test('refuses a tampered body, a wrong secret, an old or future timestamp, a forged timestamp', () => {
    assert.equal(verifyWebhookSignature(SECRET, header, body.replace('approval', 'approvaL'), t, 300), false);
    assert.equal(verifyWebhookSignature(`${SECRET}x`, header, body, t, 300), false);
    assert.equal(verifyWebhookSignature(SECRET, header, body, t + 301, 300), false, 'replayed after the window');
    assert.equal(verifyWebhookSignature(SECRET, header, body, t - 301, 300), false, 'from the future');
    assert.equal(
      verifyWebhookSignature(SECRET, header.replace(`t=${t}`, `t=${t + 100}`), body, t + 100, 300),
      false,
      'the timestamp is signed',
    );
    assert.equal(
      verifyWebhookSignature(SECRET, header, body, Date.now(), 300),
      false,
      'milliseconds passed as seconds fail closed',
    );
  });

  test('refuses malformed headers', () => {
    const v1 = header.split('v1=')[1]!;
    for (const bad of [
      undefined,
      null,
      '',
      'garbage',
      `v1=${v1}`,
      `t=${t}`,
      `t=${t},v1=${v1.slice(2)}`,
      `t=${t},t=${t},v1=${v1}`,
      `t=-1,v1=${v1}`,
      `t=${t},v1=${v1.toUpperCase()}`,
      `t=${t},v1=${v1}${','.repeat(1100)}`,
    ]) {
      assert.equal(verifyWebhookSignature(SECRET, bad, body, t, 300), false, String(bad));
    }
    assert.equal(verifyWebhookSignature('', header, body, t, 300), false, 'an empty secret never verifies');
  });

  test('accepts any one of several v1 signatures (receiver-side secret rotation)', () => {
    const other = signWebhook('another-secret-another-secret-1234', body, t).split(',')[1];
    assert.equal(verifyWebhookSignature(SECRET, `${header},${other}`, body, t, 300), true);
    assert.equal(verifyWebhookSignature(SECRET, `t=${t},${other}`, body, t, 300), false);
  });
});

describe('message formats', () => {
  const consoleUrl = 'https://console.example.com';

  test('approval links point at <CONSOLE_BASE_URL>/console/approvals/<id>; a hostile id gives no links', () => {
    assert.deepEqual(approvalLinks(`${consoleUrl}/`, { approvalId: 'apr_1' }), {
      view: `${consoleUrl}/console/approvals/apr_1`,
      approve: `${consoleUrl}/console/approvals/apr_1?decision=approve`,
      reject: `${consoleUrl}/console/approvals/apr_1?decision=reject`,
    });
    for (const approvalId of ['../../admin/users', 'a?b', 'a/b', '', 7, 'x'.repeat(129)])
      assert.equal(approvalLinks(consoleUrl, { approvalId }), null);
    assert.equal(approvalLinks(null, { approvalId: 'apr_1' }), null, 'no console URL, no links');
  });

  test('Slack: payload text cannot ping the channel or smuggle links (mrkdwn is escaped)', () => {
    const slack = slackMessage(
      message({ subject: '<!channel> <https://evil.example|click> & more', payload: { note: '<@U123>' } }),
      consoleUrl,
    ) as any;
    const text = JSON.stringify(slack);
    assert.ok(!text.includes('<!channel>') && !text.includes('<https://evil') && !text.includes('<@U123>'));
    assert.equal(slack.text, '&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; more');
    assert.equal(
      slack.blocks.some((b: any) => b.type === 'actions'),
      false,
      'no approval id, no buttons',
    );
  });

  test('PagerDuty: severity from the payload only when it is one of the four; summary capped at 1024', () => {
    const event = pagerDutyEvent(
      message({ subject: 'x'.repeat(2000), payload: { severity: 'critical' } }),
      'R0UT1NGKEY0000000000000000000000',
      'warning',
      null,
    ) as any;
    assert.equal(event.payload.severity, 'critical');
    assert.equal(event.payload.summary.length, 1024);
    assert.equal(
      (pagerDutyEvent(message({ payload: { severity: 'apocalyptic' } }), 'k'.repeat(32), 'info', null) as any).payload
        .severity,
      'info',
    );
    assert.equal(
      (pagerDutyEvent(message({ dedupeKey: null }), 'k'.repeat(32), 'info', null) as any).dedup_key,
      'clawd402-42',
    );
  });

  test('email: a one-line subject (no header injection) and a plain-text body with the links', () => {
    const mail = emailMessage(message({ subject: 'Hi\r\nBcc: victim@example.com' }), consoleUrl);
    assert.equal(mail.subject, '[Clawd402] Hi Bcc: victim@example.com');
    assert.match(mail.text, /Approve: https:\/\/console\.example\.com\/console\/approvals\/apr_1\?decision=approve/);
  });
});

describe('backoff', () => {
  const dispatcher = (random: () => number) =>
    new NotificationDispatcher({
      pool: {} as pg.Pool,
      secrets: null,
      log: pino({ level: 'silent' }),
      settings: {
        production: false,
        allowPrivateAddresses: false,
        maxAttempts: 5,
        timeoutMs: 1000,
        consoleBaseUrl: null,
      },
      random,
      backoff: { baseMs: 1000, capMs: 10_000 },
    });

  test('doubles per attempt up to the cap, with jitter between half and all of it', () => {
    const low = dispatcher(() => 0);
    const high = dispatcher(() => 0.999999);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => low.delayMs(n)),
      [500, 1000, 2000, 4000, 5000, 5000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => high.delayMs(n)),
      [1000, 2000, 4000, 8000, 10_000, 10_000],
    );
    assert.equal(dispatcher(() => 0.5).delayMs(3), 3000);
  });
});
