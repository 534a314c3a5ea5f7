-- A machine-readable code for why an execution did not finish normally (next to `error`, its sentence), and the
-- sequence number its stream's result event had, so replays built from the record number it the same way.
ALTER TABLE executions ADD COLUMN error_code text;
ALTER TABLE executions ADD COLUMN result_seq integer CHECK (result_seq >= 0);
