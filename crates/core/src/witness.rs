//! Witnesses: independent parties who cosign a log's checkpoint only when it extends the last
//! one they cosigned, so that nobody relying on cosigned checkpoints can be shown a split view
//! of an election's log without the witnesses colluding.
//!
//! Three C2SP formats, followed exactly so that other implementations interoperate:
//!
//! - `tlog-cosignature` (`cosignature/v1`): a note signature line
//!   `— <witness name> base64(key ID ‖ u64 big-endian time ‖ Ed25519 signature)`, the signature
//!   over `cosignature/v1\ntime <time>\n` followed by the checkpoint's note text; key ID
//!   SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[..4]; verifier keys `<name>+<id>+base64(0x04 ‖ key)`.
//! - `tlog-witness` (`add-checkpoint`): `old <size>\n`, up to 63 base64 consistency-proof lines,
//!   an empty line, then the signed checkpoint; the decision rules are [`judge`].
//! - `tlog-proof` (`c2sp.org/tlog-proof@v1`): an entry's index, its inclusion proof and the
//!   cosigned checkpoint, checkable offline ([`TlogProof`]).
//!
//! Pure: no I/O, no clock (callers pass the time).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::merkle::{self, Hash};
use crate::note::{
    Checkpoint, NoteError, Verifier, check_name, format_vkey, key_id_of, parse_vkey,
    signature_line, split_note,
};

/// The signature type of `cosignature/v1` (Ed25519, timestamped) in signed notes.
pub const COSIGNATURE_V1: u8 = 0x04;
/// The most consistency-proof lines an `add-checkpoint` request may carry.
pub const MAX_PROOF_LINES: usize = 63;
/// The first line of a `tlog-proof`.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The media type of a 409 answer's body (the witness's latest size).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The message a `cosignature/v1` signs: two header lines, then the checkpoint's note text.
pub fn cosigned_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// A witness's own Ed25519 key, under its name. `Debug` hides it.
pub struct WitnessKey {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WitnessKey({})", self.verifier())
    }
}

impl WitnessKey {
    /// The key with this 32-byte seed, named `name` (a schema-less URL, no spaces or `+`).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its verifier key, for logs and relying parties to pin.
    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line (ending in a newline) of a checkpoint whose note text is `text`,
    /// made at `time` (POSIX seconds, at most 2⁶³ − 1).
    pub fn cosign(&self, text: &str, time: u64) -> String {
        let time = time.min(i64::MAX as u64);
        let signature: Signature = self.key.sign(cosigned_message(text, time).as_bytes());
        let mut blob = Vec::with_capacity(76);
        blob.extend_from_slice(&key_id_of(
            &self.name,
            COSIGNATURE_V1,
            &self.key.verifying_key().to_bytes(),
        ));
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        signature_line(&self.name, &blob)
    }
}

/// A witness's public key under its name: checks its cosignatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    key: VerifyingKey,
}

impl WitnessVerifier {
    /// Parses `<name>+<hex key ID>+<base64(0x04 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, key) = parse_vkey(text.trim(), COSIGNATURE_V1)?;
        Ok(Self { name, key })
    }

    /// The witness's name (the name on its cosignature lines).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The time of this witness's cosignature on `note` (the latest, if several verify).
    /// Lines by other keys are ignored; a line by this key that does not verify is an error.
    pub fn cosigned(&self, note: &str) -> Result<u64, NoteError> {
        let (text, lines) = split_note(note)?;
        let id = key_id_of(&self.name, COSIGNATURE_V1, &self.public_key());
        let mut latest = None;
        for line in &lines {
            let Some(rest) = line.by(&self.name, &id) else {
                continue;
            };
            let bad = || NoteError::BadSignature(self.name.clone());
            let (time, sig) = rest.split_at_checked(8).ok_or_else(bad)?;
            let time = u64::from_be_bytes(<[u8; 8]>::try_from(time).map_err(|_| bad())?);
            let sig = <[u8; 64]>::try_from(sig).map_err(|_| bad())?;
            if time > i64::MAX as u64 {
                return Err(bad());
            }
            self.key
                .verify_strict(
                    cosigned_message(text, time).as_bytes(),
                    &Signature::from_bytes(&sig),
                )
                .map_err(|_| bad())?;
            latest = latest.max(Some(time));
        }
        latest.ok_or_else(|| NoteError::NotSigned(self.name.clone()))
    }
}

impl fmt::Display for WitnessVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_vkey(f, &self.name, COSIGNATURE_V1, &self.public_key())
    }
}

/// Why a checkpoint lacks its quorum of cosignatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// The note itself is malformed.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// Fewer witnesses cosigned than the quorum.
    #[error(
        "the checkpoint is cosigned by {} of the {quorum} witnesses it needs{}{}",
        cosigned.len(),
        if cosigned.is_empty() { String::new() } else { format!(" ({})", cosigned.join(", ")) },
        if bad.is_empty() { String::new() } else { format!("; cosignatures that do not verify: {}", bad.join(", ")) }
    )]
    Short {
        /// How many are needed.
        quorum: usize,
        /// The names of those whose cosignature verified.
        cosigned: Vec<String>,
        /// The names of those whose cosignature line did not verify.
        bad: Vec<String>,
    },
}

