//! Signed checkpoints: a C2SP tlog-checkpoint inside a C2SP signed-note, Ed25519.
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root hash>\n
//! \n
//! — <key name> <base64(4-byte key ID || 64-byte signature)>\n
//! ```
//!
//! The key name is the origin. Pure apart from holding key material; no I/O.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// The em dash that starts a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, checkpoint or verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The verifier key string is malformed.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(String),
    /// The note is not a well-formed signed note.
    #[error("malformed signed note: {0}")]
    BadNote(String),
    /// No signature by the expected key.
    #[error("the checkpoint carries no signature by key `{0}`")]
    NotSigned(String),
    /// A signature by the expected key that does not verify.
    #[error("the checkpoint's signature by `{0}` does not verify")]
    BadSignature(String),
    /// The note body is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(String),
}

/// The key ID of a signed-note key: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key).
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    key_id_of(name, ED25519, public_key)
}

/// The key ID of a key of signature type `alg` (0x01 Ed25519 notes, 0x04 cosignature/v1):
/// the first 4 bytes of SHA-256(name || 0x0A || alg || key).
pub(crate) fn key_id_of(name: &str, alg: u8, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, alg]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Parses a verifier key `<name>+<hex key ID>+<base64(alg || 32-byte public key)>` whose
/// signature type must be `alg`: its name and checked Ed25519 key.
pub(crate) fn parse_vkey(text: &str, alg: u8) -> Result<(String, VerifyingKey), NoteError> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    // The name has no `+`; the base64 key may.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadVerifierKey(
            "expected <name>+<key id>+<key>".into(),
        ));
    };
    check_name(name)?;
    let bytes = B64
        .decode(data)
        .map_err(|e| NoteError::BadVerifierKey(format!("key is not base64: {e}")))?;
    // Split, never index: an empty or short key is malformed input, not a panic.
    let raw = match bytes.split_first() {
        Some((&found, rest)) if found == alg => <[u8; 32]>::try_from(rest).ok(),
        _ => None,
    };
    let Some(raw) = raw else {
        return Err(NoteError::BadVerifierKey(format!(
            "key must be 0x{alg:02x} followed by a 32-byte Ed25519 public key"
        )));
    };
    let key = VerifyingKey::from_bytes(&raw)
        .map_err(|_| NoteError::BadVerifierKey("not a valid Ed25519 public key".into()))?;
    let expected = hex::encode(key_id_of(name, alg, &raw));
    if id_hex != expected {
        return Err(NoteError::BadVerifierKey(format!(
            "key ID {id_hex} does not match the name and key (expected {expected})"
        )));
    }
    Ok((name.to_owned(), key))
}

/// Writes a verifier key: `<name>+<hex key ID>+<base64(alg || public key)>`.
pub(crate) fn format_vkey(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    alg: u8,
    raw: &[u8; 32],
) -> fmt::Result {
    let mut data = vec![alg];
    data.extend_from_slice(raw);
    write!(
        f,
        "{name}+{}+{}",
        hex::encode(key_id_of(name, alg, raw)),
        B64.encode(data)
    )
}

/// One signature line of a signed note: the key name and the decoded blob (key ID ‖ signature).
pub(crate) struct SignatureLine<'a> {
    pub name: &'a str,
    pub blob: Vec<u8>,
}

impl SignatureLine<'_> {
    /// Whether the line is by the key `name` with key ID `id`; then the bytes after the ID.
    pub fn by(&self, name: &str, id: &[u8; 4]) -> Option<&[u8]> {
        (self.name == name && self.blob.starts_with(id)).then(|| &self.blob[4..])
    }
}

/// Splits a signed note into its text (ending in a newline) and its signature lines.
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if !note.ends_with('\n') {
        return Err(NoteError::BadNote("does not end with a newline".into()));
    }
    let Some(split) = note.find("\n\n") else {
        return Err(NoteError::BadNote(
            "no blank line between text and signatures".into(),
        ));
    };
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let lines = signatures
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(NoteError::BadNote(format!(
                    "signature line does not start with an em dash: `{line}`"
                )));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(NoteError::BadNote(
                    "signature line lacks a signature".into(),
                ));
            };
            let blob = B64
                .decode(blob)
                .map_err(|e| NoteError::BadNote(format!("signature is not base64: {e}")))?;
            Ok(SignatureLine { name, blob })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if lines.is_empty() {
        return Err(NoteError::BadNote("the note has no signature".into()));
    }
    Ok((text, lines))
}

