#!/usr/bin/env node
// The package's `bin`: loads tsx from this package's own dependencies (not from the caller's directory), then the
// TypeScript entry point, so `clawd402` works from any directory.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
