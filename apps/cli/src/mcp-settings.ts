import { readFileSync } from 'node:fs';

/** `clawd402-mcp`'s settings (mcp.ts): the gateway URL from argv or the environment, the API key from the environment. */
export const MCP_USAGE = `usage: clawd402-mcp --gateway <url> [--chain <id>]...
  --gateway <url>   the gateway's base URL (or CLAWD402_GATEWAY_URL)
  --chain <id>      a chain fetch_paid may pay x402 resources on, repeatable (or CLAWD402_CHAIN_IDS=<id>,<id>)
  the agent's API key: CLAWD402_API_KEY, or CLAWD402_API_KEY_FILE naming a file that holds it`;

/** A bad command line or environment: exit status 2 with the usage. */
export class McpUsageError extends Error {}

export interface McpSettings {
  gateway: string;
  apiKey: string;
  /** Chains `fetch_paid` pays on (none: it pays nothing and says so). */
  chainIds: number[];
}

function chainId(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new McpUsageError('a chain is a positive integer chain id');
  }
  return Number(value);
}

/** The gateway URL, API key and chains, from argv and the environment; a key on the command line is refused. */
export function readMcpSettings(argv: readonly string[], env: NodeJS.ProcessEnv): McpSettings {
  let gateway = env['CLAWD402_GATEWAY_URL'];
  const chains: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--gateway' && argv[i + 1] !== undefined) gateway = argv[++i];
    else if (arg.startsWith('--gateway=')) gateway = arg.slice('--gateway='.length);
    else if (arg === '--chain' && argv[i + 1] !== undefined) chains.push(chainId(argv[++i]!));
    else if (arg.startsWith('--chain=')) chains.push(chainId(arg.slice('--chain='.length)));
    else if (/^--api[-_]?key/i.test(arg))
      throw new McpUsageError(
        'the API key is never taken from the command line: set CLAWD402_API_KEY or CLAWD402_API_KEY_FILE',
      );
    // Never echoed: a stray argument may be a key pasted in the wrong place.
    else throw new McpUsageError(`argument ${i + 1} is not one clawd402-mcp takes`);
  }
  if (!gateway) throw new McpUsageError('the gateway URL is missing');
  const file = env['CLAWD402_API_KEY_FILE'];
  const apiKey = (file ? readFileSync(file, 'utf8') : (env['CLAWD402_API_KEY'] ?? '')).trim();
  if (!apiKey) throw new McpUsageError('no API key: set CLAWD402_API_KEY or CLAWD402_API_KEY_FILE');
  if (chains.length === 0 && env['CLAWD402_CHAIN_IDS']) {
    chains.push(...env['CLAWD402_CHAIN_IDS'].split(',').map((c) => chainId(c.trim())));
  }
  return { gateway, apiKey, chainIds: [...new Set(chains)] };
}
