-- Durable scheduled jobs (docs/jobs.md): one row per job with its cron schedule and the occurrence it is due for,
-- claimed by one gateway replica at a time under a lease (FOR UPDATE SKIP LOCKED); a run history operators read.
-- A replica killed mid-job stops renewing its lease; once `lease_until` passes, another replica claims the same
-- occurrence again (one more attempt).
CREATE TABLE jobs (
  name           text PRIMARY KEY,
  schedule       text NOT NULL,                      -- cron expression, UTC (5 fields, or 6 with seconds)
  occurrence_at  timestamptz NOT NULL,               -- the scheduled occurrence the next run belongs to
  next_run_at    timestamptz NOT NULL,               -- not claimed before this (the occurrence, or a retry's backoff)
  attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0), -- attempts already made for this occurrence
  requested_at   timestamptz,                        -- "run now" asked by an operator (POST /admin/jobs/:name/run)
  requested_by   text,
  lease_owner    text,                               -- the replica running it now
  lease_until    timestamptz,
  run_id         bigint,                             -- the run the lease belongs to
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (next_run_at);

CREATE TABLE job_runs (
  id            bigserial PRIMARY KEY,
  job           text NOT NULL REFERENCES jobs (name),
  trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  scheduled_for timestamptz NOT NULL,                 -- the occurrence (or the time "run now" was asked)
  attempt       integer NOT NULL CHECK (attempt >= 1),
  runner        text NOT NULL,                       -- host:pid:random of the replica
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  outcome       text NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'succeeded', 'skipped', 'failed', 'abandoned')),
  detail        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- what the job reports (counts, ids); never secrets
  error         text                                 -- our own sentence; never an upstream body
);
CREATE INDEX job_runs_job ON job_runs (job, id DESC);
-- Exactly once per occurrence: at most one completed run of a scheduled occurrence.
CREATE UNIQUE INDEX job_runs_once ON job_runs (job, scheduled_for)
  WHERE trigger = 'schedule' AND outcome IN ('succeeded', 'skipped');

-- Retention (docs/jobs.md): the purge job deletes by key in small batches; these keep each batch an index scan.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX auth_failures_at ON auth_failures (at);
CREATE INDEX ip_blocks_until ON ip_blocks (until);
CREATE INDEX alerts_at ON alerts (at);
CREATE INDEX notification_outbox_delivered ON notification_outbox (delivered_at) WHERE status = 'delivered';
CREATE INDEX spend_buckets_minute ON spend_buckets (minute);
CREATE INDEX notification_outbox_dead ON notification_outbox (id) WHERE status = 'dead';
