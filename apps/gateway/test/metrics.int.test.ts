import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { RECIPIENTS, postIntent, startStack, type Stack } from './support/stack.ts';
import { runJobNow } from './support/jobs.ts';

/**
 * GET /metrics read by an independent Prometheus text-format parser (parse-prometheus-text-format): the families of
 * docs/metrics.md are there, and they move with a burst of intents exactly as the test sent them.
 */
describe('/metrics families', { timeout: 300_000 }, () => {
  let stack: Stack;
  let owner: string;
  const APPROVED = 5;
  const REJECTED = 3;
  const REFUSED = 2;

  async function scrape(): Promise<PrometheusFamily[]> {
    const res = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${owner}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    scraped = text;
    return parsePrometheusTextFormat(text);
  }
  function family(families: PrometheusFamily[], name: string): PrometheusFamily {
    const found = families.find((f) => f.name === name);
    assert.ok(found, `family ${name} is exposed`);
    return found;
  }
  let scraped = '';
  /**
   * The sum of `name`'s samples whose labels include `labels`. Histograms are read from their `_count` series in the
   * text: parse-prometheus-text-format drops the labels and counts of histograms whose `le` label comes first, as
   * prom-client writes it (the family itself is still checked to be there and typed HISTOGRAM).
   */
  function sample(families: PrometheusFamily[], name: string, labels: Record<string, string> = {}): number {
    if (family(families, name).type === 'HISTOGRAM') {
      return scraped
        .split('\n')
        .filter((line) => line.startsWith(`${name}_count`))
        .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    }
    const match = family(families, name).metrics.filter((m) =>
      Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
    );
    return match.reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0);
  }

  before(async () => {
    stack = await startStack({ env: { JOBS_POLL_INTERVAL_MS: '200', RETENTION_SCHEDULE: '0 0 1 1 *' } });
    owner = await stack.loginAs('owner');
    // A daily limit on the global scope, so that the remaining budget has something to count down from.
    await stack.pool.query(`UPDATE spend_scopes SET limit_day_micros = 1000000000000 WHERE scope = 'global'`);
  });
  after(async () => stack?.stop());

  it('exposes every family of docs/metrics.md', async () => {
    const families = await scrape();
    for (const name of [
      'clawd402_intents_total',
      'clawd402_intent_decision_seconds',
      'clawd402_intent_duration_seconds',
      'clawd402_intent_stage_seconds',
      'clawd402_spend_usd',
      'clawd402_budget_remaining_usd',
      'clawd402_breaker_level',
      'clawd402_signer_request_seconds',
      'clawd402_signer_errors_total',
      'clawd402_rpc_request_seconds',
      'clawd402_rpc_errors_total',
      'clawd402_approvals_pending',
      'clawd402_outbox_messages',
      'clawd402_job_runs_total',
      'clawd402_job_run_seconds',
      'clawd402_job_last_success_timestamp_seconds',
      'clawd402_rate_limit_refusals_total',
    ]) {
      family(families, name);
    }
    assert.equal(family(families, 'clawd402_intent_decision_seconds').type, 'HISTOGRAM');
    assert.equal(sample(families, 'clawd402_breaker_level', { scope: 'global' }), 0);
    assert.equal(sample(families, 'clawd402_approvals_pending'), 0);
  });

  it('counts a burst of intents by type, status and decision, exactly as sent', async () => {
    const token = await stack.token();
    const transfer = (to: string) => ({ type: 'transfer', chainId: 31337, to, asset: 'native', amount: '0.001' });
    const outsider = '0x000000000000000000000000000000000000dEaD';
    const answers = await Promise.all([
      ...Array.from({ length: APPROVED }, (_, i) => postIntent(stack.baseUrl, token, transfer(RECIPIENTS[i % 3]!))),
      ...Array.from({ length: REJECTED }, () => postIntent(stack.baseUrl, token, transfer(outsider))),
      ...Array.from({ length: REFUSED }, () =>
        postIntent(stack.baseUrl, token, { ...transfer(RECIPIENTS[0]!), chainId: 999 }),
      ),
    ]);
    const statuses = answers.map((a) => a.body.status ?? a.body.code);
    assert.equal(statuses.filter((s) => s === 'submitted' || s === 'confirmed').length, APPROVED, statuses.join());
    // A policy refusal is stored (status rejected) and answered 403 policy_denied.
    assert.equal(statuses.filter((s) => s === 'policy_denied').length, REJECTED, statuses.join());

    const families = await scrape();
    assert.equal(sample(families, 'clawd402_intents_total', { type: 'transfer', decision: 'auto_approve' }), APPROVED);
    assert.equal(
      sample(families, 'clawd402_intents_total', { type: 'transfer', status: 'rejected', decision: 'reject' }),
      REJECTED,
    );
    assert.equal(
      sample(families, 'clawd402_intents_total', { type: 'transfer', status: 'refused', decision: 'none' }),
      REFUSED,
    );
    assert.equal(sample(families, 'clawd402_intents_total'), APPROVED + REJECTED + REFUSED);
    assert.equal(sample(families, 'clawd402_intent_decision_seconds', { decision: 'auto_approve' }), APPROVED);
    assert.equal(sample(families, 'clawd402_intent_decision_seconds', { decision: 'reject' }), REJECTED);
    assert.equal(sample(families, 'clawd402_intent_duration_seconds'), APPROVED + REJECTED + REFUSED);
    // Stage by stage: every request was admitted; the refused ones (an unknown chain) stopped while being prepared;
    // the stored ones were simulated and decided; only the approved ones were signed and submitted.
    const stage = (name: string) => sample(families, 'clawd402_intent_stage_seconds', { stage: name });
    assert.equal(stage('admit'), APPROVED + REJECTED + REFUSED);
    for (const name of ['prepare', 'simulate', 'decide']) assert.equal(stage(name), APPROVED + REJECTED, name);
    for (const name of ['sign', 'submit']) assert.equal(stage(name), APPROVED, name);
    // The stages of a request add up to its time in the path.
    const total = (name: string): number =>
      scraped
        .split('\n')
        .filter((line) => line.startsWith(`${name}_sum`))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    const stages = total('clawd402_intent_stage_seconds');
    const paths = total('clawd402_intent_duration_seconds');
    assert.ok(stages > 0 && stages <= paths + 1e-6, `stages ${stages} s, paths ${paths} s`);
    // One signing round trip per approved transfer; RPC calls went to the chain's first endpoint.
    assert.equal(
      sample(families, 'clawd402_signer_request_seconds', { method: 'sign_transaction', outcome: 'ok' }),
      APPROVED,
    );
    assert.equal(sample(families, 'clawd402_signer_errors_total', { method: 'sign_transaction' }), 0);
    assert.ok(sample(families, 'clawd402_rpc_request_seconds', { chain: '31337', endpoint: 'rpc-1' }) > 0);
    // Spend moved, and the remaining budget is the limit less it. Spend gauges are read from Postgres at most once a
    // second (docs/metrics.md): scrape again until the read after the burst is the one answered.
    let money = families;
    for (let i = 0; i < 20 && sample(money, 'clawd402_spend_usd', { scope: 'global', window: 'day' }) === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      money = await scrape();
    }
    const spent = sample(money, 'clawd402_spend_usd', { scope: 'global', window: 'day' });
    assert.ok(spent > 0, `global spend ${spent}`);
    const remaining = sample(money, 'clawd402_budget_remaining_usd', { scope: 'global', window: 'day' });
    assert.ok(Math.abs(remaining - (1_000_000 - spent)) < 1e-6, `remaining ${remaining}, spent ${spent}`);
  });

  it('counts job runs by job and outcome', async () => {
    const run = await runJobNow(stack, owner, 'retention');
    assert.equal(run.outcome, 'succeeded');
    const families = await scrape();
    assert.equal(sample(families, 'clawd402_job_runs_total', { job: 'retention', outcome: 'succeeded' }), 1);
    assert.equal(sample(families, 'clawd402_job_run_seconds', { job: 'retention' }), 1);
    // The scrape-time gauges reuse their snapshot for a second: poll (bounded) until a fresh one shows the run.
    let last = 0;
    for (let i = 0; i < 50 && last === 0; i += 1) {
      last = sample(await scrape(), 'clawd402_job_last_success_timestamp_seconds', { job: 'retention' });
      if (last === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(last > 0, 'the last successful retention run is exposed');
  });
});
