-- Agent input hygiene (docs/intent-hygiene.md): intents refused for prompt injection, leaked secrets or canary tokens
-- are counted per API key. 3 hits within an hour quarantine the key for an hour; 10 within 24 hours revoke it (with
-- a reason) and raise a critical alert. The matched text is never stored: only the category and when.

-- One row per API key that ever had a hit. `hits` holds the times of the hits of the last 24 hours, oldest first;
-- every hit rewrites the row under its row lock, so concurrent hits from any number of processes are counted in
-- order and each sees the exact count including itself (key-quarantine-repository.ts).
CREATE TABLE api_key_hygiene (
  api_key_id        uuid PRIMARY KEY REFERENCES api_keys (id),
  agent_id          uuid NOT NULL REFERENCES agents (id),
  hits              timestamptz[] NOT NULL,
  total_hits        bigint NOT NULL,
  last_category     text NOT NULL CHECK (last_category IN ('injection', 'secret', 'canary')),
  last_hit_at       timestamptz NOT NULL,
  quarantined_until timestamptz
);
-- Operators' view: keys in quarantine now.
CREATE INDEX api_key_hygiene_quarantined ON api_key_hygiene (quarantined_until) WHERE quarantined_until IS NOT NULL;

-- Why a key was revoked (e.g. 'intent_hygiene'); null for revocations that predate this column or give no reason.
ALTER TABLE api_keys ADD COLUMN revoked_reason text;
