-- Admin tokens (issue 18): named, hashed, revocable credentials of the admin API for scripts and the command line,
-- each with a role over every organization. The first is the one the server prints or reads at its first start.

CREATE TABLE admin_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  secret_sha256 bytea NOT NULL CONSTRAINT admin_tokens_secret_sha256_key UNIQUE,
  -- The first characters of the token, to recognise it in a list.
  display_prefix text NOT NULL,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
  -- Who made it: an actor as the audit log names it.
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE UNIQUE INDEX admin_tokens_name_key ON admin_tokens (name) WHERE revoked_at IS NULL;
