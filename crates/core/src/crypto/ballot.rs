//! A sealed ballot: the choice as a one-of-n vector of ElGamal ciphertexts, with the library's
//! proofs that each is 0 or 1 and that they add up to exactly 1
//! (`elastic_elgamal::app::EncryptedChoice`). Nobody can open one; everyone can check it.
//!
//! **Bound to its election and local.** The library's proofs commit to the key and the
//! ciphertexts only, so a ballot copied into another local would still verify there. Each
//! ballot is therefore sealed to its *context key* `K_c = K + h·G`, where `K` is the election
//! key and `h` a scalar hashed from the election id and the local ([`context_scalar`]); its
//! proofs verify only under that key, and nobody can move a ballot to another context without
//! the encryption's randomness (the proofs would have to be made again). Since `h` is public,
//! `(R, B)` under `K_c` is `(R, B − h·R)` under `K`: a local's sum is converted once and the
//! tellers decrypt it under the election key as before (docs/LOG_FORMAT.md, "Ballots").

use elastic_elgamal::PublicKey;
use elastic_elgamal::app::{ChoiceParams, ChoiceVerificationError, EncryptedChoice, SingleChoice};
use elastic_elgamal::group::{ElementOps, Group as _, ScalarOps};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256, Sha512};

use super::{Ciphertext, Group};
use crate::ElectionId;

/// An encrypted one-of-n choice with its validity proofs.
pub type SealedBallot = EncryptedChoice<Group, SingleChoice>;

/// What a ballot is bound to: its election and its local.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Context<'a> {
    /// The election.
    pub election: &'a ElectionId,
    /// The voter's local.
    pub local: &'a str,
}

/// What the context scalar hashes before the election id and the local.
pub const CONTEXT_LABEL: &[u8] = b"strikevote ballot context v3\n";

type Scalar = <Group as ScalarOps>::Scalar;
type Element = <Group as ElementOps>::Element;

/// `h` = SHA-512(`CONTEXT_LABEL` || election uuid || `\n` || local), read little-endian and
/// reduced modulo the group order.
pub fn context_scalar(context: Context<'_>) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(CONTEXT_LABEL);
    hash.update(context.election.to_string().as_bytes());
    hash.update(b"\n");
    hash.update(context.local.as_bytes());
    let wide: [u8; 64] = hash.finalize().into();
    curve25519_dalek::Scalar::from_bytes_mod_order_wide(&wide)
}

/// The key a ballot of `context` is sealed to: `K + h·G`.
pub fn context_key(key: &PublicKey<Group>, context: Context<'_>) -> PublicKey<Group> {
    let point: Element = key.as_element() + Group::mul_generator(&context_scalar(context));
    let mut encoded = [0_u8; 32];
    Group::serialize_element(&point, &mut encoded);
    // The sum of two valid points is a valid point; its encoding always reads back.
    PublicKey::from_bytes(&encoded).unwrap_or_else(|_| key.clone())
}

/// A ciphertext under the context key of `context`, as a ciphertext under the election key:
/// `(R, B − h·R)`.
pub fn unbind(ciphertext: &Ciphertext, context: Context<'_>) -> Ciphertext {
    let h = context_scalar(context);
    let random = *ciphertext.random_element();
    let blinded = *ciphertext.blinded_element() - random * h;
    ciphertext_of(&random, &blinded)
}

/// A ciphertext from its two elements (the library builds them only from its own operations,
/// so this goes through its serialized form).
pub(super) fn ciphertext_of(random: &Element, blinded: &Element) -> Ciphertext {
    use base64::Engine;
    let text = |e: &Element| {
        let mut encoded = [0_u8; 32];
        Group::serialize_element(e, &mut encoded);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(encoded)
    };
    let json = serde_json::json!({
        "random_element": text(random),
        "blinded_element": text(blinded),
    });
    // Two valid encodings always read back as a ciphertext.
    serde_json::from_value(json).unwrap_or_else(|_| Ciphertext::zero())
}

/// Encrypts option `choice` (0-based) of `options` for `context` under the election `key`.
pub fn seal<R: CryptoRng + RngCore>(
    key: &PublicKey<Group>,
    context: Context<'_>,
    options: usize,
    choice: usize,
    rng: &mut R,
) -> Option<SealedBallot> {
    if options == 0 || choice >= options {
        return None;
    }
    let params = ChoiceParams::single(context_key(key, context), options);
    Some(EncryptedChoice::single(&params, choice, rng))
}

