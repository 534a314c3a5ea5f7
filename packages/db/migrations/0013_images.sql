-- The runtime images sandbox configs may name: the recipes Airlock builds and the OCI images operators import. Each
-- server keeps a ready image's root file system in its images directory; this table is the catalog they share. Images
-- belong to the installation, not to an organization.
CREATE TABLE images (
  name text PRIMARY KEY CONSTRAINT images_name_check CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  -- recipe: built by Airlock from its code; registry: pulled from `reference`; archive: an uploaded OCI layout or
  -- docker-save archive.
  source text NOT NULL CHECK (source IN ('recipe', 'registry', 'archive')),
  reference text CHECK ((source = 'registry') = (reference IS NOT NULL)),
  -- registry only: false for a registry reached over plain HTTP or with a certificate not to be checked.
  tls_verify boolean NOT NULL DEFAULT true,
  -- registry only: {"username", "password"} sealed (AES-256-GCM, the server's secret-box.ts) with the context
  -- 'images.credentials:<name>'; the username is also kept in the clear to show.
  sealed_credentials text,
  username text,
  -- pending: being built or imported; ready: manifest set; failed: error set; not_built: a recipe image this server
  -- has not built.
  status text NOT NULL CHECK (status IN ('pending', 'ready', 'failed', 'not_built')),
  error text,
  -- The image's manifest (runtime ImageManifest) once ready.
  manifest jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every sandbox config names an image; the recipe image they default to is in the catalog from the start.
INSERT INTO images (name, source, status) VALUES ('default', 'recipe', 'not_built');
CREATE INDEX sandbox_configs_image_idx ON sandbox_configs (image) WHERE deleted_at IS NULL;
