-- Identity: human sessions with rotating refresh tokens, login failures and IP blocks, alerts, API key scopes.

-- A session is one login. It lives at most `expires_at` (absolute) and ends after 15 minutes without use (sliding,
-- from last_seen_at); logout, password change or eviction (a 4th login) set revoked_at.
CREATE TABLE sessions (
  id            uuid PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES users (id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoked_reason text,
  ip            text NOT NULL,
  user_agent    text
);
CREATE INDEX sessions_user_active ON sessions (user_id, created_at) WHERE revoked_at IS NULL;

-- Refresh tokens rotate: each works once. Presenting one that was already used means it leaked: the whole family
-- (the session) is revoked. Only a sha256 of the token is stored (it is 256 bits of randomness; no slow hash needed).
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions (id),
  token_hash  text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed authentication, by IP (never the secret), for brute-force detection and forensics.
CREATE TABLE auth_failures (
  id      bigserial PRIMARY KEY,
  ip      text NOT NULL,
  at      timestamptz NOT NULL DEFAULT now(),
  kind    text NOT NULL,            -- 'login', 'api_key', 'refresh'
  reason  text NOT NULL,
  subject text                      -- username tried, or API key id; never a password or key
);
CREATE INDEX auth_failures_ip_at ON auth_failures (ip, at);

CREATE TABLE ip_blocks (
  ip         text PRIMARY KEY,
  blocked_at timestamptz NOT NULL DEFAULT now(),
  until      timestamptz NOT NULL,
  reason     text NOT NULL
);

-- Alerts for operators (notification delivery comes with the approvals issue's outbox).
CREATE TABLE alerts (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  kind       text NOT NULL,
  severity   text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);

ALTER TABLE users ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users ADD COLUMN disabled_reason text;

-- API keys: scopes (which chains and intent types a key may use; null = any), a label, and rotation bookkeeping.
-- Rotation issues a new key and keeps the old one valid until expires_at (the overlap window).
ALTER TABLE api_keys ADD COLUMN label text;
ALTER TABLE api_keys ADD COLUMN scope_chains bigint[];
ALTER TABLE api_keys ADD COLUMN scope_types text[];
ALTER TABLE api_keys ADD COLUMN replaced_by uuid REFERENCES api_keys (id);
ALTER TABLE agents ADD COLUMN disabled_reason text;
