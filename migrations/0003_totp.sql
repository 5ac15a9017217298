-- TOTP second factor (RFC 6238). Secrets are sealed with AES-256-GCM under SECRETS_KEY_FILE before they reach the
-- database. totp_last_step remembers the last accepted time step, so a code works at most once.
ALTER TABLE users ADD COLUMN totp_secret_sealed text;
ALTER TABLE users ADD COLUMN totp_pending_sealed text;
ALTER TABLE users ADD COLUMN totp_enabled_at timestamptz;
ALTER TABLE users ADD COLUMN totp_last_step bigint;
