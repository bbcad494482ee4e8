//! Encrypted ballots and the tellers who alone can open the totals (log format v2's
//! cryptography), built on `elastic-elgamal` over Ristretto255. Nothing here implements a
//! primitive: key generation (committed Pedersen DKG), one-of-n ballots with their validity
//! proofs, decryption shares with their proofs and the discrete-log table are the library's.
//! What this module adds is the bookkeeping an election needs — which teller is which, what is
//! public, what each step checks — and the checks the library leaves to its caller (a share is
//! matched to the sum it claims to decrypt; a key set read from outside is rebuilt, not
//! trusted).

pub mod ballot;
pub mod ceremony;
pub mod encoded;
pub mod identity;
pub mod tally;

pub use elastic_elgamal::group::Ristretto;

/// The group every election uses.
pub type Group = Ristretto;
/// An ElGamal ciphertext in [`Group`].
pub type Ciphertext = elastic_elgamal::Ciphertext<Group>;
/// The election key (the tellers' joint public key), which ballots are sealed to.
pub type PublicKey = elastic_elgamal::PublicKey<Group>;
/// The tellers' public keys: the election key and each teller's key share.
pub type KeySet = elastic_elgamal::sharing::PublicKeySet<Group>;
/// A teller's secret key share, or a share of it dealt to another teller in the ceremony.
pub type SecretShare = elastic_elgamal::SecretKey<Group>;
/// A teller after the ceremony: its secret key share and the key set.
pub type ActiveTeller = elastic_elgamal::sharing::ActiveParticipant<Group>;

/// How many tellers there are and how many of them it takes to decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TellerParams {
    /// Tellers in all (1 to [`TellerParams::MAX_TELLERS`]).
    pub count: usize,
    /// Tellers needed to decrypt (1 to `count`).
    pub threshold: usize,
}

/// Why teller parameters are refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tellers: {0}")]
pub struct InvalidTellers(pub String);

impl TellerParams {
    /// The most tellers an election may have.
    pub const MAX_TELLERS: usize = 20;

    /// Checked parameters (the library panics on bad ones, so they are checked here first).
    pub fn new(count: usize, threshold: usize) -> Result<Self, InvalidTellers> {
        if count == 0 || count > Self::MAX_TELLERS {
            return Err(InvalidTellers(format!(
                "count must be from 1 to {}",
                Self::MAX_TELLERS
            )));
        }
        if threshold == 0 || threshold > count {
            return Err(InvalidTellers(format!(
                "threshold must be from 1 to the count ({count})"
            )));
        }
        Ok(Self { count, threshold })
    }

    pub(crate) fn library(self) -> elastic_elgamal::sharing::Params {
        elastic_elgamal::sharing::Params::new(self.count, self.threshold)
    }
}

#[cfg(test)]
mod tests;
