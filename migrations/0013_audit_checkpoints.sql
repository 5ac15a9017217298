-- Signed checkpoints of the audit chain's head (docs/audit.md). Each row is a copy of a checkpoint the signer signed
-- with its own checkpoint key and keeps in its own append-only file: the database writer can neither forge one nor,
-- by deleting rows here, make the signer forget the latest. `pnpm audit:verify` checks the chain against them.
CREATE TABLE audit_checkpoints (
  count       bigint PRIMARY KEY CHECK (count >= 1),   -- rows in audit_log (its highest seq) when it was signed
  head        text NOT NULL CHECK (head ~ '^[0-9a-f]{64}$'),
  signed_at   timestamptz NOT NULL,                    -- the signer's clock
  jws         text NOT NULL,                           -- the checkpoint itself (compact JWS, EdDSA)
  recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only, like audit_log.
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