/// A signature line: `— <name> <base64(blob)>\n`.
pub(crate) fn signature_line(name: &str, blob: &[u8]) -> String {
    format!("{SIG_PREFIX}{name} {}\n", B64.encode(blob))
}

/// The fingerprint of an Ed25519 public key, printed on ballot notices and certificates so
/// auditors can pin the key out of band: the first 16 bytes of SHA-256(public key), as 32
/// lowercase hex digits in 8 groups of 4 joined by `-` (`3f2a-9c01-…`).
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    let hex = hex::encode(&digest[..16]);
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Parses a fingerprint as a person may type it (any case; groups joined by `-`, `:` or
/// spaces, or none): the 16 bytes it stands for, or `None`.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 16]> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | ' '))
        .collect();
    if digits.len() != 32 {
        return None;
    }
    <[u8; 16]>::try_from(hex::decode(digits.to_ascii_lowercase()).ok()?).ok()
}

/// Whether `public_key` has the fingerprint `expected` (16 bytes).
pub fn has_fingerprint(public_key: &[u8; 32], expected: &[u8; 16]) -> bool {
    Sha256::digest(public_key)[..16] == expected[..]
}

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadVerifierKey(format!(
            "key name `{name}` must be non-empty, without spaces or `+`"
        )));
    }
    Ok(())
}

/// The service's Ed25519 key. One key may sign every election's log. `Debug` hides it.
pub struct LogSigner {
    key: SigningKey,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogSigner(public {})", B64.encode(self.public_key()))
    }
}

impl LogSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The verifier for notes signed under `name` (an election's origin).
    pub fn verifier(&self, name: &str) -> Verifier {
        Verifier {
            name: name.to_owned(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs a checkpoint of `origin` at `size` with root `root`; returns the whole note.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature: Signature = self.key.sign(body.as_bytes());
        let id = key_id(&checkpoint.origin, &self.public_key());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&id);
        blob.extend_from_slice(&signature.to_bytes());
        format!("{body}\n{}", signature_line(&checkpoint.origin, &blob))
    }
}

/// A public key under a name: checks notes signed by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key: VerifyingKey,
}

impl Verifier {
    /// The verifier of `public_key` under `name`.
    pub fn from_public_key(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::BadVerifierKey("not a valid Ed25519 public key".into()))?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, key) = parse_vkey(text, ED25519)?;
        Ok(Self { name, key })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Verifies a signed checkpoint and returns what it says. Signatures by other keys are
    /// ignored, as signed-note verifiers do; the checkpoint's origin must be the key's name.
    pub fn verify_checkpoint(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let body = self.verify_note(note)?;
        let checkpoint = Checkpoint::parse(body)?;
        if checkpoint.origin != self.name {
            return Err(NoteError::BadCheckpoint(format!(
                "origin `{}` is not the key's name `{}`",
                checkpoint.origin, self.name
            )));
        }
        Ok(checkpoint)
    }

    /// Verifies a signed note and returns its text.
    fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, lines) = split_note(note)?;
        let id = key_id(&self.name, &self.public_key());
        let mut found = false;
        for line in &lines {
            let Some(signature) = line.by(&self.name, &id) else {
                continue; // another key's signature
            };
            let Ok(sig) = <[u8; 64]>::try_from(signature) else {
                return Err(NoteError::BadSignature(self.name.clone()));
            };
            self.key
                .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            found = true;
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::NotSigned(self.name.clone()))
        }
    }
}

/// `<name>+<hex key ID>+<base64(0x01 || public key)>`.
impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_vkey(f, &self.name, ED25519, &self.public_key())
    }
}

