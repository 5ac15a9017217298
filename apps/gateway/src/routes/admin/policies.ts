import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { MAX_POLICY_TEXT_LENGTH, type PolicyFormat } from '@clawd402/policy';
import {
  Clawd402Error,
  ContractCallIntentBody,
  Decision,
  logEvent,
  TransferIntentBody,
  type TransactionIntentBody,
} from '@clawd402/protocol';
import { UUID_PATTERN } from '../../lib/uuid.ts';
import { MAX_REPLAY_INTENTS } from '../../policy/replay.ts';
import type { DecisionChange, PolicyLint, PolicyVersionSummary } from '../../services/policies-service.ts';
import { me } from '../acting-user.ts';
import { SHA256_PATTERN, withErrors } from '../schemas.ts';
import { PageLimit, givenFilters, limitOr } from '../list-query.ts';

const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];
const VERSION = '^[1-9][0-9]{0,8}$';
/** A policy text is at most MAX_POLICY_TEXT_LENGTH characters; as JSON inside a dry-run body it may grow (escapes). */
const UPLOAD_BODY_LIMIT = MAX_POLICY_TEXT_LENGTH + 1024;
const DRY_RUN_BODY_LIMIT = 2 * MAX_POLICY_TEXT_LENGTH + 64 * 1024;