/// Checks a ballot's proofs for `options` options, bound to `context`, under the election
/// `key`; returns one ciphertext per option, under the election key. A ballot that encrypts
/// two choices, none, anything but 0 and 1 — or that was sealed for another election or
/// local — fails here.
pub fn open_proofs(
    key: &PublicKey<Group>,
    context: Context<'_>,
    options: usize,
    ballot: &SealedBallot,
) -> Result<Vec<Ciphertext>, ChoiceVerificationError> {
    check_proofs(key, context, options, ballot)?;
    Ok(ballot
        .choices_unchecked()
        .iter()
        .map(|c| unbind(c, context))
        .collect())
}

/// Checks a ballot's proofs (as [`open_proofs`]) without converting its ciphertexts.
pub fn check_proofs(
    key: &PublicKey<Group>,
    context: Context<'_>,
    options: usize,
    ballot: &SealedBallot,
) -> Result<(), ChoiceVerificationError> {
    let params = ChoiceParams::single(context_key(key, context), options.max(1));
    ballot.verify(&params).map(|_| ())
}

/// Why a challenged ballot is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The ballot's own proofs fail (it could never have been cast either).
    #[error("the ballot's proofs do not verify")]
    Proofs,
    /// The stated choice is not one of the options, or the randomness is not one canonical
    /// scalar per option.
    #[error("the challenge is malformed: {0}")]
    Malformed(&'static str),
    /// The revealed randomness and choice do not make this ballot's ciphertexts: the ballot
    /// holds something else than the page said.
    #[error("the ballot does not hold the stated choice")]
    NotTheChoice,
}

/// Checks a challenged ballot (a Benaloh challenge): its proofs hold, and each of its
/// ciphertexts is exactly what the revealed randomness `r_i` makes for the stated `choice` —
/// `(r_i·G, r_i·K_c)`, plus `G` at the chosen position — under the context key `K_c`. Anyone
/// can run it; it needs no secret.
pub fn check_challenge(
    key: &PublicKey<Group>,
    context: Context<'_>,
    options: usize,
    ballot: &SealedBallot,
    choice: usize,
    randomness: &[[u8; 32]],
) -> Result<(), ChallengeError> {
    check_proofs(key, context, options, ballot).map_err(|_| ChallengeError::Proofs)?;
    if ballot.len() != options {
        return Err(ChallengeError::Proofs);
    }
    holds_choice(
        &context_key(key, context),
        ballot.choices_unchecked(),
        choice,
        randomness,
    )
}

/// Whether `ciphertexts` (under `bound`, a context key) are exactly what `randomness` makes
/// for `choice`.
pub(super) fn holds_choice(
    bound: &PublicKey<Group>,
    ciphertexts: &[Ciphertext],
    choice: usize,
    randomness: &[[u8; 32]],
) -> Result<(), ChallengeError> {
    let remade = reseal(bound, ciphertexts.len(), choice, randomness)?;
    let same = remade.iter().zip(ciphertexts).all(|(a, b)| {
        a.random_element() == b.random_element() && a.blinded_element() == b.blinded_element()
    });
    if !same {
        return Err(ChallengeError::NotTheChoice);
    }
    Ok(())
}

/// The ciphertexts `randomness` makes for `choice` of `options` under `bound` (a context
/// key): `(r_i·G, r_i·K_c)`, plus `G` at the chosen position.
fn reseal(
    bound: &PublicKey<Group>,
    options: usize,
    choice: usize,
    randomness: &[[u8; 32]],
) -> Result<Vec<Ciphertext>, ChallengeError> {
    if choice >= options {
        return Err(ChallengeError::Malformed(
            "the choice is not one of the options",
        ));
    }
    if randomness.len() != options {
        return Err(ChallengeError::Malformed("not one randomness per option"));
    }
    let mut out = Vec::with_capacity(options);
    for (i, r) in randomness.iter().enumerate() {
        let r: Option<Scalar> = curve25519_dalek::Scalar::from_canonical_bytes(*r).into();
        let r = r.ok_or(ChallengeError::Malformed(
            "a randomness is not a canonical scalar",
        ))?;
        let mut blinded: Element = bound.as_element() * r;
        if i == choice {
            blinded += Group::generator();
        }
        out.push(ciphertext_of(&Group::mul_generator(&r), &blinded));
    }
    Ok(out)
}

