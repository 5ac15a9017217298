// The lint rules bite: each import rule in .dependency-cruiser.cjs and the package rules in eslint.config.js are run
// against planted violations in a throwaway tree (a two-file cycle, an upward import, fastify in a package and below
// the HTTP edge, process.env in a package) and must report each one under its own rule name, and nothing else; then
// the real tree must pass every rule with no baseline of excused violations.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import type { ESLint } from 'eslint';

const ROOT = join(import.meta.dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');
const ESLINT = join(ROOT, 'node_modules/.bin/eslint');
const DEPCRUISE_CONFIG = join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string; severity: string };
  from: string;
  to: string;
}

/** Runs dependency-cruiser with the project's config in `cwd` and returns the violations it reports. */
function depcruise(cwd: string, paths: string[], extra: string[] = []): Violation[] {
  const run = spawnSync(DEPCRUISE, [...paths, '--config', DEPCRUISE_CONFIG, '--output-type', 'json', ...extra], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.ok(run.stdout, `depcruise printed nothing (exit ${run.status}): ${run.stderr}`);
  const result = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return result.summary.violations.filter((v) => v.rule.severity !== 'ignore');
}

function plant(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
    typeRoots: [join(ROOT, 'node_modules/@types')],
    types: ['node'],
  },
  include: ['src/**/*.ts', 'test/**/*.ts'],
});

