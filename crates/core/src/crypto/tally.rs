//! The count without opening a ballot: anyone adds up each local's sealed ballots option by
//! option (ElGamal is additive); after close each teller publishes, for every sum, its
//! decryption share with a proof tied to its key share; any `threshold` verified shares open
//! the sums, and a discrete-log table up to the number eligible turns them into counts.

use elastic_elgamal::LogEqualityProof;
use elastic_elgamal::{CandidateDecryption, DiscreteLogTable, VerifiableDecryption};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use super::{ActiveTeller, Ciphertext, Group, KeySet};

/// The option-by-option sums of `ballots` (each a slice of per-option ciphertexts); `options`
/// zeros when there are none.
pub fn sums<'a>(
    options: usize,
    ballots: impl IntoIterator<Item = &'a [Ciphertext]>,
) -> Vec<Ciphertext> {
    let mut total = vec![Ciphertext::zero(); options];
    for ballot in ballots {
        for (sum, c) in total.iter_mut().zip(ballot) {
            *sum += *c;
        }
    }
    total
}

/// One teller's decryption share of one sum, with its proof.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Share {
    /// The share (the sum's random element times the teller's secret key share).
    pub share: CandidateDecryption<Group>,
    /// Proof that the share used the same secret as the teller's public key share.
    pub proof: LogEqualityProof<Group>,
}

/// A teller's shares for a list of sums, in the same order (`None` only if the library could
/// not read back a share it just made).
pub fn decrypt<R: CryptoRng + RngCore>(
    teller: &ActiveTeller,
    sums: &[Ciphertext],
    rng: &mut R,
) -> Option<Vec<Share>> {
    sums.iter()
        .map(|sum| {
            let (share, proof) = teller.decrypt_share(*sum, rng);
            let share = CandidateDecryption::from_bytes(&share.to_bytes())?;
            Some(Share { share, proof })
        })
        .collect()
}

/// Why shares do not open the count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TallyError {
    /// A share's proof fails for the teller it claims to come from, or it covers other sums.
    #[error("teller {teller}'s decryption share of sum {sum} does not verify")]
    BadShare {
        /// 1-based teller.
        teller: usize,
        /// 0-based position of the sum.
        sum: usize,
    },
    /// A teller's shares do not cover exactly the totals to open, one per option.
    #[error(
        "teller {teller}'s shares do not cover exactly the totals to open (each local with \
         enough ballots, and the group of small locals), one per choice"
    )]
    WrongSums {
        /// 1-based teller.
        teller: usize,
    },
    /// No such teller.
    #[error("there is no teller {0}")]
    NoSuchTeller(usize),
    /// Not enough tellers have decrypted yet.
    #[error("{have} of the {need} teller decryptions needed are in; {more} more needed", more = need - have)]
    NeedMore {
        /// Verified tellers so far.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// A total would cover fewer ballots than the definition's minimum.
    #[error(
        "a total over {ballots} ballot(s) would be opened, fewer than the {min} this election's \
         definition requires (small_locals.min_ballots): opening it could show how members voted, \
         so no teller computes its share"
    )]
    TooFewBallots {
        /// Ballots the total covers.
        ballots: u64,
        /// The definition's minimum.
        min: u32,
    },
    /// The library could not read back a share it made.
    #[error("a decryption share could not be read back")]
    CouldNotShare,
    /// A decrypted sum is not a count between 0 and the maximum.
    #[error("sum {0} does not decrypt to a count of at most the number eligible")]
    OutOfRange(usize),
}

/// Checks teller `teller`'s (0-based) shares of `sums` against its key share; the
/// verified decryptions, in order.
pub fn verify(
    keys: &KeySet,
    teller: usize,
    sums: &[Ciphertext],
    shares: &[Share],
) -> Result<Vec<VerifiableDecryption<Group>>, TallyError> {
    if teller >= keys.participant_keys().len() {
        return Err(TallyError::NoSuchTeller(teller + 1));
    }
    if shares.len() != sums.len() {
        return Err(TallyError::BadShare {
            teller: teller + 1,
            sum: shares.len().min(sums.len()),
        });
    }
    sums.iter()
        .zip(shares)
        .enumerate()
        .map(|(k, (sum, s))| {
            keys.verify_share(s.share, *sum, teller, &s.proof)
                .map_err(|_| TallyError::BadShare {
                    teller: teller + 1,
                    sum: k,
                })
        })
        .collect()
}

/// Opens `sums` with verified shares from distinct tellers (0-based index, decryptions in the
/// sums' order); each count is at most `max`.
pub fn combine(
    keys: &KeySet,
    sums: &[Ciphertext],
    verified: &[(usize, Vec<VerifiableDecryption<Group>>)],
    max: u64,
) -> Result<Vec<u64>, TallyError> {
    let params = keys.params();
    let mut distinct: Vec<&(usize, Vec<VerifiableDecryption<Group>>)> = Vec::new();
    for v in verified {
        if v.0 < params.shares && !distinct.iter().any(|d| d.0 == v.0) {
            distinct.push(v);
        }
    }
    if distinct.len() < params.threshold {
        return Err(TallyError::NeedMore {
            have: distinct.len(),
            need: params.threshold,
        });
    }
    let table = DiscreteLogTable::<Group>::new(0..=max);
    sums.iter()
        .enumerate()
        .map(|(k, sum)| {
            let shares = distinct.iter().map(|(i, d)| (*i, d[k]));
            params
                .combine_shares(shares)
                .and_then(|combined| combined.decrypt(*sum, &table))
                .ok_or(TallyError::OutOfRange(k))
        })
        .collect()
}
