import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

/** The parts of the MCP SDK the /mcp route uses. */
export interface McpSdk {
  Server: typeof Server;
  WebStandardStreamableHTTPServerTransport: typeof WebStandardStreamableHTTPServerTransport;
  CallToolRequestSchema: typeof CallToolRequestSchema;
  ListToolsRequestSchema: typeof ListToolsRequestSchema;
  McpError: typeof McpError;
  ErrorCode: typeof ErrorCode;
}

let loading: Promise<McpSdk> | undefined;

/**
 * The MCP SDK, loaded by the first /mcp request and kept. With zod it is about 25 MiB of resident memory and 0.2 s
 * of start-up (docs/benchmarks.md) that a gateway whose agents never speak MCP does not pay. A failed load is not
 * kept: the next request tries again (the request that failed answers internal_error).
 */
export function loadMcpSdk(): Promise<McpSdk> {
  loading ??= (async () => {
    const [server, http, types] = await Promise.all([
      import('@modelcontextprotocol/sdk/server/index.js'),
      import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'),
      import('@modelcontextprotocol/sdk/types.js'),
    ]);
    return {
      Server: server.Server,
      WebStandardStreamableHTTPServerTransport: http.WebStandardStreamableHTTPServerTransport,
      CallToolRequestSchema: types.CallToolRequestSchema,
      ListToolsRequestSchema: types.ListToolsRequestSchema,
      McpError: types.McpError,
      ErrorCode: types.ErrorCode,
    };
  })();
  const pending = loading;
  pending.catch(() => {
    if (loading === pending) loading = undefined;
  });
  return pending;
}
