import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, loadPolicySet, PolicyLoadError } from '../src/index.ts';
import { ALICE, BOB, CAROL, facts } from './fixtures.ts';

function paths(text: string): string[] {
  try {
    loadPolicySet(text);
    return [];
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError);
    return error.issues.map((i) => i.path);
  }
}

describe('address_lists', () => {
  const set = loadPolicySet(`
address_lists:
  treasury: ["${ALICE}", "${BOB.toLowerCase()}"]
  blocked: ["${CAROL}"]
policies:
  - name: block
    conditions: { recipient_blacklist: ["@blocked"] }
    action: reject
  - name: pay_treasury
    conditions: { recipient_whitelist: ["@treasury", "0x0000000000000000000000000000000000000001"] }
    action: auto_approve
  - name: approve_treasury
    conditions: { spender_whitelist: ["@treasury"], function_args: { spender: { in: ["@treasury"] } } }
    action: auto_approve
  - name: default_deny
    conditions: {}
    action: reject
`);

  it('"@name" in a recipient list stands for every address of the named list', () => {
    assert.equal(evaluate(set, facts({ recipient: ALICE })).policy, 'pay_treasury');
    assert.equal(evaluate(set, facts({ recipient: BOB })).policy, 'pay_treasury');
    assert.equal(
      evaluate(set, facts({ recipient: '0x0000000000000000000000000000000000000001' })).policy,
      'pay_treasury',
    );
    assert.equal(evaluate(set, facts({ recipient: CAROL })).policy, 'block');
  });

  it('works in spender lists and function_args', () => {
    const token = '0x0000000000000000000000000000000000000002' as const; // listed nowhere
    const input = facts({ type: 'approve', recipient: token, spender: BOB, call: { args: { spender: BOB } } });
    assert.equal(evaluate(set, input).policy, 'approve_treasury');
    assert.equal(
      evaluate(set, { ...input, spender: CAROL, call: { args: { spender: CAROL } } }).policy,
      'default_deny',
    );
  });

  it('is exposed as written and counts in the hash', () => {
    assert.deepEqual(set.addressLists, { treasury: [ALICE, BOB.toLowerCase()], blocked: [CAROL] });
    assert.ok(Object.isFrozen(set.addressLists));
    const other = loadPolicySet(`
address_lists:
  treasury: ["${ALICE}"]
policies: []
`);
    const same = loadPolicySet(`policies: []\naddress_lists:\n  treasury: ["${ALICE}"]\n`);
    assert.equal(other.hash, same.hash);
    assert.notEqual(other.hash, loadPolicySet(`policies: []\naddress_lists:\n  treasury: ["${BOB}"]\n`).hash);
  });

  it('refuses unknown references, bad names, bad addresses and references inside lists', () => {
    assert.deepEqual(
      paths(`policies:\n  - name: a\n    conditions: { recipient_whitelist: ["@nope"] }\n    action: auto_approve\n`),
      ['policies[0].conditions.recipient_whitelist[0]'],
    );
    assert.deepEqual(paths(`address_lists:\n  "1bad": ["${ALICE}"]\npolicies: []\n`), ['address_lists["1bad"]']);
    assert.deepEqual(paths(`address_lists:\n  t: []\npolicies: []\n`), ['address_lists.t']);
    assert.deepEqual(paths(`address_lists:\n  t: ["${ALICE}", "0x12", "@other", 5]\npolicies: []\n`), [
      'address_lists.t[1]',
      'address_lists.t[2]',
      'address_lists.t[3]',
    ]);
    assert.deepEqual(paths(`address_lists: [a]\npolicies: []\n`), ['address_lists']);
    // asset lists take no references
    assert.deepEqual(
      paths(
        `address_lists:\n  t: ["${ALICE}"]\npolicies:\n  - name: a\n    conditions: { asset: ["@t"] }\n    action: auto_approve\n`,
      ),
      ['policies[0].conditions.asset[0]'],
    );
  });

  it('a __proto__ list name is an ordinary list and pollutes nothing', () => {
    const hostile = loadPolicySet(`
address_lists:
  __proto__: ["${ALICE}"]
policies:
  - name: a
    conditions: { recipient_whitelist: ["@__proto__"] }
    action: auto_approve
`);
    assert.equal(evaluate(hostile, facts({ recipient: ALICE })).action, 'auto_approve');
    assert.equal(evaluate(hostile, facts({ recipient: BOB })).action, 'reject');
    assert.equal(({} as Record<string, unknown>)[0], undefined);
    assert.ok(Object.hasOwn(hostile.addressLists, '__proto__'));
    // a reference to an inherited name is unknown, not Object.prototype
    assert.deepEqual(
      paths(
        `policies:\n  - name: a\n    conditions: { recipient_whitelist: ["@constructor"] }\n    action: auto_approve\n`,
      ),
      ['policies[0].conditions.recipient_whitelist[0]'],
    );
  });
});
