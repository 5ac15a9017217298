import type { IntentOrigin } from '@clawd402/protocol';

/** An intent submitted to `POST /v1/intents`. */
export const REST_ORIGIN: IntentOrigin = Object.freeze({ channel: 'rest', tool: null, client: null });

/** An x402 payment an agent asks for (`POST /v1/intents` with type `x402_payment`: the SDK's paying fetch, docs/x402.md). */
export const X402_ORIGIN: IntentOrigin = Object.freeze({ channel: 'x402', tool: null, client: null });

/** The origin of an intent sent to `POST /v1/intents`: x402 payments are their own channel, the rest REST. */
export function restOrigin(type: string): IntentOrigin {
  return type === 'x402_payment' ? X402_ORIGIN : REST_ORIGIN;
}

/** An intent submitted as Ethereum JSON-RPC on `/rpc` (services/json-rpc-service.ts). */
export const RPC_ORIGIN: IntentOrigin = Object.freeze({ channel: 'rpc', tool: null, client: null });

/** An intent an MCP tool started (mcp/mcp-tools.ts); `client` is the MCP client's self-declared name. */
export function mcpOrigin(tool: string, client: string | null): IntentOrigin {
  return Object.freeze({ channel: 'mcp', tool, client });
}
