-- For a finished execution with storage at /data: whether its writes are stored (the API's StorageSync); null
-- for executions without storage.
ALTER TABLE executions ADD COLUMN storage_sync jsonb;
