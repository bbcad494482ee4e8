//! The election log: RFC 9162 Merkle tree, entries, signed checkpoints, proofs and the store.

pub mod entry;
pub mod key;
pub mod merkle;
pub mod note;
pub mod store;

pub use note::{Checkpoint, LogSigner, Verifier};
