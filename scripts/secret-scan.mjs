#!/usr/bin/env node
// Secret scan: secretlint with its recommended preset and our EVM private-key rule (scripts/secretlint/), configured
// in .secretlintrc.json (whose `allows` lists are the allowlist: anvil's public development keys and the labelled
// hostile test values of the security tests). Scans every file git tracks, or the files given as arguments.
// Exit 0 clean, 1 a secret was found, 2 the scanner could not run.
// Rule ids that start with ./ are files in this repository; secretlint resolves rules as packages, so they are made
// absolute here and the config is handed over with --secretlintrcJSON.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const config = JSON.parse(readFileSync(join(root, '.secretlintrc.json'), 'utf8'));
for (const rule of config.rules) if (rule.id.startsWith('./')) rule.id = resolve(root, rule.id);

let files = process.argv.slice(2);
if (files.length === 0) {
  const listed = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (listed.status !== 0) {
    console.error('secret scan: cannot list the tracked files (git ls-files failed)');
    process.exit(2);
  }
  files = listed.stdout
    .split('\0')
    .filter((f) => f.length > 0)
    .map((f) => join(root, f));
}
const bin = join(root, 'node_modules', '.bin', 'secretlint');
const result = spawnSync(
  bin,
  ['--secretlintrcJSON', JSON.stringify(config), '--no-glob', '--no-color', '--format', 'stylish', ...files],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (result.error || result.status === null) {
  console.error(`secret scan: secretlint did not run (${result.error?.message ?? `signal ${result.signal}`})`);
  process.exit(2);
}
if (result.status === 0) {
  console.log(`secret scan: ${files.length} files, no secrets outside the allowlist`);
  process.exit(0);
}
// secretlint exits 1 when it reports findings, other codes when it fails.
process.exit(result.status === 1 ? 1 : 2);
