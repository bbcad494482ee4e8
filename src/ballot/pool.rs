//! The casting pool: requests wait together for one batch commit (Sunlight/Rekor v2 style).
//!
//! One thread per process gathers requests for up to `period` after the first arrives (or
//! until `max_batch`) and prepares them ([`super::prepare`]: tokens looked up, proofs checked
//! and choices sealed on every core, no lock held); a second commits each prepared batch with
//! [`super::commit_prepared`] in one transaction per election, then answers every waiting
//! request. The first prepares the next batch while the second commits, so the cryptography
//! and the database's work overlap. One fsync serves the whole batch, and the batch hides the
//! order of arrival.
//!
//! For an election that lists witnesses, a committed ballot is acknowledged only once its
//! witnesses' quorum has cosigned a checkpoint covering it: a second thread (the publisher)
//! takes every committed batch waiting, asks the witnesses once for the newest checkpoint, and
//! answers all of them with it — while the others commit the next batches, so the
//! witnesses' round trip is paid once per round, not per ballot or per batch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Cast, CastRequest, ElectionKeys, Prepared, commit_prepared, recorded_unwitnessed};
use crate::db::Pool;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::witnessing::Witnessing;
use crate::metrics::Metrics;

/// How the pool batches, and how long a recorded ballot waits for its witnesses.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// How long a batch gathers after its first request.
    pub period: Duration,
    /// The most requests one batch commits.
    pub max: usize,
    /// How long a committed ballot waits for its witnesses before its member is told it is
    /// recorded but not yet confirmed.
    pub witness_wait: Duration,
}
/// How often the publisher tries again while witnesses do not answer.
const WITNESS_RETRY: Duration = Duration::from_secs(2);

struct Job {
    request: CastRequest,
    answer: oneshot::Sender<Result<Cast>>,
}

/// Handle to the pool; cheap to clone. The pool's thread ends when every handle is dropped,
/// after committing and answering what it holds.
#[derive(Clone)]
pub struct CastingPool {
    jobs: Sender<Job>,
    keys: Arc<ElectionKeys>,
}

impl CastingPool {
    /// Starts the pool's threads; returns the handle and the committing thread (to wait for
    /// on stop; the publisher ends after it, once it has answered what it holds).
    pub fn start(
        pool: Pool,
        signer: Arc<LogKey>,
        metrics: Arc<Metrics>,
        batching: Batching,
    ) -> (Self, Option<thread::JoinHandle<()>>) {
        let (jobs, inbox) = mpsc::channel();
        let keys = Arc::new(ElectionKeys::default());
        let (to_publish, publishing) = mpsc::channel();
        let publisher = {
            let (pool, keys) = (pool.clone(), keys.clone());
            thread::Builder::new()
                .name("casting-publisher".into())
                .spawn(move || {
                    let patience = (batching.witness_wait, Witnessing::default());
                    publish(&publishing, &pool, &keys, &patience)
                })
        };
        if let Err(e) = publisher {
            tracing::error!(error = %e, "cannot start the casting pool's publisher");
        }
        let committer = Committer {
            pool,
            signer,
            metrics,
            keys: keys.clone(),
            to_publish,
        };
        let spawned = thread::Builder::new()
            .name("casting-pool".into())
            .spawn(move || {
                let (to_commit, ready) = mpsc::sync_channel(1);
                let committer = Arc::new(committer);
                let gatherer = {
                    let committer = committer.clone();
                    let batching = (batching.period, batching.max.max(1));
                    thread::Builder::new()
                        .name("casting-gather".into())
                        .spawn(move || gather(&inbox, &to_commit, &committer, batching))
                };
                if let Err(e) = gatherer {
                    // Without it every cast answers "unavailable" (the inbox is dropped).
                    tracing::error!(error = %e, "cannot start the casting pool's first stage");
                    return;
                }
                // Ends once the first stage has ended and its last batch is committed.
                while let Ok(batch) = ready.recv() {
                    committer.commit(batch);
                }
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                // Without the thread every cast answers "unavailable" (the inbox is dropped).
                tracing::error!(error = %e, "cannot start the casting pool");
                None
            }
        };
        (Self { jobs, keys }, thread)
    }

