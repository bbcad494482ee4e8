//! Read-only log routes: key, checkpoint, entries, inclusion and consistency proofs.
//!
//! The whole log is public at every moment, ballots included: a ballot entry holds only its
//! local, its ballot sealed to the tellers' election key, and a random receipt, so anyone can
//! check the log while the vote runs and nobody can count it before the tellers decrypt.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::json;

use super::with_conn;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::merkle::Hash;
use crate::log::store::{self, MAX_ENTRIES_PER_READ};
use crate::state::AppState;

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// `GET /api/v1/key`: the bare Ed25519 public key that signs every election's checkpoints.
pub async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "algorithm": "ed25519",
        "public_key": B64.encode(state.signer.public_key()),
    }))
}

/// `GET /api/v1/elections/{id}/key`: the election's verifier key, as in the bundle's key.vkey.
pub async fn verifier_key(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let election = with_conn(&state, move |c| election::find(c, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(format!("{}\n", state.signer.verifier(&election.origin))))
}

/// `GET /api/v1/elections/{id}/checkpoint`: the latest signed note.
pub async fn checkpoint(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let checkpoint = with_conn(&state, move |c| {
        election::find(c, id)?;
        store::latest_checkpoint(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(checkpoint.note))
}

/// Query of `entries`.
#[derive(Deserialize)]
pub struct EntriesQuery {
    start: Option<u64>,
    end: Option<u64>,
}

/// `GET /api/v1/elections/{id}/entries?start=&end=`: entries `[start, end)` as JSON lines, the
/// exact stored bytes, at most 1000 per answer (continue from the last index + 1).
pub async fn entries(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let body = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let size = election.log_size;
        let start = query.start.unwrap_or(0);
        let end = query.end.unwrap_or(size);
        if end > size {
            return Err(Error::bad_input(
                ErrorCode::SizeBeyondLog,
                format!("end {end} is beyond the log, which has {size} entries"),
            ));
        }
        if start > end {
            return Err(Error::bad_input(
                ErrorCode::InvalidRange,
                format!("start {start} is after end {end}"),
            ));
        }
        let end = end.min(start.saturating_add(MAX_ENTRIES_PER_READ));
        let mut body = Vec::new();
        for entry in store::entries(c, id, start, end)? {
            body.extend(entry.bytes);
            body.push(b'\n');
        }
        Ok(body)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/jsonl")
        .body(body))
}

/// Query of `proof/inclusion`.
#[derive(Deserialize)]
pub struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// `GET /api/v1/elections/{id}/proof/inclusion?index=&size=`: RFC 9162 inclusion proof of
/// entry `index` in the tree of `size` entries (default: the latest checkpoint's).
pub async fn inclusion(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let body = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let size = query.size.unwrap_or(election.log_size);
        let proof = store::inclusion_proof(c, &election, query.index, size)?;
        Ok(json!({
            "index": query.index,
            "size": size,
            "leaf_hash": hex::encode(store::leaf_hash(c, &election, query.index)?),
            "root": hex::encode(store::root_at(c, &election, size)?),
            "hashes": hexes(&proof),
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `proof/consistency`.
#[derive(Deserialize)]
pub struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

/// `GET /api/v1/elections/{id}/proof/consistency?from=&to=`: RFC 9162 consistency proof
/// between the trees of `from` and `to` entries (default `to`: the latest).
pub async fn consistency(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let body = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let to = query.to.unwrap_or(election.log_size);
        let proof = store::consistency_proof(c, &election, query.from, to)?;
        Ok(json!({
            "from": query.from,
            "to": to,
            "from_root": hex::encode(store::root_at(c, &election, query.from)?),
            "to_root": hex::encode(store::root_at(c, &election, to)?),
            "hashes": hexes(&proof),
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