describe('lint rules bite on planted violations', { timeout: 300_000 }, () => {
  const tree = mkdtempSync(join(tmpdir(), 'clawd402-lint-'));
  after(() => rmSync(tree, { recursive: true, force: true }));
  plant(tree, {
    // A two-file cycle inside a package.
    'packages/planted/src/one.ts': "import { two } from './two.ts';\nexport const one = (): number => two() + 1;\n",
    'packages/planted/src/two.ts': "import { one } from './one.ts';\nexport const two = (): number => one.length;\n",
    // A package importing fastify (a type import counts) and an app.
    'packages/planted/src/http.ts':
      "import type { FastifyInstance } from 'fastify';\nexport type App = FastifyInstance;\n",
    'packages/planted/src/reach-up.ts': "export { x } from '../../../apps/gateway/src/lib/x.ts';\n",
    'apps/gateway/src/lib/x.ts': 'export const x = 1;\n',
    // Upward: a repository importing from routes/; and a route importing a repository.
    'apps/gateway/src/routes/view.ts': 'export interface ThingView { id: string }\n',
    'apps/gateway/src/repositories/things-repository.ts':
      "import type { ThingView } from '../routes/view.ts';\nexport const findThing = (): ThingView => ({ id: 'a' });\n",
    'apps/gateway/src/routes/things.ts':
      "import { findThing } from '../repositories/things-repository.ts';\nexport const route = () => findThing();\n",
    // fastify below the HTTP edge (a service), and a domain type reaching into a service.
    'apps/gateway/src/chain/worker.ts':
      "import type { FastifyBaseLogger } from 'fastify';\nexport type WorkerLog = FastifyBaseLogger;\n",
    'apps/gateway/src/domain/agent.ts':
      "import type { WorkerLog } from '../chain/worker.ts';\nexport type L = WorkerLog;\n",
    // The MCP SDK imported eagerly; a dynamic import (nodemailer here) is how the gateway loads them. (A type import
    // is allowed too; unresolved, as here, dependency-cruiser cannot tell it is one: the real tree shows it.)
    'apps/gateway/src/routes/mcp/eager.ts':
      "import { McpError } from '@modelcontextprotocol/sdk/types.js';\nexport const E = McpError;\n",
    'apps/gateway/src/routes/mcp/lazy.ts': "export const load = () => import('nodemailer');\n",
    // The signer reaching into the gateway.
    'apps/signer/src/borrow.ts': "export { x } from '../../gateway/src/lib/x.ts';\n",
    // Allowed: app.ts registers routes; a plugin uses fastify; a service uses the domain.
    'apps/gateway/src/app.ts': "import { route } from './routes/things.ts';\nexport const app = route;\n",
    'apps/gateway/src/plugins/auth.ts':
      "import type { FastifyInstance } from 'fastify';\nexport type A = FastifyInstance;\n",
    'apps/gateway/src/services/use-domain.ts': "import type { L } from '../domain/agent.ts';\nexport type S = L;\n",
  });

  test('dependency-cruiser reports each planted violation under its rule, and only those', () => {
    const found = depcruise(tree, ['apps', 'packages'])
      .map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)
      .sort();
    assert.deepEqual(
      found,
      [
        'gateway-domain-is-a-leaf: apps/gateway/src/domain/agent.ts -> apps/gateway/src/chain/worker.ts',
        'gateway-fastify-only-in-http: apps/gateway/src/chain/worker.ts -> fastify',
        'gateway-optional-modules-load-lazily: apps/gateway/src/routes/mcp/eager.ts -> @modelcontextprotocol/sdk/types.js',
        'gateway-http-not-to-data: apps/gateway/src/routes/things.ts -> apps/gateway/src/repositories/things-repository.ts',
        'gateway-repositories-import-down: apps/gateway/src/repositories/things-repository.ts -> apps/gateway/src/routes/view.ts',
        'gateway-routes-only-from-app: apps/gateway/src/repositories/things-repository.ts -> apps/gateway/src/routes/view.ts',
        // A cycle is reported once, at the module where dependency-cruiser first closes it.
        'no-circular: packages/planted/src/one.ts -> packages/planted/src/two.ts',
        'packages-not-to-apps: packages/planted/src/reach-up.ts -> apps/gateway/src/lib/x.ts',
        'packages-not-to-fastify: packages/planted/src/http.ts -> fastify',
        'signer-not-to-gateway: apps/signer/src/borrow.ts -> apps/gateway/src/lib/x.ts',
      ].sort(),
    );
  });

  test('eslint reports process.env in a package and an unnecessary type assertion, but not in tests or testkit', () => {
    plant(tree, {
      'eslint.config.js':
        `import config from ${JSON.stringify(join(ROOT, 'eslint.config.js'))};\n` +
        'export default [...config, { languageOptions: { parserOptions: { tsconfigRootDir: import.meta.dirname } } }];\n',
      'packages/planted/tsconfig.json': TSCONFIG,
      'packages/planted/src/settings.ts':
        "export const url = process.env['DATABASE_URL'];\nconst name: string = 'x';\nexport const same = name as string;\n",
      'packages/planted/test/settings.test.ts': "export const url = process.env['TEST_DATABASE_URL'];\n",
      'packages/testkit/tsconfig.json': TSCONFIG,
      'packages/testkit/src/test-database.ts': "export const url = process.env['TEST_DATABASE_URL'];\n",
    });
    const files = [
      'packages/planted/src/settings.ts',
      'packages/planted/test/settings.test.ts',
      'packages/testkit/src/test-database.ts',
    ];
    const run = spawnSync(ESLINT, ['--format', 'json', ...files], { cwd: tree, encoding: 'utf8' });
    assert.ok(run.stdout, `eslint printed nothing (exit ${run.status}): ${run.stderr}`);
    const results = JSON.parse(run.stdout) as ESLint.LintResult[];
    assert.equal(results.length, files.length);
    const found = results
      .flatMap((r) => r.messages.map((m) => `${relative(tree, r.filePath)}:${m.line} ${m.ruleId ?? m.message}`))
      .sort();
    assert.deepEqual(found, [
      'packages/planted/src/settings.ts:1 no-restricted-syntax',
      'packages/planted/src/settings.ts:3 @typescript-eslint/no-unnecessary-type-assertion',
    ]);
  });
});

describe('the real tree passes the rules, with nothing excused', { timeout: 300_000 }, () => {
  test('no baseline excuses a violation: no ESLint bulk suppressions, no dependency-cruiser known violations', () => {
    assert.equal(existsSync(join(ROOT, 'eslint-suppressions.json')), false);
    assert.equal(existsSync(join(ROOT, '.dependency-cruiser-known-violations.json')), false);
  });

  test('0 import cycles, 0 upward imports, 0 fastify below HTTP, 0 SQL access from HTTP', () => {
    const violations = depcruise(ROOT, ['apps', 'packages', 'scripts', 'tools']);
    assert.deepEqual(
      violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`),
      [],
    );
  });
});
