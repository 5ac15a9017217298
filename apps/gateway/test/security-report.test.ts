/** Pure parts of the weekly security report: masking, the report from a week's facts, its text in each format. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSecurityReport, readDependencyAudit } from '../src/jobs/security-report.ts';
import type { KeyAge } from '../src/jobs/key-age.ts';
import { emailMessage } from '../src/notifications/email-channel.ts';
import type { NotificationMessage } from '../src/notifications/message-content.ts';
import { securityReportNotification } from '../src/notifications/security-report-content.ts';
import { slackMessage } from '../src/notifications/slack-channel.ts';
import { webhookBody } from '../src/notifications/webhook-channel.ts';
import type { SecurityWeekFacts } from '../src/repositories/security-report-repository.ts';
import { maskIp } from '../src/security/ip-mask.ts';

const TO = new Date('2026-11-30T08:00:00.000Z');
const FROM = new Date('2026-11-23T08:00:00.000Z');
const NONE = { critical: 0, high: 0, medium: 0, low: 0 };
const SETTINGS = { dueDays: 80, overdueDays: 90, criticalDays: 100 };

const emptyWeek = (): SecurityWeekFacts => ({
  authFailures: [],
  namesTried: 0,
  ipBlocksStarted: {},
  ipBlocksInForce: 0,
  quarantines: 0,
  quarantinedKeys: 0,
  keysRevokedBySystem: 0,
  incidents: { opened: { ...NONE }, resolved: { ...NONE }, open: { ...NONE } },
  breakerChanges: [],
  breakerChangesTotal: 0,
});

const key = (level: KeyAge['level'], ageDays: number): KeyAge => ({
  kind: 'agent_api_key',
  id: `k${ageDays}`,
  holder: null,
  since: new Date(TO.getTime() - ageDays * 86_400_000),
  ageDays,
  level,
});

const report = (week: SecurityWeekFacts, keys: KeyAge[] = []) =>
  buildSecurityReport({
    from: FROM,
    to: TO,
    now: TO,
    week,
    keyAges: { keys, signerUnreachable: false },
    keyAgeSettings: SETTINGS,
    status: {
      generatedAt: TO,
      score: 3,
      total: 10,
      level: 'needs_attention',
      checks: [{ id: 'https', title: 'HTTPS', ok: false, evidence: 'plain HTTP', fix: 'set TLS' }],
    },
    dependencyAudit: {
      recorded: false,
      checkedAt: null,
      outcome: null,
      note: 'not recorded: DEPENDENCY_AUDIT_FILE is not set',
    },
  });

const asMessage = (subject: string, payload: Record<string, unknown>): NotificationMessage => ({
  id: '7',
  channel: 'ops',
  event: 'security.report',
  subject,
  payload,
  dedupeKey: `security-report:${TO.toISOString()}`,
  createdAt: TO,
});

describe('security report', { timeout: 30_000 }, () => {
  test('maskIp cuts IPv4 to /24 and IPv6 to /48 in every spelling; non-addresses become unknown', () => {
    assert.equal(maskIp('203.0.113.77'), '203.0.113.0/24');
    assert.equal(maskIp('::ffff:203.0.113.77'), '203.0.113.0/24', 'IPv4-mapped IPv6');
    assert.equal(maskIp('3405803853'), '203.0.113.0/24', 'decimal IPv4 spelling');
    assert.equal(maskIp('2001:db8:aa:bb::1'), '2001:db8:aa::/48');
    assert.equal(maskIp('erased'), 'unknown');
    assert.equal(maskIp(''), 'unknown');
  });

  test('a busy week: counts by kind, networks not addresses, incidents by severity, key ages by level', () => {
    const week = emptyWeek();
    week.authFailures = [
      { ip: '203.0.113.7', kind: 'login', count: 10 },
      { ip: '203.0.113.9', kind: 'login', count: 2 },
      { ip: '2001:db8:1:2::5', kind: 'api_key', count: 3 },
    ];
    week.namesTried = 2;
    week.ipBlocksStarted = { failed_logins: 1 };
    week.ipBlocksInForce = 1;
    week.quarantines = 1;
    week.quarantinedKeys = 1;
    week.incidents.opened.critical = 1;
    week.incidents.open.critical = 1;
    week.breakerChanges = [
      { at: new Date('2026-11-25T10:00:00Z'), scope: 'global', from: 'normal', to: 'warning', by: 'the gateway' },
    ];
    week.breakerChangesTotal = 1;
    const r = report(week, [key('ok', 3), key('due', 85), key('critical', 105)]);
    assert.equal(r.quiet, false);
    assert.deepEqual(r.failedSignIns, {
      total: 15,
      byKind: { login: 12, api_key: 3, refresh: 0 },
      sourceNetworks: 2,
      topNetworks: [
        { network: '203.0.113.0/24', count: 12 },
        { network: '2001:db8:1::/48', count: 3 },
      ],
      namesTried: 2,
    });
    assert.deepEqual(
      { keys: r.keyAges.keys, due: r.keyAges.due, overdue: r.keyAges.overdue, critical: r.keyAges.critical },
      { keys: 3, due: 1, overdue: 0, critical: 1 },
    );
    const { subject, payload } = securityReportNotification(r);
    assert.equal(
      subject,
      'Weekly security report 2026-11-23 – 2026-11-30: 15 failed sign-ins, 1 IP block, 1 quarantine, 1 incident opened',
    );
    const text = JSON.stringify(payload);
    for (const raw of ['203.0.113.7', '203.0.113.9', '2001:db8:1:2::5'])
      assert.ok(!text.includes(raw), `raw address ${raw} in the payload`);
    const mail = emailMessage(asMessage(subject, payload), null).text;
    assert.match(
      mail,
      /Failed sign-ins\n {2}15 in the week: 12 operator logins, 3 API-key exchanges, 0 token refreshes\./,
    );
    assert.match(mail, / {2}203\.0\.113\.0\/24: 12\n/);
    assert.match(
      mail,
      /Incidents\n {2}Opened 1 \(critical 1\); resolved 0 \(none\); open at the end of the week 1 \(critical 1\)\./,
    );
    assert.match(mail, / {2}2026-11-25 10:00 global: normal → warning \(the gateway\)/);
    assert.match(mail, / {2}3 keys in force: 1 due \(≥ 80 d\), 0 overdue \(≥ 90 d\), 1 critical \(≥ 100 d\)\./);
    assert.match(mail, / {2}Score 3\/10 \(needs_attention\); failing: https\./);
    assert.match(mail, / {2}Not recorded: DEPENDENCY_AUDIT_FILE is not set\./);
    assert.ok(!mail.includes('severity:'), 'sections replace the fact list');
  });

  test('an empty week says so in the subject and the body, and still reports key ages and the score', () => {
    const r = report(emptyWeek());
    assert.equal(r.quiet, true);
    const { subject, payload } = securityReportNotification(r);
    assert.equal(subject, 'Weekly security report 2026-11-23 – 2026-11-30: a quiet week');
    const mail = emailMessage(asMessage(subject, payload), null).text;
    assert.match(
      mail,
      /A quiet week\n {2}No failed sign-ins, IP blocks, API-key quarantines, incidents or circuit-breaker changes/,
    );
    assert.match(mail, /Failed sign-ins\n {2}None\./);
    assert.match(mail, /Score 3\/10/);
  });

  test('Slack shows every section in full, escaped; the webhook carries the structured report', () => {
    const week = emptyWeek();
    week.breakerChanges = [{ at: TO, scope: '<!channel>', from: 'normal', to: 'soft', by: 'the gateway' }];
    week.breakerChangesTotal = 1;
    const { subject, payload } = securityReportNotification(report(week));
    const slack = slackMessage(asMessage(subject, payload), null) as { blocks: { text?: { text: string } }[] };
    const texts = slack.blocks.map((b) => b.text?.text ?? '');
    assert.ok(texts.some((t) => t.startsWith('*Circuit breakers*\n1 level change:')));
    assert.ok(
      texts.some((t) => t.includes('&lt;!channel&gt;: normal → soft')),
      'mrkdwn control characters escaped',
    );
    assert.ok(!texts.some((t) => t.includes('<!channel>')));
    const body = JSON.parse(webhookBody(asMessage(subject, payload), null));
    assert.equal(body.event, 'security.report');
    assert.equal(body.payload.report.breakers.changes, 1);
    assert.equal(body.payload.severity, 'info', 'a PagerDuty channel records it without paging');
  });

  test('the dependency audit date comes from the supply-chain record, or says it is not recorded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dep-audit-'));
    try {
      const file = join(dir, 'dependency-audit.json');
      await writeFile(
        file,
        JSON.stringify({
          checkedAt: '2026-11-28T09:00:00Z',
          outcome: 'not_checked',
          detail: 'ERR_PNPM_AUDIT_BAD_RESPONSE',
        }),
      );
      assert.deepEqual(await readDependencyAudit(file), {
        recorded: true,
        checkedAt: '2026-11-28T09:00:00.000Z',
        outcome: 'not_checked',
        note: 'ERR_PNPM_AUDIT_BAD_RESPONSE',
      });
      assert.equal((await readDependencyAudit(null)).recorded, false);
      assert.equal((await readDependencyAudit(join(dir, 'missing.json'))).recorded, false);
      await writeFile(file, JSON.stringify({ checkedAt: 'yesterday', outcome: 'passed' }));
      assert.equal(
        (await readDependencyAudit(file)).note,
        'not recorded: DEPENDENCY_AUDIT_FILE has no checkedAt date and outcome',
      );
      await writeFile(file, JSON.stringify({ checkedAt: '2026-11-28T09:00:00Z', outcome: 'fine' }));
      assert.equal((await readDependencyAudit(file)).recorded, false, 'an outcome outside the three is not trusted');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
