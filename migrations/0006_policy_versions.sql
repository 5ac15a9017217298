-- Policy lifecycle: every policy set the gateway ever accepted, as an immutable numbered version, and one pointer to
-- the active version. Every gateway process decides with the active version's set; changing the pointer notifies
-- them on channel clawd402_policy (a trigger, so a change made by hand in SQL propagates too), and each process also
-- polls the pointer once a second. See docs/policy-lifecycle.md.

CREATE TABLE policy_versions (
  version    integer PRIMARY KEY CHECK (version > 0),   -- 1, 2, 3, … allocated under an advisory lock
  content    text NOT NULL,                              -- the text exactly as uploaded (or read from POLICY_FILE)
  format     text NOT NULL CHECK (format IN ('yaml', 'json')),
  hash       text NOT NULL CHECK (hash ~ '^sha256:[0-9a-f]{64}$'), -- PolicySet.hash, recorded in every decision
  author     text NOT NULL,                              -- the creating user's id, or 'system' (boot import)
  created_at timestamptz NOT NULL DEFAULT now(),
  lint       jsonb NOT NULL                              -- {"errors": [...], "warnings": [...]} at creation
);
-- Decisions record the set's hash; this finds the version (or versions: the same text may be uploaded twice).
CREATE INDEX policy_versions_hash ON policy_versions (hash, version);

-- Versions are immutable: what a hash in an old decision points at never changes.
CREATE FUNCTION policy_versions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'policy_versions rows are immutable' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER policy_versions_no_update BEFORE UPDATE OR DELETE ON policy_versions
  FOR EACH ROW EXECUTE FUNCTION policy_versions_refuse_change();
CREATE TRIGGER policy_versions_no_truncate BEFORE TRUNCATE ON policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION policy_versions_refuse_change();

-- The active pointer: at most one row (the primary key is a constant).
CREATE TABLE policy_active (
  id           boolean PRIMARY KEY DEFAULT true CHECK (id),
  version      integer NOT NULL REFERENCES policy_versions (version),
  activated_by text NOT NULL,                            -- user id, or 'system'
  activated_at timestamptz NOT NULL DEFAULT now()
);

-- Delivered at COMMIT, so listeners never see a pointer that was rolled back.
CREATE FUNCTION policy_active_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('clawd402_policy', NEW.version::text);
  RETURN NULL;
END;
$$;
CREATE TRIGGER policy_active_changed AFTER INSERT OR UPDATE ON policy_active
  FOR EACH ROW EXECUTE FUNCTION policy_active_notify();
