-- Reorganisations (docs/submission.md): after a reorg the receipt tracker looks up the intents settled in the blocks
-- it replaced, by chain and block number.
CREATE INDEX intents_settled_block ON intents (chain_id, block_number) WHERE block_number IS NOT NULL;
