//! The election log: RFC 9162 Merkle tree, entries, signed checkpoints, proofs and the store.

pub mod cosignatures;
pub mod heads;
pub mod key;
pub mod signing;
pub mod store;
pub mod witnessing;

pub use strikevote_core::{entry, merkle, note};

pub use key::LogKey;
pub use note::{Checkpoint, LogSigner, Verifier};
