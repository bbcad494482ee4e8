//! A bound on password hashing: argon2id takes ~19 MiB and tens of milliseconds per check, so
//! unbounded, a flood of sign-ins (under every per-address limit, from many addresses) takes the
//! server's memory and stalls voters. Each server has one [`Gate`]: at most [`running`] checks
//! run at once, up to [`MAX_WAITING`] more wait their turn, and any further attempt is refused
//! at once with 429.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, Result};

/// Sign-ins that may wait for a password check at once.
pub const MAX_WAITING: usize = 32;

/// Password checks that run at once: the cores, at most four.
pub fn running() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// One server's turns at checking passwords.
#[derive(Debug)]
pub struct Gate {
    running: Semaphore,
    waiting: AtomicUsize,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            running: Semaphore::new(running()),
            waiting: AtomicUsize::new(0),
        }
    }
}

impl Gate {
    /// Waits for a turn to check a password; refused at once (`TooManyRequests`) when
    /// [`MAX_WAITING`] sign-ins are already waiting. The turn ends when the permit is dropped.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::TooManyRequests(
                "the server is busy checking passwords: try again in a few seconds".into(),
            ));
        }
        let permit = self.running.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|_| Error::Internal("the password gate is closed".into()))
    }
}