    /// What the pool knows of each election (its key, its witnesses, its sealing codes), for
    /// the challenges, which are written outside the pool.
    pub fn keys(&self) -> Arc<ElectionKeys> {
        self.keys.clone()
    }

    /// Casts one ballot: waits for its batch to commit, then returns the receipt.
    pub async fn cast(&self, request: CastRequest) -> Result<Cast> {
        let (answer, wait) = oneshot::channel();
        self.jobs
            .send(Job { request, answer })
            .map_err(|_| Error::Unavailable("the casting pool is not running".into()))?;
        wait.await
            .map_err(|_| Error::Unavailable("the casting pool stopped".into()))?
    }
}

/// What the committing thread holds.
struct Committer {
    pool: Pool,
    signer: Arc<LogKey>,
    metrics: Arc<Metrics>,
    keys: Arc<ElectionKeys>,
    to_publish: Sender<Vec<Waiting>>,
}

/// A committed ballot waiting for its witnesses.
struct Waiting {
    cast: Cast,
    answer: oneshot::Sender<Result<Cast>>,
    since: Instant,
}

/// A batch prepared for its commit, and whom to answer.
struct Ready {
    prepared: Prepared,
    answers: Vec<oneshot::Sender<Result<Cast>>>,
    started: Instant,
}

/// The first stage: gathers each batch and prepares it ([`super::prepare`]: the tokens looked
/// up, the proofs checked and the choices sealed on every core), then hands it to the
/// committing stage — at most one batch waits there, so this stage prepares the next batch
/// while the one before commits.
fn gather(
    inbox: &Receiver<Job>,
    to_commit: &SyncSender<Ready>,
    committer: &Committer,
    batching: (Duration, usize),
) {
    let (period, max) = batching;
    while let Ok(first) = inbox.recv() {
        let deadline = Instant::now() + period;
        let mut batch = vec![first];
        while batch.len() < max {
            match inbox.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(job) => batch.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let started = Instant::now();
        let (requests, answers): (Vec<CastRequest>, Vec<_>) =
            batch.into_iter().map(|j| (j.request, j.answer)).unzip();
        let prepared = committer
            .pool
            .get()
            .map_err(Error::from)
            .and_then(|mut conn| super::prepare(&mut conn, &committer.keys, requests));
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                committer.failed(answers, &e);
                continue;
            }
        };
        let ready = Ready {
            prepared,
            answers,
            started,
        };
        if let Err(mpsc::SendError(lost)) = to_commit.send(ready) {
            let e = Error::Unavailable("the casting pool stopped".into());
            committer.failed(lost.answers, &e);
        }
    }
}

impl Committer {
    /// Answers a batch of which nothing was committed.
    fn failed(&self, batch: Vec<oneshot::Sender<Result<Cast>>>, e: &Error) {
        tracing::error!(batch = batch.len(), error = %e, "ballot batch failed; nothing committed");
        self.metrics
            .refused(ErrorCode::Unavailable, batch.len() as u64);
        for answer in batch {
            let _ = answer.send(Err(super::unconfirmed()));
        }
    }

    /// Commits one prepared batch and answers it, or hands its ballots to the publisher.
    fn commit(&self, ready: Ready) {
        let Ready {
            prepared,
            answers: batch,
            started,
        } = ready;
        let outcome =
            self.pool.get().map_err(Error::from).and_then(|mut conn| {
                commit_prepared(&mut conn, &self.signer, &self.keys, prepared)
            });
        let answers = match outcome {
            Ok(answers) => answers,
            Err(e) => return self.failed(batch, &e),
        };
        let outcomes: Vec<_> = answers
            .iter()
            .map(|a| a.as_ref().err().map(Error::code))
            .collect();
        self.metrics.batch(&outcomes, started.elapsed());
        let accepted = outcomes.iter().filter(|a| a.is_none()).count();
        // Counts only: never a token, a choice or a receipt.
        tracing::info!(
            batch = batch.len(),
            accepted,
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "ballot batch committed"
        );
        let mut waiting = Vec::new();
        for (to, answer) in batch.into_iter().zip(answers) {
            match answer {
                Ok(cast) if cast.witnessed => waiting.push(Waiting {
                    cast,
                    answer: to,
                    since: started,
                }),
                other => {
                    let _ = to.send(other);
                }
            }
        }
        if !waiting.is_empty()
            && let Err(mpsc::SendError(lost)) = self.to_publish.send(waiting)
        {
            tracing::error!("the casting publisher is not running; ballots recorded, unconfirmed");
            for w in lost {
                let _ = w.answer.send(Err(recorded_unwitnessed()));
            }
        }
    }
}

