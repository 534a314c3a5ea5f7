-- An execute request may carry an Idempotency-Key: the execution records it with a fingerprint of the request, and
-- a retry with the same key within 24 hours gets this execution's result instead of running the code again.
ALTER TABLE executions ADD COLUMN idempotency_key text;
ALTER TABLE executions ADD COLUMN request_fingerprint text;
CREATE UNIQUE INDEX executions_idempotency_key_idx ON executions (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
