//! The casting pool: requests wait together for one batch commit (Sunlight/Rekor v2 style).
//!
//! One thread per process gathers requests for up to `period` after the first arrives (or
//! until `max_batch`), commits them with [`super::commit_batch`] in one transaction, then
//! answers every waiting request. One fsync serves the whole batch, and the batch hides the
//! order of arrival.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Cast, CastRequest, ElectionKeys, commit_batch};
use crate::db::Pool;
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::metrics::Metrics;

struct Job {
    request: CastRequest,
    answer: oneshot::Sender<Result<Cast>>,
}

/// Handle to the pool; cheap to clone. The pool's thread ends when every handle is dropped,
/// after committing and answering what it holds.
#[derive(Clone)]
pub struct CastingPool {
    jobs: Sender<Job>,
}

impl CastingPool {
    /// Starts the pool's thread; returns the handle and the thread (to wait for on stop).
    pub fn start(
        pool: Pool,
        signer: Arc<LogKey>,
        metrics: Arc<Metrics>,
        period: Duration,
        max_batch: usize,
    ) -> (Self, Option<thread::JoinHandle<()>>) {
        let (jobs, inbox) = mpsc::channel();
        let spawned = thread::Builder::new()
            .name("casting-pool".into())
            .spawn(move || run(inbox, pool, signer, metrics, period, max_batch.max(1)));
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                // Without the thread every cast answers "unavailable" (the inbox is dropped).
                tracing::error!(error = %e, "cannot start the casting pool");
                None
            }
        };
        (Self { jobs }, thread)
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

fn run(
    inbox: Receiver<Job>,
    pool: Pool,
    signer: Arc<LogKey>,
    metrics: Arc<Metrics>,
    period: Duration,
    max: usize,
) {
    let keys = ElectionKeys::default();
    while let Ok(first) = inbox.recv() {
        let deadline = Instant::now() + period;
        let mut batch = vec![first];
        while batch.len() < max {
            match inbox.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(job) => batch.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let requests: Vec<CastRequest> = batch.iter().map(|j| j.request).collect();
        let started = Instant::now();
        let outcome = pool
            .get()
            .map_err(Error::from)
            .and_then(|mut conn| commit_batch(&mut conn, &signer, &keys, &requests));
        match outcome {
            Ok(answers) => {
                let outcomes: Vec<_> = answers
                    .iter()
                    .map(|a| a.as_ref().err().map(Error::code))
                    .collect();
                metrics.batch(&outcomes, started.elapsed());
                let accepted = outcomes.iter().filter(|a| a.is_none()).count();
                // Counts only: never a token, a choice or a receipt.
                tracing::info!(
                    batch = batch.len(),
                    accepted,
                    micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                    "ballot batch committed"
                );
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.answer.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(batch = batch.len(), error = %e, "ballot batch failed; nothing committed");
                metrics.refused(ErrorCode::Unavailable, batch.len() as u64);
                for job in batch {
                    let _ = job.answer.send(Err(super::unconfirmed()));
                }
            }
        }
    }
}
