-- The network an execution ran with, after its API key narrowed its sandbox config's: 'blocked' or 'unrestricted'.
ALTER TABLE executions ADD COLUMN network_mode text NOT NULL DEFAULT 'blocked';
