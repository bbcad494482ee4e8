//! A sealed ballot: the choice as a one-of-n vector of ElGamal ciphertexts under the election
//! key, with the library's proofs that each is 0 or 1 and that they add up to exactly 1
//! (`elastic_elgamal::app::EncryptedChoice`). Nobody can open one; everyone can check it.

use elastic_elgamal::PublicKey;
use elastic_elgamal::app::{ChoiceParams, ChoiceVerificationError, EncryptedChoice, SingleChoice};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use super::{Ciphertext, Group};

/// An encrypted one-of-n choice with its validity proofs.
pub type SealedBallot = EncryptedChoice<Group, SingleChoice>;

/// Encrypts option `choice` (0-based) of `options` to `key`.
pub fn seal<R: CryptoRng + RngCore>(
    key: &PublicKey<Group>,
    options: usize,
    choice: usize,
    rng: &mut R,
) -> Option<SealedBallot> {
    if options == 0 || choice >= options {
        return None;
    }
    let params = ChoiceParams::single(key.clone(), options);
    Some(EncryptedChoice::single(&params, choice, rng))
}

/// Checks a ballot's proofs for `options` options under `key`; returns one ciphertext per
/// option. A ballot that encrypts two choices, none, or anything but 0 and 1 fails here.
pub fn open_proofs<'a>(
    key: &PublicKey<Group>,
    options: usize,
    ballot: &'a SealedBallot,
) -> Result<&'a [Ciphertext], ChoiceVerificationError> {
    let params = ChoiceParams::single(key.clone(), options.max(1));
    ballot.verify(&params)
}

/// The ballot's tracker: SHA-256 of its ciphertexts' encodings, in order (each 64 bytes:
/// random element, then blinded element). A member finds their ballot in the log by it; two
/// ballots with the same ciphertexts have the same tracker, so a copied ballot is noticed.
pub fn tracker(ballot: &SealedBallot) -> [u8; 32] {
    let mut h = Sha256::new();
    for c in ballot.choices_unchecked() {
        h.update(c.to_bytes());
    }
    h.finalize().into()
}

/// Seals many choices at once on every core (what the casting path does with a batch): each
/// thread draws its own randomness from the operating system. `None` if a choice is out of
/// range.
pub fn seal_many(
    key: &PublicKey<Group>,
    options: usize,
    choices: &[usize],
) -> Option<Vec<SealedBallot>> {
    if choices.iter().any(|&c| c >= options) {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = choices.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = choices
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut rng = rand::rngs::OsRng;
                    part.iter()
                        .map(|&c| seal(key, options, c, &mut rng))
                        .collect::<Option<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(choices.len());
        for part in parts {
            all.extend(part.join().ok()??);
        }
        Some(all)
    })
}

/// Checks many ballots' proofs on every core; the position of the first that fails, if any.
/// Each must have exactly `options` ciphertexts.
pub fn first_invalid(
    key: &PublicKey<Group>,
    options: usize,
    ballots: &[&SealedBallot],
) -> Option<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = ballots.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = ballots
            .chunks(chunk)
            .enumerate()
            .map(|(k, part)| {
                let handle = s.spawn(move || {
                    part.iter()
                        .position(|b| b.len() != options || open_proofs(key, options, b).is_err())
                });
                (k * chunk, handle)
            })
            .collect();
        // A thread that panicked checked nothing: its first ballot counts as the failure.
        parts
            .into_iter()
            .find_map(|(start, p)| p.join().unwrap_or(Some(0)).map(|i| start + i))
    })
}
