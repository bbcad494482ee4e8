//! Liveness and readiness probes for load balancers and orchestrators, and `/metrics`.
//!
//! `/metrics` access ([`MetricsAccess`]): served on a separate internal listener
//! (`metrics_bind`) with no credentials, and/or on the public port to callers with
//! `Authorization: Bearer <metrics_token>`; with neither set, it answers 404 saying how to turn
//! it on.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::error::{Error, ErrorCode};
use crate::http::state::{AppState, with_conn};

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

/// Who may read `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsAccess {
    /// The internal listener: anyone who can reach it.
    Internal,
    /// The public port: only with the bearer token.
    Public,
}

/// `GET /metrics`.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let access = req
        .app_data::<web::Data<MetricsAccess>>()
        .map_or(MetricsAccess::Public, |a| *a.get_ref());
    if access == MetricsAccess::Public {
        let refusal = match state.settings.metrics_token.as_deref() {
            None | Some("") => Some((
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "metrics are not served on this port: set metrics_bind (an internal address) \
                 or metrics_token (then send Authorization: Bearer <token>); see docs/OPERATIONS.md",
            )),
            Some(token) if !bearer_matches(&req, token) => Some((
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "metrics need Authorization: Bearer <metrics_token>",
            )),
            Some(_) => None,
        };
        if let Some((status, code, message)) = refusal {
            return HttpResponse::build(status)
                .json(serde_json::json!({"error": code.as_str(), "message": message}));
        }
    }
    let elections = with_conn(&state, |c| {
        Ok(crate::election::list(c)?
            .into_iter()
            .map(|e| (e.id.to_string(), e.state.as_str().to_owned(), e.log_size))
            .collect::<Vec<_>>())
    })
    .await
    .map_err(|e: Error| tracing::warn!(error = %e, "metrics could not read the elections"))
    .ok();
    let body = state.metrics.render(&state.pool, elections);
    HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// Whether the request carries `Authorization: Bearer <token>` (compared in constant time).
fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return false;
    };
    super::same_secret(given.trim().as_bytes(), token.as_bytes())
}
