import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { generatePrivateKey } from 'viem/accounts';
import { SignerConfigError, startSigner, type StartSignerOptions } from '../src/index.ts';
import { gatewayKeys, RawConnection, tempDir } from './support.ts';

describe('the socket', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const options = (socketPath: string): StartSignerOptions => ({
    socketPath,
    privateKeys: [generatePrivateKey()],
    gatewayPublicKeys: [gw.publicKey],
  });
  after(() => tmp.cleanup());

  test('the socket file is mode 0600 and the directory it creates is 0700', async () => {
    const socketPath = join(tmp.dir, 'created', 'nested', 'signer.sock');
    const signer = await startSigner(options(socketPath));
    try {
      assert.ok(lstatSync(socketPath).isSocket());
      assert.equal(lstatSync(socketPath).mode & 0o777, 0o600);
      assert.equal(statSync(join(tmp.dir, 'created', 'nested')).mode & 0o777, 0o700);
      assert.equal(statSync(join(tmp.dir, 'created')).mode & 0o777, 0o700);
    } finally {
      await signer.close();
    }
  });

  test('close() removes the socket file', async () => {
    const socketPath = join(tmp.dir, 'close.sock');
    const signer = await startSigner(options(socketPath));
    await signer.close();
    assert.equal(existsSync(socketPath), false);
  });

  test('a stale socket file left by a dead signer is replaced', async () => {
    const socketPath = join(tmp.dir, 'stale.sock');
    // A crashed signer: a process that listens, then is SIGKILLed, leaving its socket file behind.
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`,
    ]);
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok(lstatSync(socketPath).isSocket());
    const signer = await startSigner(options(socketPath));
    try {
      const conn = await RawConnection.open(socketPath);
      assert.ok((await conn.call('1', 'status')).result);
      conn.close();
    } finally {
      await signer.close();
    }
  });

  test('a socket another process is listening on is refused, not stolen', async () => {
    const socketPath = join(tmp.dir, 'live.sock');
    const live = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => live.listen(socketPath, resolve));
    try {
      await assert.rejects(startSigner(options(socketPath)), SignerConfigError);
      assert.ok(lstatSync(socketPath).isSocket());
    } finally {
      await new Promise<void>((resolve) => live.close(() => resolve()));
    }
  });

  test('a path that is not a socket is refused and left alone', async () => {
    const socketPath = join(tmp.dir, 'plain-file');
    writeFileSync(socketPath, 'keep me');
    await assert.rejects(startSigner(options(socketPath)), SignerConfigError);
    assert.ok(lstatSync(socketPath).isFile());
  });

  test('an existing socket directory is used as is', async () => {
    const dir = join(tmp.dir, 'existing');
    mkdirSync(dir, { mode: 0o700 });
    const signer = await startSigner(options(join(dir, 's.sock')));
    assert.equal(lstatSync(join(dir, 's.sock')).mode & 0o777, 0o600);
    await signer.close();
  });
});
