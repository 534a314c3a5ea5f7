-- Requests an API key makes (the web tools' fetches and searches) are audited with the key as their actor.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_auth_method_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_auth_method_check
  CHECK (auth_method IN ('session', 'admin_token', 'api_key', 'system', 'none'));
