-- Webhook delivery: the URL an execution reports to, a persisted outbox with one delivery per execution, the
-- attempts made, and each sandbox config's signing secret.

ALTER TABLE executions ADD COLUMN webhook_url text;

-- Sealed (AES-256-GCM, see the server's secret-box.ts) with the deployment's master key; null until first used.
ALTER TABLE sandbox_configs ADD COLUMN webhook_secret text;

-- Written in the same statement that completes the execution, so a finished webhook execution always has one.
CREATE TABLE webhook_deliveries (
  trace_id text PRIMARY KEY REFERENCES executions (trace_id) ON DELETE CASCADE,
  org_id text NOT NULL REFERENCES organizations (id),
  url text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- The node attempting it now and until when its claim holds; a claim that lapsed may be taken by any node.
  claimed_by text,
  claimed_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);

CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
  trace_id text NOT NULL REFERENCES webhook_deliveries (trace_id) ON DELETE CASCADE,
  attempt integer NOT NULL CHECK (attempt >= 1),
  attempted_at timestamptz NOT NULL,
  -- The HTTP status the receiver answered, or null when no answer came (refused, timed out, unreachable).
  status_code integer,
  error text,
  duration_ms integer NOT NULL,
  PRIMARY KEY (trace_id, attempt)
);
