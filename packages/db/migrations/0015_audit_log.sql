-- The audit log (issue 18): one row per administrative action, append-only and hash-chained.
--
-- Rows belong to a chain: an organization's id, or 'instance' for what belongs to no organization. Each chain is a
-- partition of audit_log, itself partitioned by month, so retention drops whole months of one organization.
-- Every row carries the hash of the previous row of its chain and of its own canonical content (computed and checked
-- by the server's audit-chain.ts), so an edit made with the triggers below disabled is found by verification.

CREATE TABLE audit_log (
  chain text NOT NULL,
  -- Position in the chain, from 1 without gaps.
  seq bigint NOT NULL,
  occurred_at timestamptz NOT NULL,
  org_id text,
  -- The user's email, the admin token's name, or 'system'.
  actor text NOT NULL,
  auth_method text NOT NULL CHECK (auth_method IN ('session', 'admin_token', 'system', 'none')),
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  reason text,
  -- Before and after of the fields that changed; secret fields only as "changed".
  changes jsonb,
  ip text,
  user_agent text,
  request_id text,
  previous_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (chain, occurred_at, seq)
) PARTITION BY LIST (chain);

CREATE INDEX audit_log_chain_seq_idx ON audit_log (chain, seq);

-- The newest row of each chain. Appending locks the chain's row here, so nodes append one at a time per chain; the
-- log itself never trusts it (verification recomputes from the rows).
CREATE TABLE audit_chains (
  chain text PRIMARY KEY,
  last_seq bigint NOT NULL,
  last_hash text NOT NULL,
  last_occurred_at timestamptz NOT NULL
);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Row triggers on a partitioned table reach every partition, present and future.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
-- A TRUNCATE trigger does not reach partitions: audit_log_partition puts one on each it creates.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Makes the partition holding rows of `chain_name` at `at` (the chain's, then the month's) when missing, each with
-- its TRUNCATE trigger. SECURITY DEFINER: on PostgreSQL the application's role may only insert and read the log.
CREATE FUNCTION audit_log_partition(chain_name text, at timestamptz) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  chain_table text := 'audit_log_' || chain_name;
  month_table text := 'audit_log_' || chain_name || '_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF chain_name !~ '^[a-z0-9_]{1,40}$' THEN
    RAISE EXCEPTION 'audit chain "%" is not a valid name', chain_name;
  END IF;
  IF to_regclass(month_table) IS NOT NULL THEN
    RETURN month_table;
  END IF;
  IF to_regclass(chain_table) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES IN (%L) PARTITION BY RANGE (occurred_at)', chain_table, chain_name);
    EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()', chain_table);
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
    month_table, chain_table, month_start, month_start + interval '1 month');
  EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()', month_table);
  RETURN month_table;
END;
$$;

-- How long an organization's audit rows are kept before their months are dropped.
ALTER TABLE organizations ADD COLUMN audit_retention_days integer NOT NULL DEFAULT 365
  CONSTRAINT organizations_audit_retention_days_check CHECK (audit_retention_days BETWEEN 30 AND 3650);
