//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::db;
use crate::error::Error;
use crate::state::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the database answers a query.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let pool = state.pool.clone();
    web::block(move || -> Result<(), Error> {
        // A probe must answer quickly: wait 2 s for a connection, not the pool's 10 s.
        let mut conn = pool.get_timeout(std::time::Duration::from_secs(2))?;
        db::ping(&mut conn).map_err(|e| Error::Unavailable(e.to_string()))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })))
}