/// The ciphertexts that `randomness` makes for `choice` (0-based) of `options`, bound to
/// `context`, under the election `key` (each under the context key, as a ballot holds them).
pub fn resealed(
    key: &PublicKey<Group>,
    context: Context<'_>,
    options: usize,
    choice: usize,
    randomness: &[[u8; 32]],
) -> Result<Vec<Ciphertext>, ChallengeError> {
    reseal(&context_key(key, context), options, choice, randomness)
}

/// The tracker of the ballot that `randomness` seals for `choice` (0-based) of `options`,
/// bound to `context`, under the election `key`: a challenge entry holds exactly when this is
/// the tracker its member was shown. Anyone can run it; it needs no secret.
pub fn resealed_tracker(
    key: &PublicKey<Group>,
    context: Context<'_>,
    options: usize,
    choice: usize,
    randomness: &[[u8; 32]],
) -> Result<[u8; 32], ChallengeError> {
    let remade = resealed(key, context, options, choice, randomness)?;
    let mut h = Sha256::new();
    for c in &remade {
        h.update(c.to_bytes());
    }
    Ok(h.finalize().into())
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

/// Seals many choices at once on every core (what the casting path does with a batch), each
/// for its own context: each thread draws its own randomness from the operating system.
/// `None` if a choice is out of range.
pub fn seal_many(
    key: &PublicKey<Group>,
    options: usize,
    choices: &[(Context<'_>, usize)],
) -> Option<Vec<SealedBallot>> {
    if choices.iter().any(|&(_, c)| c >= options) {
        return None;
    }
    let keys = context_keys(key, choices.iter().map(|(context, _)| *context));
    let keys = &keys;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = choices.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = choices
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut rng = rand::rngs::OsRng;
                    part.iter()
                        .map(|&(context, c)| {
                            let params = ChoiceParams::single(keys[&context].clone(), options);
                            Some(EncryptedChoice::single(&params, c, &mut rng))
                        })
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

/// The context key of every distinct context among `contexts` (a batch has few locals: each
/// key is derived once).
fn context_keys<'a>(
    key: &PublicKey<Group>,
    contexts: impl Iterator<Item = Context<'a>>,
) -> std::collections::HashMap<Context<'a>, PublicKey<Group>> {
    let mut keys = std::collections::HashMap::new();
    for context in contexts {
        keys.entry(context)
            .or_insert_with(|| context_key(key, context));
    }
    keys
}

/// Checks many ballots' proofs, each for its context, on every core; the position of the first
/// that fails, if any. Each must have exactly `options` ciphertexts.
pub fn first_invalid(
    key: &PublicKey<Group>,
    options: usize,
    ballots: &[(Context<'_>, &SealedBallot)],
) -> Option<usize> {
    validity(key, options, ballots).iter().position(|ok| !ok)
}

/// Checks many ballots' proofs, each for its context, on every core: whether each is valid
/// (exactly `options` ciphertexts, proofs verifying under its context key), in order. What the
/// casting path runs on the ballots members' pages sealed.
pub fn validity(
    key: &PublicKey<Group>,
    options: usize,
    ballots: &[(Context<'_>, &SealedBallot)],
) -> Vec<bool> {
    let keys = context_keys(key, ballots.iter().map(|(context, _)| *context));
    let keys = &keys;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = ballots.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = ballots
            .chunks(chunk)
            .map(|part| {
                let handle = s.spawn(move || {
                    part.iter()
                        .map(|(context, b)| {
                            let params =
                                ChoiceParams::single(keys[context].clone(), options.max(1));
                            b.len() == options && b.verify(&params).is_ok()
                        })
                        .collect::<Vec<bool>>()
                });
                (part.len(), handle)
            })
            .collect();
        // A thread that panicked checked nothing: its ballots count as invalid.
        parts
            .into_iter()
            .flat_map(|(n, p)| p.join().unwrap_or_else(|_| vec![false; n]))
            .collect()
    })
}
