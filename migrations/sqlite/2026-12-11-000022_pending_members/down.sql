ALTER TABLE pending_actions DROP COLUMN members;
