-- Spend per scope per hour (spend_hours), each row the sum of its hour's minute rows. A decision reads a 24 h window
-- as the hour rows after the window's first hour plus the minute rows of that hour inside the window: at most 24 + 60
-- rows per scope and shard, however busy the day was, instead of up to 1,440 (docs/money.md, Spend accounting).
-- The statements that write the minutes write the hours, in the same statement (spend-repository.ts): minute rows
-- first, then hour rows, each in a fixed order, so that two writers never wait on each other in a cycle. (Triggers
-- cannot keep that order: an INSERT … ON CONFLICT DO UPDATE fires its INSERT and UPDATE triggers one after the other.)
-- The minute table is renamed so that a gateway of an earlier release, still running while this one migrates, fails
-- closed — its reservations and settlements refuse to run — instead of writing minutes the hour rows would not count.
-- Hours are cut in UTC whatever the session's time zone (a zone's offset need not be whole hours).
ALTER TABLE spend_buckets RENAME TO spend_minutes;
ALTER INDEX spend_buckets_pkey RENAME TO spend_minutes_pkey;
-- No index on the time alone, on either table: the planner took the one on the minute for a window's first hour and
-- read every scope's minutes of that hour, and would do the same with one on the hour; and each costs every new row a
-- second index entry. The retention job finds old hours by scanning spend_hours (a sixtieth of the minutes' size) and
-- their minutes through the primary key.
DROP INDEX spend_buckets_minute;

CREATE TABLE spend_hours (
  scope      text NOT NULL,
  hour       timestamptz NOT NULL,
  shard      smallint NOT NULL DEFAULT 0,
  usd_micros bigint NOT NULL DEFAULT 0,
  count      integer NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, hour, shard)
);

INSERT INTO spend_hours (scope, hour, shard, usd_micros, count)
SELECT scope, date_trunc('hour', minute, 'UTC'), shard, sum(usd_micros), sum(count) FROM spend_minutes
 GROUP BY 1, 2, 3;
