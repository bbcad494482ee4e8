-- An admin can disable an official's account: it cannot sign in, its sessions end and its API
-- tokens stop working until it is enabled again.
ALTER TABLE accounts ADD COLUMN disabled_at TIMESTAMP;
-- Sessions end after 30 idle minutes as well as after 12 hours. A session from before this
-- migration has no time of last use and ends (its official signs in again).
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMP;
