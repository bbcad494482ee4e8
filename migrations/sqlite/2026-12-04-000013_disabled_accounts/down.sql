ALTER TABLE sessions DROP COLUMN last_seen_at;
ALTER TABLE accounts DROP COLUMN disabled_at;
