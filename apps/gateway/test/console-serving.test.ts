import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import errorsPlugin from '../src/plugins/app/errors.ts';
import consoleRoutes, { CONSOLE_CSP } from '../src/routes/console.ts';

const PAGE = '<!doctype html><script type="module" src="/console/assets/index-abc.js"></script>';

// How /console serves the build (docs/console.md): only files the build wrote, the page for every other path, the
// strict CSP on everything, and a clear code when there is no build.
describe('serving the console', () => {
  let dir: string;
  let app: FastifyInstance;
  let unbuilt: FastifyInstance;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'clawd402-console-'));
    mkdirSync(join(dir, 'dist/assets'), { recursive: true });
    writeFileSync(join(dir, 'dist/index.html'), PAGE);
    writeFileSync(join(dir, 'dist/assets/index-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not for the web');
    app = Fastify();
    await app.register(errorsPlugin);
    await app.register(consoleRoutes({ dir: join(dir, 'dist') }));
    unbuilt = Fastify();
    await unbuilt.register(errorsPlugin);
    await unbuilt.register(consoleRoutes({ dir: join(dir, 'nothing-here') }));
  });
  after(async () => {
    await app?.close();
    await unbuilt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the page answers every console path with the strict CSP; an asset is served with its type and cached', async () => {
    for (const url of ['/console', '/console/', '/console/approvals/5b1d7c9e-0000-4000-8000-000000000000?x=1']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, PAGE);
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      assert.match(String(res.headers['content-type']), /^text\/html/);
    }
    const asset = await app.inject({ url: '/console/assets/index-abc.js' });
    assert.equal(asset.body, 'console.log(1)');
    assert.match(String(asset.headers['content-type']), /^text\/javascript/);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
  });

  test('a path that climbs out of the build reads nothing from disk: an unknown asset is route_not_found', async () => {
    for (const url of [
      '/console/assets/../../secret.txt',
      '/console/assets/%2e%2e/%2e%2e/secret.txt',
      '/console/assets/nope.js',
    ]) {
      const res = await app.inject({ url });
      assert.doesNotMatch(res.body, /not for the web/, url);
    }
    const missing = await app.inject({ url: '/console/assets/nope.js' });
    assert.deepEqual([missing.statusCode, missing.json().code], [404, 'route_not_found']);
  });

  test('without a build /console answers 503 console_not_built', async () => {
    const res = await unbuilt.inject({ url: '/console/approvals/x' });
    assert.deepEqual([res.statusCode, res.json().code], [503, 'console_not_built']);
  });
});
