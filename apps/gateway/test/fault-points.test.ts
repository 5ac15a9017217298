import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  GATEWAY_FAULT_POINTS,
  SIGNER_FAULT_POINTS,
  armFaultPoint,
  faultPoint,
  parseFaultPoint,
} from '@clawd402/protocol';
import { ConfigError, loadConfig } from '../src/config.ts';
import { SIGNER_CLI, TSX_LOADER } from '../src/dev/signer-process.ts';
import { configFixture } from './support/config-env.ts';

/**
 * The crash tests' SIGKILL hook (docs/recovery.md, "Crashes") is compiled in, so it must be impossible to arm outside
 * tests: FAULT_POINT and SIGNER_FAULT_POINT are refused unless NODE_ENV=test, and an unknown point is refused.
 */
describe('fault points are test-only', { timeout: 120_000 }, () => {
  const fixture = configFixture('clawd402-faults-');
  after(() => fixture.remove());
  const refuses = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (error: unknown) =>
        error instanceof ConfigError && error.variable === 'FAULT_POINT' && pattern.test(error.message),
    );

  test('production refuses FAULT_POINT', () =>
    refuses({ ...fixture.production, FAULT_POINT: 'sign.after_nonce' }, /test-only crash hook/));

  test('development refuses FAULT_POINT too', () =>
    refuses(
      { ...fixture.test, NODE_ENV: 'development', FAULT_POINT: 'sign.after_nonce' },
      /refused unless NODE_ENV=test/,
    ));

  test('an unknown point or a malformed count is refused, naming the points', () => {
    refuses({ ...fixture.test, FAULT_POINT: 'sign.somewhere' }, /must be one of reserve\.before_commit/);
    refuses({ ...fixture.test, FAULT_POINT: 'sign.after_nonce:0' }, /must be one of/);
    refuses({ ...fixture.test, FAULT_POINT: 'signer.after_sign' }, /must be one of/); // the signer's, not the gateway's
  });

  test('NODE_ENV=test arms a known point, optionally at its N-th time; unset leaves the hook inert', () => {
    assert.deepEqual(loadConfig({ ...fixture.test, FAULT_POINT: 'submit.after_broadcast:3' }).faultPoint, {
      point: 'submit.after_broadcast',
      hit: 3,
    });
    assert.equal(loadConfig(fixture.test).faultPoint, null);
    armFaultPoint(null);
    for (const point of [...GATEWAY_FAULT_POINTS, ...SIGNER_FAULT_POINTS]) faultPoint(point); // still alive
    assert.equal(parseFaultPoint(undefined, GATEWAY_FAULT_POINTS, 'production'), null);
  });

  test('the signer refuses SIGNER_FAULT_POINT outside NODE_ENV=test, before it reads any key', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        TSX_LOADER,
        SIGNER_CLI,
        'serve',
        '--socket',
        '/nonexistent/s.sock',
        '--keystore',
        'k.json',
        '--password-file',
        'p',
        '--gateway-key',
        'g.pem',
      ],
      { env: { ...process.env, NODE_ENV: 'development', SIGNER_FAULT_POINT: 'signer.after_sign' }, encoding: 'utf8' },
    );
    assert.notEqual(run.status, 0);
    assert.match(run.stderr + run.stdout, /SIGNER_FAULT_POINT is a test-only crash hook/);
  });
});
