//! Getting an election's checkpoints cosigned by the witnesses its entry 0 lists, before anyone
//! relies on them (C2SP tlog-witness; docs/OPERATIONS.md, "Witnesses").
//!
//! A checkpoint is *published* — served at `/checkpoint`, put on receipts and in the audit
//! bundle — once its quorum of witnesses has cosigned it. Each witness is sent the newest
//! signed checkpoint with a consistency proof from the size it last cosigned (as stored, or as
//! it answers with a 409), all witnesses at once, at most three rounds. A witness that holds a
//! checkpoint this database cannot extend (a restored or forked database) refuses, and the
//! log stays unpublished: that is the point.

use std::time::Duration;

use diesel::Connection;

use strikevote_core::definition::Definition;
use strikevote_core::witness::{AddCheckpoint, SIZE_CONTENT_TYPE, WitnessVerifier};

use super::cosignatures;
use super::store::{self, LogSource, StoredCheckpoint};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use strikevote_core::ElectionId;

/// How long one witness may take to answer.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);
/// Rounds of asking (a witness behind or ahead answers 409 with its size, then is asked again).
const ROUNDS: usize = 3;

/// The witnesses' key names and the quorum of a definition (none and 0 without witnesses).
pub fn quorum_of(definition: &Definition) -> (Vec<String>, usize) {
    match &definition.witnesses {
        Some(w) => (
            w.verifiers().iter().map(|v| v.name().to_owned()).collect(),
            w.quorum(),
        ),
        None => (Vec::new(), 0),
    }
}

fn unwitnessed(cosigned: usize, quorum: usize) -> Error {
    Error::Unwitnessed(format!(
        "the election's independent witnesses have not confirmed its log yet ({cosigned} of the \
         {quorum} needed): nothing was acknowledged, so try again shortly"
    ))
}

/// The published checkpoint of an election (its witnesses' quorum cosigned it, or it lists
/// none); an error when none has been cosigned yet.
pub fn published(
    conn: &mut DbConnection,
    election: &impl LogSource,
    definition: &Definition,
) -> Result<StoredCheckpoint> {
    let (names, quorum) = quorum_of(definition);
    cosignatures::published(conn, election.log_of().id, &names, quorum)?
        .ok_or_else(|| unwitnessed(0, quorum))
}

/// How long readers serve the published checkpoint without asking, after witnesses failed.
pub const READER_BACKOFF: Duration = Duration::from_secs(10);

/// Per election: whether a reader is asking the witnesses now, and when they last failed.
static READERS: std::sync::Mutex<
    std::collections::BTreeMap<ElectionId, (bool, Option<std::time::Instant>)>,
> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// A reader's turn to ask the witnesses of one election (released on drop).
struct ReaderTurn(ElectionId);

impl ReaderTurn {
    fn take(id: ElectionId) -> Option<Self> {
        let mut readers = READERS.lock().unwrap_or_else(|p| p.into_inner());
        let (asking, failed) = readers.entry(id).or_insert((false, None));
        if *asking || failed.is_some_and(|t| t.elapsed() < READER_BACKOFF) {
            return None;
        }
        *asking = true;
        Some(Self(id))
    }

    fn failed(id: ElectionId) {
        let mut readers = READERS.lock().unwrap_or_else(|p| p.into_inner());
        readers.entry(id).or_insert((false, None)).1 = Some(std::time::Instant::now());
    }
}

impl Drop for ReaderTurn {
    fn drop(&mut self) {
        let mut readers = READERS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = readers.get_mut(&self.0) {
            entry.0 = false;
        }
    }
}

/// What a witness answered.
enum Answer {
    /// 200: its cosignature line(s).
    Cosigned(String),
    /// 409 with `text/x.tlog.size`: the size it last cosigned.
    Behind(u64),
    /// Anything else: refused (a fork, a key it does not trust) or unreachable.
    Failed(String),
}

/// Asks witnesses to cosign; cheap to clone (one HTTP agent, kept-alive connections).
#[derive(Clone)]
pub struct Witnessing {
    agent: ureq::Agent,
}

impl Default for Witnessing {
    fn default() -> Self {
        Self::new(WITNESS_TIMEOUT)
    }
}

