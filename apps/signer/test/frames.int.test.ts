// Security regressions for the frame layer: malformed or oversized frames are refused and the connection closed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { MAX_FRAME_BYTES, SIGNER_ERRORS } from '@clawd402/protocol';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startSigner, type RunningSigner } from '../src/index.ts';
import { CHAIN_ID, gatewayKeys, RawConnection, tempDir, ticketFor, wireTx } from './support.ts';

function lengthPrefixed(body: Buffer, length = body.length): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(length);
  return Buffer.concat([header, body]);
}

describe('frame protocol', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  let signer: RunningSigner;

  before(async () => {
    signer = await startSigner({
      socketPath: join(tmp.dir, 'signer.sock'),
      privateKeys: [key],
      gatewayPublicKeys: [gw.publicKey],
      chains: [CHAIN_ID],
    });
  });
  after(async () => {
    await signer.close();
    tmp.cleanup();
  });

  test('an unknown method is answered with unknown_method and the connection stays usable', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    const refused = await conn.call('a', 'export_private_key', {});
    assert.deepEqual(refused, {
      v: 1,
      id: 'a',
      error: { code: 'unknown_method', message: SIGNER_ERRORS.unknown_method },
    });
    const status = await conn.call('b', 'status');
    assert.deepEqual(status.result, { keys: [{ id: address, address }], chains: [CHAIN_ID] });
    conn.close();
  });

  test('bad params are answered with invalid_params and the connection stays usable', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    assert.equal(
      ((await conn.call('a', 'sign_transaction', { ticket: 1 })).error as { code: string }).code,
      'invalid_params',
    );
    assert.equal(((await conn.call('b', 'sign_transaction', [])).error as { code: string }).code, 'invalid_params');
    assert.equal(((await conn.call('c', 'status', { all: true })).error as { code: string }).code, 'invalid_params');
    assert.ok((await conn.call('d', 'status')).result);
    conn.close();
  });

  test('a non-JSON frame gets a malformed_frame error frame with id null, then the connection closes', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    conn.writeRaw(lengthPrefixed(Buffer.from('{"v":1,"id":"x",', 'utf8')));
    await conn.closed;
    assert.deepEqual(conn.frames, [
      { v: 1, id: null, error: { code: 'malformed_frame', message: SIGNER_ERRORS.malformed_frame } },
    ]);
  });

  test('a JSON frame that is not an object gets malformed_frame, then the connection closes', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    conn.writeRaw(lengthPrefixed(Buffer.from('[1,2,3]', 'utf8')));
    await conn.closed;
    assert.equal(conn.frames.length, 1);
    assert.equal(conn.frames[0]!.id, null);
    assert.equal((conn.frames[0]!.error as { code: string }).code, 'malformed_frame');
  });

  test('an oversized length prefix gets frame_too_large with id null, then the connection closes (no body needed)', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    conn.writeRaw(lengthPrefixed(Buffer.from('{}'), MAX_FRAME_BYTES + 1));
    await conn.closed;
    assert.deepEqual(conn.frames, [
      { v: 1, id: null, error: { code: 'frame_too_large', message: SIGNER_ERRORS.frame_too_large } },
    ]);
  });

  test('a frame of another protocol version is malformed_frame and closes the connection', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    conn.writeFrame({ v: 2, id: 'a', method: 'status' });
    await conn.closed;
    assert.equal(conn.frames.length, 1);
    assert.equal((conn.frames[0]!.error as { code: string }).code, 'malformed_frame');
  });

  test('frames after a bad frame in the same write are not served', async () => {
    for (const bad of [
      Buffer.from('nope'),
      Buffer.from(JSON.stringify({ v: 1, id: 'bad', method: 'status', extra: 1 })),
    ]) {
      const conn = await RawConnection.open(signer.socketPath);
      const good = Buffer.from(JSON.stringify({ v: 1, id: 'after', method: 'status' }));
      conn.writeRaw(Buffer.concat([lengthPrefixed(bad), lengthPrefixed(good)]));
      await conn.closed;
      assert.equal(conn.frames.length, 1);
      assert.equal((conn.frames[0]!.error as { code: string }).code, 'malformed_frame');
    }
  });

  test('pipelined requests on one connection are all answered, each echoing its id', async () => {
    const conn = await RawConnection.open(signer.socketPath);
    const txs = Array.from({ length: 5 }, () => wireTx());
    const tickets = await Promise.all(txs.map((tx) => ticketFor(gw, tx, address)));
    // One write carrying every frame, interleaving methods.
    txs.forEach((tx, i) => {
      conn.writeFrame({
        v: 1,
        id: `sign-${i}`,
        method: 'sign_transaction',
        params: { ticket: tickets[i], transaction: tx },
      });
      conn.writeFrame({ v: 1, id: `status-${i}`, method: 'status' });
    });
    const frames = await conn.waitFrames(10);
    assert.deepEqual(
      frames.map((f) => f.id).sort(),
      [...txs.map((_, i) => `sign-${i}`), ...txs.map((_, i) => `status-${i}`)].sort(),
    );
    for (const f of frames) assert.ok('result' in f, `frame ${String(f.id)} is an error`);
    conn.close();
  });
});
