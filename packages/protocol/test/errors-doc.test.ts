// docs/errors.md is API documentation: it must list exactly the codes in the catalogues, with the right statuses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { API_ERRORS, DECODE_ERRORS, REASON_CODES, RPC_ERRORS, SIGNER_ERRORS, SIGNING_REFUSALS } from '../src/index.ts';
import { withoutRows } from './doc-rows.ts';

const DOC = new URL('../../../docs/errors.md', import.meta.url);

/** One table row whose first cell is a single backticked token. */
interface DocumentedCode {
  code: string;
  /** The integer in the row's HTTP/status column, or undefined when the table has none or the cell is not one. */
  status: number | undefined;
  line: number;
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/** Every table row in `markdown` whose first column is a backticked token, with its table's status column. */
function documentedCodes(markdown: string): DocumentedCode[] {
  const out: DocumentedCode[] = [];
  const lines = markdown.split('\n');
  let statusColumn: number | undefined;
  let inTable = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim().startsWith('|')) {
      inTable = false;
      continue;
    }
    const row = cells(line);
    if (!inTable) {
      // The first row of a table is its header.
      inTable = true;
      const index = row.findIndex((c) => /^(http|status|http status)$/i.test(c));
      statusColumn = index === -1 ? undefined : index;
      continue;
    }
    if (row.every((c) => /^:?-+:?$/.test(c))) continue; // separator row
    const first = /^`([^`]+)`$/.exec(row[0] ?? '');
    if (!first) continue;
    const raw = statusColumn === undefined ? undefined : row[statusColumn];
    out.push({
      code: first[1]!,
      status: raw !== undefined && /^[0-9]{3}$/.test(raw) ? Number(raw) : undefined,
      line: i + 1,
    });
  }
  return out;
}

/** Every disagreement between the doc and the catalogues, as sentences naming the codes. Empty when they agree. */
function checkErrorsDoc(markdown: string): string[] {
  const problems: string[] = [];
  const rows = documentedCodes(markdown);
  const documented = new Set(rows.map((r) => r.code));
  const catalogues: [string, string[]][] = [
    ['API_ERRORS', Object.keys(API_ERRORS)],
    ['SIGNER_ERRORS', Object.keys(SIGNER_ERRORS)],
    ['REASON_CODES', Object.keys(REASON_CODES)],
    ['DECODE_ERRORS', Object.keys(DECODE_ERRORS)],
    ['SIGNING_REFUSALS', Object.keys(SIGNING_REFUSALS)],
    ['RPC_ERRORS', Object.keys(RPC_ERRORS)],
  ];
  for (const [name, codes] of catalogues) {
    const missing = codes.filter((c) => !documented.has(c));
    if (missing.length > 0) problems.push(`${name} codes missing from docs/errors.md: ${missing.join(', ')}`);
  }
  const known = new Set(catalogues.flatMap(([, codes]) => codes));
  const unknown = [...new Set(rows.filter((r) => !known.has(r.code)).map((r) => `${r.code} (line ${r.line})`))];
  if (unknown.length > 0) problems.push(`docs/errors.md lists codes that are in no catalogue: ${unknown.join(', ')}`);

  const seen = new Map<string, number>();
  for (const r of rows) seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([code]) => code);
  if (duplicated.length > 0) problems.push(`docs/errors.md lists codes more than once: ${duplicated.join(', ')}`);

  const wrong: string[] = [];
  const statusless: string[] = [];
  for (const r of rows) {
    if (!Object.hasOwn(API_ERRORS, r.code)) continue;
    const expected = API_ERRORS[r.code as keyof typeof API_ERRORS].status;
    if (r.status === undefined) statusless.push(r.code);
    else if (r.status !== expected) wrong.push(`${r.code} (doc ${r.status}, catalogue ${expected})`);
  }
  if (wrong.length > 0) problems.push(`docs/errors.md has the wrong HTTP status for: ${wrong.join(', ')}`);
  if (statusless.length > 0)
    problems.push(`docs/errors.md gives no HTTP status for API codes: ${statusless.join(', ')}`);
  return problems;
}

describe('docs/errors.md', () => {
  test('lists every catalogue code, no other code, each once, with the catalogue status', () => {
    const problems = checkErrorsDoc(readFileSync(DOC, 'utf8'));
    assert.deepEqual(problems, [], problems.join('\n'));
  });

  test('every API code row is in a table with an HTTP column', () => {
    const rows = documentedCodes(readFileSync(DOC, 'utf8')).filter((r) => Object.hasOwn(API_ERRORS, r.code));
    assert.equal(rows.length, Object.keys(API_ERRORS).length);
    assert.ok(rows.every((r) => r.status !== undefined));
  });
});

// The checker must be able to fail: each way the doc can drift is caught and names the code.
describe('checkErrorsDoc', () => {
  const full = readFileSync(DOC, 'utf8');

  test('a removed row names the missing code', () => {
    const without = withoutRows(full, 'amount_zero');
    assert.notEqual(without, full);
    assert.deepEqual(checkErrorsDoc(without), ['API_ERRORS codes missing from docs/errors.md: amount_zero']);
  });

  test('a removed signer or reason row names the missing code', () => {
    const without = withoutRows(full, 'ticket_reused', 'policy.default_deny');
    assert.deepEqual(checkErrorsDoc(without), [
      'SIGNER_ERRORS codes missing from docs/errors.md: ticket_reused',
      'REASON_CODES codes missing from docs/errors.md: policy.default_deny',
    ]);
  });

  test('a row for a code in no catalogue is named', () => {
    const extra = full.replace('| `amount_zero` |', '| `amount_negative` | 400 | x | y |\n| `amount_zero` |');
    const problems = checkErrorsDoc(extra);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /in no catalogue: amount_negative \(line \d+\)$/);
  });

  test('a wrong status is named with both values', () => {
    const wrong = full.replace('| `rate_limited` | 429 |', '| `rate_limited` | 503 |');
    assert.notEqual(wrong, full);
    assert.deepEqual(checkErrorsDoc(wrong), [
      'docs/errors.md has the wrong HTTP status for: rate_limited (doc 503, catalogue 429)',
    ]);
  });

  test('a duplicated row is named', () => {
    const twice = `${full}\n\n| code | HTTP |\n|---|---|\n| \`not_found\` | 404 |\n`;
    assert.deepEqual(checkErrorsDoc(twice), ['docs/errors.md lists codes more than once: not_found']);
  });

  test('an API code without a status is named', () => {
    const bare = full.replace('| `not_found` | 404 |', '| `not_found` | — |');
    assert.deepEqual(checkErrorsDoc(bare), ['docs/errors.md gives no HTTP status for API codes: not_found']);
  });

  test('a removed decoder row names the missing code', () => {
    const without = full
      .split('\n')
      .filter(
        (l) => !l.startsWith('| `decode.malformed_calldata` |') && !l.startsWith('| `chain.legacy_transaction` |'),
      )
      .join('\n');
    assert.deepEqual(checkErrorsDoc(without), [
      'DECODE_ERRORS codes missing from docs/errors.md: decode.malformed_calldata',
      'SIGNING_REFUSALS codes missing from docs/errors.md: chain.legacy_transaction',
    ]);
  });

  test('an empty document names every code as missing', () => {
    const problems = checkErrorsDoc('');
    assert.equal(problems.length, 6);
    for (const code of [
      ...Object.keys(API_ERRORS),
      ...Object.keys(SIGNER_ERRORS),
      ...Object.keys(REASON_CODES),
      ...Object.keys(DECODE_ERRORS),
      ...Object.keys(SIGNING_REFUSALS),
      ...Object.keys(RPC_ERRORS),
    ]) {
      assert.ok(
        problems.some((p) => p.split(/[:,] /).includes(code)),
        `${code} not named`,
      );
    }
  });
});
