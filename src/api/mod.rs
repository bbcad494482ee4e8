//! The JSON API under `/api/v1`.

pub mod admin;
pub mod ballot;
pub mod log;
pub mod notices;
pub mod openapi;
pub mod tellers;

use actix_web::web;

use crate::error::{Error, ErrorCode, Result};

pub use crate::http::state::with_conn;

/// The path of routes under one election.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // described, not read: handlers parse the path themselves
pub struct ElectionPath {
    /// The election's id.
    #[param(value_type = String, format = "uuid")]
    id: String,
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
