//! strikevote's pure core: what an election is and how it is counted, and everything an auditor
//! needs to check its log — with no web server, database or async runtime in its dependency
//! tree (`cargo tree -p strikevote-core` shows it). The service (the root package) builds on it;
//! the `strikevote-verify` binary is built from it alone.

pub mod crypto;
pub mod definition;
pub mod entry;
pub mod id;
pub mod lifecycle;
pub mod merkle;
pub mod net;
pub mod note;
pub mod password;
pub mod tally;
pub mod text;
pub mod token;
pub mod verify;
pub mod witness;
pub mod words;

pub use id::ElectionId;

#[cfg(test)]
mod worked_example;
