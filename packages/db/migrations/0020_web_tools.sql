-- Web tools (issue 20): a sandbox config's web policy, an API key's narrowing of it, and each organization's search
-- provider. The policies are stored as contracts' web.ts parses them (WebPolicySettings, WebNarrowing).

-- NULL: the web tools are off for the config's calls.
ALTER TABLE sandbox_configs ADD COLUMN web jsonb
  CONSTRAINT sandbox_configs_web_check CHECK (web IS NULL OR jsonb_typeof(web) = 'object');
-- NULL keeps the sandbox config's policy; a key only narrows it, applied again at each call.
ALTER TABLE api_keys ADD COLUMN web jsonb
  CONSTRAINT api_keys_web_check CHECK (web IS NULL OR jsonb_typeof(web) = 'object');

-- The search service an organization's web-search goes through; none until an operator sets one.
CREATE TABLE web_search_providers (
  org_id text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
  kind text NOT NULL CONSTRAINT web_search_providers_kind_check CHECK (kind IN ('searxng', 'brave', 'tavily')),
  -- The service's base URL; NULL: the provider's public API.
  endpoint text,
  -- The provider's key, sealed (AES-256-GCM, the server's secret-box.ts) with the context
  -- 'web_search_providers.api_key:<org_id>'; NULL for providers without one.
  sealed_api_key text,
  -- What answers show of the key ('****abcd'); never the key.
  api_key_hint text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT web_search_providers_api_key_check CHECK ((sealed_api_key IS NULL) = (api_key_hint IS NULL))
);
