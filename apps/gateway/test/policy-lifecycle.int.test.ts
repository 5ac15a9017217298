// Policy lifecycle (docs/policy-lifecycle.md): versions in Postgres, activation on every process, dry-run and replay.
// Real Postgres, Redis, anvil and signer; a second gateway runs as its own OS process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import pino from 'pino';
import { getAddress } from 'viem';
import { evaluate, lintPolicySet, loadPolicySet, type AvailableFacts } from '@clawd402/policy';
import { createTestDatabase, type TestDatabase } from '@clawd402/testkit';
import { createPool, withTransaction } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { PolicyStore } from '../src/policy/policy-store.ts';
import { policyFollower } from '../src/workers/gateway-workers.ts';
import { Worker } from '../src/workers/worker.ts';
import { activatePolicyVersion, insertPolicyVersion } from '../src/repositories/policies-repository.ts';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { RECIPIENTS, TEST_POLICY, count, postIntent, startStack, type Stack } from './support/stack.ts';

const PASSWORD = 'correct horse battery staple';
/** A recipient TEST_POLICY does not allow (the conventional burn address; anvil only, no real funds). */
const SINK = getAddress('0x000000000000000000000000000000000000dead');
const [R0, R1, R2] = RECIPIENTS as [string, string, string];
const list = (addresses: string[]) => `[${addresses.map((a) => `"${a}"`).join(', ')}]`;

