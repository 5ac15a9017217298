#!/usr/bin/env node
// Runs every test file in the workspace with Node's own test runner (TypeScript through tsx), then prints one
// plain closing line "N passed, N failed". Each file runs in its own process; two at a time (CI has 2 cores).
// Usage: node scripts/run-tests.mjs [path-substring ...]   e.g. `pnpm test signer` runs only files matching "signer".
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';

const root = new URL('..', import.meta.url).pathname;
const roots = ['apps', 'packages', 'deploy', 'tools'].map((d) => join(root, d));
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
}
roots.forEach(walk);
const filters = process.argv.slice(2);
const selected = files.filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s))).sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Integration tests use real PostgreSQL and Redis. When either does not answer, set them up (Debian, as root) with
// the same script CI uses; without permission to do that, say what is missing instead of failing test by test.
function answers(port, payload, expect) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => (payload ? socket.write(payload) : done(true)));
    socket.once('data', (chunk) => done(chunk.toString().startsWith(expect)));
  });
}
const needServices = !process.env.TEST_DATABASE_URL || !process.env.TEST_REDIS_URL;
if (needServices && !((await answers(5432)) && (await answers(6379, 'PING\r\n', '+PONG')))) {
  console.error(
    'PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) is not answering; running scripts/ensure-services.sh',
  );
  const ensured = spawnSync('bash', [join(root, 'scripts/ensure-services.sh')], { stdio: 'inherit' });
  if (ensured.status !== 0) {
    console.error(
      'Could not set up PostgreSQL and Redis. Start them (or set TEST_DATABASE_URL / TEST_REDIS_URL) and run again.',
    );
    process.exit(1);
  }
}

const tap = join(tmpdir(), `clawd402-tests-${process.pid}.tap`);
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
    // Every test and suite without its own timeout fails after 15 minutes instead of stalling CI (files that know
    // better set `{ timeout }` on their describe).
    `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 900_000}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...selected,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'test' } },
);
let passed = 0;
let failed = 0;
try {
  const text = readFileSync(tap, 'utf8');
  passed = Number(/^# pass (\d+)$/m.exec(text)?.[1] ?? 0);
  failed = Number(/^# fail (\d+)$/m.exec(text)?.[1] ?? 0) + Number(/^# cancelled (\d+)$/m.exec(text)?.[1] ?? 0);
  rmSync(tap, { force: true });
} catch {
  failed += 1;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(result.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
