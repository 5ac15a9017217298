import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicySet, PolicyLoadError } from '../src/index.ts';
import { outcome } from './decide.ts';
import { facts, oneRule } from './fixtures.ts';

/** Epoch ms of a UTC wall-clock time. 2024-01-01 was a Monday. */
const utc = (day: number, hour: number, minute = 0, month = 0) => Date.UTC(2024, month, day, hour, minute);
const at = (now: number) => facts({ now });

describe('time_window', () => {
  const office = '{ time_window: { days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00" } }';

  it('UTC by default; start inclusive, end exclusive; days filter', () => {
    assert.equal(outcome(office, at(utc(1, 9, 0))), 'holds'); // Mon 09:00
    assert.equal(outcome(office, at(utc(1, 16, 59))), 'holds');
    assert.equal(outcome(office, at(utc(1, 17, 0))), 'fails');
    assert.equal(outcome(office, at(utc(1, 8, 59))), 'fails');
    assert.equal(outcome(office, at(utc(6, 12, 0))), 'fails'); // Saturday
    assert.equal(outcome('{ time_window: { start: "09:00", end: "17:00" } }', at(utc(6, 12, 0))), 'holds'); // every day
  });

  it('in an IANA time zone, following DST', () => {
    const berlin = '{ time_window: { start: "09:00", end: "17:00", timezone: Europe/Berlin } }';
    assert.equal(outcome(berlin, at(utc(1, 8, 0))), 'holds'); // 09:00 CET (UTC+1)
    assert.equal(outcome(berlin, at(utc(1, 7, 59))), 'fails');
    assert.equal(outcome(berlin, at(utc(1, 16, 0))), 'fails'); // 17:00 CET
    assert.equal(outcome(berlin, at(utc(1, 7, 0, 6))), 'holds'); // 1 July, 09:00 CEST (UTC+2)
    assert.equal(outcome(berlin, at(utc(1, 15, 0, 6))), 'fails'); // 17:00 CEST
  });

  it('a window crossing midnight belongs to the day it starts on', () => {
    const night = '{ time_window: { days: [fri], start: "22:00", end: "02:00" } }';
    assert.equal(outcome(night, at(utc(5, 23, 0))), 'holds'); // Fri 23:00
    assert.equal(outcome(night, at(utc(6, 1, 30))), 'holds'); // Sat 01:30, Friday's window
    assert.equal(outcome(night, at(utc(6, 2, 0))), 'fails'); // Sat 02:00
    assert.equal(outcome(night, at(utc(6, 23, 0))), 'fails'); // Sat 23:00
    assert.equal(outcome(night, at(utc(5, 1, 30))), 'fails'); // Fri 01:30 belongs to Thursday
    assert.equal(outcome(night, at(utc(5, 12, 0))), 'fails');
  });

  it('"24:00" ends a window at midnight; 00:00–24:00 is the whole day', () => {
    assert.equal(outcome('{ time_window: { start: "20:00", end: "24:00" } }', at(utc(1, 23, 59))), 'holds');
    assert.equal(outcome('{ time_window: { start: "20:00", end: "24:00" } }', at(utc(2, 0, 0))), 'fails');
    assert.equal(outcome('{ time_window: { days: [mon], start: "00:00", end: "24:00" } }', at(utc(1, 0, 0))), 'holds');
    assert.equal(outcome('{ time_window: { days: [mon], start: "00:00", end: "24:00" } }', at(utc(2, 0, 0))), 'fails');
  });

  it('unknown without a decision time, or with one that is not a finite non-negative number', () => {
    for (const input of [facts(), at(Number.NaN), at(-1), facts({ now: '2024-01-01' as unknown as number })]) {
      assert.equal(outcome(office, input), 'policy.condition_unknown_fact');
    }
  });

  it('refuses malformed windows with precise paths', () => {
    const paths = (window: string): string[] => {
      try {
        loadPolicySet(oneRule(`{ time_window: ${window} }`));
        return [];
      } catch (error) {
        assert.ok(error instanceof PolicyLoadError);
        return error.issues.map((i) => i.path);
      }
    };
    const base = 'policies[0].conditions.time_window';
    assert.deepEqual(paths('{ start: "9:00", end: "25:00" }'), [`${base}.start`, `${base}.end`]);
    assert.deepEqual(paths('{ start: "24:00", end: "01:00" }'), [`${base}.start`]);
    assert.deepEqual(paths('{ start: "10:00", end: "10:00" }'), [`${base}.end`]);
    assert.deepEqual(paths('{ start: "10:00", end: "11:00", timezone: Mars/Olympus }'), [`${base}.timezone`]);
    assert.deepEqual(paths('{ start: "10:00", end: "11:00", days: [monday] }'), [base]);
    assert.deepEqual(paths('{ start: "10:00" }'), [base]);
    assert.deepEqual(paths('{ start: "10:00", end: "11:00", tz: UTC }'), [base]);
  });
});
