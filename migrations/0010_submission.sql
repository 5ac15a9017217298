-- Healthy submission (docs/submission.md): the route each intent is broadcast on (public mempool or a private relay),
-- replacements (speed-ups and cancellations at the same nonce) and nonce-gap fillers. (The intents.deadline column
-- comes with 0011_simulation.sql; the submission side reads it.)

ALTER TABLE intents
  ADD COLUMN submit_route  text CHECK (submit_route IN ('public', 'private')),  -- fixed at signing; replacements keep it
  ADD COLUMN replacements  integer NOT NULL DEFAULT 0,  -- speed-ups and cancellations signed for the intent's nonce
  ADD COLUMN cancel_reason text CHECK (cancel_reason IN ('agent', 'operator', 'deadline')); -- a cancellation is out
-- The reconciler asks "which live intent holds nonce n of this address?".
CREATE INDEX intents_nonce_holder ON intents (chain_id, from_address, nonce) WHERE status IN ('signed', 'submitted');

-- Every transaction signed for a nonce: an intent's original, its speed-ups and cancellation, and fillers the nonce
-- reconciler signs for a consumed nonce no live intent holds (intent_id null). Any of them may be the one mined.
CREATE TABLE intent_transactions (
  tx_hash                  text PRIMARY KEY,
  intent_id                uuid REFERENCES intents (id),
  chain_id                 bigint NOT NULL,
  from_address             text NOT NULL,
  nonce                    bigint NOT NULL CHECK (nonce >= 0),
  kind                     text NOT NULL CHECK (kind IN ('original', 'speedup', 'cancel', 'fill')),
  route                    text NOT NULL CHECK (route IN ('public', 'private')),
  max_fee_per_gas          numeric(78, 0) NOT NULL,
  max_priority_fee_per_gas numeric(78, 0) NOT NULL,
  raw_tx                   text NOT NULL,
  actor                    text NOT NULL,
  created_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX intent_transactions_intent ON intent_transactions (intent_id, created_at) WHERE intent_id IS NOT NULL;
CREATE INDEX intent_transactions_nonce ON intent_transactions (chain_id, from_address, nonce);
