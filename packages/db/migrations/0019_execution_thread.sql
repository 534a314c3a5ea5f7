-- The thread an execution ran in (issue 19), so the console and the admin API find a thread's executions.
ALTER TABLE executions ADD COLUMN thread_id text;
CREATE INDEX executions_org_id_thread_id_idx ON executions (org_id, thread_id, created_at DESC) WHERE thread_id IS NOT NULL;
