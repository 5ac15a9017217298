// The gateway's request id reaches the signer's log (docs/logging.md): an operator follows one request from the
// gateway's line to the signer's line that signed for it, across the process boundary. Real signer process.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { nativeTransfer, startStack, type Stack } from './support/stack.ts';
import { captureLogs } from './support/submission.ts';

type Line = Record<string, unknown>;
const parse = (text: string): Line[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

describe('request id from the gateway to the signer log', { timeout: 180_000 }, () => {
  let stack: Stack;
  let app: FastifyInstance;
  const logs = captureLogs();
  before(async () => {
    stack = await startStack({ tracker: false, signerLog: true });
    app = await buildApp(stack.config, {
      logger: { level: 'info', stream: logs.stream },
      tracker: false,
      notifications: false,
    });
  });
  after(async () => {
    await app?.close();
    await stack?.stop();
  });

  test("a signed intent's gateway request id is on the signer's signed line for it", async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/intents',
      headers: { authorization: `Bearer ${await stack.token()}` },
      payload: nativeTransfer('0.001'),
    });
    assert.equal(res.statusCode, 201, res.body);
    const intentId = res.json<{ id: string }>().id;

    const incoming = parse(logs.text()).find(
      (l) => l.msg === 'incoming request' && (l.req as { url?: string } | undefined)?.url === '/v1/intents',
    );
    const requestId = incoming?.reqId;
    assert.equal(typeof requestId, 'string', logs.text());

    // The signer writes its line as it answers; read the file until it is there (bounded).
    let signed: Line | undefined;
    for (let i = 0; i < 100 && !signed; i++) {
      signed = parse(readFileSync(stack.signerLogPath!, 'utf8')).find(
        (l) => l.event === 'signer.signed' && l.requestId === requestId,
      );
      if (!signed) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(signed, `no signer.signed line with requestId ${String(requestId)}`);
    assert.equal(signed.category, 'signer');
    assert.equal(signed.iid, intentId, 'the line is the one for this intent');
  });
});
