-- The weekly security report (docs/security-status.md): one row per occurrence, written in the transaction that puts
-- it in the notification outbox, so a report is made and sent once per occurrence and operators read what was sent
-- (GET /admin/security-report). Holds counts and masked networks only: no IP address, no user name. One row a week;
-- not purged.
CREATE TABLE security_reports (
  occurrence timestamptz PRIMARY KEY,          -- the end of the week reported (exclusive); the job run's scheduled_for
  made_at    timestamptz NOT NULL DEFAULT now(),
  channels   text[] NOT NULL,                  -- where it was sent
  report     jsonb NOT NULL                    -- the SecurityReport (apps/gateway/src/domain/security-report.ts)
);
