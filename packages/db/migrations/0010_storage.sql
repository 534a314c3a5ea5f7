-- Storage (issue 15): an organization's own buckets (storage connections), managed volumes, their attachments to
-- sandbox configs at /data/<mount_name>, and what an API key narrows of them.

CREATE TABLE storage_connections (
  id text PRIMARY KEY,
  org_id text NOT NULL REFERENCES organizations (id),
  name text NOT NULL,
  -- Where attachments mount it unless they name another: /data/<mount_name>.
  mount_name text NOT NULL CONSTRAINT storage_connections_mount_name_check CHECK (mount_name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  provider text NOT NULL CHECK (provider IN ('s3', 'gcs', 'azure')),
  -- s3 and gcs have a bucket, azure a container.
  bucket text,
  container text,
  endpoint text,
  region text,
  path_style boolean NOT NULL DEFAULT false,
  account text,
  -- An s3 or gcs bucket reached without credentials (a public one, an emulator).
  anonymous boolean NOT NULL DEFAULT false,
  -- The secret fields as one JSON object, sealed (AES-256-GCM, the server's secret-box.ts) with the context
  -- 'storage_connections.credentials:<id>'; null exactly for an anonymous connection.
  sealed_credentials text,
  -- Per secret field, what answers show of it ('****abcd', a service account's client_email); never the secret.
  credential_hints jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(credential_hints) = 'object'),
  -- Level 1 of path scoping: the directory inside the bucket the mount shows, "" (the root) or segments joined by "/",
  -- none empty, "." or ".."; the API checks the whole spelling (contracts' storage-paths.ts).
  prefix text NOT NULL DEFAULT '' CONSTRAINT storage_connections_prefix_check
    CHECK (prefix = '' OR (prefix !~ '^/' AND prefix !~ '/$' AND prefix !~ '//' AND prefix !~ '(^|/)\.\.?(/|$)')),
  read_only boolean NOT NULL DEFAULT false,
  sync_mode text NOT NULL DEFAULT 'write_back' CHECK (sync_mode IN ('write_back', 'strict')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT storage_connections_location_check CHECK (
    CASE provider WHEN 'azure' THEN container IS NOT NULL AND bucket IS NULL ELSE bucket IS NOT NULL AND container IS NULL END),
  CONSTRAINT storage_connections_provider_fields_check CHECK (
    (provider = 's3' OR (region IS NULL AND NOT path_style)) AND (provider <> 'azure' OR NOT anonymous)
    AND (provider = 'azure' OR account IS NULL)),
  CONSTRAINT storage_connections_credentials_check CHECK (anonymous = (sealed_credentials IS NULL)),
  -- Target of the attachments' composite foreign key, which keeps an attachment inside one organization.
  CONSTRAINT storage_connections_org_id_id_key UNIQUE (org_id, id)
);

CREATE INDEX storage_connections_org_id_idx ON storage_connections (org_id);

-- A deleted volume stays as a row until its files are removed from the blob store; its slug is free at once.
CREATE TABLE volumes (
  id text PRIMARY KEY,
  org_id text NOT NULL REFERENCES organizations (id),
  name text NOT NULL,
  slug text NOT NULL CONSTRAINT volumes_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  quota_bytes bigint CHECK (quota_bytes > 0),
  -- Bytes stored as last measured by the node that wrote it; null until measured.
  used_bytes bigint CHECK (used_bytes >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT volumes_org_id_id_key UNIQUE (org_id, id)
);

CREATE UNIQUE INDEX volumes_org_id_slug_key ON volumes (org_id, slug) WHERE deleted_at IS NULL;

-- A volume or a connection mounted at /data/<mount_name> in a sandbox config's sandboxes. Attachments go with their
-- sandbox config when it is deleted; a volume or connection is deleted only once nothing attaches it.
CREATE TABLE storage_attachments (
  id text PRIMARY KEY,
  org_id text NOT NULL REFERENCES organizations (id),
  sandbox_config_id text NOT NULL,
  mount_name text NOT NULL CONSTRAINT storage_attachments_mount_name_check CHECK (mount_name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  volume_id text,
  connection_id text,
  read_only boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT storage_attachments_target_check CHECK ((volume_id IS NULL) <> (connection_id IS NULL)),
  CONSTRAINT storage_attachments_sandbox_config_fkey FOREIGN KEY (org_id, sandbox_config_id)
    REFERENCES sandbox_configs (org_id, id),
  CONSTRAINT storage_attachments_volume_fkey FOREIGN KEY (org_id, volume_id) REFERENCES volumes (org_id, id),
  CONSTRAINT storage_attachments_connection_fkey FOREIGN KEY (org_id, connection_id)
    REFERENCES storage_connections (org_id, id),
  CONSTRAINT storage_attachments_sandbox_config_id_mount_name_key UNIQUE (sandbox_config_id, mount_name)
);

CREATE INDEX storage_attachments_volume_id_idx ON storage_attachments (volume_id) WHERE volume_id IS NOT NULL;
CREATE INDEX storage_attachments_connection_id_idx ON storage_attachments (connection_id) WHERE connection_id IS NOT NULL;

-- Level 2 of path scoping: per mount name of its sandbox config, how a key narrows the mount:
-- {"<mount>": {"prefix": "a/b", "read_only": true} | {"detached": true}}; {} keeps every mount as attached.
ALTER TABLE api_keys ADD COLUMN storage jsonb NOT NULL DEFAULT '{}'
  CONSTRAINT api_keys_storage_check CHECK (jsonb_typeof(storage) = 'object');
