-- The server nodes sharing this database: each registers at start, beats every few seconds and leaves when it stops.
-- A node whose beat lapses is removed by any other, which then settles what it held (its running executions fail,
-- its thread holds and webhook claims are released).
CREATE TABLE nodes (
  id text PRIMARY KEY,
  -- Where the other nodes reach this one for what only it can do (cancel or follow an execution it runs); null when
  -- it cannot be reached.
  url text,
  version text NOT NULL,
  -- Fingerprints of the keys every node must share (the master keys sealing secrets, the key signing file URLs): a
  -- node whose keys have none in common with a running node's is refused at start.
  master_key_fingerprints text[] NOT NULL,
  url_key_fingerprint text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  draining boolean NOT NULL DEFAULT false
);