/** Like TEST_POLICY, but SINK is allowed too. */
const WIDER = `
policies:
  - name: dev_accounts_and_sink
    conditions:
      transaction_type: transfer
      max_value: "100"
      recipient_whitelist: ${list([...RECIPIENTS, SINK])}
    action: auto_approve
  - name: deny_rest
    conditions: {}
    action: reject
`;
/** Active while the replay intents are made: native transfers of at most 1 to R0–R2. */
const REPLAY_ACTIVE = `
policies:
  - name: small_native
    conditions: { transaction_type: transfer, asset: native, max_value: "1", recipient_whitelist: ${list([R0, R1, R2])} }
    action: auto_approve
  - name: deny_rest
    conditions: {}
    action: reject
`;
/** Flips exactly two of the replay intents: R1 is blocked (0.6 → R1), and up to 2.5 is allowed (2 → R0). */
const REPLAY_CANDIDATE = `
policies:
  - name: blocked
    conditions: { recipient_blacklist: ${list([R1])} }
    action: reject
  - name: small_native
    conditions: { transaction_type: transfer, asset: native, max_value: "2.5", recipient_whitelist: ${list([R0, R1, R2])} }
    action: auto_approve
  - name: deny_rest
    conditions: {}
    action: reject
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Poll `probe` until it returns a value (bounded); no timing assertion, only the outcome. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, attempts = 100): Promise<T> {
  for (let i = 0; i < attempts; i += 1) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('policy lifecycle through the admin API', () => {
  let stack: Stack;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let agentToken: string;

  async function call(
    method: string,
    path: string,
    options: { as?: string; body?: unknown; contentType?: string; baseUrl?: string; raw?: string } = {},
  ): Promise<{ status: number; body: any }> {
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const res = await fetch(`${options.baseUrl ?? stack.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.as === 'agent' ? agentToken : tokens[options.as ?? 'admin']}`,
        ...(body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
      },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  const upload = (text: string, contentType = 'application/yaml') =>
    call('POST', '/admin/policies', { raw: text, contentType });
  const transfer = (to: string, amount: string) => ({
    type: 'transfer',
    chainId: stack.anvil.chainId,
    to,
    asset: 'native',
    amount,
  });

  before(async () => {
    stack = await startStack();
    const hash = await hashPassword(PASSWORD);
    for (const [username, role] of [
      ['adam', 'admin'],
      ['vera', 'viewer'],
      ['otto', 'operator'],
    ] as const) {
      ids[username] = await createUser(stack.pool, { username, passwordHash: hash, role });
      const res = await fetch(`${stack.baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      tokens[role] = ((await res.json()) as { access_token: string }).access_token;
    }
    agentToken = await stack.token();
  });
  after(async () => stack?.stop());

  test('boot imports POLICY_FILE as version 1 by system; decisions carry its hash, which finds the version', async () => {
    const listed = await call('GET', '/admin/policies');
    assert.equal(listed.status, 200);
    assert.equal(listed.body.active.version, 1);
    assert.equal(listed.body.active.activatedBy, 'system');
    assert.deepEqual(listed.body.loaded, { version: 1, hash: listed.body.active.hash, loaded: true });
    assert.equal(listed.body.items.length, 1);
    // Outside production the file is activated even with lint errors (TEST_POLICY has no final deny); they are stored.
    const expectedLint = lintPolicySet(loadPolicySet(TEST_POLICY), { configuredChannels: [], production: false });
    assert.deepEqual(
      { ...listed.body.items[0], createdAt: undefined },
      {
        version: 1,
        hash: loadPolicySet(TEST_POLICY).hash,
        format: 'yaml',
        author: 'system',
        active: true,
        createdAt: undefined,
        lint: { errors: expectedLint.errors.length, warnings: expectedLint.warnings.length },
      },
    );
    const one = await call('GET', '/admin/policies/1');
    assert.equal(one.body.content, TEST_POLICY);
    assert.deepEqual(one.body.lint, JSON.parse(JSON.stringify(expectedLint)));
    const audited = await stack.pool.query(
      "SELECT action FROM audit_log WHERE actor = 'system:gateway' AND subject = 'policy:1' ORDER BY seq",
    );
    assert.deepEqual(
      audited.rows.map((r) => r.action),
      ['policy.created', 'policy.activated'],
    );

    const intent = await postIntent(stack.baseUrl, agentToken, transfer(R0, '0.01'));
    assert.equal(intent.body.decision.policySetHash, listed.body.active.hash);
    const found = await call('GET', `/admin/policies?hash=${intent.body.decision.policySetHash}`);
    assert.deepEqual(
      found.body.items.map((v: { version: number }) => v.version),
      [1],
    );
  });

  test('a set uploaded as YAML or JSON becomes the next version with its hash and lint; the text is stored as sent', async () => {
    const yaml = await upload(WIDER);
    assert.equal(yaml.status, 201);
    assert.deepEqual(Object.keys(yaml.body).sort(), ['hash', 'lint', 'version']);
    assert.equal(yaml.body.version, 2);
    assert.equal(yaml.body.hash, loadPolicySet(WIDER).hash);
    assert.deepEqual(yaml.body.lint.errors, []);
    assert.ok(Array.isArray(yaml.body.lint.warnings));

    // The same set as JSON: a new version with the same hash (the hash is of the parsed document).
    const asJson = JSON.stringify(
      loadPolicySet(WIDER).rules.map((r) => ({ name: r.name, conditions: r.conditions, action: r.action })),
    );
    const jsonText = `{"policies": ${asJson}}`;
    const json = await upload(jsonText, 'application/json; charset=utf-8');
    assert.deepEqual([json.status, json.body.version, json.body.hash], [201, 3, yaml.body.hash]);
    for (const type of ['text/yaml', 'application/x-yaml']) assert.equal((await upload(WIDER, type)).status, 201);

    const stored = await call('GET', '/admin/policies/3');
    assert.deepEqual(
      [stored.body.content, stored.body.format, stored.body.active, stored.body.author],
      [jsonText, 'json', false, ids.adam],
    );
    const same = await call('GET', `/admin/policies?hash=${yaml.body.hash}`);
    assert.deepEqual(
      same.body.items.map((v: { version: number }) => v.version),
      [5, 4, 3, 2],
    );
    assert.equal(same.body.active.version, 1, 'uploading activates nothing');
    assert.equal(
      await count(
        stack.pool,
        "SELECT count(*)::int AS n FROM audit_log WHERE action = 'policy.created' AND actor = $1",
        [`user:${ids.adam}`],
      ),
      4,
    );
  });

  test('a set that does not load is refused with 422 policy_invalid listing every issue; nothing is stored', async () => {
    const before = await count(stack.pool, 'SELECT count(*)::int AS n FROM policy_versions');
    const bad = await upload(
      'policies:\n  - name: x\n    conditions: { max_valu: "1" }\n    action: approve_everything\n',
    );
    assert.deepEqual([bad.status, bad.body.code], [422, 'policy_invalid']);
    const paths = bad.body.details.issues.map((i: { path: string }) => i.path).sort();
    assert.deepEqual(paths, ['policies[0].action', 'policies[0].conditions.max_valu']);
    const broken = await upload('policies: [');
    assert.deepEqual([broken.status, broken.body.code], [422, 'policy_invalid']);
    const badJson = await upload('{"policies": [}', 'application/json');
    assert.deepEqual([badJson.status, badJson.body.code], [422, 'policy_invalid']);
    const plain = await upload(WIDER, 'text/plain');
    assert.deepEqual([plain.status, plain.body.code], [415, 'unsupported_media_type']);
    assert.equal(await count(stack.pool, 'SELECT count(*)::int AS n FROM policy_versions'), before);
  });

  test('activation reaches a second gateway process: it decides with the new set (no restart)', async () => {
    const other = await stack.spawnGateway();
    const v1 = (await call('GET', '/admin/policies/1')).body.hash as string;
    const v2 = (await call('GET', '/admin/policies/2')).body.hash as string;
    // Under version 1 SINK is not allowed.
    const first = await postIntent(other.baseUrl, agentToken, transfer(SINK, '0.01'));
    assert.deepEqual([first.status, first.body.intent.decision.policySetHash], [403, v1]);

    const activated = await call('POST', '/admin/policies/2/activate');
    assert.equal(activated.status, 200);
    assert.deepEqual(
      { ...activated.body, activatedAt: undefined },
      {
        version: 2,
        hash: v2,
        previousVersion: 1,
        activatedBy: ids.adam,
        changed: true,
        activatedAt: undefined,
      },
    );
    // The activating process switched at once.
    const here = await postIntent(stack.baseUrl, agentToken, transfer(SINK, '0.01'));
    assert.ok([201, 202].includes(here.status), `status ${here.status}`);
    assert.deepEqual([here.body.decision.policy, here.body.decision.policySetHash], ['dev_accounts_and_sink', v2]);

    // The other process: wait for the outcome (NOTIFY, or the 1 s poll), then check it.
    const decided = await eventually(async () => {
      const res = await postIntent(other.baseUrl, agentToken, transfer(SINK, '0.01'));
      return res.status === 403 && res.body.intent.decision.policySetHash === v1 ? undefined : res;
    }, 'the second gateway to decide with version 2');
    assert.ok([201, 202].includes(decided.status), `status ${decided.status}`);
    assert.deepEqual(
      [decided.body.decision.policy, decided.body.decision.policySetHash],
      ['dev_accounts_and_sink', v2],
    );
    const otherView = await call('GET', '/admin/policies', { baseUrl: other.baseUrl });
    assert.deepEqual(otherView.body.loaded, { version: 2, hash: v2, loaded: true });

    // The decision's hash leads back to the version.
    const found = await call('GET', `/admin/policies?hash=${decided.body.decision.policySetHash}`);
    assert.ok(found.body.items.some((v: { version: number; active: boolean }) => v.version === 2 && v.active));
    const audit = await stack.pool.query(
      "SELECT actor, record FROM audit_log WHERE action = 'policy.activated' AND subject = 'policy:2'",
    );
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0].actor, `user:${ids.adam}`);
    assert.equal(JSON.parse(audit.rows[0].record).data.previousVersion, 1);

    // Activating the active version again changes nothing and writes nothing.
    const again = await call('POST', '/admin/policies/2/activate');
    assert.deepEqual([again.status, again.body.changed], [200, false]);
    assert.equal(
      await count(
        stack.pool,
        "SELECT count(*)::int AS n FROM audit_log WHERE action = 'policy.activated' AND subject = 'policy:2'",
      ),
      1,
    );
    await other.stop();
  });

  test('a version with lint errors cannot be activated (422 policy_lint_errors); the active version stays', async () => {
    // TEST_POLICY loads but does not end with a match-all deny: the linter's no_final_deny error.
    const flagged = await upload(TEST_POLICY);
    assert.equal(flagged.status, 201);
    assert.deepEqual(
      flagged.body.lint.errors.map((e: { code: string }) => e.code),
      ['no_final_deny'],
    );
    const refused = await call('POST', `/admin/policies/${flagged.body.version}/activate`);
    assert.deepEqual([refused.status, refused.body.code], [422, 'policy_lint_errors']);
    assert.deepEqual(refused.body.details.errors, flagged.body.lint.errors);
    assert.deepEqual((await call('GET', `/admin/policies/${flagged.body.version}`)).body.lint, flagged.body.lint);

    // A version stored with lint errors stays refused even if it would lint clean today.
    const storedErrors = [
      { code: 'test.recorded_error', path: 'policies[0]', message: 'a lint error recorded at creation' },
    ];
    const recorded = await withTransaction(stack.pool, (client) =>
      insertPolicyVersion(client, {
        content: WIDER,
        format: 'yaml',
        hash: loadPolicySet(WIDER).hash,
        author: ids.adam!,
        lint: { errors: storedErrors, warnings: [] },
      }),
    );
    const refusedToo = await call('POST', `/admin/policies/${recorded.version}/activate`);
    assert.deepEqual(
      [refusedToo.status, refusedToo.body.code, refusedToo.body.details.errors],
      [422, 'policy_lint_errors', storedErrors],
    );
    assert.equal((await call('GET', '/admin/policies')).body.active.version, 2);
    assert.equal(
      await count(
        stack.pool,
        "SELECT count(*)::int AS n FROM audit_log WHERE action = 'policy.activated' AND subject = ANY($1)",
        [[`policy:${flagged.body.version}`, `policy:${recorded.version}`]],
      ),
      0,
    );
    const missing = await call('POST', '/admin/policies/99999/activate');
    assert.deepEqual([missing.status, missing.body.code], [404, 'not_found']);
  });

  test('only owners and admins upload, activate and dry-run; viewers and operators read; agents get 403', async () => {
    const dryRun = { policy: WIDER, replay: { last: 1 } };
    for (const role of ['viewer', 'operator']) {
      const created = await call('POST', '/admin/policies', { as: role, raw: WIDER, contentType: 'application/yaml' });
      assert.deepEqual([created.status, created.body.code], [403, 'forbidden'], role);
      const activated = await call('POST', '/admin/policies/1/activate', { as: role });
      assert.deepEqual([activated.status, activated.body.code], [403, 'forbidden'], role);
      const dry = await call('POST', '/admin/policies/dry-run', { as: role, body: dryRun });
      assert.deepEqual([dry.status, dry.body.code], [403, 'forbidden'], role);
      assert.equal((await call('GET', '/admin/policies', { as: role })).status, 200, role);
    }
    const agent = await call('GET', '/admin/policies', { as: 'agent' });
    assert.deepEqual([agent.status, agent.body.code], [403, 'forbidden']);
    assert.equal((await call('GET', '/admin/policies')).body.active.version, 2);
  });

  test('dry-run of one intent answers the candidate decision beside the active one and writes only its audit record', async () => {
    const counts = async () => ({
      intents: await count(stack.pool, 'SELECT count(*)::int AS n FROM intents'),
      versions: await count(stack.pool, 'SELECT count(*)::int AS n FROM policy_versions'),
      // The receipt tracker keeps auditing earlier intents (intent.*); everything else must stay put.
      audit: await count(stack.pool, "SELECT count(*)::int AS n FROM audit_log WHERE action NOT LIKE 'intent.%'"),
    });
    const before = await counts();
    const res = await call('POST', '/admin/policies/dry-run', {
      body: { policy: REPLAY_CANDIDATE, intent: { ...transfer(R1, '0.5'), agentId: stack.agent.agentId } },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.hash, loadPolicySet(REPLAY_CANDIDATE).hash);
    assert.deepEqual([res.body.decision.action, res.body.decision.policy], ['reject', 'blocked']);
    assert.ok(res.body.decision.reasons.some((r: { code: string }) => r.code === 'policy.recipient_blacklisted'));
    assert.deepEqual(
      [res.body.active.version, res.body.active.decision.action, res.body.active.decision.policy],
      [2, 'auto_approve', 'dev_accounts_and_sink'],
    );
    const after = await counts();
    assert.deepEqual(after, { ...before, audit: before.audit + 1 });
    const audit = await stack.pool.query("SELECT actor, record FROM audit_log WHERE action = 'policy.dry_run'");
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0].actor, `user:${ids.adam}`);

    const invalid = await call('POST', '/admin/policies/dry-run', {
      body: { policy: 'policies: 3', intent: { ...transfer(R1, '0.5'), agentId: stack.agent.agentId } },
    });
    assert.deepEqual([invalid.status, invalid.body.code], [422, 'policy_invalid']);
    const noAgent = await call('POST', '/admin/policies/dry-run', {
      body: { policy: WIDER, intent: { ...transfer(R1, '0.5'), agentId: '00000000-0000-4000-8000-000000000000' } },
    });
    assert.deepEqual([noAgent.status, noAgent.body.code], [404, 'not_found']);
    const both = await call('POST', '/admin/policies/dry-run', {
      body: { policy: WIDER, intent: { ...transfer(R1, '0.5'), agentId: stack.agent.agentId }, replay: { last: 5 } },
    });
    assert.deepEqual([both.status, both.body.code], [400, 'invalid_request']);
    const tooMany = await call('POST', '/admin/policies/dry-run', { body: { policy: WIDER, replay: { last: 1001 } } });
    assert.deepEqual([tooMany.status, tooMany.body.code], [400, 'invalid_request']);
  });

  test('dry-run replay lists exactly the stored intents whose decision would change, with totals', async () => {
    const created = await upload(REPLAY_ACTIVE);
    assert.equal((await call('POST', `/admin/policies/${created.body.version}/activate`)).status, 200);
    // Six intents with known outcomes under REPLAY_ACTIVE.
    const made: Record<string, { id: string; action: string }> = {};
    for (const [label, to, amount] of [
      ['a', R0, '0.5'], // approved; stays approved
      ['b', R1, '0.6'], // approved; the candidate blocks R1
      ['c', R0, '2'], // rejected (over 1); the candidate allows up to 2.5
      ['d', R2, '3'], // rejected; still over 2.5
      ['e', SINK, '0.1'], // rejected; SINK is allowed by neither
      ['f', R2, '0.2'], // approved; stays approved
    ] as const) {
      const res = await postIntent(stack.baseUrl, agentToken, transfer(to, amount));
      const intent = res.status === 403 ? res.body.intent : res.body;
      assert.equal(intent.decision.policySetHash, created.body.hash);
      made[label] = { id: intent.id, action: intent.decision.action };
    }
    assert.deepEqual(
      Object.values(made).map((m) => m.action),
      ['auto_approve', 'auto_approve', 'reject', 'reject', 'reject', 'auto_approve'],
    );
    const intentsBefore = await count(stack.pool, 'SELECT count(*)::int AS n FROM intents');

    const res = await call('POST', '/admin/policies/dry-run', {
      body: { policy: REPLAY_CANDIDATE, format: 'yaml', replay: { last: 6 } },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.replay.totals, {
      evaluated: 6,
      changed: 2,
      unchanged: 4,
      actionChanged: 2,
      ruleChanged: 0,
      byTransition: { 'auto_approve->reject': 1, 'reject->auto_approve': 1 },
    });
    const changes = new Map(res.body.replay.changes.map((c: any) => [c.intentId, c]));
    assert.deepEqual([...changes.keys()].sort(), [made.b!.id, made.c!.id].sort());
    const b: any = changes.get(made.b!.id);
    assert.deepEqual(
      [b.before.action, b.before.policy, b.after.action, b.after.policy],
      ['auto_approve', 'small_native', 'reject', 'blocked'],
    );
    assert.equal(b.before.policySetHash, created.body.hash);
    const c: any = changes.get(made.c!.id);
    assert.deepEqual(
      [c.before.action, c.before.policy, c.after.action, c.after.policy],
      ['reject', 'deny_rest', 'auto_approve', 'small_native'],
    );
    assert.equal(await count(stack.pool, 'SELECT count(*)::int AS n FROM intents'), intentsBefore);
    assert.equal(
      (await call('GET', '/admin/policies')).body.active.version,
      created.body.version,
      'a dry-run activates nothing',
    );
  });
});

