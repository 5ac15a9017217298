-- Clawd402 initial schema: principals, intents and their history, nonces, and the hash-chained audit log.
-- Amounts are stored in base units (wei, token units) as numeric(78,0): exact, never floating point.

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  password_hash text NOT NULL,                       -- argon2id
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'approver', 'viewer')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz
);

CREATE TABLE agents (
  id             uuid PRIMARY KEY,
  name           text NOT NULL UNIQUE,
  owner_user_id  uuid REFERENCES users (id),
  signer_address text NOT NULL,                      -- checksummed address of the signer key this agent uses
  created_at     timestamptz NOT NULL DEFAULT now(),
  disabled_at    timestamptz
);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  key_id       text NOT NULL UNIQUE,                 -- non-secret lookup prefix, part of the presented key
  agent_id     uuid NOT NULL REFERENCES agents (id),
  secret_hash  text NOT NULL,                        -- argon2id of the secret part
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  expires_at   timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_agent ON api_keys (agent_id);

CREATE TABLE intents (
  id                  uuid PRIMARY KEY,
  agent_id            uuid NOT NULL REFERENCES agents (id),
  api_key_id          uuid REFERENCES api_keys (id),
  idempotency_key     text,
  request_hash        text NOT NULL,                 -- sha256 of the canonical request body
  status              text NOT NULL CHECK (status IN ('received', 'rejected', 'pending_approval', 'approved', 'signed',
                        'submitted', 'confirmed', 'failed', 'dropped', 'replaced', 'cancelled', 'expired')),
  type                text NOT NULL CHECK (type IN ('transfer', 'contract_call')),
  chain_id            bigint NOT NULL,
  from_address        text,
  to_address          text NOT NULL,                 -- the transaction's `to` (token contract for ERC-20 transfers)
  recipient           text NOT NULL,                 -- effective recipient of value
  asset               text NOT NULL,                 -- 'native' or token address
  amount              numeric(78, 0) NOT NULL CHECK (amount >= 0),
  decimals            integer NOT NULL,
  data                text,
  memo                text,
  decision            jsonb,
  nonce               bigint,
  tx_hash             text,
  raw_tx              text,                          -- signed transaction, kept until it is mined (rebroadcast)
  gas_limit           numeric(78, 0),
  max_fee_per_gas     numeric(78, 0),
  block_number        bigint,
  gas_used            numeric(78, 0),
  effective_gas_price numeric(78, 0),
  error_code          text,
  error_message       text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (agent_id, idempotency_key)
);
CREATE INDEX intents_agent_page ON intents (agent_id, created_at DESC, id DESC);
CREATE INDEX intents_agent_status_page ON intents (agent_id, status, created_at DESC, id DESC);
CREATE INDEX intents_in_flight ON intents (chain_id, updated_at) WHERE status IN ('signed', 'submitted');
CREATE UNIQUE INDEX intents_tx_hash ON intents (tx_hash) WHERE tx_hash IS NOT NULL;

CREATE TABLE intent_events (
  id          bigserial PRIMARY KEY,
  intent_id   uuid NOT NULL REFERENCES intents (id),
  from_status text,
  to_status   text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX intent_events_intent ON intent_events (intent_id, id);

-- Next nonce per (chain, address). A row is locked FOR UPDATE from allocation until the signed transaction is
-- stored, so a nonce is consumed only together with the transaction that uses it: no duplicates, no gaps.
CREATE TABLE nonces (
  chain_id   bigint NOT NULL,
  address    text NOT NULL,
  next_nonce bigint NOT NULL CHECK (next_nonce >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, address)
);

-- Append-only, hash-chained audit log. `record` is the canonical JSON (RFC 8785) of {at, actor, action, subject,
-- data}; hash = sha256(prev_hash || record) in hex. The other columns are copies for querying; verification checks
-- they match the record. UPDATE, DELETE and TRUNCATE are refused by triggers.
CREATE TABLE audit_log (
  seq       bigint PRIMARY KEY,
  at        timestamptz NOT NULL,
  actor     text NOT NULL,
  action    text NOT NULL,
  subject   text,
  record    text NOT NULL,
  prev_hash text NOT NULL,
  hash      text NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Appending is split in two so the chain lock is held only inside COMMIT, never across a client round trip:
-- audit_append() queues the record in audit_pending (no lock); a deferred constraint trigger moves each queued
-- record into audit_log when the transaction commits, taking the chain lock, linking the hash and assigning seq.
-- The record therefore commits (or rolls back) with the state change it describes, and a failure to chain it fails
-- the COMMIT: the state change does not happen.
CREATE TABLE audit_pending (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL,
  actor   text NOT NULL,
  action  text NOT NULL,
  subject text,
  record  text NOT NULL
);

CREATE FUNCTION audit_append(p_at timestamptz, p_actor text, p_action text, p_subject text, p_record text)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO audit_pending (at, actor, action, subject, record) VALUES (p_at, p_actor, p_action, p_subject, p_record);
$$;

CREATE FUNCTION audit_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_prev_seq  bigint;
  v_prev_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock(402402001);
  SELECT seq, hash INTO v_prev_seq, v_prev_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
  v_prev_seq := coalesce(v_prev_seq, 0);
  v_prev_hash := coalesce(v_prev_hash, repeat('0', 64));
  INSERT INTO audit_log (seq, at, actor, action, subject, record, prev_hash, hash)
  VALUES (v_prev_seq + 1, NEW.at, NEW.actor, NEW.action, NEW.subject, NEW.record, v_prev_hash,
          encode(sha256(convert_to(v_prev_hash || NEW.record, 'UTF8')), 'hex'));
  DELETE FROM audit_pending WHERE id = NEW.id;
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER audit_pending_chain AFTER INSERT ON audit_pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain_pending();
