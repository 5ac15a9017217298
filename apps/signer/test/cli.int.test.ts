// The CLI end to end, as the launcher runs it: `keystore new`, then `serve` as a child process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { decryptKeystoreJson } from 'ethers';
import { SignerError } from '@clawd402/protocol';
import { SignerClient } from '@clawd402/signer-client';
import { runScript, type ScriptRun } from '@clawd402/testkit';
import { getAddress, recoverTransactionAddress, type Address } from 'viem';
import { gatewayKeys, RawConnection, tempDir, ticketFor, wireTx, writeFileText } from './support.ts';

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

type Run = ScriptRun;

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  return runScript(cliPath, args, repoRoot, env);
}

/** Wait for the serve process's ready line; fail with its stderr if it exits first. */
async function waitReady(
  run: Run,
): Promise<{ event: string; socket: string; keys: { id: string; address: string }[] }> {
  for (;;) {
    const line = run
      .stdout()
      .split('\n')
      .find((l) => l.trim().length > 0);
    if (line !== undefined && run.stdout().includes('\n')) return JSON.parse(line);
    const exited = await Promise.race([
      run.exit.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 25)),
    ]);
    if (exited) throw new Error(`signer exited before ready: ${run.stderr()}`);
  }
}

describe('clawd402-signer CLI', () => {
  const tmp = tempDir();
  const gw = gatewayKeys();
  const passwordFile = writeFileText(join(tmp.dir, 'password'), 'cli password\n');
  const gatewayKeyFile = writeFileText(join(tmp.dir, 'gateway.pub'), gw.publicKeyPem);
  const keystore = join(tmp.dir, 'key.json');
  const socketPath = join(tmp.dir, 'run', 'signer.sock');
  const journal = join(tmp.dir, 'journal.jsonl');
  const serveArgs = [
    'serve',
    '--socket',
    socketPath,
    '--keystore',
    keystore,
    '--password-file',
    passwordFile,
    '--gateway-key',
    gatewayKeyFile,
    '--chains',
    '31337,1',
    '--journal',
    journal,
    '--log-level',
    'debug',
  ];
  /** Everything a CLI-started signer ever wrote to us: stdout, stderr and every byte of every socket answer. */
  const transcript: string[] = [];
  let address: Address;
  let privateKeyHex: string;

  before(async () => {
    const run = runCli(['keystore', 'new', '--out', keystore, '--password-file', passwordFile, '--scrypt-n', '1024']);
    assert.equal(await run.exit, 0, run.stderr());
    transcript.push(run.stdout(), run.stderr());
    address = JSON.parse(run.stdout()).address;
    privateKeyHex = (await decryptKeystoreJson(readFileSync(keystore, 'utf8'), 'cli password')).privateKey
      .slice(2)
      .toLowerCase();
  });
  after(() => tmp.cleanup());

  test('keystore new prints exactly one JSON line with the checksummed address, and writes a 0600 v3 keystore of it', async () => {
    assert.equal(address, getAddress(address));
    assert.equal(transcript[0], `${JSON.stringify({ address })}\n`);
    assert.equal(statSync(keystore).mode & 0o777, 0o600);
    const decrypted = await decryptKeystoreJson(readFileSync(keystore, 'utf8'), 'cli password');
    assert.equal(decrypted.address, address);
    assert.equal(JSON.parse(readFileSync(keystore, 'utf8')).version, 3);
  });

  test('keystore new refuses a missing or empty password file, and never overwrites a keystore', async () => {
    const out = join(tmp.dir, 'never.json');
    const emptyFile = writeFileText(join(tmp.dir, 'empty'), '');
    const before = readFileSync(keystore, 'utf8');
    const missing = runCli([
      'keystore',
      'new',
      '--out',
      out,
      '--password-file',
      join(tmp.dir, 'nope'),
      '--scrypt-n',
      '1024',
    ]);
    const empty = runCli(['keystore', 'new', '--out', out, '--password-file', emptyFile, '--scrypt-n', '1024']);
    const clobber = runCli([
      'keystore',
      'new',
      '--out',
      keystore,
      '--password-file',
      passwordFile,
      '--scrypt-n',
      '1024',
    ]);
    assert.notEqual(await missing.exit, 0);
    assert.notEqual(await empty.exit, 0);
    assert.notEqual(await clobber.exit, 0);
    assert.equal(existsSync(out), false);
    assert.equal(readFileSync(keystore, 'utf8'), before);
    assert.equal(missing.stdout() + empty.stdout() + clobber.stdout(), '');
    transcript.push(
      missing.stdout(),
      missing.stderr(),
      empty.stdout(),
      empty.stderr(),
      clobber.stdout(),
      clobber.stderr(),
    );
  });

  test('serve: ready line, signs over the socket, refuses reuse, exits 0 on SIGTERM and removes its socket', async () => {
    const run = runCli(serveArgs);
    const ready = await waitReady(run);
    assert.deepEqual(ready, { event: 'ready', socket: socketPath, keys: [{ id: address, address }] });
    assert.equal(statSync(socketPath).mode & 0o777, 0o600);

    const raw = await RawConnection.open(socketPath);
    const tx = wireTx();
    const ticket = await ticketFor(gw, tx, address);
    const signed = await raw.call('1', 'sign_transaction', { ticket, transaction: tx });
    const result = signed.result as { raw: `0x02${string}`; from: string };
    assert.equal(await recoverTransactionAddress({ serializedTransaction: result.raw }), address);
    assert.equal(
      ((await raw.call('2', 'sign_transaction', { ticket, transaction: tx })).error as { code: string }).code,
      'ticket_reused',
    );
    assert.equal(((await raw.call('3', 'dump_keys')).error as { code: string }).code, 'unknown_method');
    assert.ok((await raw.call('4', 'status')).result);
    raw.close();
    const junk = await RawConnection.open(socketPath);
    junk.writeRaw(Buffer.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]));
    await junk.closed;
    assert.equal((junk.frames[0]!.error as { code: string }).code, 'malformed_frame');
    transcript.push(raw.received.toString('utf8'), junk.received.toString('utf8'));

    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
    assert.equal(existsSync(socketPath), false);
    transcript.push(run.stdout(), run.stderr());

    // Restarted on the same journal: the ticket spent before the restart is still refused.
    const restarted = runCli(serveArgs);
    await waitReady(restarted);
    const client = new SignerClient({ socketPath });
    await assert.rejects(client.signTransaction({ ticket, transaction: tx }), (error: unknown) => {
      assert.ok(error instanceof SignerError);
      assert.equal(error.code, 'ticket_reused');
      return true;
    });
    await client.close();
    restarted.child.kill('SIGINT');
    assert.equal(await restarted.exit, 0);
    transcript.push(restarted.stdout(), restarted.stderr());
  });

  test('serve refuses to start with a wrong password, without printing a ready line', async () => {
    const wrong = writeFileText(join(tmp.dir, 'wrong'), 'not the password\n');
    const args = [...serveArgs];
    args[args.indexOf('--password-file') + 1] = wrong;
    args[args.indexOf('--socket') + 1] = join(tmp.dir, 'wrong.sock');
    const run = runCli(args);
    assert.equal(await run.exit, 1);
    assert.equal(run.stdout(), '');
    assert.match(run.stderr(), /cannot be decrypted/);
    transcript.push(run.stdout(), run.stderr());
  });

  test('serve takes its configuration from SIGNER_* env vars when flags are absent', async () => {
    const envSocket = join(tmp.dir, 'env.sock');
    const run = runCli(['serve'], {
      SIGNER_SOCKET: envSocket,
      SIGNER_KEYSTORE: keystore,
      SIGNER_PASSWORD_FILE: passwordFile,
      SIGNER_GATEWAY_KEY_FILE: gatewayKeyFile,
      SIGNER_CHAINS: '31337',
    });
    const ready = await waitReady(run);
    assert.equal(ready.socket, envSocket);
    const client = new SignerClient({ socketPath: envSocket });
    assert.deepEqual((await client.status()).chains, [31337]);
    await client.close();
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
    transcript.push(run.stdout(), run.stderr());
  });

  test('no stdout, stderr or socket answer of the CLI ever contained the private key', () => {
    assert.equal(privateKeyHex.length, 64);
    assert.ok(transcript.length >= 10);
    const everything = transcript.join('\n').toLowerCase();
    assert.ok(everything.includes(address.slice(2).toLowerCase()), 'the transcript is not empty of signer output');
    assert.equal(everything.includes(privateKeyHex), false);
  });
});
