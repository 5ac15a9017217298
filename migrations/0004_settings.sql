-- Small installation-wide facts the gateway keeps between starts (e.g. which access-token key signed last).
CREATE TABLE settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
