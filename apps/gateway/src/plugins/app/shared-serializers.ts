import { SerializerSelector, type SerializerFactory, type Serializer } from '@fastify/fast-json-stringify-compiler';

/**
 * Serializers already compiled, per factory setting (the shared schemas and serializer options a context was built
 * with, as JSON) and then per schema object. Fastify asks for a factory per encapsulated plugin (29 in the gateway),
 * and they all share these: the settings are the same for all of them.
 */
const compiled = new Map<string, WeakMap<object, Serializer>>();

/**
 * Fastify's own response-serializer factory (fast-json-stringify), with one compiled serializer per schema object
 * instead of one per route and status code, and per plugin context. Every route answers its 4xx and 5xx with the same
 * `ErrorBody` (which embeds the whole `IntentView`), so Fastify compiled that one schema about 170 times — a 100 KB
 * generated function each, a quarter of the gateway's heap at rest — and, once shared within a context, still once
 * per plugin context (25 times). A serializer depends only on its schema, the shared schemas and the serializer
 * options, so routes that share a schema object under the same settings share its serializer. Options that hold
 * functions cannot be compared as JSON: a factory given any options keeps a cache of its own.
 */
export const buildSharedSerializer: SerializerFactory = (externalSchemas, serializerOpts) => {
  const compile = SerializerSelector()(externalSchemas, serializerOpts);
  const setting = serializerOpts === undefined ? JSON.stringify(externalSchemas ?? {}) : null;
  let bySchema = setting === null ? undefined : compiled.get(setting);
  if (!bySchema) {
    bySchema = new WeakMap<object, Serializer>();
    if (setting !== null) compiled.set(setting, bySchema);
  }
  const cache = bySchema;
  return (route) => {
    const schema = route.schema;
    if (typeof schema !== 'object' || schema === null) return compile(route);
    let serializer = cache.get(schema);
    if (!serializer) {
      serializer = compile(route);
      cache.set(schema, serializer);
    }
    return serializer;
  };
};
