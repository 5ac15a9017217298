import Type, { type TSchema } from 'typebox';
import { NotificationSchema, QuorumSchema } from './approval.ts';
import { POLICY_ACTIONS } from './condition.ts';
import { CONDITIONS } from './conditions/registry.ts';
import { MAX_POLICY_RULES, MAX_RULE_DESCRIPTION_LENGTH, MAX_RULE_NAME_LENGTH } from './load-policy-set.ts';
import { AddressListsSchema } from './named-address-lists.ts';

/**
 * The policy document as a typebox schema, built from the same schemas the loader checks (each condition's
 * `schema`, `notification`, `quorum`, `address_lists`). It describes shapes only: the loader is the authority and
 * adds what JSON Schema cannot say (EIP-55 checksums, exact decimals, `@list` references, signatures that parse).
 */
export function policyDocumentSchema(): TSchema {
  const conditions: Record<string, TSchema> = {};
  for (const condition of CONDITIONS) {
    conditions[condition.key] = Type.Optional({ ...condition.schema, description: condition.description });
  }
  const rule = Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: MAX_RULE_NAME_LENGTH }),
      description: Type.Optional(Type.String({ maxLength: MAX_RULE_DESCRIPTION_LENGTH })),
      conditions: Type.Object(conditions, {
        additionalProperties: false,
        description: 'All must hold (AND); {} matches every intent.',
      }),
      action: Type.Union(POLICY_ACTIONS.map((a) => Type.Literal(a))),
      notification: Type.Optional({ ...NotificationSchema, description: 'Only with action require_human_approval.' }),
      quorum: Type.Optional({
        ...QuorumSchema,
        description: 'Only with action require_human_approval; default 1 of anyone with the approve permission.',
      }),
    },
    { additionalProperties: false },
  );
  return Type.Object(
    {
      policies: Type.Array(rule, {
        maxItems: MAX_POLICY_RULES,
        description: 'Rules in order; the first whose conditions all hold decides.',
      }),
      address_lists: Type.Optional({
        ...AddressListsSchema,
        description: 'Named address lists, referenced as "@name".',
      }),
    },
    { additionalProperties: false },
  );
}

/** The published JSON Schema (draft 2020-12) of a policy document: what `gen:schema` writes to policy.schema.json. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Clawd402 policy set',
    description:
      'Generated from packages/policy (pnpm --filter @clawd402/policy gen:schema); do not edit. Shapes only: loadPolicySet() is the authority.',
    // typebox's own markers ("~optional", "~kind") are not JSON Schema; drop them.
    ...(JSON.parse(
      JSON.stringify(policyDocumentSchema(), (key, value: unknown) => (key.startsWith('~') ? undefined : value)),
    ) as Record<string, unknown>),
  };
}

/** The exact text of policy.schema.json: {@link policyJsonSchema} as JSON, two-space indent, final newline. */
export function policySchemaText(): string {
  return `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
}
