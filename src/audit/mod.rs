//! The audit bundle: export from the database, and the offline verifier (no database).

use std::fs;
use std::io::Write;
use std::path::Path;

pub use strikevote_core::verify::{
    CHECKPOINT_FILE, Failure, KEY_FILE, LOG_FILE, Report, TrustAnchor, verify_bundle, verify_dir,
};

use crate::db::DbConnection;
use crate::election::{self, ElectionId};
use crate::error::{Error, Result};
use crate::log::store::{self, MAX_ENTRIES_PER_READ};
use crate::log::witnessing::Witnessing;
use crate::log::{LogKey, Verifier};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Entries written to `log.jsonl`.
    pub entries: u64,
}

/// The three files of an election's bundle, in memory: `log.jsonl`, `checkpoint`, `key.vkey`.
/// Available at any time: ballots are sealed, so an open vote's log reveals no count.
pub fn bundle_files(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
) -> Result<(Vec<u8>, String, String)> {
    let election = election::find(conn, id)?;
    // The checkpoint first: entries below its size are immutable, so later appends cannot
    // make the bundle inconsistent.
    let checkpoint =
        Witnessing::default().newest_published(conn, &election, &election.definition)?;
    let verifier = Verifier::from_public_key(&election.origin, &signer.public_key())
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut log = Vec::new();
    let mut next = 0;
    while next < checkpoint.size {
        let page = store::entries(
            conn,
            id,
            next,
            checkpoint.size.min(next + MAX_ENTRIES_PER_READ),
        )?;
        if page.is_empty() {
            return Err(Error::Internal(format!("the log of {id} ends at {next}")));
        }
        for entry in &page {
            log.extend_from_slice(&entry.bytes);
            log.push(b'\n');
        }
        next += page.len() as u64;
    }
    Ok((log, checkpoint.note, format!("{verifier}\n")))
}

/// Writes the bundle's three files into `dir` (created if missing).
pub fn export(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
    dir: &Path,
) -> Result<Exported> {
    let (log, checkpoint, key) = bundle_files(conn, id, signer)?;
    let io = |e: std::io::Error| {
        Error::Internal(format!("cannot write the bundle in {}: {e}", dir.display()))
    };
    fs::create_dir_all(dir).map_err(io)?;
    let entries = log.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut file = fs::File::create(dir.join(LOG_FILE)).map_err(io)?;
    file.write_all(&log).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::write(dir.join(CHECKPOINT_FILE), checkpoint).map_err(io)?;
    fs::write(dir.join(KEY_FILE), key).map_err(io)?;
    Ok(Exported { entries })
}
