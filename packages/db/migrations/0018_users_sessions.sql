-- Users, roles and sign-in (issue 18): people who sign in to the console, through OIDC or the bootstrap owner's
-- one-time link, their roles per organization, and server-side sessions.

CREATE TABLE users (
  id text PRIMARY KEY,
  email text NOT NULL CONSTRAINT users_email_key UNIQUE CHECK (email = lower(email)),
  name text,
  -- The OIDC identity (issuer and subject) the user signs in as; null for the bootstrap owner until it signs in so.
  oidc_issuer text,
  oidc_subject text,
  -- A role over every organization (operators of the installation); null: only the memberships' roles.
  instance_role text CHECK (instance_role IN ('owner', 'admin', 'viewer')),
  -- Where instance_role comes from: 'oidc' is set again from the provider's claims at every sign-in.
  instance_role_source text CHECK (instance_role_source IN ('oidc', 'manual')),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz,
  disabled_at timestamptz,
  CONSTRAINT users_oidc_identity_key UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE memberships (
  user_id text NOT NULL REFERENCES users (id),
  org_id text NOT NULL REFERENCES organizations (id),
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
  -- 'oidc': set from the provider's claims at every sign-in (and removed when they no longer give it); 'manual': by an owner.
  source text NOT NULL CHECK (source IN ('oidc', 'manual')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, org_id)
);

CREATE INDEX memberships_org_id_idx ON memberships (org_id);

CREATE TABLE sessions (
  id text PRIMARY KEY,
  -- SHA-256 of the cookie's secret; the secret itself is never stored.
  secret_sha256 bytea NOT NULL CONSTRAINT sessions_secret_sha256_key UNIQUE,
  user_id text NOT NULL REFERENCES users (id),
  method text NOT NULL CHECK (method IN ('oidc', 'link')),
  ip text,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  -- The absolute end; the idle end is last_seen_at plus the configured idle time.
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Sign-ins under way: the OIDC flow's state, PKCE verifier and nonce, bound to the browser that started it.
CREATE TABLE sign_in_flows (
  state_sha256 bytea PRIMARY KEY,
  -- SHA-256 of the random value in the starting browser's flow cookie.
  browser_sha256 bytea NOT NULL,
  code_verifier text NOT NULL,
  nonce text NOT NULL,
  return_to text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

-- One-time sign-in links (the bootstrap owner's, printed at start when no OIDC provider is configured).
CREATE TABLE sign_in_links (
  token_sha256 bytea PRIMARY KEY,
  user_id text NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
