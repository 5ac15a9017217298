-- audit_pending holds a transaction's audit records only until its own COMMIT moves them into audit_log (0001): a row
-- never outlives the transaction that wrote it. Writing it to the WAL bought nothing: after a crash the transaction is
-- rolled back and the queue is empty either way. Unlogged, each record is written to the WAL once (in audit_log), not
-- twice. A crash empties an unlogged table, which for this one is its state after every commit.
ALTER TABLE audit_pending SET UNLOGGED;
