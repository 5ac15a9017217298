import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { evaluate, MAX_POLICY_TEXT_LENGTH, type PolicyFormat } from '@clawd402/policy';
import { Clawd402Error, ContractCallIntentBody, Decision, ErrorBody, TransferIntentBody, type IntentBody, type TransactionIntentBody } from '@clawd402/protocol';
import { withTransaction } from '../../db/pool.ts';
import { normalizeIntent } from '../../pipeline/normalize.ts';
import { compilePolicy } from '../../policy/policy-store.ts';
import { MAX_REPLAY_INTENTS, factsOf, replayDecisions, type DecisionChange } from '../../policy/replay.ts';
import { appendAudit } from '../../repositories/audit-repository.ts';
import { agentScope, readSpend } from '../../repositories/spend-repository.ts';
import {
  activatePolicyVersion,
  agentExists,
  findActivePolicy,
  findPolicyVersion,
  insertPolicyVersion,
  listPolicyVersions,
  recentDecidedIntents,
  type PolicyVersionSummary,
} from '../../repositories/policies-repository.ts';
import { me } from './users.ts';

const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASH = '^sha256:[0-9a-f]{64}$';
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
const SummaryView = Type.Object(
  {
    version: Type.Integer(),
    hash: Type.String(),
    format: Format,
    author: Type.String(),
    createdAt: Type.String(),
    active: Type.Boolean(),
    lint: Type.Object({ errors: Type.Integer(), warnings: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
const Summary = Type.Object({ action: Type.String(), policy: Type.Union([Type.String(), Type.Null()]), policySetHash: Type.String(), reasons: Type.Array(Type.String()) });

/** An intent body exactly as POST /v1/intents takes it, plus the agent it would come from. */
const withAgent = (schema: typeof TransferIntentBody | typeof ContractCallIntentBody) => ({
  ...schema,
  properties: { ...schema.properties, agentId: { type: 'string', pattern: UUID.source } },
  required: [...(schema.required ?? []), 'agentId'],
});
const DryRunBody = {
  type: 'object',
  additionalProperties: false,
  required: ['policy'],
  properties: {
    policy: { type: 'string', minLength: 1 },
    format: { type: 'string', enum: ['yaml', 'json'] },
    intent: { type: 'object', discriminator: { propertyName: 'type' }, required: ['type'], oneOf: [withAgent(TransferIntentBody), withAgent(ContractCallIntentBody)] },
    replay: {
      type: 'object',
      additionalProperties: false,
      required: ['last'],
      properties: { last: { type: 'integer', minimum: 1, maximum: MAX_REPLAY_INTENTS } },
    },
  },
  oneOf: [{ required: ['intent'] }, { required: ['replay'] }],
};

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
const changeView = (c: DecisionChange) => ({ intentId: c.intentId, agentId: c.agentId, createdAt: iso(c.createdAt), before: c.before, after: c.after });

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * /admin/policies: policy sets as numbered, immutable versions in Postgres (see docs/policy-lifecycle.md). Upload
 * (YAML or JSON) → lint → activate; activation reaches every gateway process within a second. A dry-run decides one
 * intent, or replays the last N stored intents, with a candidate set, and writes nothing but its audit record.
 */
const adminPolicies: FastifyPluginAsync = async (app) => {
  const { pool, chains, prices, verifiedContracts } = app.services;
  const store = () => app.services.policyStore;

  // Uploads take the text itself. The parsers are registered in this child context only: the rest of the app stays
  // JSON-only (app.ts removes text/plain on purpose), and JSON is read as text so the stored content is what was sent.
  await app.register(async (upload) => {
    upload.removeContentTypeParser('application/json');
    upload.addContentTypeParser([...YAML_TYPES, 'application/json'], { parseAs: 'string', bodyLimit: UPLOAD_BODY_LIMIT }, (_request, body, done) => done(null, body));
    upload.addContentTypeParser('*', (_request, _payload, done) =>
      done(new Clawd402Error('unsupported_media_type', `Send the policy set as ${[...YAML_TYPES, 'application/json'].join(', ')}.`), undefined),
    );

    upload.post(
      '/admin/policies',
      {
        config: { permission: 'policies:write' },
        bodyLimit: UPLOAD_BODY_LIMIT,
        schema: {
          body: Type.String({ minLength: 1, maxLength: MAX_POLICY_TEXT_LENGTH }),
          response: {
            201: Type.Object({ version: Type.Integer(), hash: Type.String(), lint: Lint }, { additionalProperties: false }),
            '4xx': ErrorBody,
            '5xx': ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const actor = me(request);
        const format: PolicyFormat = YAML_TYPES.includes(mediaType(request.headers['content-type'])) ? 'yaml' : 'json';
        const content = request.body as string;
        const set = compilePolicy(content, format);
        const lint = await store().lint(set);
        const created = await withTransaction(pool, async (client) => {
          const version = await insertPolicyVersion(client, { content, format, hash: set.hash, author: actor.userId, lint });
          await appendAudit(client, {
            actor: `user:${actor.userId}`,
            action: 'policy.created',
            subject: `policy:${version.version}`,
            data: { version: version.version, hash: set.hash, format, lintErrors: lint.errors.length, lintWarnings: lint.warnings.length },
          });
          return version;
        });
        return reply.status(201).send({ version: created.version, hash: created.hash, lint });
      },
    );
  });

  app.get(
    '/admin/policies',
    {
      config: { permission: 'policies:read' },
      schema: {
        querystring: Type.Object(
          {
            hash: Type.Optional(Type.String({ pattern: HASH })),
            before: Type.Optional(Type.String({ pattern: VERSION })),
            limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|100)$' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              active: Type.Union([ActiveView, Type.Null()]),
              /** What this gateway process decides with right now (it follows `active` within a second). */
              loaded: Type.Object({ version: Type.Integer(), hash: Type.String(), loaded: Type.Boolean() }, { additionalProperties: false }),
              items: Type.Array(SummaryView),
            },
            { additionalProperties: false },
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const query = request.query as { hash?: string; before?: string; limit?: string };
      const [active, items] = await Promise.all([
        findActivePolicy(pool),
        listPolicyVersions(pool, {
          ...(query.hash ? { hash: query.hash } : {}),
          ...(query.before ? { before: Number(query.before) } : {}),
          limit: query.limit ? Number(query.limit) : 50,
        }),
      ]);
      return {
        active: active ? { ...active, activatedAt: iso(active.activatedAt) } : null,
        loaded: store().active(),
        items: items.map((v) => summaryView(v, active?.version ?? null)),
      };
    },
  );

  app.get(
    '/admin/policies/:version',
    {
      config: { permission: 'policies:read' },
      schema: {
        params: VersionParams,
        response: {
          200: Type.Object(
            {
              version: Type.Integer(),
              hash: Type.String(),
              format: Format,
              author: Type.String(),
              createdAt: Type.String(),
              active: Type.Boolean(),
              content: Type.String(),
              lint: Lint,
            },
            { additionalProperties: false },
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const version = Number((request.params as { version: string }).version);
      const [found, active] = await Promise.all([findPolicyVersion(pool, version), findActivePolicy(pool)]);
      if (!found) throw new Clawd402Error('not_found', 'No such policy version.');
      return { ...found, createdAt: iso(found.createdAt), active: active?.version === found.version, lint: { errors: [...found.lint.errors], warnings: [...found.lint.warnings] } };
    },
  );

  app.post(
    '/admin/policies/:version/activate',
    {
      config: { permission: 'policies:activate' },
      schema: {
        params: VersionParams,
        response: {
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
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const actor = me(request);
      const version = Number((request.params as { version: string }).version);
      const found = await findPolicyVersion(pool, version);
      if (!found) throw new Clawd402Error('not_found', 'No such policy version.');
      // This build must be able to decide with it (fail closed otherwise), and it must lint clean both as stored and
      // against the installation as it is now (a notification channel may have gone since the upload).
      const set = compilePolicy(found.content, found.format);
      const now = await store().lint(set);
      const errors = now.errors.length > 0 ? now.errors : found.lint.errors;
      if (errors.length > 0) {
        throw new Clawd402Error('policy_lint_errors', `Version ${version} has ${errors.length} lint error(s) and cannot be activated.`, {
          details: { version, errors },
        });
      }
      const current = await findActivePolicy(pool);
      if (current?.version === version) {
        return { version, hash: found.hash, previousVersion: version, activatedBy: current.activatedBy, activatedAt: iso(current.activatedAt), changed: false };
      }
      const activated = await withTransaction(pool, async (client) => {
        const result = await activatePolicyVersion(client, version, actor.userId);
        await appendAudit(client, {
          actor: `user:${actor.userId}`,
          action: 'policy.activated',
          subject: `policy:${version}`,
          data: { version, hash: found.hash, previousVersion: result.previous },
        });
        return result;
      });
      // This process switches now; the others on the NOTIFY (or their next poll).
      await store().refresh();
      return { version, hash: found.hash, previousVersion: activated.previous, activatedBy: actor.userId, activatedAt: iso(activated.activatedAt), changed: true };
    },
  );

  app.post(
    '/admin/policies/dry-run',
    {
      config: { permission: 'policies:write' },
      bodyLimit: DRY_RUN_BODY_LIMIT,
      schema: {
        body: DryRunBody,
        response: {
          200: Type.Object(
            {
              hash: Type.String(),
              lint: Lint,
              /** Single intent: the candidate's decision, and the active set's for comparison. */
              decision: Type.Optional(Decision),
              active: Type.Optional(Type.Object({ version: Type.Integer(), decision: Decision }, { additionalProperties: false })),
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
                      Type.Object({ intentId: Type.String(), agentId: Type.String(), createdAt: Type.String(), before: Summary, after: Summary }),
                    ),
                  },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => {
      const actor = me(request);
      const body = request.body as { policy: string; format?: PolicyFormat; intent?: IntentBody & { agentId: string }; replay?: { last: number } };
      const candidate = compilePolicy(body.policy, body.format ?? 'yaml');
      const lint = await store().lint(candidate);
      const audit = (data: Record<string, unknown>) =>
        appendAudit(pool, { actor: `user:${actor.userId}`, action: 'policy.dry_run', subject: null, data: { hash: candidate.hash, ...data } });

      if (body.intent) {
        const { agentId, ...intent } = body.intent;
        if (!(await agentExists(pool, agentId))) throw new Clawd402Error('not_found', 'No such agent.', { details: { field: 'intent.agentId' } });
        const normalized = await normalizeIntent(intent as TransactionIntentBody, chains);
        // The facts a live decision would have now: price, the agent's spend so far, contract verification.
        const [value, verified, spend] = await Promise.all([
          prices.value(normalized.chainId, normalized.asset, normalized.amount, normalized.decimals),
          verifiedContracts.facts(normalized),
          readSpend(pool, [agentScope(agentId)]),
        ]);
        const agentSpend = spend.get(agentScope(agentId));
        const facts = factsOf({ ...normalized, agentId, data: normalized.data, at: Date.now() }, {
          priceStatus: value.status,
          ...(value.status === 'ok' ? { valueUsd: value.usd } : {}),
          ...(agentSpend ? { spend: { dayUsd: agentSpend.dayUsd, hourUsd: agentSpend.hourUsd, dayCount: agentSpend.dayCount, hourCount: agentSpend.hourCount } } : {}),
          ...verified,
        });
        const decision = evaluate(candidate, facts);
        const loaded = store().active();
        const activeDecision = evaluate(store().current(), facts);
        await audit({ mode: 'intent', agentId, action: decision.action, policy: decision.policy });
        return { hash: candidate.hash, lint, decision, active: { version: loaded.version, decision: activeDecision } };
      }

      const last = body.replay!.last;
      const result = replayDecisions(candidate, await recentDecidedIntents(pool, last));
      await audit({ mode: 'replay', last, evaluated: result.totals.evaluated, changed: result.totals.changed });
      return { hash: candidate.hash, lint, replay: { totals: result.totals, changes: result.changes.map(changeView) } };
    },
  );
};
export default adminPolicies;
