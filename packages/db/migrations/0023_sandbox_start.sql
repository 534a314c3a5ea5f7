-- How a sandbox config's python interpreters start (docs/decisions/0033-fork-tier.md): 'fresh', bubblewrap starts each
-- one; 'fork', each is a fork of a template interpreter that has imported the data stack. Sandboxes with network and
-- other languages start fresh whatever the setting.
ALTER TABLE sandbox_configs ADD COLUMN start text NOT NULL DEFAULT 'fresh'
  CONSTRAINT sandbox_configs_start_check CHECK (start IN ('fresh', 'fork'));
