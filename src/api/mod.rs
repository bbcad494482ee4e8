//! The JSON API under `/api/v1`.

pub mod ballot;
mod log;

use actix_web::web;

use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::startup::AppState;

/// Registers the API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/key", web::get().to(log::public_key))
            .route("/ballots", web::post().to(ballot::cast))
            .route("/receipts/{receipt}", web::get().to(ballot::receipt))
            .route("/token-status", web::post().to(ballot::token_status))
            .route("/elections/{id}/turnout", web::get().to(ballot::turnout))
            .route("/elections/{id}/results", web::get().to(ballot::results))
            .route("/elections/{id}/key", web::get().to(log::verifier_key))
            .route("/elections/{id}/checkpoint", web::get().to(log::checkpoint))
            .route("/elections/{id}/entries", web::get().to(log::entries))
            .route(
                "/elections/{id}/proof/inclusion",
                web::get().to(log::inclusion),
            )
            .route(
                "/elections/{id}/proof/consistency",
                web::get().to(log::consistency),
            ),
    );
}

/// Runs blocking diesel work on a pooled connection, off the async workers.
pub async fn with_conn<T, F>(state: &web::Data<AppState>, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await
    .map_err(|e| Error::Internal(format!("worker failed: {e}")))?
}
