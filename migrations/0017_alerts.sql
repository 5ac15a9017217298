-- Alerts that reach people (docs/incidents.md): a severity scale for routing, a stable kind and a subject for
-- deduplication, routing and digest bookkeeping, and the operator's acknowledgement and resolution.

ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_severity_check;
UPDATE alerts SET severity = CASE severity WHEN 'warning' THEN 'high' WHEN 'info' THEN 'low' ELSE severity END;
ALTER TABLE alerts ADD CONSTRAINT alerts_severity_check CHECK (severity IN ('critical', 'high', 'medium', 'low'));

-- What the alert is about (`agent:<uuid>`, `chain:1`, `ip:203.0.113.7`): with `kind`, the deduplication key.
ALTER TABLE alerts ADD COLUMN subject text NOT NULL DEFAULT '';
-- One sentence for people (the notification's headline).
ALTER TABLE alerts ADD COLUMN summary text NOT NULL DEFAULT '';
-- open → acknowledged → resolved (or open → resolved).
ALTER TABLE alerts ADD COLUMN status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved'));
-- Raised again within the deduplication window: folded into the first (occurrences, last_at), never sent again.
ALTER TABLE alerts ADD COLUMN occurrences integer NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE alerts ADD COLUMN duplicate_of bigint REFERENCES alerts (id);
-- Set when the router has enqueued its notifications (or folded it into an earlier alert).
ALTER TABLE alerts ADD COLUMN routed_at timestamptz;
ALTER TABLE alerts ADD COLUMN channels text[] NOT NULL DEFAULT '{}';
-- Medium alerts wait for the digest; set when a digest carried it.
ALTER TABLE alerts ADD COLUMN digested_at timestamptz;
ALTER TABLE alerts ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE alerts ADD COLUMN acknowledged_by text;
ALTER TABLE alerts ADD COLUMN resolved_at timestamptz;
ALTER TABLE alerts ADD COLUMN resolved_by text;

-- Rows written before this migration were never delivered: mark them routed so the router does not page for history.
UPDATE alerts SET routed_at = now(), digested_at = now(), last_at = at;

CREATE INDEX alerts_unrouted ON alerts (id) WHERE routed_at IS NULL;
CREATE INDEX alerts_dedupe ON alerts (kind, subject, at DESC) WHERE duplicate_of IS NULL;
CREATE INDEX alerts_page ON alerts (id DESC) WHERE duplicate_of IS NULL;
CREATE INDEX alerts_digest ON alerts (at) WHERE severity = 'medium' AND digested_at IS NULL AND duplicate_of IS NULL;

-- The alert watch's queries: recent failures, recent payments by recipient, recent fees by chain.
CREATE INDEX intents_failed_recent ON intents (updated_at) WHERE status = 'failed';
CREATE INDEX intents_recipient_paid ON intents (chain_id, recipient, created_at)
  WHERE status IN ('signed', 'submitted', 'confirmed');
CREATE INDEX intents_chain_fees ON intents (chain_id, created_at DESC) WHERE max_fee_per_gas IS NOT NULL;
CREATE INDEX intents_created_page ON intents (created_at DESC, id DESC);

-- The operator's audit reads: by subject, actor and action, newest first.
CREATE INDEX IF NOT EXISTS audit_log_actor_seq ON audit_log (actor, seq DESC);
CREATE INDEX IF NOT EXISTS audit_log_action_seq ON audit_log (action, seq DESC);
