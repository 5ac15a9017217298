import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlConditions } from '../src/db/sql-conditions.ts';

/** The list filters' WHERE builder: values are always bound as parameters, numbered in the order they are added. */
describe('SqlConditions', () => {
  test('no condition: no WHERE at all', () => {
    const c = new SqlConditions();
    assert.equal(c.where(), '');
    assert.equal(c.param(50), '$1');
    assert.deepEqual(c.params, [50]);
  });

  test('conditions are joined with AND after the fixed ones, placeholders numbered in order', () => {
    const c = new SqlConditions('duplicate_of IS NULL');
    c.add('status = ?', 'open');
    c.add(
      '(created_at, id) < (?::timestamptz, ?::uuid)',
      '2026-01-01T00:00:00Z',
      '00000000-0000-0000-0000-000000000001',
    );
    assert.equal(
      c.where(),
      'WHERE duplicate_of IS NULL AND status = $1 AND (created_at, id) < ($2::timestamptz, $3::uuid)',
    );
    assert.equal(c.param(10), '$4');
    assert.deepEqual(c.params, ['open', '2026-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000001', 10]);
  });

  test('security: a hostile value never reaches the SQL text', () => {
    const c = new SqlConditions();
    const hostile = "x' OR '1'='1'; DROP TABLE intents; -- ?";
    c.add('subject = ?', hostile);
    assert.equal(c.where(), 'WHERE subject = $1');
    assert.ok(!c.where().includes('DROP'));
    assert.deepEqual(c.params, [hostile]);
  });
});
