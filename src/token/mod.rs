//! Ballot tokens and receipts: the pure part (format, hashing, parsing) lives in the core crate;
//! issuing and reissuing them in the database is [`store`].

pub use strikevote_core::token::*;

pub mod store;
