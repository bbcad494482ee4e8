//! strikevote-witness: a witness for election logs, anyone can run (a caucus, a neutral body, an
//! auditor), on their own machine, with no election database.
//!
//! It speaks C2SP `tlog-witness`: `POST /add-checkpoint` with the size it last cosigned, a
//! consistency proof and the log's new signed checkpoint; it answers with a `cosignature/v1`
//! line only when the new checkpoint extends the one it holds, after recording it durably.
//! A checkpoint that contradicts what it holds is refused and kept as evidence of a fork
//! (`GET /forks`). The rules are the core's ([`strikevote_core::witness::judge`]).

pub mod cli;
pub mod server;
pub mod store;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use strikevote_core::note::Checkpoint;
use strikevote_core::witness::{
    self, AddCheckpoint, Refusal, WitnessKey, WitnessVerifier, WitnessedLog,
};

pub use store::{Config, Dir, Evidence, LogConfig, StoreError};

/// What became of an `add-checkpoint` request.
#[derive(Debug)]
pub enum Outcome {
    /// Cosigned: the cosignature line(s), to append to the checkpoint.
    Cosigned(String),
    /// Refused by the protocol's rules.
    Refused(Refusal),
    /// The witness could not record its state: nothing was cosigned.
    Failed(StoreError),
}

/// A serving witness: its key, the logs it witnesses, and its state (one process per
/// directory, held by a lock for as long as this lives).
pub struct Witness {
    key: WitnessKey,
    logs: Vec<WitnessedLog>,
    dir: Dir,
    /// The latest checkpoint of each origin, as on disk; the mutex makes check-and-record
    /// atomic (the race the protocol warns of: two requests must never both pass the check).
    latest: Mutex<HashMap<String, Checkpoint>>,
    _lock: File,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Witness({})", self.key.verifier())
    }
}

/// The time now, POSIX seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Witness {
    /// Opens the witness in `path` (made by [`Dir::init`]), taking its lock.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let dir = Dir::at(path);
        let lock = dir.lock()?;
        let config = dir.config()?;
        let key = dir.key(&config.name)?;
        let logs = config.witnessed(&path.join("witness.toml"))?;
        Ok(Self {
            key,
            logs,
            dir,
            latest: Mutex::new(HashMap::new()),
            _lock: lock,
        })
    }

    /// Its verifier key.
    pub fn verifier(&self) -> WitnessVerifier {
        self.key.verifier()
    }

    /// Its directory.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// How many logs it witnesses.
    pub fn log_count(&self) -> usize {
        self.logs.len()
    }

    /// Handles an `add-checkpoint` request body at time `now`.
    pub fn add_checkpoint(&self, body: &str, now: u64) -> Outcome {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return Outcome::Refused(Refusal::BadRequest(e.to_string())),
        };
        let new = match witness::signed_checkpoint(&self.logs, &request.note) {
            Ok(c) => c,
            Err(refusal) => return Outcome::Refused(refusal),
        };
        // A poisoned lock means a panic mid-request; the state on disk is still whole.
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let held = match latest.get(&new.origin) {
            Some(c) => Some((c.clone(), None)),
            None => match self.dir.latest(&new.origin) {
                Ok(found) => found.map(|(c, note)| (c, Some(note))),
                Err(e) => return Outcome::Failed(e),
            },
        };
        if let Err(refusal) = witness::judge(held.as_ref().map(|h| &h.0), &request, &new) {
            if refusal.is_evidence() {
                self.keep_evidence(&new.origin, &refusal, body, now);
            }
            return Outcome::Refused(refusal);
        }
        let line = self.key.cosign(&new.body(), now);
        let cosigned = format!("{}{line}", request.note);
        if let Err(e) = self.dir.store_latest(&new.origin, &cosigned) {
            return Outcome::Failed(e);
        }
        latest.insert(new.origin.clone(), new);
        Outcome::Cosigned(line)
    }

    fn keep_evidence(&self, origin: &str, refusal: &Refusal, body: &str, now: u64) {
        let held = match self.dir.latest(origin) {
            Ok(Some((_, note))) => note,
            _ => String::new(),
        };
        let evidence = Evidence {
            origin: origin.to_owned(),
            at: now,
            reason: refusal.to_string(),
            held,
            refused: body.to_owned(),
        };
        match self.dir.record_evidence(&evidence) {
            Ok(()) => {
                tracing::warn!(origin, reason = %refusal, "refused a fork of the log; evidence kept")
            }
            Err(e) => {
                tracing::error!(origin, error = %e, "refused a fork of the log; the evidence could not be kept")
            }
        }
    }
}

/// No process of ours leaves its memory on disk: the server holds members' tokens (and, for
/// pages without JavaScript, their choices) while it casts, a teller its key share, a witness
/// its key. A crash writes no core file (the core size limit is set to 0 for this process and
/// its children), and the process is marked non-dumpable, which also keeps other processes of
/// the same (non-root) user from attaching to it or reading its memory through /proc. Root
/// can still read it: OPERATIONS.md says so.
pub fn no_core_dumps() {
    #[cfg(target_os = "linux")]
    // SAFETY: system calls on this process's own attributes; the only pointers are to locals
    // that outlive the calls, of the types the calls expect.
    unsafe {
        // Only when not already off: the systemd unit sets `LimitCORE=0` and filters out
        // `@resources`, where setrlimit is.
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let off = libc::getrlimit(libc::RLIMIT_CORE, &raw mut now) == 0
            && now.rlim_cur == 0
            && now.rlim_max == 0;
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if !off && libc::setrlimit(libc::RLIMIT_CORE, &raw const none) != 0 {
            eprintln!("warning: could not turn core dumps off (setrlimit)");
        }
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            eprintln!("warning: could not make the process non-dumpable (prctl)");
        }
    }
}
