-- The outbox: one row per message to a member (a ballot notice, a reminder, the result), with
-- its state. Never the token: the sender makes it at the moment it hands the message to the
-- SMTP server and keeps it only in memory (a message sent again gets a fresh token).
-- `round` tells reminders apart (0 for the ballot notice and the result); a message is queued
-- once per (member, kind, round). A sender claims a row by moving it to `sending` with a lease:
-- a row whose lease ran out (its sender died) is claimed again.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    election_id TEXT NOT NULL REFERENCES elections(id),
    member TEXT NOT NULL REFERENCES members(id),
    kind TEXT NOT NULL,
    round INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before TIMESTAMP NOT NULL,
    claimed_by TEXT,
    lease_until TIMESTAMP,
    last_error TEXT,
    queued_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    UNIQUE (election_id, member, kind, round)
);
CREATE INDEX outbox_due ON outbox (state, not_before);
CREATE INDEX outbox_election ON outbox (election_id, kind, state);
-- A member's language for what the service sends them (two letters, as the locale files).
ALTER TABLE members ADD COLUMN language TEXT;
