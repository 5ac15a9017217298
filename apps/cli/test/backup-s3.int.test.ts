// Backups to S3-compatible storage: the same CLI against s3rver (a local S3 server from npm) on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { createTestDatabase, type TestDatabase } from '@clawd402/testkit';
import { clawd402 } from './support.ts';
import { databaseContents, seedGatewayDatabase } from './seed.ts';

const tmp = mkdtempSync(join(tmpdir(), 'c402s3-'));
// s3rver's fixed development credentials (public, in its README), not a secret.
const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

describe('clawd402 backup to S3-compatible storage', { timeout: 180_000 }, () => {
  let server: S3rver;
  let endpoint: string;
  let source: TestDatabase;
  let target: TestDatabase;
  let recipient: string;
  const identity = join(tmp, 'identity.txt');

  before(async () => {
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: join(tmp, 's3'),
      configureBuckets: [{ name: 'clawd402-backups' }],
    });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    source = await createTestDatabase();
    target = await createTestDatabase();
    await seedGatewayDatabase(source.url, { intents: 50 });
    const keygen = await clawd402(['backup', 'keygen', '--out', identity]);
    assert.equal(keygen.status, 0, keygen.stderr);
    recipient = keygen.json.recipient;
  });
  after(async () => {
    await server?.close();
    await source?.drop();
    await target?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('create to s3://bucket/prefix, verify the latest with the identity, restore it into an empty database', async () => {
    const env = { ...S3_ENV, DATABASE_URL: source.url, BACKUP_S3_ENDPOINT: endpoint };
    const created = await clawd402(
      ['backup', 'create', '--to', 's3://clawd402-backups/prod/eu', '--recipient', recipient],
      env,
    );
    assert.equal(created.status, 0, JSON.stringify(created.json) + created.stderr);
    assert.equal(created.json.location, 's3://clawd402-backups/prod/eu');
    // The objects really are in the bucket (s3rver keeps them on disk under the prefix).
    const objects = readdirSync(join(tmp, 's3', 'clawd402-backups', 'prod', 'eu', created.json.id));
    for (const name of ['manifest.json', 'database.tar.gz.age'])
      assert.ok(
        objects.some((o) => o.startsWith(name)),
        `${name} in ${objects.join(', ')}`,
      );

    const verified = await clawd402(
      ['backup', 'verify', '--from', 's3://clawd402-backups/prod/eu', '--id', 'latest', '--identity', identity],
      env,
    );
    assert.equal(verified.status, 0, JSON.stringify(verified.json));
    assert.equal(verified.json.id, created.json.id);
    assert.equal(verified.json.decrypted, true);

    const restored = await clawd402(
      ['backup', 'restore', '--from', 's3://clawd402-backups/prod/eu', '--identity', identity],
      { ...env, DATABASE_URL: target.url },
    );
    assert.equal(restored.status, 0, JSON.stringify(restored.json));
    assert.equal(restored.json.database.ok, true);
    assert.deepEqual(await databaseContents(target.url), await databaseContents(source.url));
    assert.doesNotMatch(created.stderr + JSON.stringify(created.json) + JSON.stringify(restored.json), /S3RVER/);
  });

  test('an object store that does not answer is storage_unavailable (exit 4), and no staging is left behind', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const work = join(tmp, 'work');
    const result = await clawd402(
      [
        'backup',
        'create',
        '--to',
        's3://clawd402-backups/x',
        '--recipient',
        recipient,
        '--s3-endpoint',
        `http://127.0.0.1:${closed}`,
        '--work-dir',
        work,
      ],
      { ...S3_ENV, DATABASE_URL: source.url },
    );
    assert.equal(result.status, 4, JSON.stringify(result.json));
    assert.equal(result.json.error.code, 'storage_unavailable');
    assert.deepEqual(statSync(work).isDirectory() ? readdirSync(work) : [], []);
  });
});
