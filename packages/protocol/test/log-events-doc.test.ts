// docs/logging.md is what a log shipper relies on: it must list exactly the catalogue's events, each with its
// category, level and fields.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { LOG_CATEGORIES, LOG_EVENTS, logEvent, type LogEventName } from '../src/index.ts';
import { withoutRows } from './doc-rows.ts';

const DOC = new URL('../../../docs/logging.md', import.meta.url);

interface Row {
  event: string;
  category: string;
  level: string;
  fields: string[];
}

/** Event rows (`| \`name\` | level | meaning | fields |`) under each `### category` heading. */
function documentedEvents(markdown: string): Row[] {
  const rows: Row[] = [];
  let category = '';
  for (const line of markdown.split('\n')) {
    const heading = /^### (\S+)$/.exec(line);
    if (heading) category = heading[1]!;
    const row = /^\| `([a-z_]+\.[a-z_]+)` \| ([a-z]+) \| .* \| (.*) \|$/.exec(line);
    if (row)
      rows.push({
        event: row[1]!,
        category,
        level: row[2]!,
        fields: [...row[3]!.matchAll(/`([A-Za-z0-9]+)`/g)].map((m) => m[1]!),
      });
  }
  return rows;
}

/** Every disagreement between the doc and the catalogue, naming the event. Empty when they agree. */
function checkLoggingDoc(markdown: string): string[] {
  const problems: string[] = [];
  const rows = documentedEvents(markdown);
  const documented = new Set(rows.map((r) => r.event));
  const missing = Object.keys(LOG_EVENTS).filter((e) => !documented.has(e));
  if (missing.length > 0) problems.push(`events missing from docs/logging.md: ${missing.join(', ')}`);
  const unknown = rows.filter((r) => !Object.hasOwn(LOG_EVENTS, r.event)).map((r) => r.event);
  if (unknown.length > 0) problems.push(`docs/logging.md lists events in no catalogue: ${unknown.join(', ')}`);
  for (const row of rows) {
    if (!Object.hasOwn(LOG_EVENTS, row.event)) continue;
    const spec = LOG_EVENTS[row.event as LogEventName];
    if (row.category !== spec.category)
      problems.push(`${row.event}: under ${row.category}, catalogue ${spec.category}`);
    if (row.level !== spec.level) problems.push(`${row.event}: level ${row.level}, catalogue ${spec.level}`);
    if (row.fields.join(',') !== spec.fields.join(','))
      problems.push(`${row.event}: fields ${row.fields.join(',')}, catalogue ${spec.fields.join(',')}`);
  }
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.event)) problems.push(`docs/logging.md lists ${r.event} more than once`);
    seen.add(r.event);
  }
  return problems;
}

describe('docs/logging.md', { timeout: 10_000 }, () => {
  const full = readFileSync(DOC, 'utf8');

  test('lists every catalogue event, no other, once, with its category, level and fields', () => {
    const problems = checkLoggingDoc(full);
    assert.deepEqual(problems, [], problems.join('\n'));
  });

  test('every event is named for its category, and every category is one of the seven', () => {
    for (const [name, spec] of Object.entries(LOG_EVENTS)) {
      assert.ok(LOG_CATEGORIES.includes(spec.category), name);
      assert.equal(name.split('.')[0], spec.category, name);
    }
  });

  test('a removed row names the missing event', () => {
    const without = withoutRows(full, 'auth.login_failed');
    assert.notEqual(without, full);
    assert.deepEqual(checkLoggingDoc(without), ['events missing from docs/logging.md: auth.login_failed']);
  });

  test('a row for an event in no catalogue is named', () => {
    const extra = full.replace(
      '| `auth.login_failed` |',
      '| `auth.login_guessed` | info | x | — |\n| `auth.login_failed` |',
    );
    assert.deepEqual(checkLoggingDoc(extra), ['docs/logging.md lists events in no catalogue: auth.login_guessed']);
  });

  test('a wrong level or a missing field is named', () => {
    const wrong = full.replace('| `auth.ip_blocked` | warn |', '| `auth.ip_blocked` | info |');
    assert.notEqual(wrong, full);
    assert.deepEqual(checkLoggingDoc(wrong), ['auth.ip_blocked: level info, catalogue warn']);
    const fewer = full.replace(/(\| `auth\.ip_blocked` \| .*)`ip`, /, '$1');
    assert.notEqual(fewer, full);
    assert.deepEqual(checkLoggingDoc(fewer), ['auth.ip_blocked: fields reason, catalogue ip,reason']);
  });
});

describe('logEvent', { timeout: 10_000 }, () => {
  test('writes category, event and the meaning at the catalogue level; fields cannot override the two', () => {
    const lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const at =
      (level: string) =>
      (obj: object, msg?: string): void => {
        lines.push({ level, obj: obj as Record<string, unknown>, msg });
      };
    const log = { fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
    logEvent(log, 'auth.ip_blocked', { ip: '203.0.113.7', reason: 'wrong password' });
    // @ts-expect-error: `category` is not a field of the event, so it cannot be passed (nor override the catalogue's)
    logEvent(log, 'auth.ip_blocked', { category: 'system' });
    assert.deepEqual(lines[0], {
      level: 'warn',
      obj: { ip: '203.0.113.7', reason: 'wrong password', category: 'auth', event: 'auth.ip_blocked' },
      msg: LOG_EVENTS['auth.ip_blocked'].meaning,
    });
    assert.equal(lines[1]!.obj.category, 'auth');
  });
});
