//! The tellers' side of the secret ballot, beside the service: invitation codes, the ceremony's
//! messages and sealed shares in the database ([`store`]), and the channels through which the
//! teller crate's passes run here ([`ceremony::Direct`], [`decrypt::DirectTally`]). What a
//! teller keeps, pins and checks is the teller crate's (`strikevote-teller`, built from the
//! core alone), re-exported here: [`secrets`], [`pin`], [`remote`].

pub mod ceremony;
pub mod decrypt;
pub mod invitations;
pub mod sheets;
pub mod store;

pub use strikevote_teller::{pin, remote, secrets};
