-- Secret shares of the key ceremony, each encrypted (age, X25519) to the teller it is for:
-- the server only passes them on and cannot read them.
CREATE TABLE teller_shares (
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    from_teller INTEGER NOT NULL,
    to_teller INTEGER NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (election_id, from_teller, to_teller)
);
