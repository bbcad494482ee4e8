//! A teller's side of a strikevote election, built from the pure core alone (no web server or
//! database code): what a teller keeps ([`secrets`]: its ceremony state and age identity,
//! encrypted at rest with its passphrase), what it pins of the election's log and checks every
//! later look at it against ([`pin`]), its part of the key ceremony ([`ceremony`]) and of the
//! decryption after close ([`decrypt`]), reaching the service over HTTPS ([`remote`]) — or,
//! inside the service, through its database (the service implements the same channels). The
//! `strikevote-teller` command ([`cli`]) runs them.

pub mod ceremony;
pub mod cli;
pub mod decrypt;
pub mod error;
pub mod pin;
pub mod remote;
pub mod secrets;

pub use error::{Error, Kind, Result};
