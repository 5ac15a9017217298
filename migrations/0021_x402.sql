-- x402 payments (docs/x402.md): intents of type 'x402_payment' (already allowed by 0012) end `signed` with an
-- EIP-3009 authorisation; the x402 settlement sweep moves them to `confirmed` when the transfer is seen on chain
-- (authorizationState) or `expired` when the authorisation's window ends unused. They keep their signature.
ALTER TABLE intents DROP CONSTRAINT IF EXISTS intents_signature_is_signed;
ALTER TABLE intents ADD CONSTRAINT intents_signature_is_signed CHECK (
  signature IS NULL
  OR (signing_request IS NOT NULL AND (status = 'signed' OR (type = 'x402_payment' AND status IN ('confirmed', 'expired'))))
);

-- Signed x402 payments whose reservation waits for the chain: what the settlement sweep reads.
CREATE INDEX intents_x402_open ON intents (chain_id, updated_at)
  WHERE type = 'x402_payment' AND status = 'signed';

-- Payee pinning: the payee first seen for a resource host. A later payment for the host to another payee is refused
-- (`x402_payee_changed`) until an operator lists the new one (X402_PAYEES) or removes the pin.
CREATE TABLE x402_payee_pins (
  host       text PRIMARY KEY CHECK (host = lower(host) AND length(host) BETWEEN 1 AND 253),
  payee      text NOT NULL CHECK (payee ~ '^0x[0-9a-fA-F]{40}$'),
  pinned_at  timestamptz NOT NULL DEFAULT now()
);
