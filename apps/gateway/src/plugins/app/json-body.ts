import fp from 'fastify-plugin';
import { Clawd402Error } from '@clawd402/protocol';
import { StrictJsonError, parseStrictJson } from '../../security/jwt-strict-json.ts';

/** Deepest nesting of objects and arrays a request body may have (the top-level value is depth 1). */
export const BODY_MAX_DEPTH = 64;

/** `charset` parameter of a Content-Type, lower case, or null when there is none. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * Parse a request body as strict JSON, or throw the catalogue's error. One reading only: a member name twice in one
 * object (`{"amount":"1","amount":"1000"}`) means one thing to `JSON.parse` (the last wins) and another to the next
 * parser, so it is refused with `json_duplicate_key`, at any depth, names compared after unescaping. Nesting deeper
 * than {@link BODY_MAX_DEPTH} is `json_too_deep` (refused before it can exhaust the stack). `__proto__` and
 * `constructor.prototype` members are `invalid_json`, as fastify's own parser does with
 * onProtoPoisoning/onConstructorPoisoning 'error'. A byte order mark, an empty body or anything `JSON.parse`
 * refuses is `invalid_json`. The body is decoded as UTF-8 (RFC 8259 8.1): a `charset` other than utf-8 is refused
 * with `unsupported_media_type` rather than silently read as something else.
 */
export function parseJsonBody(text: string, contentType: string | undefined): unknown {
  const charset = contentType ? CHARSET.exec(contentType)?.[1]?.toLowerCase() : undefined;
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new Clawd402Error(
      'unsupported_media_type',
      'JSON bodies are UTF-8: the charset parameter must be utf-8 or absent.',
    );
  }
  if (text.length === 0) throw new Clawd402Error('invalid_json', 'The request body is empty or its length is wrong.');
  try {
    return parseStrictJson(text, { maxDepth: BODY_MAX_DEPTH, refusePrototypeKeys: true });
  } catch (error) {
    if (!(error instanceof StrictJsonError)) throw error;
    const details = { position: error.position };
    switch (error.reason) {
      case 'duplicate_key':
        throw new Clawd402Error('json_duplicate_key', undefined, { details, cause: error });
      case 'too_deep':
        throw new Clawd402Error('json_too_deep', undefined, {
          details: { ...details, maxDepth: BODY_MAX_DEPTH },
          cause: error,
        });
      default:
        throw new Clawd402Error('invalid_json', undefined, { details, cause: error });
    }
  }
}

/**
 * The one `application/json` parser (replacing fastify's secure-json-parse one): {@link parseJsonBody}. The body
 * limit (16 KiB, 413 payload_too_large) is fastify's, applied while the body is read, before this runs.
 */
export default fp(
  async (app) => {
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      try {
        done(null, parseJsonBody(body as string, request.headers['content-type']));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
  },
  { name: 'json-body' },
);