impl Witnessing {
    /// A client whose requests each take at most `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout(timeout)
                .build(),
        }
    }

    fn ask(&self, url: &str, body: &str) -> Answer {
        let response = match self
            .agent
            .post(&format!("{url}/add-checkpoint"))
            .set("Content-Type", "text/plain; charset=utf-8")
            .send_string(body)
        {
            Ok(r) => r,
            Err(ureq::Error::Status(409, r)) if r.content_type() == SIZE_CONTENT_TYPE => {
                let text = r.into_string().unwrap_or_default();
                return match text.trim_end_matches('\n').parse() {
                    Ok(size) => Answer::Behind(size),
                    Err(_) => Answer::Failed(format!("409 with a malformed size `{text}`")),
                };
            }
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                return Answer::Failed(format!("{code}: {}", text.trim()));
            }
            Err(e) => return Answer::Failed(e.to_string()),
        };
        match response.into_string() {
            Ok(lines) => Answer::Cosigned(lines),
            Err(e) => Answer::Failed(e.to_string()),
        }
    }

    /// Makes sure a checkpoint of at least `at_least` entries is published, asking the
    /// witnesses to cosign the newest signed checkpoint if it is not; returns the published
    /// checkpoint, or [`Error::Unwitnessed`] when too few witnesses cosigned.
    pub fn cosign(
        &self,
        conn: &mut DbConnection,
        election: &impl LogSource,
        definition: &Definition,
        at_least: u64,
    ) -> Result<StoredCheckpoint> {
        let id = election.log_of().id;
        let Some(witnesses) = &definition.witnesses else {
            return store::latest_checkpoint(conn, id);
        };
        let (names, quorum) = quorum_of(definition);
        if let Some(p) = cosignatures::published(conn, id, &names, quorum)?
            && p.size >= at_least
        {
            return Ok(p);
        }
        let latest = store::latest_checkpoint(conn, id)?;
        let done = cosignatures::at(conn, id, latest.size, &names)?;
        let mut asking = Vec::new();
        for (one, verifier) in witnesses.list.iter().zip(witnesses.verifiers()) {
            if done.iter().all(|(w, _)| w != verifier.name()) {
                let old = cosignatures::latest_by(conn, id, verifier.name())?;
                asking.push((one.url.as_str(), verifier, old));
            }
        }
        for _ in 0..ROUNDS {
            if asking.is_empty() {
                break;
            }
            asking = self.round(conn, election, &latest, asking)?;
        }
        match cosignatures::published(conn, id, &names, quorum)? {
            Some(p) if p.size >= at_least => Ok(p),
            _ => {
                let have = cosignatures::at(conn, id, latest.size, &names)?.len();
                Err(unwitnessed(have, quorum))
            }
        }
    }

    /// The newest checkpoint that can be published now: the newest signed one if the
    /// witnesses cosign it (they are asked when it is not yet), else the newest they did.
    /// Readers (anyone fetching `/checkpoint`) never pile up on slow witnesses: while one
    /// request of this process asks them for an election, or for [`READER_BACKOFF`] after
    /// they failed, the others are answered with what is already published.
    pub fn newest_published(
        &self,
        conn: &mut DbConnection,
        election: &impl LogSource,
        definition: &Definition,
    ) -> Result<StoredCheckpoint> {
        let id = election.log_of().id;
        let Some(_turn) = ReaderTurn::take(id) else {
            return published(conn, election, definition);
        };
        let newest = store::latest_checkpoint(conn, id)?;
        match self.cosign(conn, election, definition, newest.size) {
            Err(Error::Unwitnessed(_)) => {
                ReaderTurn::failed(id);
                published(conn, election, definition)
            }
            other => other,
        }
    }

    /// One round: every witness still to ask is sent the checkpoint at once; returns those who
    /// answered with another size, to ask again from it.
    fn round<'a>(
        &self,
        conn: &mut DbConnection,
        election: &impl LogSource,
        latest: &StoredCheckpoint,
        asking: Vec<(&'a str, WitnessVerifier, u64)>,
    ) -> Result<Vec<(&'a str, WitnessVerifier, u64)>> {
        let id = election.log_of().id;
        let mut requests = Vec::with_capacity(asking.len());
        for (url, verifier, old) in asking {
            if old > latest.size {
                tracing::error!(
                    election = %id, witness = verifier.name(), witness_size = old, log_size = latest.size,
                    "a witness has cosigned more of this log than the database holds: the database is behind what was published (restored or forked); nothing will be cosigned"
                );
                continue;
            }
            let proof = if old == 0 || old == latest.size {
                Vec::new()
            } else {
                store::consistency_proof(conn, election, old, latest.size)?
            };
            let body = AddCheckpoint {
                old_size: old,
                proof,
                note: latest.note.clone(),
            }
            .to_body();
            requests.push((url, verifier, body));
        }
        let answers: Vec<Answer> = std::thread::scope(|s| {
            let asked: Vec<_> = requests
                .iter()
                .map(|(url, _, body)| s.spawn(move || self.ask(url, body)))
                .collect();
            asked
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Answer::Failed("the request panicked".into()))
                })
                .collect()
        });
        let mut again = Vec::new();
        let mut cosigned = Vec::new();
        for ((url, verifier, _), answer) in requests.into_iter().zip(answers) {
            match answer {
                Answer::Cosigned(lines) => {
                    let valid = lines
                        .lines()
                        .map(|l| format!("{l}\n"))
                        .find(|line| verifier.cosigned(&format!("{}{line}", latest.note)).is_ok());
                    match valid {
                        Some(line) => cosigned.push((verifier.name().to_owned(), line)),
                        None => tracing::warn!(
                            election = %id, witness = verifier.name(),
                            "a witness answered without a valid cosignature by its key"
                        ),
                    }
                }
                Answer::Behind(size) => again.push((url, verifier, size)),
                Answer::Failed(why) => tracing::warn!(
                    election = %id, witness = verifier.name(), size = latest.size, reason = %why,
                    "a witness did not cosign the checkpoint"
                ),
            }
        }
        // One commit (one fsync) for the round's cosignatures.
        conn.transaction(|conn| {
            for (witness, line) in &cosigned {
                cosignatures::record(conn, id, latest.size, witness, line)?;
            }
            Ok::<_, Error>(())
        })?;
        Ok(again)
    }
}
