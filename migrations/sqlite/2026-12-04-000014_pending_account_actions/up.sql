-- Under the two-person rule a new admin account, or an admin's API token, waits for a second
-- admin while a vote is open: the account's name (or the token's) and, for a new account,
-- the argon2 hash of the password its asker chose (never the password itself).
ALTER TABLE pending_actions ADD COLUMN account TEXT;
ALTER TABLE pending_actions ADD COLUMN password_hash TEXT;
ALTER TABLE pending_actions ADD COLUMN token_name TEXT;
