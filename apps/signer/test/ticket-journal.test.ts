import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOURNAL_GRACE_SECONDS, SignerConfigError, TicketJournal } from '../src/index.ts';
import { tempDir } from './support.ts';

describe('TicketJournal', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const T0 = 1_800_000_000;

  test('a jti can be claimed once', () => {
    const journal = new TicketJournal({ now: () => T0 * 1000 });
    assert.equal(journal.claim('a', T0 + 30), true);
    assert.equal(journal.claim('a', T0 + 30), false);
    assert.equal(journal.claim('b', T0 + 30), true);
  });

  test('entries are pruned only after exp plus the grace period', () => {
    let now = T0;
    const journal = new TicketJournal({ now: () => now * 1000 });
    journal.claim('old', T0 + 30);
    now = T0 + 30 + JOURNAL_GRACE_SECONDS; // at the edge: kept
    journal.claim('trigger-1', now + 30);
    assert.equal(journal.has('old'), true);
    now += 11; // past the edge and past the prune interval
    journal.claim('trigger-2', now + 30);
    assert.equal(journal.has('old'), false);
    assert.equal(journal.has('trigger-1'), true);
  });

  test('a file-backed journal reloads used tickets, and its file is mode 0600', () => {
    const path = join(tmp.dir, 'reload.jsonl');
    const first = new TicketJournal({ path, now: () => T0 * 1000 });
    first.claim('x', T0 + 30);
    first.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const second = new TicketJournal({ path, now: () => (T0 + 5) * 1000 });
    assert.equal(second.claim('x', T0 + 30), false);
    second.close();
  });

  test('loading drops expired entries from the file (compaction)', () => {
    const path = join(tmp.dir, 'compact.jsonl');
    writeFileSync(path, `${JSON.stringify({ jti: 'gone', exp: T0 - 1000 })}\n${JSON.stringify({ jti: 'kept', exp: T0 + 10 })}\n`);
    const journal = new TicketJournal({ path, now: () => T0 * 1000 });
    journal.close();
    assert.deepEqual(readFileSync(path, 'utf8'), `${JSON.stringify({ jti: 'kept', exp: T0 + 10 })}\n`);
  });

  test('a torn last line (crash mid-append) is dropped and reported; earlier entries hold', () => {
    const path = join(tmp.dir, 'torn.jsonl');
    writeFileSync(path, `${JSON.stringify({ jti: 'a', exp: T0 + 10 })}\n{"jti":"b","ex`);
    let torn = 0;
    const journal = new TicketJournal({ path, now: () => T0 * 1000, onTornLine: () => torn++ });
    assert.equal(torn, 1);
    assert.equal(journal.has('a'), true);
    journal.claim('c', T0 + 10);
    journal.close();
    // The rewrite removed the torn fragment, so the next entry is on a line of its own.
    assert.deepEqual(
      readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).jti),
      ['a', 'c'],
    );
  });

  test('a corrupt line in the middle refuses to open (fail closed)', () => {
    const path = join(tmp.dir, 'corrupt.jsonl');
    writeFileSync(path, 'garbage\n');
    appendFileSync(path, `${JSON.stringify({ jti: 'a', exp: T0 + 10 })}\n`);
    assert.throws(() => new TicketJournal({ path, now: () => T0 * 1000 }), SignerConfigError);
  });
});
