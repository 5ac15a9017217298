// The operator CLI against the real stack (Postgres, Redis, anvil, the signer process, the gateway): every command is
// run as a child process, as a script would, asserting exit statuses and --json documents (docs/cli.md).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sign, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as OTPAuth from 'otpauth';
import { latchReleaseMessage } from '@clawd402/protocol';
import { RECIPIENTS, callJson, postIntent, startStack, waitForStatus, type Stack } from '@clawd402/gateway/testing';
import { clawd402Input, clawd402Tty } from './support.ts';

const R0 = RECIPIENTS[0]!;
const R1 = RECIPIENTS[1]!;
const rules = (second: string): string => `
policies:
${second}
  - name: small_transfers_to_dev_accounts
    conditions: { transaction_type: transfer, max_value: "100", recipient_whitelist: ["${R0}"] }
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`;
/** Transfers to anvil account 2 need a human; small ones to account 1 are approved; nothing else. */
const POLICY = rules(`  - name: a_human_decides
    conditions: { transaction_type: transfer, recipient_whitelist: ["${R1}"] }
    action: require_human_approval
    notification: { channels: [ops], timeout: 600 }`);
/** The pushed set: transfers to account 2 are rejected instead. */
const PUSHED = rules(`  - name: no_transfers_to_account_2
    conditions: { transaction_type: transfer, recipient_whitelist: ["${R1}"] }
    action: reject`);
/** Lints with an error: no final match-all deny. */
const NO_FINAL_DENY = `
policies:
  - name: anything_goes
    conditions: { transaction_type: transfer }
    action: auto_approve
`;

interface Operator {
  username: string;
  password: string;
  env: NodeJS.ProcessEnv;
  totp?: OTPAuth.TOTP;
}

