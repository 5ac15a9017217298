/**
 * Incidents against the real stack (gateway, Postgres, Redis, signer, anvil): each detection rule fires on its exact
 * pattern and opens one incident with a timeline; its configured automatic response really takes effect (the paused
 * key's or agent's next intent is refused with its code) and is audited; a benign hour opens none; operators
 * acknowledge, annotate and resolve (reverting the response) through /admin/incidents, and the roles without the
 * permission get `forbidden`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rpcCall, request } from './support/json-rpc.ts';
import { RECIPIENTS, callJson, getJson, postIntent, startStack, type Stack } from './support/stack.ts';

const CHAIN = 31337;

describe('incidents: detection rules, automatic responses, the operator flow', { timeout: 300_000 }, () => {
  let stack: Stack;
  const tokens: Record<'operator' | 'viewer' | 'approver', string> = { operator: '', viewer: '', approver: '' };

  const exchange = async (apiKey: string, headers: Record<string, string> = {}): Promise<string> => {
    const res = await fetch(`${stack.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ apiKey }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  // 0.001 ETH is 2 USD at the development price (2,000 USD).
  const transfer = (token: string, amount = '0.001', to: string = RECIPIENTS[1]!) =>
    postIntent(stack.baseUrl, token, { type: 'transfer', chainId: CHAIN, to, asset: 'native', amount });
  const keyIdOf = async (agentId: string) =>
    (await stack.pool.query<{ id: string }>('SELECT id FROM api_keys WHERE agent_id = $1', [agentId])).rows[0]!.id;
  /** Spend history: one settled intent of `usd` USD per `hoursAgo`. */
  const history = async (agentId: string, usd: number, hoursAgo: number[]) => {
    for (const h of hoursAgo) {
      await stack.pool.query(
        `INSERT INTO intents (id, agent_id, request_hash, status, type, chain_id, to_address, recipient, asset, amount,
                              decimals, spend_usd_micros, spend_state, created_at, updated_at)
         VALUES ($1, $2, 'history', 'confirmed', 'transfer', $3, $4, $4, 'native', 1, 18, $5, 'settled',
                 now() - make_interval(hours => $6), now() - make_interval(hours => $6))`,
        [randomUUID(), agentId, CHAIN, RECIPIENTS[1], usd * 1_000_000, h],
      );
    }
  };
  const incidentsOf = async (subject: string) =>
    (
      await stack.pool.query<{ id: string; rule: string; severity: string; status: string }>(
        'SELECT id::text, rule, severity, status FROM incidents WHERE subject = $1 ORDER BY id',
        [subject],
      )
    ).rows;
  const detail = async (id: string) => {
    const res = await getJson(`${stack.baseUrl}/admin/incidents/${id}`, tokens.operator);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const audit = async (action: string, subject: string) =>
    (
      await stack.pool.query<{ actor: string; record: string }>(
        'SELECT actor, record FROM audit_log WHERE action = $1 AND subject = $2 ORDER BY seq',
        [action, subject],
      )
    ).rows;
  const tick = () => stack.app.services.incidentWatch.tick();

  // Agents: one per rule, and one that has a normal day.
  let benign: { agentId: string; apiKey: string; token: string };
  let stolen: { agentId: string; apiKey: string; keyId: string; token: string };
  let bypasser: { agentId: string; apiKey: string; keyId: string; token: string };
  let spender: { agentId: string; apiKey: string; token: string };
  let erring: { agentId: string; apiKey: string; token: string };

  before(async () => {
    stack = await startStack({
      env: {
        // The watches run when the test says.
        INCIDENT_WATCH_INTERVAL_MS: '3600000',
        ALERT_WATCH_INTERVAL_MS: '3600000',
        // X-Forwarded-For from the test client is believed, so it can come "from" another network.
        TRUSTED_PROXIES: '127.0.0.1',
        INCIDENT_BURST_INTENTS: '3',
        INCIDENT_ERROR_MIN_INTENTS: '5',
        INCIDENT_BYPASS_THRESHOLD: '3',
        INCIDENT_RESPONSES: 'error_rate=breaker_soft,cost_spike=pause_agent',
      },
    });
    for (const role of ['operator', 'viewer', 'approver'] as const) tokens[role] = await stack.loginAs(role);
    const withToken = async () => {
      const agent = await stack.newAgent();
      return { ...agent, keyId: await keyIdOf(agent.agentId), token: await exchange(agent.apiKey) };
    };
    [benign, stolen, bypasser, spender, erring] = [
      await withToken(),
      await withToken(),
      await withToken(),
      await withToken(),
      await withToken(),
    ];
    // A normal week for the benign agent and the spender: 5 USD and 1 USD an hour on average.
    const week = Array.from({ length: 24 }, (_, i) => 2 + i * 7);
    await history(benign.agentId, 35, week);
    await history(spender.agentId, 7, week);
  });

  after(async () => {
    await stack?.stop();
  });

  test('a replayed benign hour opens no incident', async () => {
    // Same network and user agent as always, a normal spend (10 USD, under 3× its 5 USD/h), no refusals.
    await exchange(benign.apiKey);
    for (let i = 0; i < 5; i += 1) {
      const res = await transfer(benign.token);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    // A wallet probing capabilities (viem does) is refused, and is no bypass attempt.
    for (let i = 0; i < 3; i += 1) {
      const probe = await rpcCall(stack, benign.token, request(i, 'wallet_getCapabilities', []), `/rpc/${CHAIN}`);
      assert.equal(probe.body.error.data.code, 'rpc_method_refused');
    }
    await tick();
    assert.deepEqual(await incidentsOf(`agent:${benign.agentId}`), []);
    assert.deepEqual(await incidentsOf(`api_key:${await keyIdOf(benign.agentId)}`), []);
  });

  test('new_network_burst: a key exchanged from a new network and user agent, then a burst, is paused (api_key_paused)', async () => {
    const token = await exchange(stolen.apiKey, {
      'x-forwarded-for': '198.51.100.23',
      'user-agent': 'python-requests/2.31',
    });
    for (let i = 0; i < 3; i += 1) assert.equal((await transfer(token)).status, 201);
    const opened = await tick();
    const subject = `api_key:${stolen.keyId}`;
    assert.deepEqual(
      (await incidentsOf(subject)).map((i) => [i.rule, i.severity, i.status]),
      [['new_network_burst', 'critical', 'open']],
    );
    assert.ok(opened.some((i) => i.subject === subject));
    const [incident] = await incidentsOf(subject);
    const body = await detail(incident!.id);
    assert.equal(body.incident.detail.network, '198.51.100.0/24');
    assert.equal(body.incident.detail.userAgent, 'python-requests/2.31');
    assert.deepEqual(
      body.timeline.map((e: { kind: string }) => e.kind),
      ['detected', 'alert', 'response', 'response'],
    );
    assert.deepEqual(body.responsesInForce, [
      { response: 'block_network', target: '198.51.100.0/24' },
      { response: 'pause_key', target: `key:${stolen.keyId}` },
    ]);
    // The responses took effect: the key's next intent is refused, from any network…
    const refused = await transfer(stolen.token);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'api_key_paused');
    // …and no key is exchanged from that network any more (another address in the same /24), while others still are.
    const fromThere = await fetch(`${stack.baseUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.99' },
      body: JSON.stringify({ apiKey: benign.apiKey }),
    });
    assert.equal(fromThere.status, 403);
    assert.equal(((await fromThere.json()) as { code: string }).code, 'ip_blocked');
    await exchange(benign.apiKey);
    // Audited as the watch's doing, and the alert that people hear is there.
    const paused = await audit('pause.set', `key:${stolen.keyId}`);
    assert.equal(paused.length, 1);
    assert.equal(paused[0]!.actor, 'system:incident-watch');
    assert.equal((await audit('ip_block.set', 'ip:198.51.100.0/24'))[0]?.actor, 'system:incident-watch');
    const alert = body.timeline.find((e: { kind: string }) => e.kind === 'alert');
    const alerts = await getJson(`${stack.baseUrl}/admin/alerts?kind=incident_opened`, tokens.operator);
    assert.ok(alerts.body.items.some((a: { id: string }) => a.id === alert.alertId));
    // A second pass while the condition holds opens nothing more.
    await tick();
    assert.equal((await incidentsOf(subject)).length, 1);
  });

  test('policy_bypass: three raw-hash signing attempts by one key pause the key', async () => {
    const hash = `0x${'ab'.repeat(32)}`;
    for (let i = 0; i < 3; i += 1) {
      const res = await postIntent(stack.baseUrl, bypasser.token, {
        type: 'message',
        chainId: CHAIN,
        message: { raw: hash },
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.code, 'policy_denied');
    }
    await tick();
    const [incident] = await incidentsOf(`api_key:${bypasser.keyId}`);
    assert.equal(incident?.rule, 'policy_bypass');
    const body = await detail(incident.id);
    assert.deepEqual(body.incident.detail.codes, ['chain.raw_hash_signing']);
    assert.equal(body.incident.detail.attempts, 3);
    const refused = await transfer(bypasser.token);
    assert.equal(refused.body.code, 'api_key_paused');
  });

  test('policy_bypass over JSON-RPC: eth_sign of a hash and a transaction for another chain count, and pause the key', async () => {
    const rpcAgent = await stack.newAgent();
    const keyId = await keyIdOf(rpcAgent.agentId);
    const token = await exchange(rpcAgent.apiKey);
    const call = (body: object) => rpcCall(stack, token, body, `/rpc/${CHAIN}`);
    for (let i = 0; i < 2; i += 1) {
      const signed = await call(request(i, 'eth_sign', [stack.signerAddress, `0x${'cd'.repeat(32)}`]));
      assert.equal(signed.body.error.data.code, 'rpc_method_refused');
    }
    const foreign = await call(
      request(3, 'eth_sendTransaction', [
        { from: stack.signerAddress, to: RECIPIENTS[1], value: '0x1', chainId: '0x1' },
      ]),
    );
    assert.equal(foreign.body.error.data.code, 'rpc_chain_mismatch');
    await tick();
    const [incident] = await incidentsOf(`api_key:${keyId}`);
    assert.equal(incident?.rule, 'policy_bypass');
    const body = await detail(incident.id);
    assert.deepEqual(body.incident.detail.codes, ['rpc_chain_mismatch', 'rpc_method_refused:eth_sign']);
    assert.equal(body.incident.detail.auditSeqs.length, 3);
    const refused = await call(request(4, 'personal_sign', ['0x68656c6c6f', stack.signerAddress]));
    assert.equal(refused.body.error.data.code, 'api_key_paused');
  });

  test('cost_spike: spend above 3× the 7-day hourly average pauses the agent (agent_paused)', async () => {
    // 1 USD/h on average; 3 × 4 USD = 12 USD this hour (above 3 USD and the 10 USD floor).
    for (let i = 0; i < 3; i += 1) assert.equal((await transfer(spender.token, '0.002')).status, 201);
    await tick();
    const [incident] = await incidentsOf(`agent:${spender.agentId}`);
    assert.equal(incident?.rule, 'cost_spike');
    const body = await detail(incident.id);
    assert.equal(body.incident.detail.hourlyAverageUsd, '1');
    assert.deepEqual(body.responsesInForce, [{ response: 'pause_agent', target: `agent:${spender.agentId}` }]);
    const refused = await transfer(spender.token);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'agent_paused');
    assert.equal((await audit('pause.set', `agent:${spender.agentId}`))[0]?.actor, 'system:incident-watch');
  });

  test('error_rate: more than 10 % of an agent’s intents refused opens an incident; breaker_soft makes the next one wait for a human', async () => {
    for (let i = 0; i < 3; i += 1) assert.equal((await transfer(erring.token)).status, 201);
    // Two to a recipient the policy does not allow: refused, recorded `rejected`.
    for (let i = 0; i < 2; i += 1) {
      const res = await transfer(erring.token, '0.001', '0x000000000000000000000000000000000000dEaD');
      assert.equal(res.body.code, 'policy_denied');
    }
    await tick();
    const [incident] = await incidentsOf(`agent:${erring.agentId}`);
    assert.equal(incident?.rule, 'error_rate');
    const body = await detail(incident.id);
    assert.deepEqual([body.incident.detail.intents, body.incident.detail.errors], [5, 2]);
    assert.deepEqual(
      body.timeline.map((e: { kind: string }) => e.kind),
      ['detected', 'alert', 'response'],
    );
    assert.deepEqual(body.responsesInForce, [{ response: 'breaker_soft', target: `agent:${erring.agentId}` }]);
    const waits = await transfer(erring.token);
    assert.equal(waits.status, 202, JSON.stringify(waits.body));
    assert.equal(waits.body.status, 'pending_approval');
    assert.ok(
      waits.body.decision.reasons.some((r: { code: string }) => r.code === 'breaker.soft'),
      JSON.stringify(waits.body.decision.reasons),
    );
    assert.equal(
      (await audit('costs.limits_updated', `scope:agent:${erring.agentId}`))[0]?.actor,
      'system:incident-watch',
    );
  });

  test('operators acknowledge, annotate and resolve with revert; each audited; the key works again', async () => {
    const [incident] = await incidentsOf(`api_key:${stolen.keyId}`);
    const id = incident!.id;
    const url = `/admin/incidents/${id}`;

    const list = await getJson(`${stack.baseUrl}/admin/incidents?status=open&rule=new_network_burst`, tokens.viewer);
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((i: { id: string }) => i.id),
      [id],
    );

    const ack = await callJson(stack.baseUrl, tokens.operator, 'POST', `${url}/ack`, { note: 'looking' });
    assert.equal(ack.status, 200, JSON.stringify(ack.body));
    assert.equal(ack.body.incident.status, 'acknowledged');
    const again = await callJson(stack.baseUrl, tokens.operator, 'POST', `${url}/ack`, {});
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'incident_state_conflict');

    const noted = await callJson(stack.baseUrl, tokens.operator, 'POST', `${url}/notes`, {
      note: 'the agent host was rebuilt; new egress IP',
    });
    assert.equal(noted.status, 200);
    assert.equal(noted.body.timeline.at(-1).kind, 'note');

    const resolved = await callJson(stack.baseUrl, tokens.operator, 'POST', `${url}/resolve`, { revert: true });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    assert.equal(resolved.body.incident.status, 'resolved');
    assert.deepEqual(resolved.body.responsesInForce, []);
    assert.deepEqual(resolved.body.timeline.map((e: { kind: string }) => e.kind).slice(-5), [
      'acknowledged',
      'note',
      'resolved',
      'reverted',
      'reverted',
    ]);
    for (const action of ['incident.acknowledged', 'incident.noted', 'incident.resolved'])
      assert.equal((await audit(action, `incident:${id}`)).length, 1, action);
    assert.equal((await audit('pause.lifted', `key:${stolen.keyId}`)).length, 1);
    assert.equal((await audit('ip_block.lifted', 'ip:198.51.100.0/24')).length, 1);
    assert.equal((await transfer(stolen.token)).status, 201, 'the key works again');
    await exchange(stolen.apiKey, { 'x-forwarded-for': '198.51.100.99' }); // and the network may exchange keys again

    const twice = await callJson(stack.baseUrl, tokens.operator, 'POST', `${url}/resolve`, {});
    assert.equal(twice.body.code, 'incident_state_conflict');
    // Resolved within the hour: the same evidence does not open it again.
    await tick();
    assert.equal((await incidentsOf(`api_key:${stolen.keyId}`)).length, 1);
  });

  test('RBAC: a viewer cannot manage incidents, an approver cannot read them; unknown ids are not_found', async () => {
    const [incident] = await incidentsOf(`agent:${erring.agentId}`);
    for (const path of ['ack', 'resolve']) {
      const res = await callJson(stack.baseUrl, tokens.viewer, 'POST', `/admin/incidents/${incident!.id}/${path}`, {});
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'forbidden');
    }
    const note = await callJson(stack.baseUrl, tokens.viewer, 'POST', `/admin/incidents/${incident!.id}/notes`, {
      note: 'x',
    });
    assert.equal(note.body.code, 'forbidden');
    for (const path of ['/admin/incidents', `/admin/incidents/${incident!.id}`]) {
      const res = await getJson(`${stack.baseUrl}${path}`, tokens.approver);
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'forbidden');
    }
    assert.equal((await detail(incident!.id)).incident.status, 'open', 'nothing changed');
    for (const id of ['999999', 'not-a-number']) {
      const res = await getJson(`${stack.baseUrl}/admin/incidents/${id}`, tokens.operator);
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'not_found');
    }
  });

  test('resolving with revert puts the breaker back: the agent’s intents are auto-approved again', async () => {
    const [incident] = await incidentsOf(`agent:${erring.agentId}`);
    const res = await callJson(stack.baseUrl, tokens.operator, 'POST', `/admin/incidents/${incident!.id}/resolve`, {
      note: 'the agent was misconfigured; fixed',
      revert: true,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.responsesInForce, []);
    const soft = await stack.pool.query<{ soft: string | null }>(
      'SELECT breaker_soft_micros::text AS soft FROM spend_scopes WHERE scope = $1',
      [`agent:${erring.agentId}`],
    );
    assert.equal(soft.rows[0]?.soft, null, 'back to the default threshold');
    assert.equal((await transfer(erring.token)).status, 201);
  });
});
