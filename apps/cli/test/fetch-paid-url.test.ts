// Security regression: fetch_paid (the stdio bridge's tool, docs/mcp.md) requests https URLs, and plain http only to
// this machine. Each hostile URL below is refused with fetch_url_refused before any request is made.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FETCH_PAID_ERRORS, checkFetchUrl, fetchPaid } from '../src/mcp-fetch-paid.ts';

const refused = (url: string) =>
  assert.throws(
    () => checkFetchUrl(url),
    (error: unknown) => (error as { code?: string }).code === 'fetch_url_refused',
    url,
  );

describe('fetch_paid URLs', { timeout: 10_000 }, () => {
  const REFUSED: [string, string[]][] = [
    [
      'plain http to anything but loopback is refused, whatever it looks like',
      [
        'http://169.254.169.254/latest/meta-data/', // cloud metadata
        'http://10.0.0.1/',
        'http://192.168.1.1/admin',
        'http://example.com/',
        'http://localhost.example.com/', // a name that merely starts with localhost
        'http://127.0.0.1.nip.io/', // a name that resolves to loopback through DNS is still a name
        'http://[::ffff:127.0.0.1]/', // IPv4-mapped IPv6: not the literal forms the rule accepts
        'http://0.0.0.0/',
      ],
    ],
    [
      'other schemes, credentials and non-URLs are refused',
      [
        'file:///etc/passwd',
        'ftp://example.com/x',
        'data:text/plain,hi',
        'ws://127.0.0.1/',
        'https://user:pass@api.example.com/',
        'http://user@127.0.0.1/',
        '/relative/path',
        'not a url',
      ],
    ],
  ];
  for (const [name, urls] of REFUSED) {
    test(name, () => urls.forEach(refused));
  }

  test('https anywhere, and http to localhost, 127.0.0.0/8 and [::1], are accepted', () => {
    for (const url of [
      'https://api.example.com/data?x=1',
      'http://localhost:8080/data',
      'http://127.0.0.1/',
      'http://127.1.2.3:9000/',
      'http://[::1]:3000/',
      'http://0x7f.1/', // WHATWG URL reads it as 127.0.0.1
    ]) {
      assert.equal(checkFetchUrl(url).href, new URL(url).href, url);
    }
  });

  test('the tool answers a refused URL as a result with the code, without asking the gateway', async () => {
    let asked = 0;
    const result = await fetchPaid(
      {
        payX402: async () => {
          asked += 1;
          throw new Error('never');
        },
      },
      [31337],
      { url: 'http://169.254.169.254/latest/meta-data/' },
    );
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent['code'], 'fetch_url_refused');
    assert.equal(result.structuredContent['payment'], null);
    assert.equal(asked, 0);
  });

  test("docs/mcp.md lists every one of the bridge's own codes", () => {
    const doc = readFileSync(new URL('../../../docs/mcp.md', import.meta.url), 'utf8');
    for (const code of Object.keys(FETCH_PAID_ERRORS)) assert.ok(doc.includes(`| \`${code}\` |`), code);
  });
});
