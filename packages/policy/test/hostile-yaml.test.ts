// Security regressions: hostile policy text must be refused with a PolicyLoadError at the expected path, never
// construct objects, never touch prototypes, never blow up in time or memory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONDITIONS,
  loadPolicySet,
  MAX_ALIAS_EXPANSIONS,
  MAX_POLICY_TEXT_LENGTH,
  PolicyLoadError,
} from '../src/index.ts';
import { ALICE } from './fixtures.ts';

function issuesOf(text: string, format?: 'yaml' | 'json'): { path: string; message: string }[] {
  try {
    loadPolicySet(text, format === undefined ? undefined : { format });
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError, `expected PolicyLoadError, got ${String(error)}`);
    return error.issues.map((i) => ({ path: i.path, message: i.message }));
  }
  assert.fail('the hostile policy set loaded');
}

describe('hostile YAML', () => {
  it('explicit tags are refused, standard or custom', () => {
    for (const tag of ['!!str', '!!js/function', '!custom', '!!binary', '!!float']) {
      const issues = issuesOf(`policies:\n  - name: ${tag} a\n    conditions: {}\n    action: reject\n`);
      assert.equal(issues.length, 1, tag);
      assert.equal(issues[0]!.path, 'policies[0].name', tag);
      assert.match(issues[0]!.message, /^(explicit YAML tags are not allowed|Unresolved tag: .*)$/, tag);
    }
    assert.deepEqual(issuesOf(`policies: !!seq []\n`), [
      { path: 'policies', message: 'explicit YAML tags are not allowed' },
    ]);
    assert.deepEqual(issuesOf(`policies:\n  - name: !!str a\n    conditions: {}\n    action: reject\n`), [
      { path: 'policies[0].name', message: 'explicit YAML tags are not allowed' },
    ]);
    assert.deepEqual(
      issuesOf(`policies: !!set { a }\n`).map((i) => i.path),
      ['policies'],
    );
  });

  it('a billion-laughs alias bomb is cut off after the alias budget', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = process.hrtime.bigint();
    const issues = issuesOf(`${levels.join('\n')}\npolicies: []\n`);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 2000, `took ${ms} ms`);
    // b holds 9 aliases, c 9 × (1 + 9) = 90: the 101st expansion is d[0] → *c → its first *b.
    assert.deepEqual(issues, [{ path: 'd[0][0]', message: `more than ${MAX_ALIAS_EXPANSIONS} YAML alias expansions` }]);
  });

  it('a few aliases are fine (reuse of an address list)', () => {
    const set = loadPolicySet(`
policies:
  - name: a
    conditions: { recipient_whitelist: &friends ["${ALICE}"], max_value: "1" }
    action: auto_approve
  - name: b
    conditions: { recipient_whitelist: *friends }
    action: reject
`);
    assert.deepEqual(set.rules[1]!.conditions['recipient_whitelist'], [ALICE]);
  });

  it('a self-referencing alias terminates with an issue', () => {
    const issues = issuesOf('policies: &x [*x]\n');
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.path, /^policies(\[0\])+$/);
  });

  it('an undefined alias is refused', () => {
    const issues = issuesOf('policies: *nothing\n');
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /nothing/);
  });

  it('a __proto__ key is an unknown key, and no prototype is polluted', () => {
    assert.deepEqual(issuesOf('policies: []\n__proto__: { polluted: true }\n'), [
      {
        path: '__proto__',
        message: 'is not a known top-level key (expected `policies` and optionally `address_lists`)',
      },
    ]);
    assert.deepEqual(
      issuesOf('policies:\n  - name: a\n    conditions: { __proto__: { x: 1 } }\n    action: reject\n'),
      [
        {
          path: 'policies[0].conditions.__proto__',
          message: `is not a known condition (known: ${CONDITIONS.map((c) => c.key).join(', ')})`,
        },
      ],
    );
    assert.deepEqual(
      issuesOf('{"policies": [], "__proto__": {"polluted": true}}', 'json').map((i) => i.path),
      ['__proto__'],
    );
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('constructor / hasOwnProperty keys are unknown, not inherited', () => {
    assert.deepEqual(
      issuesOf('policies:\n  - name: a\n    conditions: { constructor: 1, toString: 2 }\n    action: reject\n').map(
        (i) => i.path,
      ),
      ['policies[0].conditions.constructor', 'policies[0].conditions.toString'],
    );
  });

  it('merge keys are not merged: << is an unknown key', () => {
    const issues = issuesOf(`
base: &base { conditions: {}, action: auto_approve }
policies:
  - name: a
    <<: *base
`);
    assert.deepEqual(
      issues.map((i) => i.path),
      ['base', 'policies[0]["<<"]', 'policies[0].action', 'policies[0].conditions'],
    );
  });

  it('duplicate keys are errors, not last-wins', () => {
    assert.deepEqual(
      issuesOf('policies:\n  - name: a\n    conditions: {}\n    action: auto_approve\n    action: reject\n').map(
        (i) => i.path,
      ),
      ['policies[0].action'],
    );
    assert.deepEqual(
      issuesOf('policies: []\npolicies: []\n').map((i) => i.path),
      ['policies'],
    );
  });

  it('more than one document is refused', () => {
    const issues = issuesOf('policies: []\n---\npolicies: []\n');
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /^Source contains multiple documents/);
  });

  it('non-string keys are refused', () => {
    assert.deepEqual(issuesOf('policies: []\n1: x\n'), [{ path: '', message: 'has a key that is not a plain string' }]);
    assert.deepEqual(issuesOf('policies: []\n? [a]\n: x\n'), [
      { path: '', message: 'has a key that is not a plain string' },
    ]);
    assert.deepEqual(issuesOf('policies: []\nnull: x\n'), [
      { path: '', message: 'has a key that is not a plain string' },
    ]);
  });

  it('text longer than the limit is refused before parsing', () => {
    const text = `policies: []\n#${'x'.repeat(MAX_POLICY_TEXT_LENGTH)}`;
    assert.deepEqual(issuesOf(text), [
      { path: '', message: `the policy text is longer than ${MAX_POLICY_TEXT_LENGTH} characters` },
    ]);
  });

  it('deep nesting is refused', () => {
    const issues = issuesOf(`policies: []\nx: ${'['.repeat(100)}${']'.repeat(100)}\n`);
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /^nests deeper than 32 levels$/);
  });

  it('a non-string text is refused', () => {
    assert.deepEqual(issuesOf(42 as unknown as string), [{ path: '', message: 'the policy text must be a string' }]);
  });
});
