-- Witnesses' cosignatures (C2SP cosignature/v1) of an election's checkpoints: one line per
-- witness per checkpoint size. A checkpoint is published once the quorum entry 0 asks for has
-- cosigned it; the largest size a witness cosigned is where its next consistency proof starts.
CREATE TABLE cosignatures (
    election_id TEXT NOT NULL REFERENCES elections(id),
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (election_id, size, witness)
);
CREATE INDEX cosignatures_by_witness ON cosignatures (election_id, witness, size);
