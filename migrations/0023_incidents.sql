-- Incidents (docs/incidents.md): what the incident watch detects (a detection rule on a subject), what it did about
-- it automatically, and what operators did, as a timeline. Alerts are grouped under the incident they belong to.

CREATE TABLE incidents (
  id              bigserial PRIMARY KEY,
  rule            text NOT NULL CHECK (rule IN ('new_network_burst', 'cost_spike', 'error_rate', 'policy_bypass')),
  severity        text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
  -- What it is about: `api_key:<uuid>` or `agent:<uuid>`.
  subject         text NOT NULL,
  summary         text NOT NULL,
  detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  opened_at       timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by text,
  resolved_at     timestamptz,
  resolved_by     text
);
-- At most one unresolved incident per rule and subject, however many replicas run the watch.
CREATE UNIQUE INDEX incidents_one_unresolved ON incidents (rule, subject) WHERE status <> 'resolved';
CREATE INDEX incidents_page ON incidents (id DESC);
CREATE INDEX incidents_recent ON incidents (rule, subject, resolved_at DESC);

-- The timeline: what was detected, each alert grouped under it, each automatic response (and its reversal), and each
-- operator action and note. Append-only in practice (nothing updates or deletes it).
CREATE TABLE incident_events (
  id          bigserial PRIMARY KEY,
  incident_id bigint NOT NULL REFERENCES incidents (id),
  at          timestamptz NOT NULL DEFAULT now(),
  kind        text NOT NULL CHECK (kind IN ('detected', 'alert', 'response', 'response_failed', 'acknowledged', 'note',
                                            'resolved', 'reverted')),
  actor       text NOT NULL,
  summary     text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
  alert_id    bigint REFERENCES alerts (id)
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
CREATE UNIQUE INDEX incident_events_alert ON incident_events (incident_id, alert_id) WHERE alert_id IS NOT NULL;

-- Where each API key is exchanged from: its network (IPv4 /24, IPv6 /64) and user agent. A key exchanged from a
-- network or user agent it never used before, followed by a burst of intents, opens `new_network_burst`.
CREATE TABLE api_key_sightings (
  api_key_id uuid NOT NULL REFERENCES api_keys (id),
  network    text NOT NULL,
  user_agent text NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen  timestamptz NOT NULL DEFAULT now(),
  exchanges  bigint NOT NULL DEFAULT 1,
  PRIMARY KEY (api_key_id, network, user_agent)
);
CREATE INDEX api_key_sightings_recent ON api_key_sightings (first_seen);

-- The watch's queries: an API key's recent intents; recent refusals in the audit log (JSON-RPC bypass attempts).
CREATE INDEX IF NOT EXISTS intents_key_created ON intents (api_key_id, created_at);
CREATE INDEX IF NOT EXISTS audit_log_action_at ON audit_log (action, at);