/// Checks that at least `quorum` of `witnesses` cosigned `note`; returns the names of all the
/// witnesses whose cosignature verified, in the order given. A quorum of 0 always holds.
pub fn check_quorum(
    note: &str,
    witnesses: &[WitnessVerifier],
    quorum: usize,
) -> Result<Vec<String>, QuorumError> {
    split_note(note)?;
    let mut cosigned = Vec::new();
    let mut bad = Vec::new();
    for witness in witnesses {
        match witness.cosigned(note) {
            Ok(_) => cosigned.push(witness.name().to_owned()),
            Err(NoteError::NotSigned(_)) => {}
            Err(_) => bad.push(witness.name().to_owned()),
        }
    }
    if cosigned.len() < quorum {
        return Err(QuorumError::Short {
            quorum,
            cosigned,
            bad,
        });
    }
    Ok(cosigned)
}

/// Why an `add-checkpoint` request or a `tlog-proof` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

fn bad(message: impl Into<String>) -> ProtocolError {
    ProtocolError(message.into())
}

/// A canonical decimal (no sign, no leading zero unless it is `0`).
fn canonical_u64(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn hash_line(line: &str) -> Result<Hash, ProtocolError> {
    B64.decode(line)
        .ok()
        .and_then(|h| <[u8; 32]>::try_from(h).ok())
        .ok_or_else(|| bad(format!("`{line}` is not a base64 SHA-256 hash")))
}

/// `head`, then one base64 hash per line, an empty line and the signed note: the layout of
/// both an `add-checkpoint` body and a `tlog-proof`.
fn with_proof(mut head: String, proof: &[Hash], note: &str) -> String {
    for hash in proof {
        head.push_str(&B64.encode(hash));
        head.push('\n');
    }
    head.push('\n');
    head.push_str(note);
    head
}

/// An `add-checkpoint` request (C2SP tlog-witness).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the caller believes the witness last cosigned.
    pub old_size: u64,
    /// The consistency proof from that size to the new checkpoint's.
    pub proof: Vec<Hash>,
    /// The new checkpoint, as a signed note.
    pub note: String,
}

impl AddCheckpoint {
    /// Parses a request body.
    pub fn parse(body: &str) -> Result<Self, ProtocolError> {
        let (head, note) = body
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(canonical_u64)
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let proof = lines.map(hash_line).collect::<Result<Vec<_>, _>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(bad(format!(
                "{} consistency proof lines (at most {MAX_PROOF_LINES})",
                proof.len()
            )));
        }
        Ok(Self {
            old_size: old,
            proof,
            note: note.to_owned(),
        })
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        with_proof(format!("old {}\n", self.old_size), &self.proof, &self.note)
    }
}

/// Why a witness refuses a checkpoint, with the HTTP status the protocol gives it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: malformed, or the old size is beyond the checkpoint's.
    #[error("{0}")]
    BadRequest(String),
    /// 403: no signature by the key trusted for the origin verifies.
    #[error("the checkpoint is not signed by the log's key: {0}")]
    NotSigned(String),
    /// 404: the witness does not witness this origin.
    #[error("this witness does not witness the log `{0}`")]
    UnknownLog(String),
    /// 409: the caller's old size is not the witness's latest (which is given).
    #[error("the witness's latest checkpoint of this log has size {latest}")]
    Behind {
        /// The size of the latest checkpoint the witness cosigned.
        latest: u64,
    },
    /// 409: a checkpoint of the size the witness holds, with another root: a fork.
    #[error("a checkpoint of size {size} with another root than the one cosigned: the log forked")]
    OtherRoot {
        /// The size both checkpoints have.
        size: u64,
    },
    /// 422: the consistency proof does not prove the new checkpoint extends the old one.
    #[error("the consistency proof from size {from} to {to} does not verify")]
    Inconsistent {
        /// The witness's latest size.
        from: u64,
        /// The new checkpoint's size.
        to: u64,
    },
}

impl Refusal {
    /// The HTTP status the protocol gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::NotSigned(_) => 403,
            Self::UnknownLog(_) => 404,
            Self::Behind { .. } | Self::OtherRoot { .. } => 409,
            Self::Inconsistent { .. } => 422,
        }
    }

    /// Whether the refused checkpoint, validly signed by the log, is evidence that the log
    /// showed two views (the witness records it).
    pub fn is_evidence(&self) -> bool {
        matches!(self, Self::OtherRoot { .. } | Self::Inconsistent { .. })
    }
}

