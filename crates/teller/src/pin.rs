//! What a teller pins of the election's log, and the check every later look at the log must
//! pass: signed by the pinned key (never one a server offers later), entry 0 the definition
//! of the ceremony, and the tree an extension of the last one the teller saw (its root at the
//! pinned size is the pinned root — what an RFC 9162 consistency proof shows, computed here
//! from the whole log the teller downloads). A server that shows a teller a fork — a fresh key,
//! another definition, ballots moved between locals, entries dropped — is refused here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use strikevote_core::note::{Verifier, fingerprint, parse_fingerprint};
use strikevote_core::verify::{Fold, Report, verify_and_fold};

use super::secrets::{Pin, TellerFile};
use crate::error::{Error, Result, code};

/// A log as a teller checked it: the verifier's report and fold, and the pin it supports.
pub struct Checked {
    /// The verifier's report.
    pub report: Report,
    /// What the log says.
    pub fold: Fold,
    /// The pin to keep from now on.
    pub pin: Pin,
}

fn forked(message: String) -> Error {
    Error::conflict(
        code::FORKED_LOG,
        format!(
            "{message}. This teller decrypts nothing and signs nothing on this log: tell the \
             other tellers, the officials and the auditors (docs/TELLERS.md)"
        ),
    )
}

/// The key `given` names (`--log-key`: a verifier key, or the fingerprint printed on the
/// notices), matched against the server's key when only a fingerprint is given.
fn given_key(given: &str, served: &str) -> Result<String> {
    if let Some(wanted) = parse_fingerprint(given) {
        let served_key = Verifier::parse(served.trim())
            .map_err(|e| forked(format!("the server's log key is unreadable: {e}")))?;
        let have = fingerprint(&served_key.public_key());
        if parse_fingerprint(&have) != Some(wanted) {
            return Err(forked(format!(
                "the server's log key has the fingerprint {have}, not {given} from the notices"
            )));
        }
        return Ok(served.trim().to_owned());
    }
    Verifier::parse(given.trim()).map_err(|e| {
        Error::bad_input(
            code::INVALID_BODY,
            format!("--log-key is neither a log key nor its fingerprint: {e}"),
        )
    })?;
    Ok(given.trim().to_owned())
}

fn key_fingerprint(vkey: &str) -> String {
    Verifier::parse(vkey)
        .map(|v| fingerprint(&v.public_key()))
        .unwrap_or_else(|_| "unreadable".into())
}

/// Checks a bundle (`log`, `checkpoint`, the server's `served_key`) against `file`'s pin — or,
/// before there is one, against `given` (the key from the notices) or, failing that, the
/// server's key, which is then pinned (and printed, for the teller to compare with the
/// notices).
pub fn check(
    file: &TellerFile,
    bundle: (Vec<u8>, String, String),
    given: Option<&str>,
) -> Result<Checked> {
    let (log, checkpoint, served_key) = bundle;
    let vkey = match (&file.pin, given) {
        (Some(pin), Some(given)) => {
            let wanted = given_key(given, &pin.vkey)?;
            if wanted != pin.vkey {
                return Err(forked(format!(
                    "the log key you gave ({}) is not the one pinned at the key ceremony ({})",
                    key_fingerprint(&wanted),
                    key_fingerprint(&pin.vkey)
                )));
            }
            wanted
        }
        (Some(pin), None) => pin.vkey.clone(),
        (None, Some(given)) => given_key(given, &served_key)?,
        (None, None) => served_key.trim().to_owned(),
    };
    let (report, fold) = verify_and_fold(&log, &checkpoint, &vkey).map_err(|e| {
        if served_key.trim() != vkey {
            forked(format!(
                "the server's log is signed with another key (fingerprint {}) than the one \
                 pinned at the key ceremony ({}): {e}",
                key_fingerprint(served_key.trim()),
                key_fingerprint(&vkey)
            ))
        } else {
            forked(format!("the election's log does not verify: {e}"))
        }
    })?;
    if report.election != file.election {
        return Err(forked(format!(
            "the server sent the log of election {}, not {}",
            report.election, file.election
        )));
    }
    let first_leaf = hex::encode(fold.first_leaf);
    if let Some(pin) = &file.pin {
        if pin.first_leaf != first_leaf {
            return Err(forked(
                "the log's entry 0 (the election's definition: question, locals, rules) is not \
                 the one of the key ceremony: this is another election's log under the same id"
                    .to_owned(),
            ));
        }
        let root = fold.root_at(pin.size).map(|r| B64.encode(r));
        if root.as_deref() != Some(pin.root.as_str()) {
            return Err(forked(format!(
                "the log does not extend the one this teller saw at the key ceremony ({} \
                 entries, root {}): entries were dropped, changed or reordered since — a fork \
                 or a restored copy",
                pin.size, pin.root
            )));
        }
    }
    let pin = Pin {
        vkey,
        first_leaf,
        size: report.size,
        root: report.root.clone(),
    };
    Ok(Checked { report, fold, pin })
}
