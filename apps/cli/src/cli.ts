#!/usr/bin/env -S node --import tsx
/**
 * `clawd402`: the operator's command line. `clawd402 <group> <command> [options]`; every command takes --help and
 * --json (one JSON document on stdout: the result, or {"error":{"code","message"}}). Exit status: 0 ok, 1 a check
 * failed, 2 usage, 3 refused or denied (nothing changed), 4 a service or the gateway cannot be reached, 5 not logged
 * in or the session is not usable, 6 not found, 70 internal error (docs/cli.md; apps/cli/README.md lists every code).
 */
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
