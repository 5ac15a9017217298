import type { Socket } from 'node:net';
import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { API_ERRORS, Clawd402Error, logEvent, type ApiErrorCode, type ErrorBody } from '@clawd402/protocol';
import { isDatabaseUnavailable } from '../../lib/database-errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a route that wants its 4xx refusals written to the audit log (see intents routes). */
    auditRefusal?: (code: ApiErrorCode) => Promise<void>;
  }
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Translate anything thrown into the catalogue's error: a stable code, a status, a safe message. */
export function toApiError(error: unknown): Clawd402Error {
  if (error instanceof Clawd402Error) return error;
  const e = error as FastifyError & { validation?: ValidationIssue[] };
  if (e?.validation) {
    const issue = e.validation[0];
    const field = issue?.instancePath ? issue.instancePath.slice(1).replaceAll('/', '.') : undefined;
    if (issue?.keyword === 'additionalProperties') {
      const extra = String(issue.params.additionalProperty);
      return new Clawd402Error('unknown_field', `Field "${field ? `${field}.` : ''}${extra}" is not accepted here.`, {
        details: { field: field ? `${field}.${extra}` : extra },
      });
    }
    return new Clawd402Error(
      'invalid_request',
      `${field ?? e.validationContext ?? 'request'} ${issue?.message ?? 'is invalid'}.`,
      {
        details: { ...(field ? { field } : {}), location: e.validationContext },
      },
    );
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new Clawd402Error('unsupported_media_type');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new Clawd402Error('payload_too_large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new Clawd402Error('invalid_json', 'The request body is empty or its length is wrong.');
    default:
      break;
  }
  if (e?.statusCode === 400 && (e instanceof SyntaxError || /JSON|proto/i.test(e.message ?? '')))
    return new Clawd402Error('invalid_json');
  if (e?.statusCode === 429) return new Clawd402Error('rate_limited');
  if (isDatabaseUnavailable(error)) return new Clawd402Error('database_unavailable', undefined, { cause: error });
  return new Clawd402Error('internal_error', undefined, { cause: error });
}

export function errorBody(error: Clawd402Error): ErrorBody {
  const status = API_ERRORS[error.code].status;
  // 5xx: the catalogue's generic sentence only; never internals, stacks or upstream bodies.
  if (status >= 500) return { code: error.code, message: API_ERRORS[error.code].message };
  return error.details
    ? { code: error.code, message: error.message, details: error.details }
    : { code: error.code, message: error.message };
}

/**
 * What Node's HTTP parser refuses before fastify sees a request (fastify's `clientErrorHandler`): the catalogue's
 * body instead of fastify's own, then the connection is closed. Request smuggling (Content-Length with
 * Transfer-Encoding, an obfuscated or repeated Transfer-Encoding, a bad chunk) and other malformed framing are
 * `malformed_http_request`; headers or a body sent too slowly (headersTimeout, requestTimeout) are `request_timeout`;
 * headers over the size limit are `headers_too_large`. Nothing of the request is echoed or logged above debug.
 */
export function clientErrorHandler(
  this: { log: { debug: (obj: object, msg: string) => void } },
  error: Error & { code?: string },
  socket: Socket,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'request_timeout'
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? 'headers_too_large'
        : 'malformed_http_request';
  const status = API_ERRORS[code].status;
  this.log.debug({ code, reason: error.code }, 'client error: connection closed');
  if (socket.writable) {
    const body = JSON.stringify({ code, message: API_ERRORS[code].message });
    socket.write(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** One error handler and one not-found handler for the whole app (STYLE: "one error handler"). */
export default fp(
  async (app) => {
    app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const apiError = toApiError(error);
      const status = API_ERRORS[apiError.code].status;
      const reason = apiError.cause instanceof Error ? apiError.cause.message : undefined;
      if (status >= 500) request.log.error({ err: error, code: apiError.code }, 'request failed');
      // An intent refused before it was stored (the intent routes set auditRefusal until the path stores one).
      else if (request.auditRefusal)
        logEvent(request.log, 'intent.refused', { code: apiError.code, agentId: request.agent?.agentId, reason });
      else request.log.info({ code: apiError.code, reason }, 'request refused');
      if (status < 500 && request.auditRefusal) {
        await request.auditRefusal(apiError.code).catch((auditError: unknown) => {
          request.log.error({ err: auditError }, 'could not audit a refused request');
        });
      }
      if (status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
      return reply.status(status).send(errorBody(apiError));
    });
    app.setNotFoundHandler(async (_request, reply) =>
      reply.status(404).send(errorBody(new Clawd402Error('route_not_found'))),
    );
  },
  { name: 'errors' },
);
