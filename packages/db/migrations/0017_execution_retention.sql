-- Execution retention (issue 18): the sweep deletes finished executions oldest first, by the time they were accepted.
CREATE INDEX executions_created_at_idx ON executions (created_at);
