-- Decoded facts, simulation and swaps (docs/simulation.md, docs/swaps.md).

-- Swaps are intents of their own kind. The check lists every kind the policy language knows (TRANSACTION_TYPES in
-- packages/policy/src/facts.ts), so later kinds need no further change to this constraint.
ALTER TABLE intents DROP CONSTRAINT IF EXISTS intents_type_check;
ALTER TABLE intents ADD CONSTRAINT intents_type_check
  CHECK (type IN ('transfer', 'contract_call', 'approve', 'swap', 'typed_data', 'message', 'x402_payment'));

ALTER TABLE intents
  ADD COLUMN simulation jsonb,        -- what simulating the transaction showed before the decision (SimulationView)
  ADD COLUMN swap       jsonb,        -- swaps: router, path, quote, reference, minimum output, deadline (SwapView)
  ADD COLUMN deadline   timestamptz;  -- the intent's `deadline` (a swap's is also passed on chain); after it nothing is
                                      -- signed (signing lanes), resubmitted (0010_submission.sql) or left pending

-- The deadline sweeper (swaps/deadline-sweeper.ts) expires intents still pending a human after their deadline.
CREATE INDEX intents_deadline_pending ON intents (deadline) WHERE deadline IS NOT NULL AND status = 'pending_approval';