/// What a checkpoint says: the log's origin, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// `<public host>/elections/<uuid>`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// The RFC 9162 root of those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, size, base64 root, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the root are allowed and ignored).
    pub fn parse(body: &str) -> Result<Self, NoteError> {
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| NoteError::BadCheckpoint("no origin line".into()))?;
        let size_text = lines
            .next()
            .ok_or_else(|| NoteError::BadCheckpoint("no tree size line".into()))?;
        let canonical = size_text.bytes().all(|b| b.is_ascii_digit())
            && !(size_text.len() > 1 && size_text.starts_with('0'));
        let size = size_text
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| NoteError::BadCheckpoint(format!("tree size `{size_text}`")))?;
        let root_text = lines
            .next()
            .ok_or_else(|| NoteError::BadCheckpoint("no root hash line".into()))?;
        let root = B64
            .decode(root_text)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or_else(|| {
                NoteError::BadCheckpoint(format!("root `{root_text}` is not 32 bytes of base64"))
            })?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(seed: u8) -> LogSigner {
        LogSigner::from_seed(&[seed; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "vote.example.org/elections/0192c7a0-0000-7000-8000-000000000000".into(),
            size: 12,
            root: [7; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_has_the_c2sp_layout_and_verifies() {
        let s = signer(1);
        let cp = checkpoint();
        let note = s.sign_checkpoint(&cp);
        let lines: Vec<_> = note.split('\n').collect();
        assert_eq!(lines[0], cp.origin);
        assert_eq!(lines[1], "12");
        assert_eq!(lines[2], B64.encode([7u8; 32]));
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with(&format!("\u{2014} {} ", cp.origin)));
        assert_eq!(lines[5], "");
        let sig = B64.decode(lines[4].rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(sig.len(), 68);
        assert_eq!(sig[..4], key_id(&cp.origin, &s.public_key()));

        let v = s.verifier(&cp.origin);
        assert_eq!(v.verify_checkpoint(&note).unwrap(), cp);
        assert_eq!(Verifier::parse(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn another_key_or_a_changed_note_is_refused() {
        let cp = checkpoint();
        let note = signer(1).sign_checkpoint(&cp);
        let other = signer(2).verifier(&cp.origin);
        assert_eq!(
            other.verify_checkpoint(&note),
            Err(NoteError::NotSigned(cp.origin.clone()))
        );
        let v = signer(1).verifier(&cp.origin);
        let changed = note.replacen("\n12\n", "\n13\n", 1);
        assert_eq!(
            v.verify_checkpoint(&changed),
            Err(NoteError::BadSignature(cp.origin.clone()))
        );
        assert!(v.verify_checkpoint(note.trim_end()).is_err());
    }

    #[test]
    fn verifier_keys_round_trip_whatever_their_base64_holds() {
        // Base64 may contain `+`, the field separator: parsing must split from the left.
        let mut saw_plus = false;
        for seed in 0..64u8 {
            let v = signer(seed).verifier("vote.example.org/elections/e");
            let text = v.to_string();
            saw_plus |= text
                .rsplit('+')
                .next()
                .is_some_and(|_| text.matches('+').count() > 2);
            assert_eq!(Verifier::parse(&text).unwrap(), v, "{text}");
        }
        assert!(saw_plus, "no seed produced a key with `+` in its base64");
    }

    #[test]
    fn the_verifier_key_string_is_checked() {
        let v = signer(1).verifier("example.org/elections/x");
        let text = v.to_string();
        let mut parts: Vec<&str> = text.split('+').collect();
        assert_eq!(parts[1].len(), 8);
        let wrong_id = "00000000";
        parts[1] = wrong_id;
        assert!(Verifier::parse(&parts.join("+")).is_err());
        assert!(Verifier::parse("no-plus-signs").is_err());
        assert!(Verifier::parse(&text.replace("example.org", "example.net")).is_err());
    }

    proptest::proptest! {
        /// Every mutation of a real verifier key and note is an error or a value, never a panic.
        #[test]
        fn mutated_keys_and_notes_never_panic(
            seed in proptest::prelude::any::<u8>(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            with in "[ -~\n—]{0,3}",
            cut in proptest::prelude::any::<bool>(),
        ) {
            let s = signer(seed);
            let cp = checkpoint();
            for text in [s.verifier(&cp.origin).to_string(), s.sign_checkpoint(&cp)] {
                let chars: Vec<char> = text.chars().collect();
                let i = at.index(chars.len());
                let mut mutated: String = chars[..i].iter().collect();
                mutated.push_str(&with);
                let rest: String = chars[i..].iter().skip(usize::from(cut)).collect();
                mutated.push_str(&rest);
                let _ = Verifier::parse(&mutated);
                let _ = s.verifier(&cp.origin).verify_checkpoint(&mutated);
            }
        }
    }

    #[test]
    fn empty_or_short_key_data_is_an_error_not_a_panic() {
        for data in ["", "AQ==", "AA==", "AQID"] {
            let text = format!("example.org/e+00000000+{data}");
            assert!(Verifier::parse(&text).is_err(), "{data}");
        }
    }

    #[test]
    fn checkpoint_sizes_must_be_canonical_decimals() {
        let body = |size: &str| format!("o\n{size}\n{}\n", B64.encode([0u8; 32]));
        assert_eq!(Checkpoint::parse(&body("0")).unwrap().size, 0);
        for bad in ["012", "+1", "-1", "1e3", "", "18446744073709551616"] {
            assert!(Checkpoint::parse(&body(bad)).is_err(), "{bad}");
        }
    }
}
