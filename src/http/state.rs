//! The state every handler shares: built once by [`crate::startup::Application`], read by the
//! pages (`web/`) and the API (`api/`) alike, so neither borrows it from the other.

use std::sync::Arc;

use actix_web::web;

use crate::ballot::pool::CastingPool;
use crate::db::{DbConnection, Pool};
use crate::error::{Error, Result};
use crate::log::LogKey;
use crate::metrics::Metrics;
use crate::settings::{PublicUrl, Settings};

/// Shared, read-only state every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Database connections.
    pub pool: Pool,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The checkpoint signing key.
    pub signer: Arc<LogKey>,
    /// Where ballots wait for their batch.
    pub casting: CastingPool,
    /// The public URL of this deployment (new elections' origin and ballot links).
    pub public_url: PublicUrl,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
    /// Turns at checking passwords (bounded: [`crate::account::gate`]).
    pub password_gate: Arc<crate::account::gate::Gate>,
}

/// Runs blocking diesel work on a pooled connection, off the async workers.
pub async fn with_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
{
    let (pool, metrics) = (state.pool.clone(), state.metrics.clone());
    web::block(move || {
        let waited = std::time::Instant::now();
        let conn = pool.get();
        metrics.pool_wait(waited.elapsed());
        let mut conn = conn?;
        work(&mut conn)
    })
    .await
    .map_err(|e| Error::Internal(format!("worker failed: {e}")))?
}
