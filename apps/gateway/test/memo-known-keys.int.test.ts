/**
 * Memo secrets on the real stack: the exact hostile memos from issue 18, each refused with intent_secret_detected by
 * a gateway process at LOG_LEVEL=trace, and the key in no log line and no stored row. The keys are anvil's public,
 * well-known dev keys (never real funds), bound here as agents' signer addresses so the gateway knows them.
 * The rule itself: memo-known-keys.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from 'viem';
import { ANVIL_ACCOUNTS } from '@clawd402/testkit';
import { createAgentWithKey } from '../src/repositories/agents-repository.ts';
import { RECIPIENTS, count, postIntent, startStack, type Stack } from './support/stack.ts';
import { spawnCapturedGateway, type CapturedGateway } from './support/gateway-process.ts';

const clean = { type: 'transfer', chainId: 31337, to: RECIPIENTS[0]!, asset: 'native', amount: '0.001' };
/** Anvil dev accounts 5 and 6: public keys from foundry's documented test mnemonic. */
const OTHER = ANVIL_ACCOUNTS[5];
const OWN = ANVIL_ACCOUNTS[6];
const hex = (account: { privateKey: string }): string => account.privateKey.slice(2).toLowerCase();

describe(
  'memo secrets: the private key of a known address is refused, and never logged or stored',
  { timeout: 120_000 },
  () => {
    let stack: Stack;
    let gateway: CapturedGateway;
    before(async () => {
      stack = await startStack();
      gateway = await spawnCapturedGateway(stack, { LOG_LEVEL: 'trace' });
    });
    after(async () => {
      await gateway?.stop();
      await stack?.stop();
    });

    /** A fresh agent (each gets at most two hits, so none is quarantined) bound to `signerAddress`. */
    async function agentToken(signerAddress: Address = stack.signerAddress): Promise<string> {
      const agent = await createAgentWithKey(stack.pool, {
        name: `memo-${Math.random().toString(16).slice(2, 8)}`,
        signerAddress,
      });
      return stack.token(agent.apiKey);
    }

    test("exact hostile memos → 422 intent_secret_detected; a hash that is nobody's key still passes; nothing logged or stored", async () => {
      await agentToken(OTHER.address); // another agent's signer address: now a known address
      const cases: { memo: string; token: string; label: string }[] = [
        {
          label: "the issue's memo: my key is 0x<another agent's key>",
          memo: `my key is 0x${hex(OTHER)}`,
          token: await agentToken(),
        },
        {
          label: "unlabelled 0x<another agent's key> (looked like a hash before)",
          memo: `refund 0x${hex(OTHER)}`,
          token: await agentToken(),
        },
        {
          label: "labelled as a hash: tx <another agent's key>, no 0x",
          memo: `tx ${hex(OTHER)}`,
          token: await agentToken(),
        },
        {
          label: "the agent's own signer key, 0x, unlabelled",
          memo: `settle 0x${hex(OWN)} thanks`,
          token: await agentToken(OWN.address),
        },
        { label: 'key: <random 64 hex> (the new label)', memo: `key: 0x${'3e'.repeat(32)}`, token: await agentToken() },
      ];
      for (const c of cases) {
        const res = await postIntent(gateway.baseUrl, c.token, { ...clean, memo: c.memo });
        assert.equal(res.status, 422, `${c.label}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'intent_secret_detected', c.label);
        assert.ok(
          !JSON.stringify(res.body).toLowerCase().includes(hex(OTHER)) &&
            !JSON.stringify(res.body).toLowerCase().includes(hex(OWN)),
        );
      }

      const hash = `0x${'9d'.repeat(32)}`;
      const passes = await postIntent(gateway.baseUrl, await agentToken(), { ...clean, memo: `paid, tx ${hash}` });
      assert.equal(passes.status, 201, JSON.stringify(passes.body));
      assert.equal(passes.body.memo, `paid, tx ${hash}`);

      await gateway.stop(); // flush: everything the process wrote is captured
      const output = gateway.output().toLowerCase();
      assert.match(output, /"rule":"known_private_key"/, 'the refusals were logged by rule (so the capture works)');
      for (const leaked of [hex(OTHER), hex(OWN)]) {
        assert.ok(!output.includes(leaked), 'no log line holds the key');
      }
      const stored = await stack.pool.query<{ text: string }>(
        `SELECT record AS text FROM audit_log UNION ALL SELECT coalesce(memo, '') FROM intents UNION ALL SELECT detail::text FROM alerts
       UNION ALL SELECT row_to_json(h)::text FROM api_key_hygiene h`,
      );
      for (const { text } of stored.rows) {
        assert.ok(
          !text.toLowerCase().includes(hex(OTHER)) && !text.toLowerCase().includes(hex(OWN)),
          'no stored row holds the key',
        );
      }
      const hits = await count(
        stack.pool,
        `SELECT count(*)::int AS n FROM api_key_hygiene WHERE last_category = 'secret'`,
      );
      assert.equal(hits, cases.length, 'each refusal was counted against its key');
    });
  },
);
