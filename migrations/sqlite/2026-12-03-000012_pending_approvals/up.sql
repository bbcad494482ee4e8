-- An approved action whose result is a secret (a reissued token, a new mailing) waits, approved,
-- for the official who asked for it: only that official carries it out and sees the secret.
ALTER TABLE pending_actions ADD COLUMN approved_by TEXT;
ALTER TABLE pending_actions ADD COLUMN approved_at TIMESTAMP;
