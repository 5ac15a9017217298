-- Where an intent came from (docs/mcp.md, docs/policy.md `origin`): the surface (`rest`, `rpc`, `mcp`, `x402`), the
-- MCP tool that started it and the client's self-declared name. One jsonb object, written with the intent in the
-- same statement and never changed; NULL for intents recorded before this migration.
ALTER TABLE intents ADD COLUMN origin jsonb
  CHECK (origin IS NULL OR (
    jsonb_typeof(origin) = 'object'
    AND origin->>'channel' IN ('rest', 'rpc', 'mcp', 'x402')
    AND (origin->'tool' IS NULL OR jsonb_typeof(origin->'tool') IN ('string', 'null'))
    AND (origin->'client' IS NULL OR jsonb_typeof(origin->'client') IN ('string', 'null'))
  ));
