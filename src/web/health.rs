//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::error::Error;
use crate::state::AppState;

/// A liveness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Alive {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    status: &'static str,
}

/// A readiness answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    status: &'static str,
    /// Always `ok`: the database answered.
    #[schema(pattern = "^ok$")]
    database: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "probes",
    responses((status = 200, description = "The process answers", body = Alive)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Alive { status: "ok" })
}

/// Readiness: the database answers a query.
#[utoipa::path(get, path = "/readyz", tag = "probes",
    responses((status = 200, description = "The database answers", body = Ready)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let pool = state.pool.clone();
    web::block(move || -> Result<(), Error> {
        // A probe must answer quickly: wait 2 s for a connection, not the pool's 10 s.
        let mut conn = pool.get_timeout(std::time::Duration::from_secs(2))?;
        db::ping(&mut conn).map_err(|e| Error::Unavailable(e.to_string()))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        database: "ok",
    }))
}
