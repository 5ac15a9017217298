import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Clawd402Error } from '@clawd402/protocol';
import {
  CONDITIONS,
  getCondition,
  loadPolicySet,
  MAX_POLICY_RULES,
  PolicyLoadError,
  TRANSACTION_TYPES,
} from '../src/index.ts';
import { ALICE, BOB, oneRule, USDC } from './fixtures.ts';

/** Load and expect a PolicyLoadError; return its issues' paths (in order) and the error. */
function loadError(text: string, format?: 'yaml' | 'json'): { paths: string[]; error: PolicyLoadError } {
  try {
    loadPolicySet(text, format === undefined ? undefined : { format });
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError, `expected PolicyLoadError, got ${String(error)}`);
    return { paths: error.issues.map((i) => i.path), error };
  }
  assert.fail('the policy set loaded but should not have');
}

function assertPaths(text: string, expected: string[], format?: 'yaml' | 'json'): PolicyLoadError {
  const { paths, error } = loadError(text, format);
  assert.deepEqual(paths, expected);
  return error;
}

const GOOD_RULE = `  - name: ok\n    conditions: {}\n    action: reject\n`;

describe('loadPolicySet: a valid set', () => {
  it('exposes rules as written, frozen, and a sha256 hash', () => {
    const set = loadPolicySet(`
policies:
  - name: small
    description: small native transfers
    conditions:
      transaction_type: [transfer, contract_call]
      asset: native
      recipient_whitelist: ["${ALICE}"]
      max_value: "1"
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`);
    assert.match(set.hash, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(set.rules, [
      {
        name: 'small',
        description: 'small native transfers',
        action: 'auto_approve',
        conditions: {
          transaction_type: ['transfer', 'contract_call'],
          asset: 'native',
          recipient_whitelist: [ALICE],
          max_value: '1',
        },
      },
      { name: 'default_deny', description: undefined, action: 'reject', conditions: {} },
    ]);
    assert.ok(Object.isFrozen(set));
    assert.ok(Object.isFrozen(set.rules));
    assert.ok(Object.isFrozen(set.rules[0]));
    assert.ok(Object.isFrozen(set.rules[0]!.conditions));
    assert.ok(Object.isFrozen(set.rules[0]!.conditions['recipient_whitelist']));
    assert.throws(() => (set.rules as unknown[]).push({}), TypeError);
    assert.throws(() => ((set.rules[0]!.conditions['recipient_whitelist'] as string[])[0] = BOB), TypeError);
    assert.deepEqual(Object.keys(set), ['hash', 'rules', 'addressLists']);
    assert.deepEqual(set.addressLists, {});
  });

  it('accepts exactly MAX_POLICY_RULES rules', () => {
    const rules = Array.from({ length: MAX_POLICY_RULES }, (_, i) => ({
      name: `r${i}`,
      conditions: {},
      action: 'reject',
    }));
    assert.equal(loadPolicySet(JSON.stringify({ policies: rules }), { format: 'json' }).rules.length, 1000);
  });

  it('accepts every transaction type in the schema', () => {
    const set = loadPolicySet(oneRule(`{ transaction_type: [${TRANSACTION_TYPES.join(', ')}] }`));
    assert.deepEqual(set.rules[0]!.conditions['transaction_type'], [...TRANSACTION_TYPES]);
  });

  it('accepts lowercase and all-uppercase addresses (no checksum to check)', () => {
    const upper = `0x${ALICE.slice(2).toUpperCase()}`;
    const set = loadPolicySet(oneRule(`{ recipient_whitelist: ["${ALICE.toLowerCase()}", "${upper}"] }`));
    assert.equal(set.rules.length, 1);
  });
});

describe('loadPolicySet: hash', () => {
  const yaml = `
# comment
policies:
  - name: small
    conditions:
      asset: native
      max_value: "1"
    action: auto_approve
`;
  const json = JSON.stringify({
    policies: [{ action: 'auto_approve', conditions: { max_value: '1', asset: 'native' }, name: 'small' }],
  });

  it('is the same for the same content in YAML and JSON, whatever the key order and layout', () => {
    const fromYaml = loadPolicySet(yaml).hash;
    assert.equal(loadPolicySet(json, { format: 'json' }).hash, fromYaml);
    assert.equal(loadPolicySet(JSON.stringify(JSON.parse(json), null, 2), { format: 'json' }).hash, fromYaml);
    assert.equal(loadPolicySet(json).hash, fromYaml); // JSON read as YAML
    assert.equal(
      loadPolicySet('policies: [{action: auto_approve, name: small, conditions: {max_value: "1", asset: native}}]')
        .hash,
      fromYaml,
    );
  });

  it('is sha256 of the canonical JSON (sorted keys, no whitespace)', () => {
    const canonical =
      '{"policies":[{"action":"auto_approve","conditions":{"asset":"native","max_value":"1"},"name":"small"}]}';
    assert.equal(loadPolicySet(yaml).hash, `sha256:${createHash('sha256').update(canonical).digest('hex')}`);
  });

  it('a YAML number and a JSON number hash alike', () => {
    assert.equal(
      loadPolicySet(oneRule('{ max_value: 1.5 }')).hash,
      loadPolicySet(
        JSON.stringify({ policies: [{ name: 'r', conditions: { max_value: 1.5 }, action: 'auto_approve' }] }),
        { format: 'json' },
      ).hash,
    );
  });

  it('changes with any semantic change', () => {
    const base = loadPolicySet(yaml).hash;
    const variants = [
      yaml.replace('max_value: "1"', 'max_value: "2"'),
      yaml.replace('name: small', 'name: smalls'),
      yaml.replace('action: auto_approve', 'action: reject'),
      yaml.replace('asset: native', `asset: "${USDC}"`),
      yaml.replace('    action:', '    description: x\n    action:'),
      `${yaml}  - name: default_deny\n    conditions: {}\n    action: reject\n`,
    ];
    const hashes = variants.map((v) => loadPolicySet(v).hash);
    for (const hash of hashes) assert.notEqual(hash, base);
    assert.equal(new Set(hashes).size, variants.length);
  });

  it('changes when two rules swap places', () => {
    const a = `  - name: a\n    conditions: {}\n    action: reject\n`;
    const b = `  - name: b\n    conditions: {}\n    action: auto_approve\n`;
    assert.notEqual(loadPolicySet(`policies:\n${a}${b}`).hash, loadPolicySet(`policies:\n${b}${a}`).hash);
  });
});

describe('loadPolicySet: errors carry their path', () => {
  it('is a Clawd402Error with code invalid_request and the issues in details', () => {
    const error = assertPaths('policies: 3', ['policies']);
    assert.ok(error instanceof Clawd402Error);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.statusCode, 400);
    assert.equal(error.name, 'PolicyLoadError');
    assert.deepEqual(error.details, { issues: [{ path: 'policies', message: 'must be a list of rules' }] });
    assert.equal(error.message, 'The policy set did not load (1 issue): policies: must be a list of rules.');
  });

  it('the document must be a mapping with policies', () => {
    assertPaths('', ['']);
    assertPaths('- a\n- b\n', ['']);
    assertPaths('just text', ['']);
    assertPaths('{}', ['policies']);
    assertPaths('policies: {}', ['policies']);
  });

  it('unknown top-level key', () => {
    const error = assertPaths(`policies: []\nversion: 2\n`, ['version']);
    assert.equal(
      error.issues[0]!.message,
      'is not a known top-level key (expected `policies` and optionally `address_lists`)',
    );
  });

  it('unknown rule key', () => {
    assertPaths(`policies:\n${GOOD_RULE}  - name: b\n    conditions: {}\n    action: reject\n    priority: 1\n`, [
      'policies[1].priority',
    ]);
  });

  it('a rule that is not a mapping', () => {
    assertPaths(`policies:\n${GOOD_RULE}  - just a string\n`, ['policies[1]']);
  });

  it('unknown condition name', () => {
    const error = assertPaths(oneRule('{ chain_id: 1 }'), ['policies[0].conditions.chain_id']);
    assert.match(error.issues[0]!.message, /^is not a known condition \(known: transaction_type, asset, /);
  });

  it('duplicate rule names', () => {
    const error = assertPaths(`policies:\n${GOOD_RULE}${GOOD_RULE}${GOOD_RULE}`, [
      'policies[1].name',
      'policies[2].name',
    ]);
    assert.equal(error.issues[0]!.message, 'duplicates the name of policies[0]');
  });

  it('empty, blank, missing, non-string and odd names', () => {
    assertPaths(`policies:\n  - name: ""\n    conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - name: "   "\n    conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - name:\n    conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - name: 12\n    conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - name: "a\\nb"\n    conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - name: " a"\n    conditions: {}\n    action: reject\n`, ['policies[0].name']);
    assertPaths(`policies:\n  - name: ${'n'.repeat(129)}\n    conditions: {}\n    action: reject\n`, [
      'policies[0].name',
    ]);
  });

  it('a description that is not a string', () => {
    assertPaths(`policies:\n  - name: a\n    description: [x]\n    conditions: {}\n    action: reject\n`, [
      'policies[0].description',
    ]);
  });

  it('conditions missing, null or not a mapping', () => {
    assertPaths(`policies:\n  - name: a\n    action: reject\n`, ['policies[0].conditions']);
    assertPaths(`policies:\n  - name: a\n    conditions:\n    action: reject\n`, ['policies[0].conditions']);
    assertPaths(`policies:\n  - name: a\n    conditions: [asset]\n    action: reject\n`, ['policies[0].conditions']);
  });

  it('action missing or unknown', () => {
    assertPaths(`policies:\n  - name: a\n    conditions: {}\n`, ['policies[0].action']);
    const error = assertPaths(oneRule('{}', 'approve'), ['policies[0].action']);
    assert.equal(error.issues[0]!.message, 'must be one of reject, auto_approve, require_human_approval');
  });

  it('notification and quorum only in a require_human_approval rule', () => {
    const error = assertPaths(
      `policies:\n  - name: a\n    conditions: {}\n    action: reject\n    notification: { channels: [email], timeout: 60 }\n    quorum: { required: 1 }\n`,
      ['policies[0].notification', 'policies[0].quorum'],
    );
    assert.equal(error.issues[0]!.message, 'is only allowed in a rule whose action is require_human_approval');
  });

  it('recipient_blacklist in a rule that does not reject', () => {
    const error = assertPaths(oneRule(`{ recipient_blacklist: ["${ALICE}"] }`, 'auto_approve'), ['policies[0].action']);
    assert.equal(error.issues[0]!.message, 'must be reject in a rule using recipient_blacklist');
  });

  it('bad addresses: not hex, wrong length, bad EIP-55 checksum', () => {
    const badChecksum = ALICE.replace('C51812', 'c51812');
    assert.notEqual(badChecksum, ALICE);
    const error = assertPaths(
      oneRule(
        `{ recipient_whitelist: ["${ALICE}", "0x1234", "${badChecksum}", "0x${'g'.repeat(40)}", "${ALICE.slice(2)}"] }`,
      ),
      [
        'policies[0].conditions.recipient_whitelist[1]',
        'policies[0].conditions.recipient_whitelist[2]',
        'policies[0].conditions.recipient_whitelist[3]',
        'policies[0].conditions.recipient_whitelist[4]',
      ],
    );
    assert.equal(error.issues[1]!.message, 'is a mixed-case address that fails its EIP-55 checksum');
    assert.equal(error.issues[0]!.message, 'is not a 0x-prefixed 20-byte hex address');
    assertPaths(oneRule(`{ recipient_blacklist: ["${badChecksum}"] }`, 'reject'), [
      'policies[0].conditions.recipient_blacklist[0]',
    ]);
    assertPaths(oneRule(`{ asset: "${badChecksum}" }`), ['policies[0].conditions.asset']);
    assertPaths(oneRule(`{ asset: [native, "${badChecksum}"] }`), ['policies[0].conditions.asset[1]']);
    assertPaths(oneRule('{ asset: Native }'), ['policies[0].conditions.asset']);
  });

  it('address lists must be non-empty lists of strings', () => {
    assertPaths(oneRule(`{ recipient_whitelist: "${ALICE}" }`), ['policies[0].conditions.recipient_whitelist']);
    assertPaths(oneRule('{ recipient_whitelist: [] }'), ['policies[0].conditions.recipient_whitelist']);
    assertPaths(oneRule('{ recipient_whitelist: [1] }'), ['policies[0].conditions.recipient_whitelist']);
    assertPaths(oneRule('{ asset: [] }'), ['policies[0].conditions.asset']);
  });

  it('transaction_type must name known types', () => {
    const error = assertPaths(oneRule('{ transaction_type: transfers }'), ['policies[0].conditions.transaction_type']);
    assert.equal(
      error.issues[0]!.message,
      'must be one of transfer, contract_call, approve, swap, typed_data, message, x402_payment, authorization, or a non-empty list of them',
    );
    assertPaths(oneRule('{ transaction_type: [transfer, nope] }'), ['policies[0].conditions.transaction_type']);
    assertPaths(oneRule('{ transaction_type: [] }'), ['policies[0].conditions.transaction_type']);
  });

  it('invalid decimal strings for max_value', () => {
    for (const bad of ['-1', '1e18', '01', '1.', '.5', 'abc', '1,000', ' 1', '1 ', '', '+1', '0x10', '1'.repeat(101)]) {
      assertPaths(oneRule(`{ max_value: "${bad}" }`), ['policies[0].conditions.max_value']);
    }
    const error = assertPaths(oneRule('{ max_value: "1e18" }'), ['policies[0].conditions.max_value']);
    assert.match(error.issues[0]!.message, /non-negative decimal string/);
    assertPaths(oneRule(`{ max_value: "${(1n << 256n).toString()}" }`), ['policies[0].conditions.max_value']);
    assertPaths(oneRule('{ max_value: true }'), ['policies[0].conditions.max_value']);
    assertPaths(oneRule('{ max_value: null }'), ['policies[0].conditions.max_value']);
  });

  it('YAML numbers that are not plain decimals', () => {
    for (const bad of [
      '1e21',
      '1e3',
      '1.0e3',
      '0x10',
      '0o17',
      '.inf',
      '-.inf',
      '.nan',
      '9007199254740993',
      '0.1000000000000000055511151231257827',
    ]) {
      const error = assertPaths(oneRule(`{ max_value: ${bad} }`), ['policies[0].conditions.max_value']);
      assert.match(error.issues[0]!.message, /write it as a quoted decimal string$/, bad);
    }
    // a plain decimal number that is negative fails the condition instead
    assertPaths(oneRule('{ max_value: -1 }'), ['policies[0].conditions.max_value']);
  });

  it('JSON numbers that are not plain decimals', () => {
    const json = (n: string) => `{"policies":[{"name":"r","conditions":{"max_value":${n}},"action":"auto_approve"}]}`;
    assertPaths(json('1e21'), ['policies[0].conditions.max_value'], 'json');
    assertPaths(json('1E2'), ['policies[0].conditions.max_value'], 'json');
    assertPaths(json('123456789012345678901'), ['policies[0].conditions.max_value'], 'json');
    assert.equal(loadPolicySet(json('1.5'), { format: 'json' }).rules[0]!.conditions['max_value'], 1.5);
  });

  it(`more than ${MAX_POLICY_RULES} rules`, () => {
    const rules = Array.from({ length: MAX_POLICY_RULES + 1 }, (_, i) => ({
      name: `r${i}`,
      conditions: {},
      action: 'reject',
    }));
    const error = assertPaths(JSON.stringify({ policies: rules }), ['policies'], 'json');
    assert.equal(error.issues[0]!.message, 'holds 1001 rules; at most 1000 are allowed');
  });

  it('invalid JSON', () => {
    assertPaths('{"policies": [],}', [''], 'json');
    assertPaths("{'policies': []}", [''], 'json');
    assertPaths('policies: []', [''], 'json');
  });

  it('duplicate keys in JSON', () => {
    const error = assertPaths(
      '{"policies": [{"name": "a", "name": "b", "conditions": {}, "action": "reject"}]}',
      ['policies[0].name'],
      'json',
    );
    assert.match(error.issues[0]!.message, /^Map keys must be unique \(line 1, column \d+\)$/);
  });

  it('YAML syntax errors', () => {
    const { error } = loadError('policies:\n  - name: "unterminated\n');
    assert.deepEqual(error.issues, [{ path: '', message: 'Missing closing "quote (line 3, column 1)' }]);
    assertPaths('policies: [}', ['']);
  });

  it('an unknown format option', () => {
    assertPaths('policies: []', [''], 'toml' as 'json');
  });

  it('collects every issue of a set at once', () => {
    const error = assertPaths(
      `
extra: 1
policies:
  - name: a
    conditions: { max_value: "x", nope: 1 }
    action: approve
  - name: a
    conditions: { recipient_whitelist: ["0x12"] }
    action: auto_approve
`,
      [
        'extra',
        'policies[0].action',
        'policies[0].conditions.max_value',
        'policies[0].conditions.nope',
        'policies[1].name',
        'policies[1].conditions.recipient_whitelist[0]',
      ],
    );
    assert.equal(error.issues.length, 6);
    assert.match(error.message, /^The policy set did not load \(6 issues\): extra: .*; and 1 more\.$/);
  });
});

describe('condition registry', () => {
  it('lists every condition once, each with a schema and facts', () => {
    assert.deepEqual(
      CONDITIONS.map((c) => c.key),
      [
        'transaction_type',
        'asset',
        'recipient_whitelist',
        'recipient_blacklist',
        'max_value',
        'chain',
        'agent',
        'api_key',
        'origin',
        'min_value_usd',
        'max_value_usd',
        'daily_limit_usd',
        'hourly_limit_usd',
        'daily_count_limit',
        'hourly_count_limit',
        'contract_verified',
        'function_selector',
        'function_args',
        'spender_whitelist',
        'spender_blacklist',
        'unlimited_approval',
        'typed_data_primary_type',
        'typed_data_domain',
        'typed_data_without_chain_id',
        'authorization_delegate',
        'x402_host',
        'x402_payee',
        'simulation',
        'max_net_outflow_usd',
        'new_approvals',
        'recipients_touched_whitelist',
        'time_window',
      ],
    );
    for (const condition of CONDITIONS) {
      assert.equal(getCondition(condition.key), condition);
      assert.equal(typeof condition.schema, 'object');
      assert.ok(condition.facts.length > 0);
      assert.ok(condition.description.length > 0);
    }
    assert.equal(getCondition('nope'), undefined);
    assert.equal(getCondition('__proto__'), undefined);
    assert.ok(Object.isFrozen(CONDITIONS));
  });
});
