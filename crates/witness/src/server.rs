//! The witness's HTTP interface: C2SP tlog-witness `add-checkpoint`, and two read-only pages for
//! monitors (`GET /` its state, `GET /forks` the evidence it kept).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use strikevote_core::witness::{Refusal, SIZE_CONTENT_TYPE};

use crate::{Outcome, Witness, now};

/// The largest request body: 63 proof lines and a checkpoint with a few dozen signatures.
pub const MAX_BODY: usize = 64 * 1024;

/// Registers the routes.
pub fn configure(witness: Arc<Witness>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::from(witness))
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route("/add-checkpoint", web::post().to(add_checkpoint))
            .route("/", web::get().to(status))
            .route("/forks", web::get().to(forks));
    }
}

fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

fn refused(refusal: &Refusal) -> HttpResponse {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
    match refusal {
        Refusal::Behind { latest } => HttpResponse::build(status)
            .content_type(SIZE_CONTENT_TYPE)
            .body(format!("{latest}\n")),
        other => text(status, format!("{other}\n")),
    }
}

async fn add_checkpoint(witness: web::Data<Witness>, body: web::Bytes) -> HttpResponse {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return text(StatusCode::BAD_REQUEST, "the request is not UTF-8\n".into());
    };
    let witness = witness.into_inner();
    let outcome = web::block(move || witness.add_checkpoint(&body, now())).await;
    match outcome {
        Ok(Outcome::Cosigned(line)) => text(StatusCode::OK, line),
        Ok(Outcome::Refused(refusal)) => refused(&refusal),
        Ok(Outcome::Failed(e)) => {
            tracing::error!(error = %e, "could not record the checkpoint; nothing cosigned");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the witness could not record its state; nothing was cosigned\n".into(),
            )
        }
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the witness is shutting down\n".into(),
        ),
    }
}

/// One log's latest cosigned checkpoint, as `GET /` shows it.
#[derive(Serialize)]
struct Held {
    origin: String,
    size: u64,
    checkpoint: String,
}

#[derive(Serialize)]
struct Status {
    name: String,
    verifier_key: String,
    logs_witnessed: Vec<crate::LogConfig>,
    checkpoints: Vec<Held>,
    forks_refused: usize,
}

fn unavailable(e: &crate::StoreError) -> HttpResponse {
    tracing::error!(error = %e, "cannot read the witness's state");
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "the witness cannot read its state\n".into(),
    )
}

async fn status(witness: web::Data<Witness>) -> HttpResponse {
    let dir = witness.dir();
    let read = dir.config().and_then(|config| {
        let held = dir.all_latest()?;
        let forks = dir.evidence()?.len();
        Ok((config, held, forks))
    });
    let (config, held, forks) = match read {
        Ok(r) => r,
        Err(e) => return unavailable(&e),
    };
    HttpResponse::Ok().json(Status {
        name: config.name,
        verifier_key: witness.verifier().to_string(),
        logs_witnessed: config.logs,
        checkpoints: held
            .into_iter()
            .map(|(c, note)| Held {
                origin: c.origin,
                size: c.size,
                checkpoint: note,
            })
            .collect(),
        forks_refused: forks,
    })
}

async fn forks(witness: web::Data<Witness>) -> HttpResponse {
    match witness.dir().evidence() {
        Ok(evidence) => HttpResponse::Ok().json(evidence),
        Err(e) => unavailable(&e),
    }
}
