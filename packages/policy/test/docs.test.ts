// docs/policy.md is the language's reference: it must have a table row for every condition and every lint code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONDITIONS, LINT_CODES } from '../src/index.ts';

const doc = readFileSync(new URL('../../../docs/policy.md', import.meta.url), 'utf8');
const rows = new Set([...doc.matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]!));

describe('docs/policy.md', () => {
  it('documents every condition', () => {
    assert.deepEqual(
      CONDITIONS.map((c) => c.key).filter((key) => !rows.has(key)),
      [],
    );
  });
  it('documents every lint code with its severity', () => {
    for (const [code, { severity }] of Object.entries(LINT_CODES)) {
      const row = new RegExp(`^\\| \`${code}\` \\| ${severity}`, 'm');
      assert.match(doc, row, code);
    }
  });
});
