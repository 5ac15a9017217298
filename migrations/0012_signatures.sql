-- Signature intents (docs/signatures.md): typed data (EIP-712), personal_sign messages and EIP-7702 authorisations
-- are intents too, decided by the same policy and audited the same way; what they end with is a signature, not a
-- transaction. `signed` is their last status: nothing is broadcast, so the tracker never looks at them.

-- 0011 lists every kind the policy language knew then; EIP-7702 authorisations are a kind of their own.
ALTER TABLE intents DROP CONSTRAINT IF EXISTS intents_type_check;
ALTER TABLE intents ADD CONSTRAINT intents_type_check
  CHECK (type IN ('transfer', 'contract_call', 'approve', 'swap', 'typed_data', 'message', 'x402_payment', 'authorization'));

ALTER TABLE intents
  -- What was asked to be signed: {operation, request} where request is the typed data as sent, {text} or {raw} of a
  -- message, or {chainId, delegate, nonce} of an authorisation. Null for transaction intents.
  ADD COLUMN signing_request jsonb,
  -- The digest the signing ticket bound (EIP-712 / EIP-191 hash, 0x-hex), set when the request is recorded.
  ADD COLUMN signing_digest  text CHECK (signing_digest ~ '^0x[0-9a-f]{64}$'),
  -- The signature (65 bytes r‖s‖v, 0x-hex), set in the same statement that moves the intent to `signed` and appends
  -- its audit record.
  ADD COLUMN signature       text CHECK (signature ~ '^0x[0-9a-f]{130}$'),
  ADD CONSTRAINT intents_signature_is_signed CHECK (signature IS NULL OR (status = 'signed' AND signing_request IS NOT NULL));
