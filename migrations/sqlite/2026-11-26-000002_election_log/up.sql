-- The election log: entries (exact bytes), the perfect Merkle subtrees that make proofs
-- O(log n), and every signed checkpoint. Append-only; the head is elections.log_size.
ALTER TABLE elections ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE elections ADD COLUMN log_size BIGINT NOT NULL DEFAULT 0;

CREATE TABLE log_entries (
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (election_id, idx)
);

CREATE INDEX log_entries_by_kind ON log_entries (election_id, kind);

-- Node (level, idx) covers leaves [idx * 2^level, (idx + 1) * 2^level); level 0 is a leaf hash.
CREATE TABLE log_nodes (
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (election_id, level, idx)
);

CREATE TABLE checkpoints (
    election_id TEXT NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    size BIGINT NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (election_id, size)
);
