-- The two-person rule: an action one admin asked for while the vote is open (close early,
-- reissue a member's token, replace every unused token), waiting for a second admin. Approving
-- or cancelling deletes the row; the log's `admin` entry then names both officials.
CREATE TABLE pending_actions (
    id TEXT PRIMARY KEY NOT NULL,
    election_id TEXT NOT NULL REFERENCES elections (id),
    action TEXT NOT NULL,
    member TEXT,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
CREATE INDEX pending_actions_election ON pending_actions (election_id);