/// The tlog-witness rules: whether a checkpoint `new` (already verified as signed by the log)
/// may be cosigned by a witness whose latest cosigned checkpoint of the log is `latest`.
pub fn judge(
    latest: Option<&Checkpoint>,
    request: &AddCheckpoint,
    new: &Checkpoint,
) -> Result<(), Refusal> {
    if request.old_size > new.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is beyond the checkpoint's size {}",
            request.old_size, new.size
        )));
    }
    let latest_size = latest.map_or(0, |c| c.size);
    if request.old_size != latest_size {
        return Err(Refusal::Behind {
            latest: latest_size,
        });
    }
    let Some(latest) = latest.filter(|c| c.size > 0) else {
        return if request.proof.is_empty() {
            Ok(())
        } else {
            Err(Refusal::BadRequest(
                "a consistency proof from size 0 must be empty".into(),
            ))
        };
    };
    if latest.size == new.size {
        return if latest.root == new.root && request.proof.is_empty() {
            Ok(())
        } else if latest.root == new.root {
            Err(Refusal::BadRequest(
                "a consistency proof between equal sizes must be empty".into(),
            ))
        } else {
            Err(Refusal::OtherRoot { size: new.size })
        };
    }
    if merkle::verify_consistency(
        latest.size,
        new.size,
        &latest.root,
        &new.root,
        &request.proof,
    ) {
        Ok(())
    } else {
        Err(Refusal::Inconsistent {
            from: latest.size,
            to: new.size,
        })
    }
}

/// A log a witness witnesses: every origin starting with `origin_prefix` (one service signs
/// one log per election, `<host>/elections/<id>`, all with one key), signed by `public_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessedLog {
    /// The origins' common beginning (an exact origin is a prefix too).
    pub origin_prefix: String,
    /// The log's Ed25519 public key.
    pub public_key: [u8; 32],
}

impl WitnessedLog {
    /// The verifier of `origin`'s checkpoints, if this entry covers it.
    pub fn verifier_for(&self, origin: &str) -> Option<Verifier> {
        if !origin.starts_with(&self.origin_prefix) {
            return None;
        }
        Verifier::from_public_key(origin, &self.public_key).ok()
    }
}

/// Reads the checkpoint of a request and checks it is signed by a log the witness witnesses:
/// the checkpoint, or a refusal (404 unknown origin, 403 not signed, 400 malformed).
pub fn signed_checkpoint(logs: &[WitnessedLog], note: &str) -> Result<Checkpoint, Refusal> {
    let (text, _) = split_note(note).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let checkpoint = Checkpoint::parse(text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let verifiers: Vec<Verifier> = logs
        .iter()
        .filter_map(|log| log.verifier_for(&checkpoint.origin))
        .collect();
    if verifiers.is_empty() {
        return Err(Refusal::UnknownLog(checkpoint.origin));
    }
    let mut last = None;
    for verifier in verifiers {
        match verifier.verify_checkpoint(note) {
            Ok(checked) => return Ok(checked),
            Err(e) => last = Some(e),
        }
    }
    Err(Refusal::NotSigned(
        last.map(|e| e.to_string()).unwrap_or_default(),
    ))
}

/// An offline proof that an entry is in a cosigned checkpoint (C2SP tlog-proof).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// The entry's index.
    pub index: u64,
    /// Its inclusion proof in the checkpoint's tree, RFC 6962 order.
    pub proof: Vec<Hash>,
    /// The checkpoint, with the log's signature and the cosignatures.
    pub note: String,
}

impl TlogProof {
    /// The proof's text.
    pub fn to_text(&self) -> String {
        with_proof(
            format!("{TLOG_PROOF_HEADER}\nindex {}\n", self.index),
            &self.proof,
            &self.note,
        )
    }

    /// Parses a proof (an `extra` line, if any, is skipped: it is not authenticated).
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n').peekable();
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(bad(format!("the first line must be `{TLOG_PROOF_HEADER}`")));
        }
        if lines.peek().is_some_and(|l| l.starts_with("extra ")) {
            lines.next();
        }
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .and_then(canonical_u64)
            .ok_or_else(|| bad("expected `index <n>`"))?;
        let proof = lines.map(hash_line).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            index,
            proof,
            note: note.to_owned(),
        })
    }

    /// Checks the proof for the entry of leaf hash `leaf`: the log's signature (by `log`), the
    /// quorum of `witnesses`, and the inclusion. Returns the checkpoint and who cosigned it.
    pub fn verify(
        &self,
        leaf: &Hash,
        log: &Verifier,
        witnesses: &[WitnessVerifier],
        quorum: usize,
    ) -> Result<(Checkpoint, Vec<String>), ProtocolError> {
        let checkpoint = log
            .verify_checkpoint(&self.note)
            .map_err(|e| bad(e.to_string()))?;
        let cosigned =
            check_quorum(&self.note, witnesses, quorum).map_err(|e| bad(e.to_string()))?;
        if !merkle::verify_inclusion(
            self.index,
            checkpoint.size,
            leaf,
            &self.proof,
            &checkpoint.root,
        ) {
            return Err(bad(format!(
                "entry {} is not proven to be in the tree of size {}",
                self.index, checkpoint.size
            )));
        }
        Ok((checkpoint, cosigned))
    }
}

#[cfg(test)]
mod tests;
