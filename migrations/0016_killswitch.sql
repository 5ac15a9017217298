-- The kill switch and pauses (docs/killswitch.md). One row says whether the kill switch is engaged; every gateway
-- process follows it (LISTEN on clawd402_halts, a trigger so a change made by hand in SQL propagates too, and a
-- poll as a fallback) and the signing stage re-reads it inside its transaction before anything is ticketed.
CREATE TABLE killswitch (
  id            boolean PRIMARY KEY DEFAULT true CHECK (id),   -- a single row
  engaged       boolean NOT NULL DEFAULT false,
  engaged_at    timestamptz,
  engaged_by    text,                                          -- user:<uuid>
  reason        text,
  -- Owners who asked for a release while a second, different owner is required (KILLSWITCH_RELEASE_OWNERS=2).
  release_votes text[] NOT NULL DEFAULT '{}',
  released_at   timestamptz,
  released_by   text
);
INSERT INTO killswitch (id) VALUES (true);

-- Paused scopes: `agent:<uuid>`, `key:<uuid>` (the API key's id) or `chain:<id>`. A row is a pause; resume deletes it
-- (both audited).
CREATE TABLE pauses (
  scope      text PRIMARY KEY CHECK (scope ~ '^(agent:[0-9a-f-]{36}|key:[0-9a-f-]{36}|chain:[1-9][0-9]{0,15})$'),
  paused_at  timestamptz NOT NULL DEFAULT now(),
  paused_by  text NOT NULL,
  reason     text NOT NULL
);

CREATE FUNCTION halts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clawd402_halts', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;
CREATE TRIGGER killswitch_notify AFTER INSERT OR UPDATE OR DELETE ON killswitch
  FOR EACH STATEMENT EXECUTE FUNCTION halts_notify();
CREATE TRIGGER pauses_notify AFTER INSERT OR UPDATE OR DELETE ON pauses
  FOR EACH STATEMENT EXECUTE FUNCTION halts_notify();
