import Type from 'typebox';
import { INTENT_CHANNELS } from '@clawd402/protocol';
import { defineCondition } from '../condition.ts';
import { IdOrListSchema, stringSet } from './string-set.ts';

const Channel = Type.Union(INTENT_CHANNELS.map((c) => Type.Literal(c)));

/**
 * `origin`: the intent came through the given surface(s) and, when `tool` is given, was started by one of the named
 * MCP tools (an intent from another surface has no tool, so it does not match). Unknown when the origin is not known
 * (a replayed intent recorded before origins were kept).
 */
export const originCondition = defineCondition({
  key: 'origin',
  description:
    'Holds when the intent arrived through the given channel(s) (rest, rpc, mcp, x402) and, if tool is given, an MCP tool of that name started it.',
  expects: `a mapping with channel (${INTENT_CHANNELS.join(', ')}, or a list) and/or tool (a name or a list)`,
  facts: ['origin'],
  schema: Type.Object(
    {
      channel: Type.Optional(
        Type.Union([Channel, Type.Array(Channel, { minItems: 1, maxItems: INTENT_CHANNELS.length * 4 })]),
      ),
      tool: Type.Optional(IdOrListSchema),
    },
    { additionalProperties: false, minProperties: 1 },
  ),
  compile(value) {
    const channels = value.channel === undefined ? null : stringSet(value.channel);
    const tools = value.tool === undefined ? null : stringSet(value.tool);
    return (facts) => {
      const origin = facts.origin;
      if (typeof origin !== 'object' || origin === null || typeof origin.channel !== 'string') return 'unknown';
      if (channels !== null && !channels.has(origin.channel)) return false;
      if (tools !== null && (typeof origin.tool !== 'string' || !tools.has(origin.tool))) return false;
      return true;
    };
  },
});