/// The publisher: gets each election's newest checkpoint cosigned and answers the ballots
/// waiting for it; retries elections whose witnesses do not answer.
fn publish(
    inbox: &Receiver<Vec<Waiting>>,
    pool: &Pool,
    keys: &ElectionKeys,
    patience: &(Duration, Witnessing),
) {
    let mut pending: BTreeMap<ElectionId, Vec<Waiting>> = BTreeMap::new();
    loop {
        let wait = if pending.is_empty() && keys.unwitnessed().is_empty() {
            Duration::from_secs(3600)
        } else {
            WITNESS_RETRY
        };
        let mut stopping = false;
        match inbox.recv_timeout(wait) {
            Ok(batch) => add(&mut pending, batch),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => stopping = true,
        }
        while let Ok(batch) = inbox.try_recv() {
            add(&mut pending, batch);
        }
        let mut elections: Vec<ElectionId> = pending.keys().copied().collect();
        elections.extend(keys.unwitnessed());
        elections.sort();
        elections.dedup();
        for id in elections {
            let waiting = pending.remove(&id).unwrap_or_default();
            let left = publish_one(pool, keys, patience, id, waiting, stopping);
            if !left.is_empty() {
                pending.insert(id, left);
            }
        }
        if stopping && pending.is_empty() {
            return;
        }
    }
}

fn add(pending: &mut BTreeMap<ElectionId, Vec<Waiting>>, batch: Vec<Waiting>) {
    for w in batch {
        pending.entry(w.cast.election).or_default().push(w);
    }
}

/// One election: cosigns its newest checkpoint and answers its waiting ballots; returns those
/// still waiting (their witnesses did not answer, and their patience is not out).
fn publish_one(
    pool: &Pool,
    keys: &ElectionKeys,
    (wait, witnessing): &(Duration, Witnessing),
    id: ElectionId,
    waiting: Vec<Waiting>,
    last_try: bool,
) -> Vec<Waiting> {
    let at_least = waiting.iter().map(|w| w.cast.tree_size).max().unwrap_or(0);
    let started = Instant::now();
    let outcome = pool.get().map_err(Error::from).and_then(|mut conn| {
        let election = election::find(&mut conn, id)?;
        let published = witnessing.cosign(&mut conn, &election, &election.definition, at_least)?;
        // A ballot whose own checkpoint is the one cosigned keeps its proof; the others (a later
        // batch was committed meanwhile) are proven into the cosigned tree.
        let moved: Vec<u64> = waiting
            .iter()
            .filter(|w| w.cast.tree_size != published.size)
            .map(|w| w.cast.leaf_index)
            .collect();
        let proofs = crate::log::store::inclusion_proofs(
            &mut conn,
            &election,
            published.size,
            &moved,
            &Default::default(),
        )?;
        Ok((published, proofs))
    });
    match outcome {
        Ok((published, proofs)) => {
            keys.set_unwitnessed(id, false);
            // Counts and times only.
            tracing::debug!(
                election = %id,
                ballots = waiting.len(),
                size = published.size,
                micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                "checkpoint cosigned; ballots answered"
            );
            let mut proofs = proofs.into_iter();
            for mut w in waiting {
                if w.cast.tree_size != published.size {
                    w.cast.inclusion_proof = proofs.next().unwrap_or_default();
                    w.cast.tree_size = published.size;
                }
                w.cast.checkpoint = published.note.clone();
                let _ = w.answer.send(Ok(w.cast));
            }
            Vec::new()
        }
        Err(e) => {
            if matches!(e, Error::Unwitnessed(_)) {
                keys.set_unwitnessed(id, true);
            }
            tracing::warn!(election = %id, waiting = waiting.len(), error = %e, "checkpoint not cosigned yet");
            let (give_up, keep): (Vec<_>, Vec<_>) = waiting
                .into_iter()
                .partition(|w| last_try || w.since.elapsed() >= *wait);
            for w in give_up {
                let _ = w.answer.send(Err(recorded_unwitnessed()));
            }
            keep
        }
    }
}
