#!/usr/bin/env node
// The `clawd402-mcp` bin: loads tsx from this package's own dependencies, then the stdio MCP bridge (docs/mcp.md).
import { register } from 'tsx/esm/api';

register();
await import('../src/mcp.ts');
