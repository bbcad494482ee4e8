-- Per-teller invitation codes (SHA-256 only): a teller on their own machine reaches the key
-- ceremony over HTTPS with theirs. Issuing codes again replaces them.
CREATE TABLE teller_invitations (
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    teller INTEGER NOT NULL,
    code_hash BLOB NOT NULL,
    PRIMARY KEY (election_id, teller)
);
