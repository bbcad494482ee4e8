ALTER TABLE pending_actions DROP COLUMN approved_at;
ALTER TABLE pending_actions DROP COLUMN approved_by;
