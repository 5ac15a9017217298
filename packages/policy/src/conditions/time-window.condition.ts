import Type from 'typebox';
import { ConditionValueError, defineCondition, type ConditionValueIssue } from '../condition.ts';

/** Day names of `time_window.days`, Monday first (ISO order). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const CLOCK = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;
const INTL_WEEKDAY: Readonly<Record<string, number>> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };
const DAY_MINUTES = 24 * 60;

/** Minutes since midnight of "HH:MM"; "24:00" only where `allowEndOfDay`. */
function minutesOf(text: string, allowEndOfDay: boolean): number | undefined {
  if (allowEndOfDay && text === '24:00') return DAY_MINUTES;
  const match = CLOCK.exec(text);
  return match === null ? undefined : Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Local weekday (0 = Monday) and minute of day of an instant in a time zone, through Intl (so DST and zone rules
 * are the runtime's ICU data). Caches the last answer per second: one formatToParts call per second per condition.
 */
function localClock(format: Intl.DateTimeFormat): (now: number) => { day: number; minute: number } {
  let lastSecond = Number.NaN;
  const last = { day: 0, minute: 0 };
  return (now) => {
    const second = Math.floor(now / 1000);
    if (second !== lastSecond) {
      let day = 0;
      let hour = 0;
      let minute = 0;
      for (const part of format.formatToParts(now)) {
        if (part.type === 'weekday') day = INTL_WEEKDAY[part.value] ?? 0;
        else if (part.type === 'hour') hour = Number(part.value) % 24;
        else if (part.type === 'minute') minute = Number(part.value);
      }
      last.day = day;
      last.minute = hour * 60 + minute;
      lastSecond = second;
    }
    return last;
  };
}

/**
 * `time_window`: the decision time (`now`) falls inside a weekly window, in an IANA time zone (default UTC).
 * `start` is inclusive, `end` exclusive; `end` before `start` crosses midnight, and then `days` names the day the
 * window starts on (`days: [fri], start: "22:00", end: "02:00"` includes Saturday 01:30).
 */
export const timeWindowCondition = defineCondition({
  key: 'time_window',
  description:
    'Holds when the decision time falls in the window: on one of `days` (default every day), from `start` (inclusive) to `end` (exclusive), in `timezone` (IANA, default UTC); a window whose end is before its start crosses midnight.',
  expects: 'a mapping { days?: [mon..sun], start: "HH:MM", end: "HH:MM", timezone?: IANA name }',
  facts: ['now'],
  schema: Type.Object(
    {
      days: Type.Optional(Type.Array(Type.Union(WEEKDAYS.map((d) => Type.Literal(d))), { minItems: 1, maxItems: 7 })),
      start: Type.String({ maxLength: 5 }),
      end: Type.String({ maxLength: 5 }),
      timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    },
    { additionalProperties: false },
  ),
  compile(value) {
    const issues: ConditionValueIssue[] = [];
    const start = minutesOf(value.start, false);
    const end = minutesOf(value.end, true);
    if (start === undefined) issues.push({ path: '.start', message: 'must be a time "HH:MM" from 00:00 to 23:59' });
    if (end === undefined) issues.push({ path: '.end', message: 'must be a time "HH:MM" from 00:00 to 24:00' });
    if (start !== undefined && end !== undefined && start === end) {
      issues.push({
        path: '.end',
        message: 'must differ from start (for the whole day write start: "00:00", end: "24:00")',
      });
    }
    let format: Intl.DateTimeFormat | undefined;
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: value.timezone ?? 'UTC',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      issues.push({
        path: '.timezone',
        message: 'is not an IANA time zone name this runtime knows (such as "Europe/Berlin")',
      });
    }
    if (issues.length > 0 || format === undefined) throw new ConditionValueError(issues);
    const from = start!;
    const to = end!;
    const days = new Array<boolean>(7).fill(value.days === undefined);
    for (const day of value.days ?? []) days[WEEKDAYS.indexOf(day)] = true;
    const clock = localClock(format);
    return (facts) => {
      const now = facts.now;
      if (typeof now !== 'number' || !Number.isFinite(now) || now < 0) return 'unknown';
      const { day, minute } = clock(now);
      if (from < to) return minute >= from && minute < to && days[day]!;
      // Crosses midnight: the late part belongs to today, the early part to the day before.
      if (minute >= from) return days[day]!;
      if (minute < to) return days[(day + 6) % 7]!;
      return false;
    };
  },
});
