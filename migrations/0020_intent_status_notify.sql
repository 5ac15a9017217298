-- Waiting on intents (docs/waiting.md): every change of an intent's status or transaction hash NOTIFYs one channel,
-- `clawd402_intents`, with `<id>:<status>:<agent id>`. Postgres delivers it at COMMIT, to every gateway process's one
-- LISTEN connection, which wakes the requests waiting in that process (SSE streams, long-polls). A trigger rather
-- than a pg_notify in each repository statement, so that no write path (insert, transition, signed batch,
-- replacement) can forget it. The payload names no money and no address.
CREATE FUNCTION intents_notify_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clawd402_intents', NEW.id::text || ':' || NEW.status || ':' || NEW.agent_id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER intents_status_insert_notify AFTER INSERT ON intents
  FOR EACH ROW EXECUTE FUNCTION intents_notify_status();
CREATE TRIGGER intents_status_update_notify AFTER UPDATE OF status, tx_hash ON intents
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.tx_hash IS DISTINCT FROM NEW.tx_hash)
  EXECUTE FUNCTION intents_notify_status();

-- The embedded fallback (PGlite, no cross-connection NOTIFY) polls an agent's recent changes once a second while
-- someone waits.
CREATE INDEX intents_agent_updated ON intents (agent_id, updated_at);
