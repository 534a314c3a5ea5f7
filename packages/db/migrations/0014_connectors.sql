-- Connectors (issue 17): credentials an organization configures once, injected into the calls of the sandbox configs
-- that attach them, as the files and variables standard tools read; API keys may keep only some of them.

CREATE TABLE connectors (
  id text PRIMARY KEY,
  org_id text NOT NULL REFERENCES organizations (id),
  -- The directory of its files in a call (/run/airlock/connectors/<name>); it never changes.
  name text NOT NULL CONSTRAINT connectors_name_check CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  type text NOT NULL CHECK (type IN ('postgresql', 'mysql', 'redis', 'mongodb', 's3', 'gcs', 'bigquery', 'azure', 'github', 'http_api')),
  -- The settings that are not secrets (contracts' connectors.ts, by type).
  settings jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
  -- The secret settings as one JSON object, sealed (AES-256-GCM, the server's secret-box.ts) with the context
  -- 'connectors.secrets:<id>'.
  sealed_secrets text NOT NULL,
  -- Per secret setting, what answers show of it ('****abcd', a client_email); never the secret.
  secret_hints jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(secret_hints) = 'object'),
  -- The last test's result; a change makes it untested again.
  status text NOT NULL DEFAULT 'untested' CHECK (status IN ('untested', 'ok', 'failed')),
  status_message text,
  tested_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT connectors_org_id_name_key UNIQUE (org_id, name),
  CONSTRAINT connectors_org_id_id_key UNIQUE (org_id, id)
);

-- A connector a sandbox config's calls get. Attachments go with a sandbox config's deletion; a connector is deleted
-- only once no live sandbox config attaches it.
CREATE TABLE sandbox_connectors (
  org_id text NOT NULL REFERENCES organizations (id),
  sandbox_config_id text NOT NULL,
  connector_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sandbox_config_id, connector_id),
  CONSTRAINT sandbox_connectors_sandbox_config_fkey FOREIGN KEY (org_id, sandbox_config_id) REFERENCES sandbox_configs (org_id, id),
  CONSTRAINT sandbox_connectors_connector_fkey FOREIGN KEY (org_id, connector_id) REFERENCES connectors (org_id, id)
);

CREATE INDEX sandbox_connectors_connector_id_idx ON sandbox_connectors (connector_id);

-- The names of the sandbox config's connectors a key keeps; null keeps them all. A name the config no longer
-- attaches gives nothing: a key never adds a connector.
ALTER TABLE api_keys ADD COLUMN connectors jsonb
  CONSTRAINT api_keys_connectors_check CHECK (connectors IS NULL OR jsonb_typeof(connectors) = 'array');
