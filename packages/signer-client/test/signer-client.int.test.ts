// SignerClient against scripted fake signers: what the gateway relies on when the signer is absent, slow or refuses.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Clawd402Error, FrameDecoder, SignerError, encodeFrame, type WireTransaction } from '@clawd402/protocol';
import { keccak256 } from 'viem';
import { SignerClient } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'c402c-'));
let n = 0;
const nextPath = (): string => join(dir, `s${n++}.sock`);

type Request = { v: 1; id: string; method: string; params?: unknown };

/** A fake signer: `onRequest` decides per request (answer, hold, drop). Records every request it receives. */
async function fakeSigner(
  onRequest: (req: Request, socket: Socket) => void,
): Promise<{ path: string; server: Server; received: Request[] }> {
  const path = nextPath();
  const received: Request[] = [];
  const server = createServer((socket) => {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        received.push(frame as Request);
        onRequest(frame as Request, socket);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server, received };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const TX: WireTransaction = {
  type: 'eip1559',
  chainId: 31337,
  nonce: 0,
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  value: '1',
  data: '0x',
  gas: '21000',
  maxFeePerGas: '2',
  maxPriorityFeePerGas: '1',
};
const RAW = '0x02f8aa';
const signResult = { raw: RAW, hash: keccak256(RAW), from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' };

function assertUnavailable(reason: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof Clawd402Error, `expected Clawd402Error, got ${String(error)}`);
    assert.equal(error.code, 'signer_unavailable');
    assert.equal(error.statusCode, 503);
    assert.equal(error.details?.reason, reason);
    return true;
  };
}

describe('SignerClient', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('signer not running (no socket file) → signer_unavailable', async () => {
    const client = new SignerClient({ socketPath: join(dir, 'absent.sock') });
    await assert.rejects(client.signTransaction({ ticket: 't', transaction: TX }), assertUnavailable('connect_failed'));
    await assert.rejects(client.status(), assertUnavailable('connect_failed'));
    await client.close();
  });

  test('signer dead (stale socket file, connection refused) → signer_unavailable', async () => {
    const path = nextPath();
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const client = new SignerClient({ socketPath: path });
    await assert.rejects(client.status(), assertUnavailable('connect_failed'));
    await client.close();
  });

  test('a signer that never answers → signer_unavailable after the per-request timeout', async () => {
    const fake = await fakeSigner(() => {});
    const client = new SignerClient({ socketPath: fake.path, timeoutMs: 50 });
    await assert.rejects(client.signTransaction({ ticket: 't', transaction: TX }), assertUnavailable('timeout'));
    assert.equal(fake.received.length, 1, 'the timed-out sign request was not resent');
    await client.close();
    await closeServer(fake.server);
  });

  test('an error frame becomes a SignerError with the same code', async () => {
    const fake = await fakeSigner((req, socket) =>
      socket.write(
        encodeFrame({ v: 1, id: req.id, error: { code: 'ticket_reused', message: 'The ticket was already used.' } }),
      ),
    );
    const client = new SignerClient({ socketPath: fake.path });
    await assert.rejects(client.signTransaction({ ticket: 't', transaction: TX }), (error: unknown) => {
      assert.ok(error instanceof SignerError);
      assert.equal(error.code, 'ticket_reused');
      return true;
    });
    await client.close();
    await closeServer(fake.server);
  });

  test('an error code outside the catalogue becomes signer_internal', async () => {
    const fake = await fakeSigner((req, socket) =>
      socket.write(encodeFrame({ v: 1, id: req.id, error: { code: 'made_up', message: 'x' } })),
    );
    const client = new SignerClient({ socketPath: fake.path });
    await assert.rejects(
      client.status(),
      (error: unknown) => error instanceof SignerError && error.code === 'signer_internal',
    );
    await client.close();
    await closeServer(fake.server);
  });

  test('pipelined requests are matched to out-of-order answers by id', async () => {
    const held: Request[] = [];
    const fake = await fakeSigner((req, socket) => {
      held.push(req);
      if (held.length === 3) {
        // Answer in reverse order, each result naming its request.
        for (const r of [...held].reverse()) {
          socket.write(
            encodeFrame({ v: 1, id: r.id, result: { keys: [{ id: r.id, address: signResult.from }], chains: [1] } }),
          );
        }
      }
    });
    const client = new SignerClient({ socketPath: fake.path });
    const results = await Promise.all([client.status(), client.status(), client.status()]);
    assert.deepEqual(
      results.map((r) => r.keys[0]!.id),
      held.map((r) => r.id),
    );
    assert.equal(new Set(held.map((r) => r.id)).size, 3);
    await client.close();
    await closeServer(fake.server);
  });

  test('a dropped connection fails the in-flight sign once (never resent) and the next request reconnects', async () => {
    let connections = 0;
    const fake = await fakeSigner((req, socket) => {
      if (req.method === 'sign_transaction' && connections === 0) {
        connections++;
        socket.destroy(); // drop mid-request
        return;
      }
      socket.write(encodeFrame({ v: 1, id: req.id, result: signResult }));
    });
    const client = new SignerClient({ socketPath: fake.path });
    await assert.rejects(
      client.signTransaction({ ticket: 't', transaction: TX }),
      assertUnavailable('connection_closed'),
    );
    assert.equal(fake.received.filter((r) => r.method === 'sign_transaction').length, 1);
    assert.deepEqual(await client.signTransaction({ ticket: 't2', transaction: TX }), signResult);
    await client.close();
    await closeServer(fake.server);
  });

  test('a result whose hash is not keccak256(raw) is refused as signer_unavailable', async () => {
    const fake = await fakeSigner((req, socket) =>
      socket.write(encodeFrame({ v: 1, id: req.id, result: { ...signResult, hash: keccak256('0x01') } })),
    );
    const client = new SignerClient({ socketPath: fake.path });
    await assert.rejects(client.signTransaction({ ticket: 't', transaction: TX }), assertUnavailable('protocol_error'));
    await client.close();
    await closeServer(fake.server);
  });

  test('close() rejects requests still in flight with signer_unavailable', async () => {
    const fake = await fakeSigner(() => {});
    const client = new SignerClient({ socketPath: fake.path });
    const refused = assert.rejects(client.status(), assertUnavailable('client_closed'));
    await once(fake.server, 'connection');
    await client.close();
    await refused;
    await assert.rejects(client.status(), assertUnavailable('client_closed'));
    await closeServer(fake.server);
  });

  test('requests are spread over several connections', async () => {
    const fake = await fakeSigner((req, socket) => {
      socket.write(encodeFrame({ v: 1, id: req.id, result: { keys: [], chains: [1] } }));
    });
    const seen = new Set<Socket>();
    fake.server.on('connection', (s) => seen.add(s));
    const client = new SignerClient({ socketPath: fake.path, connections: 3 });
    await Promise.all(Array.from({ length: 6 }, () => client.status()));
    assert.equal(seen.size, 3);
    await client.close();
    await closeServer(fake.server);
  });
});
