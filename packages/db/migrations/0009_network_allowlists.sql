-- Network allowlists: a sandbox config's mode may be 'allowlist', with the names and networks it reaches;
-- an API key may narrow a config's network to 'allowlist' with fewer entries; an execution keeps the list it ran with.
ALTER TABLE sandbox_configs DROP CONSTRAINT sandbox_configs_network_check;
ALTER TABLE sandbox_configs ADD CONSTRAINT sandbox_configs_network_check
  CHECK (network IN ('blocked', 'allowlist', 'unrestricted'));
-- The entries of an 'allowlist' config (names, *. wildcards, public IPv4 networks); [] for the other modes.
ALTER TABLE sandbox_configs ADD COLUMN network_allow jsonb NOT NULL DEFAULT '[]'
  CONSTRAINT sandbox_configs_network_allow_check
  CHECK (jsonb_typeof(network_allow) = 'array' AND (network = 'allowlist' OR network_allow = '[]'::jsonb));

ALTER TABLE api_keys DROP CONSTRAINT api_keys_network_override_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_network_override_check CHECK (network_override IN ('blocked', 'allowlist'));
-- For a key narrowed to 'allowlist': the entries it keeps; NULL keeps its sandbox config's.
ALTER TABLE api_keys ADD COLUMN network_allow jsonb
  CONSTRAINT api_keys_network_allow_check
  CHECK (network_allow IS NULL OR (jsonb_typeof(network_allow) = 'array' AND network_override = 'allowlist'));

-- The allowlist an 'allowlist' execution ran with (its sandbox config's as its API key narrowed it); NULL otherwise.
ALTER TABLE executions ADD COLUMN network_allow jsonb;
