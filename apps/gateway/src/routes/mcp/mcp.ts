import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Clawd402Error } from '@clawd402/protocol';
import { loadMcpSdk } from './mcp-sdk.ts';
import { MCP_TOOLS, McpTools, type McpCaller } from './mcp-tools.ts';
import { withErrors } from '../schemas.ts';

/** The request headers the MCP transport reads; nothing else (the bearer token least of all) is handed to it. */
const FORWARDED = ['accept', 'content-type', 'mcp-protocol-version'] as const;
/** A client name is kept only when it is short printable ASCII (it is self-declared and informative only). */
const CLIENT_NAME = /^[\x20-\x7e]{1,64}$/;
/** Prefix of the `Mcp-Session-Id` this server hands out: it carries the client's name, nothing secret. */
const SESSION_PREFIX = 'c402.';
export const MCP_BODY_LIMIT = 1024 * 1024;

/** The client's name from an `initialize` request's `clientInfo.name`, if it is one. */
function clientNameOf(body: unknown): string | null | undefined {
  const message = body as { method?: unknown; params?: { clientInfo?: { name?: unknown } } } | null;
  if (message?.method !== 'initialize') return undefined;
  const name = message.params?.clientInfo?.name;
  return typeof name === 'string' && CLIENT_NAME.test(name) ? name : null;
}

function sessionOf(clientName: string | null): string {
  return SESSION_PREFIX + Buffer.from(clientName ?? '', 'utf8').toString('base64url');
}

function clientFromSession(header: unknown): string | null {
  if (typeof header !== 'string' || !header.startsWith(SESSION_PREFIX) || header.length > 200) return null;
  const name = Buffer.from(header.slice(SESSION_PREFIX.length), 'base64url').toString('utf8');
  return CLIENT_NAME.test(name) ? name : null;
}

/**
 * POST /mcp — the MCP server over Streamable HTTP (docs/mcp.md), authenticated like /v1/intents (an agent's bearer
 * token, the intents rate-limit class, the key's scopes). Stateless, so any gateway replica answers any request: each
 * request gets its own MCP server instance and a JSON answer. The `Mcp-Session-Id` handed out at `initialize` only
 * carries the client's self-declared name (base64url) so that later tool calls can record it in the intent's origin;
 * it is not a credential and grants nothing. GET and DELETE answer 405 (no server-initiated stream, no session).
 */
const mcp: FastifyPluginAsyncTypebox = async (app) => {
  const { pipeline, intents, costs, watcher, closing } = app.services;
  const tools = new McpTools({ pipeline, intents, costs, watcher, closing, log: app.log });
  app.addHook('onRequest', app.authenticate);

  app.post(
    '/mcp',
    {
      bodyLimit: MCP_BODY_LIMIT,
      schema: { body: Type.Unknown(), response: withErrors({}) },
    },
    async (request, reply) => {
      const agent = request.agent;
      if (!agent) throw new Clawd402Error('forbidden', 'The MCP server is for agents.');
      const initializing = clientNameOf(request.body);
      const caller: McpCaller = {
        agent,
        client: initializing !== undefined ? initializing : clientFromSession(request.headers['mcp-session-id']),
        requestId: request.id,
      };

      const { Server, WebStandardStreamableHTTPServerTransport, CallToolRequestSchema, ListToolsRequestSchema } =
        await loadMcpSdk();
      const server = new Server({ name: 'clawd402', version: '0.1.0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...MCP_TOOLS] }));
      server.setRequestHandler(CallToolRequestSchema, (call) =>
        tools.call(caller, call.params.name, call.params.arguments),
      );
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      try {
        await server.connect(transport);
        const headers = new Headers();
        for (const name of FORWARDED) {
          const value = request.headers[name];
          if (typeof value === 'string') headers.set(name, value);
        }
        const answer = await transport.handleRequest(
          new Request('http://gateway/mcp', { method: 'POST', headers, body: JSON.stringify(request.body) }),
          { parsedBody: request.body },
        );
        reply.status(answer.status);
        answer.headers.forEach((value, name) => {
          if (name === 'content-type') reply.header(name, value);
        });
        if (initializing !== undefined) reply.header('mcp-session-id', sessionOf(initializing));
        // The transport's JSON-RPC answer, already serialised (its 200 has no schema here: MCP owns that shape).
        const text = await answer.text();
        return await reply.send(text as never);
      } finally {
        await server.close().catch(() => {});
      }
    },
  );

  const notAllowed = async (): Promise<never> => {
    throw new Clawd402Error('mcp_method_not_allowed', 'The MCP endpoint answers POST only (no stream, no session).');
  };
  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: '/mcp',
      schema: { response: withErrors({}) },
      handler: async (_request, reply) => {
        reply.header('allow', 'POST');
        return notAllowed();
      },
    });
  }
};
export default mcp;