describe('clawd402 operator commands', { timeout: 600_000 }, () => {
  let stack: Stack;
  let agentToken: string;
  let root: string;
  let admin: string;
  let owner: Operator;
  let approver: Operator;
  let approvalIntent: string;

  /** A user with a known password, and a config directory of its own for the CLI's session. */
  const operator = async (role: 'owner' | 'approver'): Promise<Operator> => {
    const username = `${role}-cli-${randomBytes(3).toString('hex')}`;
    const password = randomBytes(16).toString('hex');
    const created = await callJson(stack.baseUrl, admin, 'POST', '/admin/users', { username, password, role });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const config = join(root, username);
    return { username, password, env: { XDG_CONFIG_HOME: config, CLAWD402_URL: stack.baseUrl } };
  };
  /**
   * Enrol TOTP over HTTP, confirmed with the previous step's code, so the CLI's login (this step's code) and one
   * step-up (the next step's) are each later than the last one used, without waiting for the clock.
   */
  const enrolTotp = async (o: Operator): Promise<void> => {
    const login = await fetch(`${stack.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: o.username, password: o.password }),
    });
    const token = ((await login.json()) as { access_token: string }).access_token;
    const enrolled = await callJson(stack.baseUrl, token, 'POST', '/auth/totp/enroll');
    o.totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrolled.body.secret), digits: 6, period: 30 });
    const confirmed = await callJson(stack.baseUrl, token, 'POST', '/auth/totp/confirm', {
      code: o.totp.generate({ timestamp: Date.now() - 30_000 }),
    });
    assert.equal(confirmed.status, 204, JSON.stringify(confirmed.body));
  };
  const cli = (o: Operator, args: string[], input = '') => clawd402Input(args, o.env, input);
  const login = (o: Operator, code?: string) =>
    cli(o, ['login', '--username', o.username, '--password-stdin'], `${o.password}\n${code ?? ''}\n`);
  const sessionFile = (o: Operator): string => join(String(o.env.XDG_CONFIG_HOME), 'clawd402', 'session.json');

  before(async () => {
    stack = await startStack({ policy: POLICY });
    agentToken = await stack.token();
    admin = await stack.loginAs('owner');
    root = mkdtempSync(join(tmpdir(), 'clawd402-cli-'));
    owner = await operator('owner');
    approver = await operator('approver');
  });
  after(async () => {
    rmSync(root, { recursive: true, force: true });
    await stack?.stop();
  });

  test('login with password and TOTP from stdin; the session file is 0600 in a 0700 directory', async () => {
    await enrolTotp(owner);
    const noCode = await login(owner);
    assert.deepEqual([noCode.status, noCode.json.error.code], [5, 'login_failed']);
    assert.equal(noCode.json.error.detail.gatewayCode, 'totp_required');
    const wrong = await login(owner, owner.totp!.generate() === '000000' ? '111111' : '000000');
    assert.deepEqual([wrong.status, wrong.json.error.code], [5, 'login_failed']);

    const ok = await login(owner, owner.totp!.generate());
    assert.equal(ok.status, 0, JSON.stringify(ok.json) + ok.stderr);
    assert.deepEqual([ok.json.username, ok.json.gateway], [owner.username, new URL(stack.baseUrl).origin]);
    assert.equal(ok.json.sessionFile, sessionFile(owner));
    assert.equal(statSync(sessionFile(owner)).mode & 0o777, 0o600);
    assert.equal(statSync(join(String(owner.env.XDG_CONFIG_HOME), 'clawd402')).mode & 0o777, 0o700);
    // Nothing secret is printed: neither the password nor a token.
    assert.doesNotMatch(JSON.stringify(ok.json) + ok.stderr, new RegExp(owner.password));
    assert.doesNotMatch(JSON.stringify(ok.json), /eyJ/);

    const approverLogin = await login(approver);
    assert.equal(approverLogin.status, 0, JSON.stringify(approverLogin.json));
  });

  test('a password is never taken on the command line', async () => {
    const r = await cli(owner, ['login', '--username', owner.username, '--password', owner.password]);
    assert.deepEqual([r.status, r.json.error.code], [2, 'usage']);
    assert.doesNotMatch(JSON.stringify(r.json) + r.stderr, new RegExp(owner.password));
    // Without a terminal and without --password-stdin there is nowhere to read it from.
    const noTty = await cli(owner, ['login', '--username', owner.username]);
    assert.deepEqual([noTty.status, noTty.json.error.code], [2, 'usage']);
  });

  test('approvals: an intent that needs approval is listed, shown, approved with the digest shown, and confirms on anvil', async () => {
    const sent = await postIntent(stack.baseUrl, agentToken, {
      type: 'transfer',
      chainId: 31337,
      to: R1,
      asset: 'native',
      amount: '0.001',
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    approvalIntent = sent.body.id;

    const listed = await cli(approver, ['approvals', 'list']);
    assert.equal(listed.status, 0, JSON.stringify(listed.json));
    const item = listed.json.items.find((a: { intent: { id: string } }) => a.intent.id === approvalIntent);
    assert.ok(item, 'the pending approval is listed');
    const shown = await cli(approver, ['approvals', 'show', item.id]);
    assert.equal(shown.status, 0);
    assert.deepEqual([shown.json.intent.to, shown.json.intent.amount], [R1, '0.001']);
    assert.match(shown.json.digest, /^sha256:[0-9a-f]{64}$/);

    // Without a terminal and without --yes or --digest it asks nobody and changes nothing.
    const unconfirmed = await cli(approver, ['approvals', 'approve', item.id]);
    assert.deepEqual([unconfirmed.status, unconfirmed.json.error.code], [3, 'confirmation_required']);
    // A digest other than the approval's is refused by the gateway with its code.
    const otherDigest = `sha256:${'0'.repeat(64)}`;
    const mismatch = await cli(approver, ['approvals', 'approve', item.id, '--digest', otherDigest]);
    assert.deepEqual([mismatch.status, mismatch.json.error.code], [3, 'gateway_refused']);
    assert.equal(mismatch.json.error.detail.gatewayCode, 'approval_digest_mismatch');
    const still = await callJson(stack.baseUrl, admin, 'GET', `/admin/approvals/${item.id}`);
    assert.equal(still.body.status, 'pending');

    const approved = await cli(approver, ['approvals', 'approve', item.id, '--yes']);
    assert.equal(approved.status, 0, JSON.stringify(approved.json) + approved.stderr);
    assert.equal(approved.json.status, 'approved');
    assert.equal(approved.json.digest, shown.json.digest);
    assert.match(approved.stderr, new RegExp(`digest +${shown.json.digest}`), 'the digest voted for was shown');
    const confirmed = await waitForStatus(stack.baseUrl, agentToken, approvalIntent, ['confirmed', 'failed']);
    assert.equal(confirmed.status, 'confirmed');
    const receipt = await stack.chain.getTransactionReceipt({ hash: confirmed.txHash });
    assert.equal(receipt.status, 'success');

    const detail = await cli(owner, ['intents', 'show', approvalIntent]);
    assert.equal(detail.status, 0);
    assert.deepEqual([detail.json.intent.status, detail.json.intent.txHash], ['confirmed', confirmed.txHash]);
    assert.ok(detail.json.audit.some((a: { action: string }) => a.action === 'intent.decided'));
    const listedIntents = await cli(owner, ['intents', 'list', '--status', 'confirmed']);
    assert.ok(listedIntents.json.items.some((i: { intent: { id: string } }) => i.intent.id === approvalIntent));
  });

  test('policy push: a set with lint errors stops at the lint; refused without a terminal or --yes; --yes activates after the diff', async () => {
    const activeVersion = async (): Promise<number | null> =>
      (await callJson(stack.baseUrl, admin, 'GET', '/admin/policies')).body.active?.version ?? null;
    const before = await activeVersion();
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, NO_FINAL_DENY);
    const linted = await cli(owner, ['policy', 'push', bad, '--yes']);
    assert.deepEqual([linted.status, linted.json.error.code], [1, 'policy_lint_failed']);
    assert.ok(linted.json.error.detail.lint.errors.some((f: { code: string }) => f.code === 'no_final_deny'));

    const file = join(root, 'pushed.yaml');
    writeFileSync(file, PUSHED);
    const refused = await cli(owner, ['policy', 'push', file]);
    assert.deepEqual([refused.status, refused.json.error.code], [3, 'confirmation_required']);
    // The diff was shown before the question: the approved intent would now be rejected.
    assert.match(
      refused.stderr,
      new RegExp(`${approvalIntent} .*require_human_approval by a_human_decides +-> +reject`),
    );
    assert.equal(await activeVersion(), before, 'nothing activated');

    const pushed = await cli(owner, ['policy', 'push', file, '--yes']);
    assert.equal(pushed.status, 0, JSON.stringify(pushed.json) + pushed.stderr);
    assert.deepEqual(pushed.json.lint.errors, []);
    const change = pushed.json.replay.changes.find((c: { intentId: string }) => c.intentId === approvalIntent);
    assert.deepEqual([change.before.action, change.after.action], ['require_human_approval', 'reject']);
    assert.equal(pushed.json.activated.version, pushed.json.version);
    assert.equal(await activeVersion(), pushed.json.version);
    const now = await postIntent(stack.baseUrl, agentToken, {
      type: 'transfer',
      chainId: 31337,
      to: R1,
      asset: 'native',
      amount: '0.001',
    });
    assert.deepEqual([now.status, now.body.code], [403, 'policy_denied']);
  });

  test('killswitch on stops signing (an intent sent after is refused with killswitch_engaged); off releases it', async () => {
    const transfer = () =>
      postIntent(stack.baseUrl, agentToken, { type: 'transfer', chainId: 31337, to: R0, asset: 'native', amount: '1' });
    const noReason = await cli(owner, ['killswitch', 'on', '--yes', '--totp-stdin'], '123456\n');
    assert.deepEqual([noReason.status, noReason.json.error.code], [2, 'usage']);
    const unconfirmed = await cli(owner, ['killswitch', 'on', '--reason', 'drill', '--totp-stdin'], '123456\n');
    assert.deepEqual([unconfirmed.status, unconfirmed.json.error.code], [3, 'confirmation_required']);

    const engaged = await cli(
      owner,
      ['killswitch', 'on', '--reason', 'cli drill', '--yes', '--totp-stdin'],
      `${owner.totp!.generate({ timestamp: Date.now() + 30_000 })}\n`,
    );
    assert.equal(engaged.status, 0, JSON.stringify(engaged.json) + engaged.stderr);
    assert.deepEqual([engaged.json.killSwitch.engaged, engaged.json.killSwitch.reason], [true, 'cli drill']);
    const refused = await transfer();
    assert.deepEqual([refused.status, refused.body.code], [403, 'killswitch_engaged']);

    const status = await cli(owner, ['killswitch', 'status']);
    assert.equal(status.status, 0);
    assert.deepEqual([status.json.killSwitch.engaged, status.json.signer.latched], [true, true]);
    const security = await cli(owner, ['security-status']);
    assert.equal(security.status, 0, JSON.stringify(security.json));
    assert.deepEqual(security.json.killSwitch, { engaged: true, signerLatched: true, pauses: 0 });
    // The test stack is a development stack: the baseline is not hardened, and says why item by item.
    assert.equal(security.json.baseline.level, 'needs_attention');
    assert.ok(
      security.json.baseline.checks.some((c: { id: string; ok: boolean }) => c.id === 'production_mode' && !c.ok),
    );

    // A second owner releases, with the owners' release signature over the signer's latch id.
    const second = await operator('owner');
    await enrolTotp(second);
    assert.equal((await login(second, second.totp!.generate())).status, 0);
    const release = sign(null, latchReleaseMessage(status.json.signer.latchId), stack.releaseKeyPem).toString(
      'base64url',
    );
    const released = await cli(
      second,
      ['killswitch', 'off', '--yes', '--totp-stdin', '--signer-release', release],
      `${second.totp!.generate({ timestamp: Date.now() + 30_000 })}\n`,
    );
    assert.equal(released.status, 0, JSON.stringify(released.json) + released.stderr);
    assert.equal(released.json.released, true);
    const after = await transfer();
    assert.equal(after.status, 201, JSON.stringify(after.body));
  });

  test('agents, keys and pauses: a new key is shown once and works; rotate, revoke; pause and resume an agent', async () => {
    const agents = await cli(owner, ['agents', 'list']);
    assert.equal(agents.status, 0);
    assert.ok(agents.json.items.some((a: { id: string }) => a.id === stack.agent.agentId));
    const created = await cli(owner, [
      'keys',
      'create',
      '--agent',
      stack.agent.agentId,
      '--label',
      'cli',
      '--chains',
      '31337',
    ]);
    assert.equal(created.status, 0, JSON.stringify(created.json));
    assert.equal(typeof (await stack.token(created.json.apiKey)), 'string', 'the new key exchanges for a token');
    const rotated = await cli(owner, ['keys', 'rotate', created.json.apiKeyId, '--overlap-seconds', '0']);
    assert.equal(rotated.status, 0, JSON.stringify(rotated.json));
    assert.notEqual(rotated.json.apiKey, created.json.apiKey);
    const revoked = await cli(owner, ['keys', 'revoke', rotated.json.apiKeyId]);
    assert.equal(revoked.status, 0);
    assert.ok(revoked.json.revokedAt);
    await assert.rejects(stack.token(rotated.json.apiKey), /401/);

    const paused = await cli(owner, ['pause', 'agent', stack.agent.agentId, '--reason', 'cli drill']);
    assert.equal(paused.status, 0, JSON.stringify(paused.json));
    const refused = await postIntent(stack.baseUrl, agentToken, {
      type: 'transfer',
      chainId: 31337,
      to: R0,
      asset: 'native',
      amount: '1',
    });
    assert.deepEqual([refused.status, refused.body.code], [403, 'agent_paused']);
    assert.equal((await cli(owner, ['resume', 'agent', stack.agent.agentId])).status, 0);
  });

  test('audit verify runs the verification job and reports the chain verified', async () => {
    const r = await cli(owner, ['audit', 'verify', '--wait', '120']);
    assert.equal(r.status, 0, JSON.stringify(r.json) + r.stderr);
    assert.equal(r.json.outcome, 'succeeded');
    assert.ok(r.json.detail.rows > 0);
  });

  test('exit statuses scripts rely on: not found 6, gateway unreachable 4, not logged in 5, usage 2', async () => {
    const missing = await cli(owner, ['intents', 'show', randomUUID()]);
    assert.deepEqual([missing.status, missing.json.error.code], [6, 'gateway_not_found']);
    const down = await clawd402Input(
      ['login', '--username', 'x', '--password-stdin', '--gateway', 'http://127.0.0.1:1'],
      { XDG_CONFIG_HOME: join(root, 'nobody') },
      'x\n',
    );
    assert.deepEqual([down.status, down.json.error.code], [4, 'gateway_unavailable']);
    const nobody = await clawd402Input(['approvals', 'list'], { XDG_CONFIG_HOME: join(root, 'nobody') });
    assert.deepEqual([nobody.status, nobody.json.error.code], [5, 'not_logged_in']);
    // A session is only ever sent to the origin that issued it.
    const elsewhere = await cli(owner, ['approvals', 'list', '--gateway', 'http://localhost:1']);
    assert.deepEqual([elsewhere.status, elsewhere.json.error.code], [5, 'not_logged_in']);
    const cleartext = await cli(owner, ['approvals', 'list', '--gateway', 'http://gateway.example']);
    assert.deepEqual([cleartext.status, cleartext.json.error.code], [2, 'usage']);
    const stray = await cli(owner, ['approvals', 'show']);
    assert.deepEqual([stray.status, stray.json.error.code], [2, 'usage']);
  });

  test('hostile: a session file with mode 0644, or in a directory open to others, or a symlink, is refused', async () => {
    const file = sessionFile(approver);
    const dir = join(String(approver.env.XDG_CONFIG_HOME), 'clawd402');
    chmodSync(file, 0o644);
    const loose = await cli(approver, ['approvals', 'list']);
    assert.deepEqual([loose.status, loose.json.error.code], [5, 'token_file_insecure']);
    assert.match(loose.json.error.message, /mode 644/);
    chmodSync(file, 0o600);
    chmodSync(dir, 0o755);
    const openDir = await cli(approver, ['approvals', 'list']);
    assert.deepEqual([openDir.status, openDir.json.error.code], [5, 'token_file_insecure']);
    chmodSync(dir, 0o700);
    assert.equal((await cli(approver, ['approvals', 'list'])).status, 0, 'usable again once fixed');

    // A symlink in place of the file (someone pointing the CLI at a file they control) is not followed.
    const elsewhere = join(root, 'planted.json');
    writeFileSync(elsewhere, '{"version":1,"sessions":{}}', { mode: 0o600 });
    const symlinked = { ...approver, env: { ...approver.env, XDG_CONFIG_HOME: join(root, 'symlinked') } };
    const symDir = join(root, 'symlinked', 'clawd402');
    mkdirSync(symDir, { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, join(symDir, 'session.json'));
    const viaLink = await cli(symlinked, ['approvals', 'list']);
    assert.deepEqual([viaLink.status, viaLink.json.error.code], [5, 'token_file_insecure']);
  });

  test('without --json, reads print lines for a person (exit 0)', async () => {
    const human = async (args: string[]): Promise<string> => {
      const r = await clawd402Input(args, owner.env, '', { json: false });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(await human(['intents', 'show', approvalIntent]), new RegExp(`to +${R1}`));
    assert.match(await human(['intents', 'list']), /^ID +STATUS/m);
    assert.match(await human(['approvals', 'list', '--status', 'approved']), new RegExp(R1));
    assert.match(await human(['agents', 'list']), new RegExp(stack.agent.agentId));
    assert.match(await human(['killswitch', 'status']), /kill switch +released/);
    assert.match(await human(['security-status']), /^audit chain +last verified/m);
  });

  test('on a terminal: the password is typed without echo, and policy push asks y/N ("n" changes nothing)', async () => {
    const tty = { ...approver, env: { ...approver.env, XDG_CONFIG_HOME: join(root, 'tty') } };
    const login = await clawd402Tty(['login', '--username', approver.username], tty.env, [
      { prompt: 'password: ', reply: approver.password },
    ]);
    assert.equal(login.status, 0, login.screen);
    assert.match(login.screen, /logged in to/);
    assert.doesNotMatch(login.screen, new RegExp(approver.password), 'the password was not echoed');

    const before = (await callJson(stack.baseUrl, admin, 'GET', '/admin/policies')).body.active.version;
    const file = join(root, 'tty.yaml');
    writeFileSync(file, PUSHED.replace('no_transfers_to_account_2', 'still_no_transfers_to_account_2'));
    const declined = await clawd402Tty(['policy', 'push', file], owner.env, [{ prompt: '[y/N] ', reply: 'n' }]);
    assert.equal(declined.status, 3, declined.screen);
    assert.match(declined.screen, /replay of the last \d+ intent\(s\)/);
    assert.match(declined.screen, /not_confirmed/);
    assert.equal((await callJson(stack.baseUrl, admin, 'GET', '/admin/policies')).body.active.version, before);
  });

  test('an expiring access token is refreshed (the refresh token rotates); a refresh token used twice ends the session', async () => {
    const read = () => JSON.parse(readFileSync(sessionFile(owner), 'utf8'));
    const origin = new URL(stack.baseUrl).origin;
    const first = read();
    const old = first.sessions[origin];
    first.sessions[origin].accessExpiresAt = new Date(0).toISOString();
    writeFileSync(sessionFile(owner), JSON.stringify(first));
    const refreshed = await cli(owner, ['killswitch', 'status']);
    assert.equal(refreshed.status, 0, JSON.stringify(refreshed.json));
    const now = read().sessions[origin];
    assert.notEqual(now.refreshToken, old.refreshToken);
    assert.equal(statSync(sessionFile(owner)).mode & 0o777, 0o600, 'rewritten 0600');

    // Replaying the used refresh token (a copied session file) is reuse: the gateway ends the whole session.
    writeFileSync(
      sessionFile(owner),
      JSON.stringify({ version: 1, sessions: { [origin]: { ...old, accessExpiresAt: new Date(0).toISOString() } } }),
    );
    const replayed = await cli(owner, ['killswitch', 'status']);
    assert.deepEqual([replayed.status, replayed.json.error.code], [5, 'session_expired']);
    writeFileSync(sessionFile(owner), JSON.stringify({ version: 1, sessions: { [origin]: now } }));
    const ended = await cli(owner, ['killswitch', 'status']);
    assert.deepEqual([ended.status, ended.json.error.code], [5, 'session_expired'], 'the rotated token died with it');
  });

  test('logout ends the session on the gateway and removes it locally', async () => {
    const out = await cli(approver, ['logout']);
    assert.equal(out.status, 0, JSON.stringify(out.json));
    const after = await cli(approver, ['approvals', 'list']);
    assert.deepEqual([after.status, after.json.error.code], [5, 'not_logged_in']);
  });
});
