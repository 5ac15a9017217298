/**
 * The operator console (docs/console.md) in a real browser: Debian's chromium driven by playwright-core, against the
 * embedded test stack (Postgres, Redis, anvil, the signer as its own process, the gateway serving /console). An owner
 * signs in with TOTP; the approver opens the link a local webhook receiver captured from the approval notification,
 * sees the decoded recipient, amount and USD value, approves, and the intent confirms on anvil — at 1280 px and at
 * 390 px. The kill switch from the console stops signing; a policy with a lint error cannot be activated and a valid
 * one shows its dry-run first. Every request the console makes goes to the gateway; its CSP forbids inline script.
 * Screenshots of each page: .artifacts/console/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import type { Page } from 'playwright-core';
import { latchReleaseMessage } from '@clawd402/protocol';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { CONSOLE_CSP } from '../src/routes/console.ts';
import { RECIPIENTS, callJson, postIntent, startStack, waitForStatus, type Stack } from './support/stack.ts';
import { startReceiver, type Receiver } from './support/receivers.ts';
import {
  launchConsoleBrowser,
  sidewaysOverflow,
  signIn as signInAs,
  sleep,
  totpCodes,
  type ConsoleBrowser,
} from './support/browser.ts';

const PASSWORD = 'correct horse battery staple';
const CONSOLE_BASE = 'https://console.clawd402.test';
const WEBHOOK_SECRET = 'whsec_console_test_secret_0123456789';

// ETH is 2,000 USD in tests: 0.01 ETH (20 USD) is signed at once, 0.1 ETH (200 USD) waits for one human.
const POLICY = `
policies:
  - name: small_transfers
    conditions:
      transaction_type: transfer
      max_value_usd: 50
      recipient_whitelist: [${RECIPIENTS.map((r) => `"${r}"`).join(', ')}]
    action: auto_approve
  - name: needs_a_human
    conditions: { transaction_type: transfer, min_value_usd: 50, max_value_usd: 1000 }
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }
  - name: default_deny
    conditions: {}
    action: reject
`;

describe('operator console in a browser', { timeout: 600_000 }, () => {
  let stack: Stack;
  let receiver: Receiver;
  let browser: ConsoleBrowser;
  let agentToken: string;
  let nextOwnerCode: () => Promise<string>;

  before(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      policy: POLICY,
      env: { NOTIFY_ALLOW_PRIVATE_ADDRESSES: 'true', CONSOLE_BASE_URL: CONSOLE_BASE, NOTIFY_POLL_INTERVAL_MS: '200' },
    });
    agentToken = await stack.token();
    for (const [username, role] of [
      ['olivia', 'owner'],
      ['avery', 'approver'],
      ['blake', 'approver'],
    ] as const)
      await createUser(stack.pool, { username, passwordHash: await hashPassword(PASSWORD), role });
    // Olivia enrols TOTP through the API; from then on every login and kill-switch act needs a code.
    const login = await callJson(stack.baseUrl, '', 'POST', '/auth/login', { username: 'olivia', password: PASSWORD });
    const ownerToken = login.body.access_token as string;
    const enrolled = await callJson(stack.baseUrl, ownerToken, 'POST', '/auth/totp/enroll');
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    nextOwnerCode = totpCodes(enrolled.body.secret);
    const confirmed = await callJson(stack.baseUrl, ownerToken, 'POST', '/auth/totp/confirm', {
      code: await nextOwnerCode(),
    });
    assert.equal(confirmed.status, 204, JSON.stringify(confirmed.body));
    const channel = await callJson(stack.baseUrl, ownerToken, 'PUT', '/admin/notifications/channels/ops', {
      kind: 'webhook',
      url: `${receiver.url}/hooks/ops`,
      secret: WEBHOOK_SECRET,
    });
    assert.equal(channel.status, 201, JSON.stringify(channel.body));
    browser = await launchConsoleBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    await receiver?.close();
  });

  const open = (width: number) => browser.open(width);
  const shot = (page: Page, name: string) => browser.shot(page, name);
  const signIn = (page: Page, username: string, totp?: string) => signInAs(page, username, PASSWORD, totp);

  /** The approval link the webhook receiver got for `intentId`'s approval (bounded wait). */
  async function approvalLink(approvalId: string): Promise<string> {
    for (let i = 0; i < 150; i++) {
      const hit = receiver.received.find((r) => r.url === '/hooks/ops' && r.body.includes(approvalId));
      if (hit) return (JSON.parse(hit.body) as { links: { view: string } }).links.view;
      await sleep(200);
    }
    throw new Error(`no notification for approval ${approvalId}`);
  }

  async function pendingApprovalOf(intentId: string): Promise<{ id: string; digest: string }> {
    const token = await stack.loginAs('approver');
    const list = await callJson(stack.baseUrl, token, 'GET', '/admin/approvals?status=pending');
    return list.body.items.find((a: { intent: { id: string } }) => a.intent.id === intentId);
  }

  /** The approver's whole flow from a notification link, at `width`; answers the intent id. */
  async function approveFromNotification(width: number, approver: string, tag: string): Promise<string> {
    const sent = await postIntent(stack.baseUrl, agentToken, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[1],
      asset: 'native',
      amount: '0.1',
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 'pending_approval');
    const approval = await pendingApprovalOf(sent.body.id);
    const link = new URL(await approvalLink(approval.id));
    assert.equal(link.origin, CONSOLE_BASE);
    assert.equal(link.pathname, `/console/approvals/${approval.id}`);

    // The console is served by this gateway: open the link's path here.
    const page = await open(width);
    await page.goto(`${stack.baseUrl}${link.pathname}${link.search}`);
    await page.getByRole('heading', { name: /Sign in/ }).waitFor();
    await signIn(page, approver);
    await page.getByRole('heading', { name: /Approve 0\.1 ETH/ }).waitFor();
    assert.equal(await page.getByTestId('recipient').textContent(), RECIPIENTS[1]);
    assert.equal(await page.getByTestId('amount').textContent(), '0.1 ETH (native)');
    assert.equal(await page.getByTestId('usd').textContent(), '$200.00');
    assert.equal(await page.getByTestId('digest').textContent(), approval.digest, 'the digest shown is the one voted');
    assert.equal(await page.getByTestId('votes').textContent(), '0 of 1');
    await shot(page, `approval-${tag}`);
    if (width < 500) {
      const overflow = await sidewaysOverflow(page);
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px at ${width} px`);
    }
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Your decision was recorded.').waitFor();
    const confirmed = await waitForStatus(stack.baseUrl, agentToken, sent.body.id, ['confirmed', 'failed']);
    assert.equal(confirmed.status, 'confirmed');
    const receipt = await stack.chain.getTransactionReceipt({ hash: confirmed.txHash });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.to?.toLowerCase(), RECIPIENTS[1]!.toLowerCase());
    await page.reload();
    await page.getByText('1 of 1').waitFor();
    await shot(page, `approval-${tag}-approved`);
    return sent.body.id as string;
  }

  /** 0.01 ETH (20 USD): signed at once under the test policy, unless something stops it. */
  const smallTransfer = () =>
    postIntent(stack.baseUrl, agentToken, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[2],
      asset: 'native',
      amount: '0.01',
    });

  let ownerPage: Page;
  let intentId = '';

  test('an owner signs in with a TOTP code; without it the console says totp_required', async () => {
    ownerPage = await open(1280);
    await ownerPage.goto(`${stack.baseUrl}/console`);
    await ownerPage.getByRole('heading', { name: /Sign in/ }).waitFor();
    await shot(ownerPage, 'login');
    await ownerPage.getByLabel('Username').fill('olivia');
    await ownerPage.getByLabel('Password').fill(PASSWORD);
    await ownerPage.getByRole('button', { name: 'Sign in' }).click();
    await ownerPage.getByRole('alert').getByText('totp_required').waitFor();
    await signIn(ownerPage, 'olivia', await nextOwnerCode());
    await ownerPage.getByRole('heading', { name: 'Approvals' }).waitFor();
  });

  test('1280 px: an intent that needs approval appears; the approver approves from the notification link; it confirms on anvil', async () => {
    intentId = await approveFromNotification(1280, 'avery', 'desktop');
    await ownerPage.reload();
    await ownerPage.getByLabel('Status').selectOption('approved');
    await ownerPage
      .getByRole('link', { name: /transfer to/ })
      .first()
      .waitFor();
    await shot(ownerPage, 'approvals');
  });

  test('390 px: the same flow on a phone-width screen', async () => {
    await approveFromNotification(390, 'blake', 'phone');
  });

  test('the kill switch from the console stops signing (killswitch_engaged); releasing it lets intents through again', async () => {
    const page = ownerPage;
    await page.getByRole('link', { name: 'Kill switch' }).click();
    await page.getByRole('heading', { name: 'Kill switch' }).waitFor();
    const engage = page.getByRole('button', { name: 'Engage the kill switch' });
    await page.getByLabel('Reason').fill('console drill');
    await page.getByLabel('Type ENGAGE KILL SWITCH to confirm').fill('ENGAGE KILL SWITH');
    assert.equal(await engage.isDisabled(), true, 'a mistyped confirmation cannot engage');
    await page.getByLabel('Type ENGAGE KILL SWITCH to confirm').fill('ENGAGE KILL SWITCH');
    await page.getByLabel('Authenticator code (TOTP)').fill(await nextOwnerCode());
    await engage.click();
    await page.getByTestId('killswitch-state').getByText('ENGAGED').waitFor();
    await shot(page, 'killswitch-engaged');
    const refused = await smallTransfer();
    // The gateway refuses it itself (once in three runs it reached the latched signer, `signer_refused`: a refresh
    // of the switch that read before the engage committed wrote its stale view over it; they now run one at a time).
    assert.equal(refused.body.code, 'killswitch_engaged', JSON.stringify(refused.body));
    assert.equal(refused.body.intent?.txHash ?? null, null, 'nothing was signed');

    const latchId = (await page.getByTestId('latch-id').textContent())!;
    await page.getByLabel('Type RELEASE KILL SWITCH to confirm').fill('RELEASE KILL SWITCH');
    await page.getByLabel('Authenticator code (TOTP)').fill(await nextOwnerCode());
    await page
      .getByLabel('Signer release authorisation')
      .fill(sign(null, latchReleaseMessage(latchId), stack.releaseKeyPem).toString('base64url'));
    await page.getByRole('button', { name: 'Release the kill switch' }).click();
    await page.getByTestId('killswitch-state').getByText('Released').waitFor();
    await shot(page, 'killswitch-released');
    const allowed = await smallTransfer();
    assert.ok([200, 201, 202].includes(allowed.status), JSON.stringify(allowed.body));
    assert.notEqual(allowed.body.code, 'killswitch_engaged');
  });

  test('policies: a text with a lint error cannot be activated; a valid one shows its dry-run diff before activating', async () => {
    const page = ownerPage;
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByTestId('active-version').waitFor();
    const before = await page.getByTestId('active-version').textContent();
    const editor = page.getByLabel('Policy set (YAML)');
    // Polled from here: a string predicate would be eval'd in the page, which the console's CSP forbids.
    let text = '';
    for (let i = 0; i < 200 && text.length === 0; i += 1) {
      text = await editor.inputValue();
      if (text.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(text.length > 0, 'the active set is loaded into the editor');
    // Without the final match-all rule the set lints with `no_final_deny`, an error.
    await editor.fill(text.slice(0, text.indexOf('  - name: default_deny')));
    await page.getByTestId('lint-summary').getByText('1 error(s)').waitFor();
    await page.getByText('no_final_deny').waitFor();
    const activate = page.getByRole('button', { name: 'Activate' });
    assert.equal(await activate.isDisabled(), true, 'a set with lint errors cannot be activated');
    assert.equal(await page.locator('#activate-why').textContent(), 'Fix the lint errors first.');
    await shot(page, 'policies-lint-error');

    // Valid: transfers above 150 USD are now refused (default_deny) instead of waiting for a human. The dry-run shows
    // the 200 USD intents approved above among the decisions that would change, and only then may it be activated.
    await editor.fill(text.replace('max_value_usd: 1000', 'max_value_usd: 150'));
    await page
      .getByTestId('lint-summary')
      .getByText(/^0 error\(s\)/)
      .waitFor();
    assert.equal(await activate.isDisabled(), true, 'not before its dry-run');
    assert.equal(await page.locator('#activate-why').textContent(), 'Run the dry-run on this text first.');
    await page.getByRole('button', { name: /Dry-run/ }).click();
    await page.getByTestId('dry-run-totals').waitFor();
    assert.match((await page.getByTestId('dry-run-totals').textContent())!, /intents replayed: [1-9]\d* would change/);
    const changed = page.getByRole('table', { name: 'Decisions that would change' });
    await changed
      .getByRole('cell', { name: /reject default_deny/ })
      .first()
      .waitFor();
    assert.ok((await changed.getByRole('cell', { name: /require human approval needs_a_human/ }).count()) >= 2);
    await shot(page, 'policies-dry-run');
    await activate.click();
    await page.getByText(/Activated version \d+/).waitFor();
    const after = await callJson(stack.baseUrl, await stack.loginAs('owner'), 'GET', '/admin/policies');
    assert.equal(after.body.active.version, Number(before) + 1);
  });

  test('intents, one intent with its audit trail, money, alerts, agents and the audit log render', async () => {
    const page = ownerPage;
    await page.getByRole('link', { name: 'Intents' }).click();
    await page.getByRole('heading', { name: 'Intents' }).waitFor();
    await page.getByLabel('Status').selectOption('confirmed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('cell', { name: 'confirmed' }).first().waitFor();
    await shot(page, 'intents');
    await page.goto(`${stack.baseUrl}/console/intents/${intentId}`);
    await page.getByRole('heading', { name: /transfer of 0\.1 ETH/ }).waitFor();
    await page.getByText('verified intact').waitFor();
    await page
      .getByRole('cell', { name: 'approval.approved' })
      .or(page.getByRole('cell', { name: /approv/ }))
      .first()
      .waitFor();
    await shot(page, 'intent');
    for (const [link, heading, name] of [
      ['Money', 'Money', 'money'],
      ['Alerts', 'Alerts', 'alerts'],
      ['Agents', 'Agents and keys', 'agents'],
      ['Audit', 'Audit log', 'audit'],
    ] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading }).waitFor();
      await page.getByRole('table').first().waitFor();
      await shot(page, name);
    }
  });

  test('the console asks only the gateway for anything, and its CSP forbids inline script', async () => {
    const origin = new URL(stack.baseUrl).origin;
    const { requests, cspViolations } = browser;
    assert.ok(requests.length > 20, `recorded ${requests.length} requests`);
    const elsewhere = requests.filter((url) => new URL(url).origin !== origin);
    assert.deepEqual(elsewhere, [], 'no request to another host');
    const res = await fetch(`${stack.baseUrl}/console/approvals/x`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.equal(csp, CONSOLE_CSP);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(await res.text(), /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
    assert.deepEqual(cspViolations, [], 'the console itself breaks none of it');
  });
});
