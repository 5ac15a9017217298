import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../src/repositories/users-repository.ts';
import { hashPassword } from '../src/lib/api-keys.ts';
import { findAgentKeyAccess } from '../src/repositories/agents-repository.ts';
import { RECIPIENTS, callJson, count, postIntent, startStack, type Stack } from './support/stack.ts';

const PASSWORD = 'correct horse battery staple';

describe('agents and API keys', { timeout: 300_000 }, () => {
  let stack: Stack;
  let owner: string;
  let other: { baseUrl: string; stop(): Promise<void> };
  const admin = (method: string, path: string, body?: unknown) => callJson(stack.baseUrl, owner, method, path, body);
  const tokenStatus = async (baseUrl: string, apiKey: string) =>
    (
      await fetch(`${baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey }),
      })
    ).status;
  const listStatus = async (baseUrl: string, token: string) =>
    (await fetch(`${baseUrl}/v1/intents`, { headers: { authorization: `Bearer ${token}` } })).status;

  before(async () => {
    stack = await startStack();
    await createUser(stack.pool, { username: 'olivia', passwordHash: await hashPassword(PASSWORD), role: 'owner' });
    const login = await fetch(`${stack.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'olivia', password: PASSWORD }),
    });
    owner = ((await login.json()) as { access_token: string }).access_token;
    other = await stack.spawnGateway();
  });
  after(async () => stack?.stop());

  test('an agent is created for a key the signer holds; its API key is shown once and never listed', async () => {
    const created = await admin('POST', '/admin/agents', {
      name: 'payroll-bot',
      signerAddress: stack.signerAddress.toLowerCase(),
    });
    assert.equal(created.status, 201);
    assert.match(created.body.apiKey, /^c402_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(await tokenStatus(stack.baseUrl, created.body.apiKey), 200);
    const list = await admin('GET', '/admin/agents');
    const text = JSON.stringify(list.body);
    // The secret is everything after `c402_<id>_`: base64url, so it may itself hold `_`.
    assert.ok(!text.includes(created.body.apiKey.split('_').slice(2).join('_')), 'the secret is not listed');
    assert.ok(!text.includes('argon2'), 'the hash is not listed');
    const agent = list.body.items.find((a: { name: string }) => a.name === 'payroll-bot');
    assert.equal(agent.signerAddress, stack.signerAddress);
    assert.equal(agent.keys.length, 1);

    const unknown = await admin('POST', '/admin/agents', { name: 'ghost', signerAddress: RECIPIENTS[0] });
    assert.deepEqual([unknown.status, unknown.body.code], [422, 'signer_key_unknown']);
    const again = await admin('POST', '/admin/agents', { name: 'payroll-bot', signerAddress: stack.signerAddress });
    assert.deepEqual([again.status, again.body.code], [409, 'agent_name_taken']);
  });

  test('a key scoped to another chain or type is refused with key_scope_denied, and only the refusal is recorded', async () => {
    const created = await admin('POST', '/admin/agents', {
      name: 'scoped-bot',
      signerAddress: stack.signerAddress,
      scopes: { chains: [8453] },
    });
    const token = await stack.token(created.body.apiKey);
    const res = await postIntent(stack.baseUrl, token, {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: '0.1',
    });
    assert.deepEqual([res.status, res.body.code], [403, 'key_scope_denied']);
    const typed = await admin('POST', `/admin/agents/${created.body.agentId}/keys`, {
      scopes: { types: ['contract_call'] },
    });
    const typedRes = await postIntent(stack.baseUrl, await stack.token(typed.body.apiKey), {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: '0.1',
    });
    assert.deepEqual([typedRes.status, typedRes.body.code], [403, 'key_scope_denied']);
    const intents = await count(stack.pool, 'SELECT count(*)::int AS n FROM intents WHERE agent_id = $1', [
      created.body.agentId,
    ]);
    assert.equal(intents, 0);
    const refused = await count(
      stack.pool,
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'intent.refused' AND actor = $1",
      [`agent:${created.body.agentId}`],
    );
    assert.equal(refused, 2);
  });

  test("changing a key's scopes applies to its next request, tokens issued before included; audited; a revoked key cannot be changed", async () => {
    const created = await admin('POST', '/admin/agents', { name: 'rescoped-bot', signerAddress: stack.signerAddress });
    const token = await stack.token(created.body.apiKey);
    const transfer = {
      type: 'transfer',
      chainId: 31337,
      to: RECIPIENTS[0],
      asset: 'native',
      amount: '0.001',
    } as const;
    const narrowed = await admin('PUT', `/admin/keys/${created.body.apiKeyId}/scopes`, { chains: [8453] });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    assert.deepEqual(narrowed.body.scopes, { chains: [8453], types: null });
    const refused = await postIntent(stack.baseUrl, token, transfer);
    assert.deepEqual([refused.status, refused.body.code], [403, 'key_scope_denied'], 'the old token is narrowed too');
    const { rows } = await stack.pool.query<{ data: { from: unknown; to: unknown } }>(
      "SELECT record::jsonb->'data' AS data FROM audit_log WHERE action = 'api_key.scopes_changed' AND subject = $1",
      [`agent:${created.body.agentId}`],
    );
    assert.deepEqual(
      rows.map((r) => [r.data.from, r.data.to]),
      [
        [
          { chains: null, types: null },
          { chains: [8453], types: null },
        ],
      ],
    );
    // Every part checked as at creation: an unknown type and an unknown field change nothing.
    for (const [body, code] of [
      [{ types: ['withdraw_everything'] }, 'invalid_request'],
      [{ chains: [] }, 'invalid_request'],
      [{ chains: [8453], admin: true }, 'unknown_field'],
    ] as const) {
      const bad = await admin('PUT', `/admin/keys/${created.body.apiKeyId}/scopes`, body);
      assert.deepEqual([bad.status, bad.body.code], [400, code], JSON.stringify(body));
    }
    assert.deepEqual(
      (await admin('GET', '/admin/agents')).body.items.find((a: { name: string }) => a.name === 'rescoped-bot').keys[0]
        .scopes,
      { chains: [8453], types: null },
      'refused bodies changed nothing',
    );
    const widened = await admin('PUT', `/admin/keys/${created.body.apiKeyId}/scopes`, {});
    assert.deepEqual(widened.body.scopes, { chains: null, types: null }, 'no list: any');
    assert.notEqual((await postIntent(stack.baseUrl, token, transfer)).body.code, 'key_scope_denied');

    await admin('POST', `/admin/keys/${created.body.apiKeyId}/revoke`);
    const revoked = await admin('PUT', `/admin/keys/${created.body.apiKeyId}/scopes`, { chains: [31337] });
    assert.deepEqual([revoked.status, revoked.body.code], [403, 'forbidden']);
    const unknown = await admin('PUT', '/admin/keys/00000000-0000-4000-8000-000000000000/scopes', {});
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'not_found']);
  });

  test('revocation is immediate on every gateway process, even for an access token issued before it', async () => {
    const created = await admin('POST', '/admin/agents', { name: 'revoked-bot', signerAddress: stack.signerAddress });
    const token = await stack.token(created.body.apiKey);
    assert.equal(await listStatus(other.baseUrl, token), 200);
    const revoked = await admin('POST', `/admin/keys/${created.body.apiKeyId}/revoke`);
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revokedAt);
    assert.equal(await listStatus(other.baseUrl, token), 401, 'another process refuses the live token at once');
    assert.equal(await listStatus(stack.baseUrl, token), 401);
    assert.equal(await tokenStatus(other.baseUrl, created.body.apiKey), 401);
  });

  test('key checks that share a round trip are answered each for its own key: live 200, revoked 401', async () => {
    const live = await admin('POST', '/admin/agents', { name: 'batch-live-bot', signerAddress: stack.signerAddress });
    const gone = await admin('POST', '/admin/agents', { name: 'batch-gone-bot', signerAddress: stack.signerAddress });
    const [liveToken, goneToken] = [await stack.token(live.body.apiKey), await stack.token(gone.body.apiKey)];
    assert.equal((await admin('POST', `/admin/keys/${gone.body.apiKeyId}/revoke`)).status, 200);
    // 40 at once on one process: their key checks queue behind each other and travel together.
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => listStatus(other.baseUrl, i % 2 === 0 ? liveToken : goneToken)),
    );
    assert.deepEqual(
      statuses,
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 200 : 401)),
    );
    // The lookup itself: a key answers only for the agent it belongs to, and an id that is no UUID for nobody.
    const answers = await findAgentKeyAccess(stack.pool, [
      { apiKeyId: live.body.apiKeyId, agentId: live.body.agentId },
      { apiKeyId: live.body.apiKeyId, agentId: gone.body.agentId },
      { apiKeyId: gone.body.apiKeyId, agentId: gone.body.agentId },
      { apiKeyId: "x' OR true --", agentId: live.body.agentId },
      { apiKeyId: live.body.apiKeyId, agentId: live.body.agentId },
    ]);
    assert.deepEqual(
      answers.map((a) => a.context?.signerAddress ?? null),
      [stack.signerAddress, null, null, null, stack.signerAddress],
    );
  });

  test('rotation issues a new key and keeps the old one valid for the overlap window only', async () => {
    const created = await admin('POST', '/admin/agents', {
      name: 'rotating-bot',
      signerAddress: stack.signerAddress,
      scopes: { chains: [31337] },
    });
    const withOverlap = await admin('POST', `/admin/keys/${created.body.apiKeyId}/rotate`, { overlapSeconds: 3600 });
    assert.equal(withOverlap.status, 201);
    assert.equal(await tokenStatus(stack.baseUrl, created.body.apiKey), 200, 'old key inside the overlap');
    assert.equal(await tokenStatus(stack.baseUrl, withOverlap.body.apiKey), 200, 'new key');
    const keys = (await admin('GET', '/admin/agents')).body.items.find(
      (a: { name: string }) => a.name === 'rotating-bot',
    ).keys;
    const [old, next] = keys;
    assert.equal(old.replacedBy, next.id);
    assert.deepEqual(next.scopes, { chains: [31337], types: null }, 'scopes carry over');
    const twice = await admin('POST', `/admin/keys/${created.body.apiKeyId}/rotate`, {});
    assert.deepEqual([twice.status, twice.body.code], [403, 'forbidden']);

    const noOverlap = await admin('POST', `/admin/keys/${withOverlap.body.apiKeyId}/rotate`, { overlapSeconds: 0 });
    assert.equal(await tokenStatus(stack.baseUrl, withOverlap.body.apiKey), 401, 'no overlap: the old key is done');
    assert.equal(await tokenStatus(stack.baseUrl, noOverlap.body.apiKey), 200);
  });

  test('the key age report flags rotation due at 80 days, overdue at 90, critical at 100', async () => {
    const ages = [10, 85, 95, 105];
    const ids: string[] = [];
    for (const age of ages) {
      const created = await admin('POST', '/admin/agents', { name: `aged-${age}`, signerAddress: stack.signerAddress });
      await stack.pool.query(`UPDATE api_keys SET created_at = now() - make_interval(days => $2) WHERE id = $1`, [
        created.body.apiKeyId,
        age,
      ]);
      ids.push(created.body.apiKeyId);
    }
    const report = await admin('GET', '/admin/keys/age-report');
    const status = ids.map((id) => report.body.items.find((r: { id: string }) => r.id === id));
    assert.deepEqual(
      status.map((r) => [r.ageDays, r.status]),
      [
        [10, 'ok'],
        [85, 'due'],
        [95, 'overdue'],
        [105, 'critical'],
      ],
    );
  });

  test('a disabled agent is refused at once, token and key alike', async () => {
    const created = await admin('POST', '/admin/agents', { name: 'disabled-bot', signerAddress: stack.signerAddress });
    const token = await stack.token(created.body.apiKey);
    assert.equal((await admin('POST', `/admin/agents/${created.body.agentId}/disable`)).status, 204);
    assert.equal(await listStatus(other.baseUrl, token), 401);
    assert.equal(await tokenStatus(stack.baseUrl, created.body.apiKey), 401);
  });

  test("the gateway sees the signer's keys as addresses and metadata only, and assigns agents to active ones", async () => {
    const listing = await admin('GET', '/admin/signer/keys');
    assert.equal(listing.status, 200);
    const key = listing.body.items.find(
      (k: { address: string }) => k.address.toLowerCase() === stack.signerAddress.toLowerCase(),
    );
    assert.equal(key.backend, 'keystore');
    assert.equal(key.state, 'active');
    assert.ok(key.agents.includes(stack.agent.agentId));
    assert.ok(!/privateKey|mnemonic|ciphertext/i.test(JSON.stringify(listing.body)));

    const created = await admin('POST', '/admin/agents', {
      name: 'reassigned-bot',
      signerAddress: stack.signerAddress,
    });
    const unknown = await admin('POST', `/admin/agents/${created.body.agentId}/signer`, {
      signerAddress: RECIPIENTS[3],
    });
    assert.deepEqual([unknown.status, unknown.body.code], [422, 'signer_key_unknown']);
    const same = await admin('POST', `/admin/agents/${created.body.agentId}/signer`, {
      signerAddress: stack.signerAddress,
    });
    assert.equal(same.status, 204);
    const audit = await count(
      stack.pool,
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'agent.key_assigned' AND subject = $1",
      [`agent:${created.body.agentId}`],
    );
    assert.equal(audit, 1);
  });
});
