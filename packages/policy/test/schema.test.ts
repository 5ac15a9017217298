import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { policySchemaText } from '../src/index.ts';

const committed = readFileSync(new URL('../policy.schema.json', import.meta.url), 'utf8');
const example = (name: string): unknown => parse(readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8'));

describe('policy.schema.json', () => {
  it('is up to date with the typebox schemas (run `pnpm --filter @clawd402/policy gen:schema`)', () => {
    assert.equal(committed, policySchemaText());
  });

  const validate = new Ajv2020({ strict: true, allErrors: true }).compile(JSON.parse(committed));

  it('the seed and dev policies validate against it', () => {
    for (const name of ['seed-policy.yaml', 'dev-policy.yaml']) {
      assert.equal(validate(example(name)), true, `${name}: ${JSON.stringify(validate.errors)}`);
    }
  });

  it('refuses documents the loader refuses for their shape', () => {
    const bad: unknown[] = [
      {},
      { policies: [{ name: 'a', conditions: {}, action: 'approve' }] },
      { policies: [{ name: 'a', conditions: { nope: 1 }, action: 'reject' }] },
      { policies: [{ name: 'a', conditions: {}, action: 'reject', priority: 1 }] },
      { policies: [{ name: 'a', conditions: { chain: '1' }, action: 'reject' }] },
      { policies: [{ name: 'a', conditions: {}, action: 'require_human_approval', notification: { channels: [] } }] },
      { policies: [], address_lists: { '1bad': ['0x70997970C51812dc3A010C7d01b50e0d17dc79C8'] } },
      { policies: [], extra: true },
    ];
    for (const document of bad) assert.equal(validate(document), false, JSON.stringify(document));
  });
});
