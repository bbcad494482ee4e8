//! The tellers' side of the secret ballot: what a teller keeps (its ceremony state and its
//! age identity, encrypted at rest with its passphrase) and how a secret share travels to
//! another teller (age-encrypted to that teller's X25519 recipient, so the server that
//! passes it on cannot read it). The cryptography of the ceremony itself is the core's
//! (`strikevote_core::crypto`).

pub mod ceremony;
pub mod decrypt;
pub mod invitations;
pub mod pin;
pub mod remote;
pub mod secrets;
pub mod store;
