-- Money safety: asset registry with price sources, spend accounting in minute buckets, scope limits and breakers.

-- Assets the gateway can value, per chain. `asset` is 'native' or the checksummed token address.
-- price_source: {"kind":"static","usd":"2000","maxAgeSeconds":null} or
--               {"kind":"chainlink","aggregator":"0x…","maxAgeSeconds":3600}
CREATE TABLE assets (
  chain_id     bigint NOT NULL,
  asset        text NOT NULL,
  symbol       text NOT NULL,
  decimals     integer NOT NULL CHECK (decimals BETWEEN 0 AND 77),
  price_source jsonb NOT NULL,
  updated_by   text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, asset)
);

-- One row per spend scope ('global', 'agent:<uuid>', 'key:<uuid>'): its limits, breaker thresholds (null: the
-- configured defaults) and breaker latch. Decisions lock the rows of their scopes (FOR UPDATE) so that checking and
-- reserving a budget is one critical section, across processes.
CREATE TABLE spend_scopes (
  scope                   text PRIMARY KEY,
  limit_day_micros        bigint CHECK (limit_day_micros >= 0),
  limit_hour_micros       bigint CHECK (limit_hour_micros >= 0),
  breaker_warning_micros  bigint,
  breaker_soft_micros     bigint,
  breaker_hard_micros     bigint,
  breaker_emergency_micros bigint,
  breaker_level           text NOT NULL DEFAULT 'normal' CHECK (breaker_level IN ('normal', 'warning', 'soft', 'hard', 'emergency')),
  breaker_latched_at      timestamptz,              -- emergency reached; nothing is signed until an owner resets it
  breaker_reset_at        timestamptz,              -- last owner reset: spend before it no longer counts for breakers
  breaker_reset_minute    timestamptz,
  breaker_offset_micros   bigint NOT NULL DEFAULT 0, -- in-window spend at or before the reset minute, at reset time
  updated_at              timestamptz NOT NULL DEFAULT now()
);
INSERT INTO spend_scopes (scope) VALUES ('global');

-- Spend per scope per minute (micro-USD, 1 USD = 1,000,000). A bucket counts toward a rolling window while any part
-- of its minute is inside the window, so the windows err on the side of counting (by under a minute).
-- The global scope is written in shards (by agent) so that agents do not queue on one row; agent and key scopes use
-- shard 0.
CREATE TABLE spend_buckets (
  scope      text NOT NULL,
  minute     timestamptz NOT NULL,
  shard      smallint NOT NULL DEFAULT 0,
  usd_micros bigint NOT NULL DEFAULT 0,
  count      integer NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, minute, shard)
);

-- Each intent's valuation and reservation. spend_state: reserved (at decision) → committed (signed) → settled
-- (trued up from the receipt); released when it dies before broadcast (its amount then counts 0).
ALTER TABLE intents
  ADD COLUMN value_usd_micros bigint,
  ADD COLUMN fee_usd_micros   bigint,
  ADD COLUMN spend_usd_micros bigint,
  ADD COLUMN spend_minute     timestamptz,
  ADD COLUMN spend_state      text CHECK (spend_state IN ('reserved', 'committed', 'settled', 'released')),
  ADD COLUMN valuation        jsonb;
CREATE INDEX intents_spend_open ON intents (spend_state) WHERE spend_state IN ('reserved', 'committed');

-- Contracts operators have verified, per chain: the `contract_verified` policy condition reads this registry.
CREATE TABLE verified_contracts (
  chain_id   bigint NOT NULL,
  address    text NOT NULL,                      -- checksummed
  label      text NOT NULL,
  added_by   text NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, address)
);