const VersionParams = Type.Object({ version: Type.String({ pattern: VERSION }) });
const Lint = Type.Object({ errors: Type.Array(Type.Unknown()), warnings: Type.Array(Type.Unknown()) });
const Format = Type.Union([Type.Literal('yaml'), Type.Literal('json')]);
const ActiveView = Type.Object(
  { version: Type.Integer(), hash: Type.String(), activatedBy: Type.String(), activatedAt: Type.String() },
  { additionalProperties: false },
);
/** What every view of a stored policy version starts with: number, hash, format, author, time, whether active. */
const VersionFields = {
  version: Type.Integer(),
  hash: Type.String(),
  format: Format,
  author: Type.String(),
  createdAt: Type.String(),
  active: Type.Boolean(),
};
const SummaryView = Type.Object(
  {
    ...VersionFields,
    lint: Type.Object({ errors: Type.Integer(), warnings: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
const Summary = Type.Object({
  action: Type.String(),
  policy: Type.Union([Type.String(), Type.Null()]),
  policySetHash: Type.String(),
  reasons: Type.Array(Type.String()),
});

/** An intent body exactly as POST /v1/intents takes it, plus the agent it would come from. */
const withAgent = (schema: typeof TransferIntentBody | typeof ContractCallIntentBody) => ({
  ...schema,
  properties: { ...schema.properties, agentId: { type: 'string', pattern: `^${UUID_PATTERN}$` } },
  required: [...(schema.required ?? []), 'agentId'],
});
// Type.Unsafe keeps the JSON Schema exactly as written (oneOf with a discriminator) and types the body.
const DryRunBody = Type.Unsafe<{
  policy: string;
  format?: PolicyFormat;
  intent?: TransactionIntentBody & { agentId: string };
  replay?: { last: number };
}>({
  type: 'object',
  additionalProperties: false,
  required: ['policy'],
  properties: {
    policy: { type: 'string', minLength: 1 },
    format: { type: 'string', enum: ['yaml', 'json'] },
    intent: {
      type: 'object',
      discriminator: { propertyName: 'type' },
      required: ['type'],
      oneOf: [withAgent(TransferIntentBody), withAgent(ContractCallIntentBody)],
    },
    replay: {
      type: 'object',
      additionalProperties: false,
      required: ['last'],
      properties: { last: { type: 'integer', minimum: 1, maximum: MAX_REPLAY_INTENTS } },
    },
  },
  oneOf: [{ required: ['intent'] }, { required: ['replay'] }],
});

const iso = (d: Date): string => d.toISOString();
const summaryView = (v: PolicyVersionSummary, activeVersion: number | null) => ({
  version: v.version,
  hash: v.hash,
  format: v.format,
  author: v.author,
  createdAt: iso(v.createdAt),
  active: v.version === activeVersion,
  lint: { errors: v.lint.errors.length, warnings: v.lint.warnings.length },
});
const lintView = (lint: PolicyLint) => ({ errors: [...lint.errors], warnings: [...lint.warnings] });
const changeView = (c: DecisionChange) => ({
  intentId: c.intentId,
  agentId: c.agentId,
  createdAt: iso(c.createdAt),
  before: c.before,
  after: c.after,
});

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * /admin/policies: policy sets as numbered, immutable versions in Postgres (see docs/policy-lifecycle.md). Upload
 * (YAML or JSON) → lint → activate; activation reaches every gateway process within a second. A dry-run decides one
 * intent, or replays the last N stored intents, with a candidate set, and writes nothing but its audit record.
 */
const adminPolicies: FastifyPluginAsyncTypebox = async (app) => {
  const { policies } = app.services;

  // Uploads take the text itself. The parsers are registered in this child context only: the rest of the app stays
  // JSON-only (app.ts removes text/plain on purpose), and JSON is read as text so the stored content is what was sent.
  await app.register(async (parent) => {
    const upload = parent.withTypeProvider<TypeBoxTypeProvider>();
    upload.removeContentTypeParser('application/json');
    upload.addContentTypeParser(
      [...YAML_TYPES, 'application/json'],
      { parseAs: 'string', bodyLimit: UPLOAD_BODY_LIMIT },
      (_request, body, done) => done(null, body),
    );
    upload.addContentTypeParser('*', (_request, _payload, done) =>
      done(
        new Clawd402Error(
          'unsupported_media_type',
          `Send the policy set as ${[...YAML_TYPES, 'application/json'].join(', ')}.`,
        ),
        undefined,
      ),
    );

    upload.post(
      '/admin/policies',
      {
        bodyLimit: UPLOAD_BODY_LIMIT,
        schema: {
          body: Type.String({ minLength: 1, maxLength: MAX_POLICY_TEXT_LENGTH }),
          response: withErrors({
            201: Type.Object(
              { version: Type.Integer(), hash: Type.String(), lint: Lint },
              { additionalProperties: false },
            ),
          }),
        },
      },
      async (request, reply) => {
        const format: PolicyFormat = YAML_TYPES.includes(mediaType(request.headers['content-type'])) ? 'yaml' : 'json';
        const created = await policies.upload(me(request), request.body, format);
        return reply.status(201).send({ ...created, lint: lintView(created.lint) });
      },
    );
  });

  app.get(
    '/admin/policies',
    {
      schema: {
        querystring: Type.Object(
          {
            hash: Type.Optional(Type.String({ pattern: SHA256_PATTERN })),
            before: Type.Optional(Type.String({ pattern: VERSION })),
            limit: Type.Optional(PageLimit),
          },
          { additionalProperties: false },
        ),
        response: withErrors({
          200: Type.Object(
            {
              active: Type.Union([ActiveView, Type.Null()]),
              /** What this gateway process decides with right now (it follows `active` within a second). */
              loaded: Type.Object(
                { version: Type.Integer(), hash: Type.String(), loaded: Type.Boolean() },
                { additionalProperties: false },
              ),
              items: Type.Array(SummaryView),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const { query } = request;
      const { active, loaded, items } = await policies.list({
        ...givenFilters(query, ['hash']),
        ...(query.before ? { before: Number(query.before) } : {}),
        limit: limitOr(query.limit, 50),
      });
      return {
        active: active ? { ...active, activatedAt: iso(active.activatedAt) } : null,
        loaded,
        items: items.map((v) => summaryView(v, active?.version ?? null)),
      };
    },
  );

  app.get(
    '/admin/policies/:version',
    {
      schema: {
        params: VersionParams,
        response: withErrors({
          200: Type.Object({ ...VersionFields, content: Type.String(), lint: Lint }, { additionalProperties: false }),
        }),
      },
    },
    async (request) => {
      const { record: found, active } = await policies.get(Number(request.params.version));
      return { ...found, createdAt: iso(found.createdAt), active, lint: lintView(found.lint) };
    },
  );

  app.post(
    '/admin/policies/:version/activate',
    {
      schema: {
        params: VersionParams,
        response: withErrors({
          200: Type.Object(
            {
              version: Type.Integer(),
              hash: Type.String(),
              previousVersion: Type.Union([Type.Integer(), Type.Null()]),
              activatedBy: Type.String(),
              activatedAt: Type.String(),
              changed: Type.Boolean(),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const user = me(request);
      const activated = await policies.activate(user, Number(request.params.version));
      logEvent(request.log, 'admin.policy_activated', {
        userId: user.userId,
        version: activated.version,
        hash: activated.hash,
      });
      return { ...activated, activatedAt: iso(activated.activatedAt) };
    },
  );

  app.post(
    '/admin/policies/lint',
    {
      bodyLimit: UPLOAD_BODY_LIMIT * 2,
      schema: {
        body: Type.Object(
          { policy: Type.String({ minLength: 1, maxLength: MAX_POLICY_TEXT_LENGTH }), format: Type.Optional(Format) },
          { additionalProperties: false },
        ),
        response: withErrors({
          200: Type.Object({ hash: Type.String(), lint: Lint }, { additionalProperties: false }),
        }),
      },
    },
    async (request) => {
      const result = await policies.lint(request.body.policy, request.body.format ?? 'yaml');
      return { hash: result.hash, lint: lintView(result.lint) };
    },
  );

  app.post(
    '/admin/policies/dry-run',
    {
      bodyLimit: DRY_RUN_BODY_LIMIT,
      schema: {
        body: DryRunBody,
        response: withErrors({
          200: Type.Object(
            {
              hash: Type.String(),
              lint: Lint,
              /** Single intent: the candidate's decision, and the active set's for comparison. */
              decision: Type.Optional(Decision),
              active: Type.Optional(
                Type.Object({ version: Type.Integer(), decision: Decision }, { additionalProperties: false }),
              ),
              /** Replay: totals and exactly the intents whose decision would change. */
              replay: Type.Optional(
                Type.Object(
                  {
                    totals: Type.Object({
                      evaluated: Type.Integer(),
                      changed: Type.Integer(),
                      unchanged: Type.Integer(),
                      actionChanged: Type.Integer(),
                      ruleChanged: Type.Integer(),
                      byTransition: Type.Record(Type.String(), Type.Integer()),
                    }),
                    changes: Type.Array(
                      Type.Object({
                        intentId: Type.String(),
                        agentId: Type.String(),
                        createdAt: Type.String(),
                        before: Summary,
                        after: Summary,
                      }),
                    ),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        }),
      },
    },
    async (request) => {
      const result = await policies.dryRun(me(request), request.body);
      if ('replay' in result)
        return {
          hash: result.hash,
          lint: lintView(result.lint),
          replay: { totals: result.replay.totals, changes: result.replay.changes.map(changeView) },
        };
      return { ...result, lint: lintView(result.lint) };
    },
  );
};
export default adminPolicies;
