#!/usr/bin/env -S node --import tsx
/**
 * `clawd402-mcp --gateway <url>`: the gateway's MCP server for MCP clients that start a local command (Claude Desktop
 * and the like), over stdio (docs/mcp.md). A bridge: every MCP request is forwarded to the gateway's `POST /mcp`, which
 * owns the tools, so an intent started here is exactly one started over HTTP — origin `mcp`, the tool's name and the
 * client's name (from its `initialize`). The agent's API key comes from `CLAWD402_API_KEY` or the file named by
 * `CLAWD402_API_KEY_FILE`, never from the command line (argv is visible to every user of the machine); the
 * @clawd402/sdk client exchanges it for short-lived bearer tokens and renews them. Stdout carries the protocol only;
 * diagnostics go to stderr. Exit status: 0 on end of input, 2 usage, 1 any other failure.
 *
 * One tool is the bridge's own: `fetch_paid` (mcp-fetch-paid.ts) fetches the agent's URL here, beside the agent, and
 * pays a 402 through the gateway's `pay_x402` tool; the gateway never requests an agent's URL itself (docs/mcp.md).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Clawd402Client } from '@clawd402/sdk';
import { FETCH_PAID_TOOL, fetchPaid, payThroughGatewayTool, type GatewayToolAnswer } from './mcp-fetch-paid.ts';
import { MCP_USAGE, McpUsageError, readMcpSettings } from './mcp-settings.ts';

async function main(): Promise<void> {
  const { gateway, apiKey, chainIds } = readMcpSettings(process.argv.slice(2), process.env);
  const sdk = new Clawd402Client({ apiUrl: gateway, apiKey });
  const endpoint = new URL('mcp', gateway.endsWith('/') ? gateway : `${gateway}/`);
  const authorised: typeof fetch = async (url, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${await sdk.bearerToken()}`);
    return fetch(url, { ...init, headers });
  };

  const server = new Server({ name: 'clawd402', version: '0.1.0' }, { capabilities: { tools: {} } });
  // Connected on first use, named after the client that initialised us, so the gateway records that client's name.
  let upstream: Promise<Client> | null = null;
  const gatewayClient = (): Promise<Client> =>
    (upstream ??= (async () => {
      const info = server.getClientVersion();
      const client = new Client({ name: info?.name ?? 'clawd402-mcp', version: info?.version ?? '0' });
      await client.connect(new StreamableHTTPClientTransport(endpoint, { fetch: authorised }));
      return client;
    })().catch((error: unknown) => {
      upstream = null;
      throw error;
    }));
  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    const listed = await (await gatewayClient()).listTools(request.params);
    // The gateway's tools, then the bridge's own on the last page.
    return listed.nextCursor ? listed : { ...listed, tools: [...listed.tools, FETCH_PAID_TOOL] };
  });
  // fetch_paid pays through the gateway's pay_x402 tool on the same connection: the payment's origin is mcp.
  const payer = payThroughGatewayTool(
    async (name, args) => (await (await gatewayClient()).callTool({ name, arguments: args })) as GatewayToolAnswer,
  );
  server.setRequestHandler(CallToolRequestSchema, async (request) =>
    request.params.name === FETCH_PAID_TOOL.name
      ? fetchPaid(payer, chainIds, request.params.arguments)
      : (await gatewayClient()).callTool(request.params),
  );

  const stdio = new StdioServerTransport();
  stdio.onclose = () => {
    void upstream?.then((client) => client.close()).catch(() => {});
  };
  await server.connect(stdio);
}

main().catch((error: unknown) => {
  process.stderr.write(`clawd402-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof McpUsageError) process.stderr.write(`${MCP_USAGE}\n`);
  process.exitCode = error instanceof McpUsageError ? 2 : 1;
});
