-- Threads: persistent homes. A thread's home is its layers (blob digests of layer manifests) stacked oldest first.
CREATE TABLE threads (
  org_id text NOT NULL REFERENCES organizations (id),
  thread_id text NOT NULL CHECK (thread_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  -- Replaced as a whole, only by the execution holding the thread or by compaction of an idle thread.
  layers text[] NOT NULL DEFAULT '{}',
  -- The one execution holding the thread, the node running it and since when; all null while the thread is idle.
  busy_trace_id text,
  busy_node_id text,
  busy_since timestamptz,
  retention text NOT NULL DEFAULT 'forever' CHECK (retention IN ('24h', '7d', '30d', 'forever')),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, thread_id),
  CHECK ((busy_trace_id IS NULL) = (busy_since IS NULL))
);

-- Start-up releases the threads a crashed node held without scanning the table.
CREATE INDEX threads_busy_node_idx ON threads (busy_node_id) WHERE busy_trace_id IS NOT NULL;
CREATE INDEX threads_expiry_idx ON threads (last_used_at) WHERE retention <> 'forever';
