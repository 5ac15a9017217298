-- Human approvals: one record per intent that a rule (or the soft breaker) sends to a human, bound to the digest of
-- exactly what will be signed; votes count once per user and only for that digest.
CREATE TABLE approvals (
  id                   uuid PRIMARY KEY,
  intent_id            uuid NOT NULL UNIQUE REFERENCES intents (id),
  digest               text NOT NULL,               -- sha256 of the canonical transaction the approval allows
  status               text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
  required             integer NOT NULL CHECK (required >= 1),
  approvers            jsonb,                       -- user ids or usernames allowed to vote (null: anyone permitted)
  roles                jsonb,                       -- roles allowed to vote (null: any role with approvals:decide)
  excluded_user_id     uuid,                        -- the agent's owner, when the rule excludes them
  channels             jsonb NOT NULL DEFAULT '[]'::jsonb,
  escalation           jsonb,                       -- {channels, timeoutSeconds} or null
  expires_at           timestamptz NOT NULL,
  escalated_at         timestamptz,
  decided_at           timestamptz,
  decided_by           text,
  reason               text,
  created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE status = 'pending';

CREATE TABLE approval_votes (
  approval_id uuid NOT NULL REFERENCES approvals (id),
  user_id     uuid NOT NULL REFERENCES users (id),
  vote        text NOT NULL CHECK (vote IN ('approve', 'reject')),
  digest      text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (approval_id, user_id)
);
