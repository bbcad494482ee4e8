ALTER TABLE pending_actions DROP COLUMN token_name;
ALTER TABLE pending_actions DROP COLUMN password_hash;
ALTER TABLE pending_actions DROP COLUMN account;
