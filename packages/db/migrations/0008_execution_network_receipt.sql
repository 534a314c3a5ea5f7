-- The network receipt of a finished execution with network: the destinations it contacted or tried, as the API
-- shows them (NetworkReceiptEntry); null for executions without network.
ALTER TABLE executions ADD COLUMN network jsonb;
