-- Personal data beside the audit chain (docs/privacy.md). An audit record never holds a person's IP address, user
-- agent or user name in its hashed body: it holds {"pd": "<ref>"}, and the value sits here, sealed (AES-256-GCM)
-- under a key of its own per data subject. Erasing a subject deletes its key and its sealed values; the audit records
-- keep their refs, so every hash still verifies.
CREATE TABLE personal_data_keys (
  subject    text PRIMARY KEY,                -- 'user:<uuid>'
  key        bytea NOT NULL CHECK (length(key) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE personal_data (
  ref        uuid PRIMARY KEY,                -- what the audit record holds instead of the value
  subject    text NOT NULL,
  field      text NOT NULL,                   -- 'ip', 'user_agent', 'username'
  sealed     text NOT NULL,                   -- v1.<iv>.<ciphertext>.<tag> under the subject's key
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX personal_data_subject ON personal_data (subject);
CREATE INDEX personal_data_created ON personal_data (created_at);

-- An erased user keeps its row (audit records and agents point at it) with the name pseudonymised.
ALTER TABLE users ADD COLUMN erased_at timestamptz;
