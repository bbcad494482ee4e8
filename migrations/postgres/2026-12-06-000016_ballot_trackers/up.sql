-- Each ballot's tracker (SHA-256 of its ciphertexts, hex), unique per election: a sealed
-- ballot sent by a member's page that is already in the log (a copy of another member's) is
-- refused before its token is used. Other entries have none (NULLs do not collide).
ALTER TABLE log_entries ADD COLUMN tracker TEXT;
CREATE UNIQUE INDEX log_entries_tracker ON log_entries (election_id, tracker);
