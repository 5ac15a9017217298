// The command structure: --help everywhere, usage errors with exit 2, --json errors, and the error table in the
// README in step with the catalogue.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { CLI_ERRORS } from '../src/cli-error.ts';
import { parseCommandArgs } from '../src/command.ts';
import { COMMANDS } from '../src/main.ts';
import { clawd402, CLI, run } from './support.ts';

describe('clawd402 command line', { timeout: 300_000 }, () => {
  test('every command answers --help with its usage and options, exit 0', async () => {
    // Four processes at a time: one tsx start per command adds up.
    const pending = [...COMMANDS];
    const worker = async (): Promise<void> => {
      for (let command = pending.shift(); command; command = pending.shift()) {
        const r = run(CLI, [...command.path, '--help']);
        assert.equal(await r.exit, 0, r.stderr());
        assert.match(r.stdout(), new RegExp(`^usage: clawd402 ${command.path.join(' ')} \\[options\\]`));
        for (const name of [...Object.keys(command.options), 'json', 'help'])
          assert.match(r.stdout(), new RegExp(`--${name}\\b`));
        for (const arg of command.args ?? []) assert.match(r.stdout(), new RegExp(`^  ${arg.name} `, 'm'));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const top = run(CLI, ['--help']);
    assert.equal(await top.exit, 0);
    for (const command of COMMANDS) assert.match(top.stdout(), new RegExp(command.path.join(' ')));
  });

  test('an unknown option is a usage error (exit 2) with a stable code under --json', async () => {
    const r = await clawd402(['backup', 'create', '--password', 'hunter2']);
    assert.equal(r.status, 2);
    assert.equal(r.json.error.code, 'usage');
    assert.doesNotMatch(JSON.stringify(r.json), /hunter2/);
  });

  test('regression: a string option whose value starts with a dash takes it (a base64url signature "-kX…")', () => {
    // CI failed once in 64: `killswitch off --signer-release -kX…` was parseArgs' "argument is ambiguous".
    const off = COMMANDS.find((c) => c.path.join(' ') === 'killswitch off');
    assert.ok(off);
    const release = '-kX9_s2Q';
    const parsed = parseCommandArgs(off, ['--yes', '--signer-release', release], {});
    assert.equal(parsed['signer-release'], release);
    assert.equal(parsed.yes, true);
    // A boolean option never swallows the next word, and `--` still ends the options.
    assert.throws(() => parseCommandArgs(off, ['--yes', '-kX'], {}), /Unknown option '-k'/);
    assert.equal(parseCommandArgs(off, ['--signer-release=-a'], {})['signer-release'], '-a');
  });

  test('an unknown command is a usage error; a group alone prints its commands with exit 2', async () => {
    const unknown = await clawd402(['backup', 'explode']);
    assert.equal(unknown.status, 2);
    assert.equal(unknown.json.error.code, 'usage');
    const group = run(CLI, ['backup']);
    assert.equal(await group.exit, 2);
    assert.match(group.stdout(), /backup restore/);
  });

  test('a missing required setting is config_missing naming the option and its variable', async () => {
    const r = await clawd402(['backup', 'verify']);
    assert.equal(r.status, 2);
    assert.equal(r.json.error.code, 'config_missing');
    assert.match(r.json.error.message, /--from \(or BACKUP_LOCATION\)/);
  });

  test('a recipient that is not an age public key is refused before anything is read', async () => {
    const r = await clawd402(['backup', 'create', '--to', '/nonexistent/x', '--recipient', 'age1notakey']);
    assert.equal(r.status, 2);
    assert.equal(r.json.error.code, 'backup_recipient_invalid');
  });

  test('apps/cli/README.md lists every error code with its exit status, and nothing else', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('## Backups'));
    const documented = new Map(
      [...section.matchAll(/^\| `([a-z_]+)` \| (\d+) \|/gm)].map((m) => [m[1]!, Number(m[2])]),
    );
    assert.deepEqual(
      [...documented.entries()].sort(),
      Object.entries(CLI_ERRORS)
        .map(([code, e]) => [code, e.exit] as [string, number])
        .sort(),
    );
  });
});
