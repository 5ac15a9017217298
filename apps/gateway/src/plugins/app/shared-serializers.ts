import { SerializerSelector, type SerializerFactory, type Serializer } from '@fastify/fast-json-stringify-compiler';

/**
 * Fastify's own response-serializer factory (fast-json-stringify), with one compiled serializer per schema object
 * instead of one per route and status code. Every route answers its 4xx and 5xx with the same `ErrorBody` (which
 * embeds the whole `IntentView`), so Fastify compiled that one schema about 170 times — a 100 KB generated function
 * each, a quarter of the gateway's heap at rest. A serializer depends only on its schema and the factory's options, so
 * routes that share a schema object can share its serializer.
 */
export const buildSharedSerializer: SerializerFactory = (externalSchemas, serializerOpts) => {
  const compile = SerializerSelector()(externalSchemas, serializerOpts);
  const bySchema = new WeakMap<object, Serializer>();
  return (route) => {
    const schema = route.schema;
    if (typeof schema !== 'object' || schema === null) return compile(route);
    let serializer = bySchema.get(schema);
    if (!serializer) {
      serializer = compile(route);
      bySchema.set(schema, serializer);
    }
    return serializer;
  };
};
