//! Tellers' identity keys: an Ed25519 key pair each teller makes with its state file and never
//! shows anyone but its public half. Every ceremony message a teller publishes (`teller_key`,
//! `teller_polynomial`, `teller_ready`), every secret share it sends and its `tally_share`
//! after close carry its signature, so a server or proxy in the middle cannot put words in a
//! teller's mouth. The tellers confirm each other's keys outside the server by their short
//! fingerprints (read aloud by phone or in person), which is what makes the signatures mean
//! "this teller" rather than "whoever the server says". Formats: docs/LOG_FORMAT.md.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::ElectionId;
use crate::entry::Entry;

/// What a signature over a log entry covers, before the entry's bytes without its signature.
pub const ENTRY_CONTEXT: &[u8] = b"strikevote teller entry v3\n";
/// What a signature over a sealed secret share covers, before `election \n from \n to \n` and
/// the sealed bytes.
pub const SHARE_CONTEXT: &[u8] = b"strikevote teller share v3\n";
/// Crockford base32 characters in a teller's fingerprint (16 × 5 = 80 bits).
pub const FINGERPRINT_CHARS: usize = 16;

/// A teller's identity key pair (its secret half lives only in the teller's state file).
pub struct Identity(SigningKey);

impl Identity {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        let key = Self::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key with this 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// Reads a seed written by [`Identity::seed_hex`].
    pub fn from_seed_hex(hex: &str) -> Option<Self> {
        let seed: [u8; 32] = hex::decode(hex).ok()?.try_into().ok()?;
        Some(Self::from_seed(&seed))
    }

    /// The secret seed as hex (for the encrypted state file only).
    pub fn seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public key as it stands in `teller_key.identity`: 64 lowercase hex digits.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// The public key's fingerprint ([`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.0.verifying_key().to_bytes())
    }

    /// Signs `entry` (a `teller_key`, `teller_polynomial`, `teller_ready` or `tally_share`):
    /// sets its `signature`. Other entries are left as they are.
    pub fn sign_entry(&self, entry: &mut Entry) {
        if !entry.body.is_signed_kind() {
            return;
        }
        let message = entry_message(entry);
        let signature = self.0.sign(&message);
        entry
            .body
            .set_signature(Some(hex::encode(signature.to_bytes())));
    }

    /// The signature (128 hex digits) over a sealed share sent from teller `from` to `to`.
    pub fn sign_share(&self, election: &ElectionId, from: u32, to: u32, sealed: &[u8]) -> String {
        let signature = self.0.sign(&share_message(election, from, to, sealed));
        hex::encode(signature.to_bytes())
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.fingerprint())
    }
}

/// A public identity key's fingerprint: SHA-256 of its 32 bytes, the first 80 bits in
/// Crockford base32, as four groups of four (`7K2M-9QXR-4HWD-B8NT`).
pub fn fingerprint_of(public_key: &[u8; 32]) -> String {
    crate::token::short_code(&Sha256::digest(public_key), FINGERPRINT_CHARS)
}

/// The fingerprint of a `teller_key.identity` (64 hex digits), or `None` if it is not one.
pub fn fingerprint(identity_hex: &str) -> Option<String> {
    Some(fingerprint_of(&public_key(identity_hex).ok()?.to_bytes()))
}

/// A fingerprint as a person typed it (any case, dashes or spaces, Crockford's look-alikes),
/// in the form [`fingerprint_of`] prints, or `None`.
pub fn parse_fingerprint(text: &str) -> Option<String> {
    crate::token::parse_short_code(text, FINGERPRINT_CHARS)
}

/// A short code (8 characters, 40 bits) for a tree root that tellers read to each other to
/// check they saw the same log.
pub fn root_code(root: &[u8; 32]) -> String {
    crate::token::short_code(root, 8)
}

/// `text` as `N` bytes, if it is exactly `2N` lowercase hex digits.
fn lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let canonical =
        text.len() == 2 * N && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    canonical.then(|| hex::decode(text).ok()?.try_into().ok())?
}

fn public_key(identity_hex: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] =
        lower_hex(identity_hex).ok_or("the identity key is not 64 lowercase hex digits")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "the identity key is not an Ed25519 key".into())
}

fn signature(hex_text: &str) -> Result<Signature, String> {
    let bytes: [u8; 64] =
        lower_hex(hex_text).ok_or("the signature is not 128 lowercase hex digits")?;
    Ok(Signature::from_bytes(&bytes))
}

/// What a teller signs for an entry: [`ENTRY_CONTEXT`], then the entry's bytes as format v3
/// writes them without the `signature` field.
pub fn entry_message(entry: &Entry) -> Vec<u8> {
    let mut unsigned = entry.clone();
    unsigned.body.set_signature(None);
    let mut message = ENTRY_CONTEXT.to_vec();
    message.extend_from_slice(&unsigned.to_bytes());
    message
}

fn share_message(election: &ElectionId, from: u32, to: u32, sealed: &[u8]) -> Vec<u8> {
    let mut message = SHARE_CONTEXT.to_vec();
    message.extend_from_slice(format!("{election}\n{from}\n{to}\n").as_bytes());
    message.extend_from_slice(sealed);
    message
}

/// Checks that `entry` carries a valid signature by the identity key `identity_hex`.
pub fn verify_entry(entry: &Entry, identity_hex: &str) -> Result<(), String> {
    let key = public_key(identity_hex)?;
    let text = entry.body.signature().ok_or("it carries no signature")?;
    key.verify_strict(&entry_message(entry), &signature(text)?)
        .map_err(|_| "its signature is not the teller's identity key's".into())
}

/// Checks a sealed share's signature by the sender's identity key `identity_hex`.
pub fn verify_share(
    identity_hex: &str,
    election: &ElectionId,
    from: u32,
    to: u32,
    sealed: &[u8],
    signature_hex: &str,
) -> Result<(), String> {
    let key = public_key(identity_hex)?;
    key.verify_strict(
        &share_message(election, from, to, sealed),
        &signature(signature_hex)?,
    )
    .map_err(|_| "its signature is not the sending teller's identity key's".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_back_whatever_the_typing() {
        let id = Identity::from_seed(&[7; 32]);
        let fp = id.fingerprint();
        assert_eq!(fp.len(), 19, "{fp}");
        assert_eq!(fingerprint(&id.public_hex()).as_deref(), Some(fp.as_str()));
        let typed = fp.to_lowercase().replace('-', " ");
        assert_eq!(parse_fingerprint(&typed).as_deref(), Some(fp.as_str()));
        assert_eq!(parse_fingerprint("ABCD"), None);
        assert_eq!(fingerprint("00"), None);
    }

    #[test]
    fn a_share_signature_binds_its_election_sender_recipient_and_bytes() {
        let id = Identity::from_seed(&[9; 32]);
        let e = ElectionId::parse("0192c7a0-0000-4000-8000-000000000001").unwrap();
        let other = ElectionId::parse("0192c7a0-0000-4000-8000-000000000002").unwrap();
        let sig = id.sign_share(&e, 1, 2, b"sealed");
        let pk = id.public_hex();
        assert!(verify_share(&pk, &e, 1, 2, b"sealed", &sig).is_ok());
        assert!(verify_share(&pk, &other, 1, 2, b"sealed", &sig).is_err());
        assert!(verify_share(&pk, &e, 1, 3, b"sealed", &sig).is_err());
        assert!(verify_share(&pk, &e, 1, 2, b"sealeD", &sig).is_err());
        let stranger = Identity::from_seed(&[1; 32]).public_hex();
        assert!(verify_share(&stranger, &e, 1, 2, b"sealed", &sig).is_err());
    }
}
