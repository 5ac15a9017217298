-- Notifications: channels operators configure (the names policies refer to) and a transactional outbox.

-- A channel's secret (webhook HMAC secret, Slack URL, SMTP password, PagerDuty routing key) is sealed with the
-- gateway's SecretBox (AES-256-GCM, SECRETS_KEY_FILE) and never leaves through the API; secret_hint is what the
-- API shows (its last four characters). settings holds the rest, per kind (see src/notifications/channel-settings.ts).
CREATE TABLE notification_channels (
  name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  kind          text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email', 'pagerduty')),
  settings      jsonb NOT NULL,
  secret_sealed text,
  secret_hint   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The outbox: written in the same transaction as the change it announces; delivered after commit by a dispatcher
-- in any gateway process (rows are claimed with FOR UPDATE SKIP LOCKED). No foreign key to channels: a
-- notification for a channel nobody configured yet is kept, retried, and finally dead-lettered.
-- Claiming counts the attempt and moves next_attempt_at past the delivery's lease, so a row whose process died
-- mid-delivery becomes due again.
CREATE TABLE notification_outbox (
  id               bigserial PRIMARY KEY,
  channel          text NOT NULL,
  event            text NOT NULL,
  subject          text NOT NULL,
  payload          jsonb NOT NULL,
  dedupe_key       text,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer,                       -- null: the dispatcher's NOTIFY_MAX_ATTEMPTS
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  delivered_at     timestamptz,
  last_error_code  text,
  last_error       text,                          -- our own sentence; never an upstream body
  last_http_status integer,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE UNIQUE INDEX notification_outbox_dedupe ON notification_outbox (channel, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX notification_outbox_channel ON notification_outbox (channel, id);
