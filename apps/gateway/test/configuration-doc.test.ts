// docs/configuration.md is generated from the environment schema; these tests keep the two in step and keep every
// environment read of the gateway inside the schema. Pure: no services.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { renderConfigurationDoc } from '../src/config/configuration-doc.ts';
import { ENV } from '../src/config/env-schema.ts';
import { CONFIGURATION_DOC } from '../src/config/write-configuration-doc.ts';
import { configFixture } from './support/config-env.ts';

const SRC = new URL('../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('docs/configuration.md', { timeout: 30_000 }, () => {
  test('is what the schema renders (run `pnpm --filter @clawd402/gateway docs:config` after changing the schema)', () => {
    assert.equal(readFileSync(CONFIGURATION_DOC, 'utf8'), renderConfigurationDoc());
  });

  test('has one row per variable, naming its default and production rule', () => {
    const doc = renderConfigurationDoc();
    for (const [name, spec] of Object.entries(ENV)) {
      const rows = doc.split('\n').filter((line) => line.startsWith(`| \`${name}\` |`));
      assert.equal(rows.length, 1, name);
      if ('production' in spec && spec.production)
        assert.ok(rows[0]!.includes(spec.production.replace(/\|/g, '\\|')), `${name}: production rule missing`);
    }
    assert.match(doc, new RegExp(`reads ${Object.keys(ENV).length} environment variables`));
  });

  test('the check can fail: a changed default or a removed variable changes the rendering', () => {
    const current = readFileSync(CONFIGURATION_DOC, 'utf8');
    assert.notEqual(renderConfigurationDoc({ ...ENV, PORT: { ...ENV.PORT, default: '9999' } }), current);
    const { SIMULATION_GAS_CAP: _removed, ...fewer } = ENV;
    const without = renderConfigurationDoc(fewer);
    assert.notEqual(without, current);
    assert.ok(!without.includes('`SIMULATION_GAS_CAP`'));
  });
});

describe('environment reads', { timeout: 30_000 }, () => {
  test('loadConfig reads no variable outside the schema', () => {
    const fixture = configFixture('clawd402-envreads-');
    try {
      const env: Record<string, string> = {
        ...fixture.test,
        CIRCUIT_BREAKER_EMAIL: 'ops@example.com',
        SMTP_HOST: 'smtp.example.com',
        SMTP_FROM: 'clawd402@example.com',
        CIRCUIT_BREAKER_WEBHOOK: 'https://hooks.example.com/x',
        CIRCUIT_BREAKER_WEBHOOK_SECRET_FILE: fixture.file('hook.secret', 'a-long-hmac-secret'),
        UNRELATED_VARIABLE: 'ignored',
      };
      const read = new Set<string>();
      const recording = new Proxy(env, {
        get: (target, key) => {
          if (typeof key === 'string') read.add(key);
          return target[key as string];
        },
      });
      loadConfig(recording);
      const outside = [...read].filter((name) => !Object.hasOwn(ENV, name));
      assert.deepEqual(outside, []);
      assert.ok(read.has('SMTP_PORT') && read.has('RATE_LIMIT_IP_PER_MIN'), 'the recording sees the reads');
    } finally {
      fixture.remove();
    }
  });

  test('no gateway source names an environment variable that is not in the schema', () => {
    const named = new Map<string, string[]>();
    for (const path of sourceFiles(SRC)) {
      const source = readFileSync(path, 'utf8');
      for (const match of source.matchAll(
        /\b(?:process\.env|env)(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g,
      )) {
        const name = match[1] ?? match[2]!;
        named.set(name, [...(named.get(name) ?? []), path.slice(SRC.length)]);
      }
    }
    const unknown = [...named]
      .filter(([name]) => !Object.hasOwn(ENV, name))
      .map(([name, files]) => `${name} (${files.join(', ')})`);
    assert.deepEqual(unknown, []);
  });
});
