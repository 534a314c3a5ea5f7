-- When a volume's used_bytes was measured; null until measured.
ALTER TABLE volumes ADD COLUMN used_measured_at timestamptz;
