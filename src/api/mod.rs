//! The JSON API under `/api/v1`.

pub mod admin;
pub mod ballot;
pub mod log;

use actix_web::web;

use crate::db::DbConnection;
use crate::error::{Error, ErrorCode, Result};
use crate::state::AppState;

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

/// Reads a whole request body of at most `limit` bytes (for uploads larger than the
/// JSON/form limit: rosters and definitions).
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::bad_input(ErrorCode::InvalidBody, e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(Error::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
