import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignerError } from '@clawd402/protocol';
import { JOURNAL_GRACE_SECONDS, SignerConfigError, SignerJournal } from '../src/index.ts';
import { tempDir } from './support.ts';

const KEY = '0x00000000000000000000000000000000000000aa';
const T0 = 1_800_000_000;

function spend(journal: SignerJournal, jti: string, amount: bigint, dayCap: bigint | null = null, exp = T0 + 30) {
  return journal.reserve({ jti, exp, capKey: KEY, usageKey: KEY, operation: 'transaction', amount, dayCap });
}

function refusedWith(code: string) {
  return (error: unknown) => error instanceof SignerError && error.code === code;
}

describe('SignerJournal', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  test('a jti can be reserved once (ticket_reused the second time)', () => {
    const journal = new SignerJournal({ now: () => T0 * 1000 });
    spend(journal, 'a', 1n);
    assert.throws(() => spend(journal, 'a', 1n), refusedWith('ticket_reused'));
    spend(journal, 'b', 1n);
  });

  test('used tickets are pruned only after exp plus the grace period', () => {
    let now = T0;
    const journal = new SignerJournal({ now: () => now * 1000 });
    spend(journal, 'old', 0n, null, T0 + 30);
    now = T0 + 30 + JOURNAL_GRACE_SECONDS; // at the edge: kept
    spend(journal, 'trigger-1', 0n, null, now + 30);
    assert.equal(journal.has('old'), true);
    now += 11; // past the edge and past the prune interval
    spend(journal, 'trigger-2', 0n, null, now + 30);
    assert.equal(journal.has('old'), false);
    assert.equal(journal.has('trigger-1'), true);
  });

  test('the daily cap is checked and reserved in one step; what does not fit is not recorded', () => {
    const journal = new SignerJournal({ now: () => T0 * 1000 });
    spend(journal, 'a', 6n, 10n);
    assert.throws(() => spend(journal, 'b', 5n, 10n), refusedWith('daily_cap_exceeded'));
    assert.equal(journal.has('b'), false, 'a refused reservation does not spend the ticket');
    spend(journal, 'c', 4n, 10n);
    assert.equal(journal.spentLastDay(KEY), 10n);
    assert.equal(journal.usage(KEY).transaction, 2);
  });

  test('spend leaves the rolling window after 24 hours (and not before)', () => {
    let now = T0 * 1000;
    const journal = new SignerJournal({ now: () => now });
    spend(journal, 'a', 10n, 10n);
    now += 23 * 3600_000;
    assert.throws(() => spend(journal, 'b', 1n, 10n), refusedWith('daily_cap_exceeded'));
    now += 3600_000 + 120_000;
    spend(journal, 'c', 10n, 10n);
  });

  test('a release gives the amount back and the ticket stays spent', () => {
    const journal = new SignerJournal({ now: () => T0 * 1000 });
    const r = spend(journal, 'a', 10n, 10n);
    journal.release(r);
    assert.equal(journal.spentLastDay(KEY), 0n);
    assert.throws(() => spend(journal, 'a', 1n, 10n), refusedWith('ticket_reused'));
  });

  test('a file-backed journal reloads used tickets, spend and counters, and its file is mode 0600', async () => {
    const path = join(tmp.dir, 'reload.jsonl');
    const first = new SignerJournal({ path, now: () => T0 * 1000 });
    spend(first, 'x', 7n, 10n);
    await first.durable();
    await first.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const second = new SignerJournal({ path, now: () => (T0 + 5) * 1000 });
    assert.throws(() => spend(second, 'x', 0n), refusedWith('ticket_reused'));
    assert.equal(second.spentLastDay(KEY), 7n);
    assert.equal(second.usage(KEY).transaction, 1);
    assert.throws(() => spend(second, 'y', 4n, 10n), refusedWith('daily_cap_exceeded'));
    await second.close();
  });

  test('compaction at load drops expired tickets and keeps spend and counters (as a snapshot line)', async () => {
    const path = join(tmp.dir, 'compact.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ jti: 'gone', exp: T0 - 1000 })}\n${JSON.stringify({ jti: 'kept', exp: T0 + 10 })}\n`,
    );
    const journal = new SignerJournal({ path, now: () => T0 * 1000 });
    spend(journal, 'new', 3n);
    await journal.close();
    const reopened = new SignerJournal({ path, now: () => T0 * 1000 });
    await reopened.close();
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].snap, 1);
    assert.deepEqual(
      lines
        .slice(1)
        .map((l) => l.jti)
        .sort(),
      ['kept', 'new'],
    );
    assert.equal(new SignerJournal({ path, readOnly: true, now: () => T0 * 1000 }).spentLastDay(KEY), 3n);
  });

  test('a torn last line (crash mid-append) is dropped and reported; earlier entries hold', async () => {
    const path = join(tmp.dir, 'torn.jsonl');
    writeFileSync(path, `${JSON.stringify({ jti: 'a', exp: T0 + 10 })}\n{"jti":"b","ex`);
    let torn = 0;
    const journal = new SignerJournal({ path, now: () => T0 * 1000, onTornLine: () => torn++ });
    assert.equal(torn, 1);
    assert.equal(journal.has('a'), true);
    spend(journal, 'c', 0n);
    await journal.close();
    // The rewrite removed the torn fragment, so the next entry is on a line of its own.
    assert.deepEqual(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).jti)
        .filter(Boolean),
      ['a', 'c'],
    );
  });

  test('a corrupt line in the middle refuses to open (fail closed)', () => {
    const path = join(tmp.dir, 'corrupt.jsonl');
    writeFileSync(path, 'garbage\n');
    appendFileSync(path, `${JSON.stringify({ jti: 'a', exp: T0 + 10 })}\n`);
    assert.throws(() => new SignerJournal({ path, now: () => T0 * 1000 }), SignerConfigError);
  });

  test('concurrent reservations share one durable write (group commit)', async () => {
    const path = join(tmp.dir, 'group.jsonl');
    const journal = new SignerJournal({ path, now: () => T0 * 1000 });
    const waits = ['g1', 'g2', 'g3'].map((jti) => {
      spend(journal, jti, 1n);
      return journal.durable();
    });
    assert.equal(waits[0], waits[2], 'reservations made in one tick wait for the same flush');
    await Promise.all(waits);
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 3);
    await journal.close();
  });
});
