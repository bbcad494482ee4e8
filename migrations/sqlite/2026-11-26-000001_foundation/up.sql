-- Elections, their locals, the roster and ballot tokens (SQLite).
-- Portable types only: UUIDs as TEXT, digests as BLOB, times as UTC TIMESTAMP text.
CREATE TABLE elections (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    definition TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed', 'certified')),
    created_at TIMESTAMP NOT NULL,
    -- bumped as the first statement of every writing transaction: it serializes writers
    -- per election on PostgreSQL (row lock) and takes SQLite's write lock up front.
    lock_version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE locals (
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    delegates INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (election_id, code)
);

CREATE TABLE members (
    id TEXT PRIMARY KEY NOT NULL,
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    local_code TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    UNIQUE (election_id, member_id),
    FOREIGN KEY (election_id, local_code) REFERENCES locals (election_id, code)
);

CREATE INDEX members_by_local ON members (election_id, local_code);

-- A token is stored only as the SHA-256 of its canonical text.
CREATE TABLE tokens (
    hash BLOB PRIMARY KEY NOT NULL,
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    member TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('live', 'used', 'revoked')),
    issued_at TIMESTAMP NOT NULL
);

-- One member, one live token: the database refuses a second.
CREATE UNIQUE INDEX tokens_one_live_per_member ON tokens (member) WHERE status = 'live';
CREATE INDEX tokens_by_election ON tokens (election_id, status);
