-- Intent change notices per statement, not per row (docs/waiting.md). 0020 sent one NOTIFY per changed intent: a
-- batch of 30 intents signed in one statement sent 30, and every gateway process's LISTEN connection read each of
-- them. A statement now sends its changes as lists, `<id>:<status>:<agent id>` joined by `,`, 80 to a NOTIFY (at most
-- 7,280 bytes, with the longest status; Postgres refuses payloads of 8,000 bytes or more). A statement that changes
-- one intent sends exactly 0020's payload. Still a trigger, so that no write path can forget it; still delivered at
-- COMMIT.
--
-- Transition tables cannot be combined with a column list (`UPDATE OF status, tx_hash`), so the update trigger fires
-- for every UPDATE of intents and sends only the rows whose status or transaction hash changed.
DROP TRIGGER intents_status_insert_notify ON intents;
DROP TRIGGER intents_status_update_notify ON intents;
DROP FUNCTION intents_notify_status();

CREATE FUNCTION intents_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_payload text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    FOR v_payload IN
      SELECT string_agg(c.notice, ',' ORDER BY c.k)
        FROM (SELECT n.id::text || ':' || n.status || ':' || n.agent_id::text AS notice,
                     row_number() OVER () - 1 AS k
                FROM new_rows n) c
       GROUP BY c.k / 80
    LOOP
      PERFORM pg_notify('clawd402_intents', v_payload);
    END LOOP;
  ELSE
    FOR v_payload IN
      SELECT string_agg(c.notice, ',' ORDER BY c.k)
        FROM (SELECT n.id::text || ':' || n.status || ':' || n.agent_id::text AS notice,
                     row_number() OVER () - 1 AS k
                FROM new_rows n JOIN old_rows o ON o.id = n.id
               WHERE o.status IS DISTINCT FROM n.status OR o.tx_hash IS DISTINCT FROM n.tx_hash) c
       GROUP BY c.k / 80
    LOOP
      PERFORM pg_notify('clawd402_intents', v_payload);
    END LOOP;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER intents_status_insert_notify AFTER INSERT ON intents REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION intents_notify_changes();
CREATE TRIGGER intents_status_update_notify AFTER UPDATE ON intents
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION intents_notify_changes();
