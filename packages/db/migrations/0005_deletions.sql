-- Deleted organizations and sandbox configs stay as rows, since API keys and executions refer to them; their names
-- are free for new ones, so uniqueness holds among the rows not deleted.
ALTER TABLE organizations ADD COLUMN deleted_at timestamptz;
ALTER TABLE organizations DROP CONSTRAINT organizations_slug_key;
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug) WHERE deleted_at IS NULL;

ALTER TABLE sandbox_configs ADD COLUMN deleted_at timestamptz;
ALTER TABLE sandbox_configs DROP CONSTRAINT sandbox_configs_org_id_name_key;
CREATE UNIQUE INDEX sandbox_configs_org_id_name_key ON sandbox_configs (org_id, name) WHERE deleted_at IS NULL;
