-- Whether a member holds a live or used token (issuing the missing ones, the letters, the outbox)
-- is one index look-up per member, whatever the tokens' statuses.
CREATE INDEX tokens_by_member ON tokens (member, status);
