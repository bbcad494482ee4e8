//! The election log: RFC 9162 Merkle tree, entries, signed checkpoints, proofs and the store.

pub mod merkle;