describe('PolicyStore across processes', () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];
  const workers: Worker[] = [];
  const log = pino({ level: 'silent' });
  const FILE = `policies:\n  - name: deny_all\n    conditions: {}\n    action: reject\n`;
  const facts: AvailableFacts = {
    type: 'transfer',
    chainId: 31337,
    recipient: R0 as `0x${string}`,
    asset: 'native',
    amount: 1n,
    decimals: 18,
  };

  const open = async (options: { text?: string } = {}) => {
    const pool = createPool(db.url, 2);
    pools.push(pool);
    return PolicyStore.open({
      pool,
      log,
      configured: { text: options.text ?? FILE, source: 'policy.yaml' },
      lint: { production: false },
    });
  };
  /** Start the gateway's `policy-follower` worker for `store`: LISTEN (unless disabled) and the poll. */
  const follow = (store: PolicyStore, options: { listen?: boolean; pollIntervalMs: number }) => {
    const worker = new Worker(
      policyFollower(store, {
        intervalMs: options.pollIntervalMs,
        listenUrl: options.listen === false ? null : db.url,
      }),
      log,
    );
    workers.push(worker);
    worker.start();
  };
  /** Store a set and make it active, as the admin route does (without going through HTTP). */
  const activate = async (text: string): Promise<number> =>
    withTransaction(pools[0]!, async (client) => {
      const created = await insertPolicyVersion(client, {
        content: text,
        format: 'yaml',
        hash: loadPolicySet(text).hash,
        author: 'test',
        lint: { errors: [], warnings: [] },
      });
      await activatePolicyVersion(client, created.version, 'test');
      return created.version;
    });
  const rule = (name: string) => `policies:\n  - name: ${name}\n    conditions: {}\n    action: auto_approve\n`;

  before(async () => {
    db = await createTestDatabase();
    const pool = createPool(db.url, 2);
    await migrate(pool);
    await pool.end();
  });
  after(async () => {
    for (const worker of workers) await worker.stop();
    for (const pool of pools) await pool.end();
    await db?.drop();
  });

  test('gateways booting together import POLICY_FILE exactly once', async () => {
    const booted = await Promise.all([open(), open(), open()]);
    const hash = loadPolicySet(FILE).hash;
    assert.deepEqual(
      booted.map((s) => s.active()),
      booted.map(() => ({ version: 1, hash, loaded: true })),
    );
    assert.equal(await count(pools[0]!, 'SELECT count(*)::int AS n FROM policy_versions'), 1);
    const audit = await pools[0]!.query("SELECT action FROM audit_log WHERE subject = 'policy:1' ORDER BY seq");
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ['policy.created', 'policy.activated'],
    );
  });

  test('an active version in the database wins over a different POLICY_FILE', async () => {
    const store = await open({ text: rule('from_a_newer_file') });
    assert.equal(store.current().hash, loadPolicySet(FILE).hash);
    assert.equal(await count(pools[0]!, 'SELECT count(*)::int AS n FROM policy_versions'), 1);
  });

  test('the poll alone carries an activation to a process', async () => {
    const store = await open();
    follow(store, { listen: false, pollIntervalMs: 100 });
    const version = await activate(rule('via_poll'));
    await eventually(async () => (store.active().version === version ? true : undefined), 'the poll');
    assert.equal(evaluate(store.current(), facts).policy, 'via_poll');
  });

  test('LISTEN alone carries an activation, and reconnects after its connection is killed', async () => {
    const store = await open();
    follow(store, { pollIntervalMs: 3_600_000 }); // the poll never fires during this test
    const listenerPid = async () =>
      (
        await pools[0]!.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'clawd402-policy-listener' AND query ILIKE 'LISTEN%'",
        )
      ).rows.map((r) => r.pid);
    const [pid] = await eventually(
      async () => ((await listenerPid()).length === 1 ? listenerPid() : undefined),
      'the listener to connect',
    );
    const first = await activate(rule('via_notify'));
    await eventually(async () => (store.active().version === first ? true : undefined), 'the notification');
    assert.equal(evaluate(store.current(), facts).policy, 'via_notify');

    await pools[0]!.query('SELECT pg_terminate_backend($1)', [pid]);
    await eventually(async () => {
      const pids = await listenerPid();
      return pids.length === 1 && pids[0] !== pid ? true : undefined;
    }, 'the listener to reconnect');
    const second = await activate(rule('after_reconnect'));
    await eventually(
      async () => (store.active().version === second ? true : undefined),
      'the notification after reconnecting',
    );
    assert.equal(evaluate(store.current(), facts).policy, 'after_reconnect');
  });

  test('production refuses to boot-import a POLICY_FILE with lint errors; elsewhere it is activated with them stored', async () => {
    const fresh = await createTestDatabase();
    const pool = createPool(fresh.url, 2);
    try {
      await migrate(pool);
      const noFinalDeny = rule('approve_everything_no_deny');
      const options = { pool, log, configured: { text: noFinalDeny, source: 'policy.yaml' } };
      await assert.rejects(
        PolicyStore.open({ ...options, lint: { production: true } }),
        (error: Error) =>
          error.name === 'ConfigError' && /POLICY_FILE/.test(error.message) && /no_final_deny/.test(error.message),
      );
      assert.equal(await count(pool, 'SELECT count(*)::int AS n FROM policy_versions'), 0);
      const dev = await PolicyStore.open({ ...options, lint: { production: false } });
      assert.equal(dev.active().version, 1);
      const stored = await pool.query<{ lint: { errors: { code: string }[] } }>(
        'SELECT lint FROM policy_versions WHERE version = 1',
      );
      assert.deepEqual(
        stored.rows[0]!.lint.errors.map((e) => e.code),
        ['no_final_deny'],
      );
    } finally {
      await pool.end();
      await fresh.drop();
    }
  });

  test('an active version this build cannot load makes the process deny everything (fail closed)', async () => {
    const store = await open();
    follow(store, { listen: false, pollIntervalMs: 100 });
    const unloadable = await withTransaction(pools[0]!, async (client) => {
      const created = await insertPolicyVersion(client, {
        content:
          'policies:\n  - name: future\n    conditions: { condition_from_a_newer_build: true }\n    action: auto_approve\n',
        format: 'yaml',
        hash: `sha256:${'ab'.repeat(32)}`,
        author: 'test',
        lint: { errors: [], warnings: [] },
      });
      await activatePolicyVersion(client, created.version, 'test');
      return created.version;
    });
    const state = await eventually(
      async () => (store.active().version === unloadable ? store.active() : undefined),
      'the poll',
    );
    assert.equal(state.loaded, false);
    const decision = evaluate(store.current(), facts);
    assert.deepEqual(
      [decision.action, decision.policy, decision.reasons[0]?.code],
      ['reject', null, 'policy.default_deny'],
    );
  });
});
