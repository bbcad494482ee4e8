//! The officials' JSON API (bearer API token): the same operations as the CLI and the admin
//! pages, so a union can script an election end to end. Every action is logged with the
//! token's username.

use actix_web::http::header::ContentDisposition;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{read_body, with_conn};
use crate::election::Transition;
use crate::election::{self, Definition, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::roster;
use crate::state::AppState;
use crate::token::store as token_store;
use crate::web::auth::Official;

/// An election as the API shows it.
pub fn election_json(
    e: &election::Election,
    counts: &std::collections::BTreeMap<String, election::LocalCounts>,
    signer: &crate::log::LogKey,
) -> serde_json::Value {
    json!({
        "id": e.id,
        "state": e.state,
        "created_at": e.created_at.and_utc().to_rfc3339(),
        "origin": e.origin,
        "public_url": e.public_url,
        "key_fingerprint": crate::log::note::fingerprint(&signer.public_key()),
        "log_size": e.log_size,
        "definition": e.definition,
        "locals": counts,
    })
}

/// `GET /api/v1/elections`.
pub async fn list(_who: Official, state: web::Data<AppState>) -> Result<HttpResponse> {
    let all = with_conn(&state, election::list).await?;
    let rows: Vec<_> = all
        .iter()
        .map(|e| json!({ "id": e.id, "title": e.definition.title, "state": e.state }))
        .collect();
    Ok(HttpResponse::Ok().json(rows))
}

/// `GET /api/v1/elections/{id}`.
pub async fn show(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let signer = state.signer.clone();
    let body = with_conn(&state, move |c| {
        let e = election::find(c, id)?;
        let counts = election::local_counts(c, &e)?;
        Ok(election_json(&e, &counts, &signer))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes)
        .map_err(|_| Error::bad_input(ErrorCode::InvalidBody, "the body is not UTF-8 text"))
}

/// `POST /api/v1/elections` with the TOML definition as the body: 201 `{"id"}`.
pub async fn create(
    who: Official,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let text = utf8(read_body(body, state.settings.upload_limit_bytes).await?)?;
    let definition = Definition::from_toml(&text)
        .map_err(|e| Error::bad_input(ErrorCode::InvalidDefinition, e.to_string()))?;
    let (url, signer) = (state.public_url.clone(), state.signer.clone());
    let id = with_conn(&state, move |c| {
        election::create(c, &definition, &url, &signer, &by)
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({ "id": id })))
}

/// `POST /api/v1/elections/{id}/roster` with the CSV as the body.
pub async fn roster(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    let bytes = read_body(body, state.settings.upload_limit_bytes).await?;
    let (signer, max_rows) = (state.signer.clone(), state.settings.upload_max_rows);
    let summary = with_conn(&state, move |c| {
        roster::import(c, id, &bytes, &signer, &by, Some(max_rows), &|_, _| {})
    })
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// Issues every missing token; returns the CSV (the only copy, once).
pub async fn issue_csv(
    state: &web::Data<AppState>,
    id: ElectionId,
    by: String,
) -> Result<(usize, Vec<u8>)> {
    let signer = state.signer.clone();
    with_conn(state, move |c| {
        let mut csv = Vec::new();
        let n = token_store::issue_missing(c, id, &signer, &by, &mut |issued| {
            csv = token_store::mailing_csv(issued)?;
            Ok(())
        })?;
        Ok((n, csv))
    })
    .await
}

/// The mailing CSV as a one-time download (never cached), saying how many tokens it holds.
pub fn tokens_download(id: ElectionId, issued: usize, csv: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition::attachment(format!("tokens-{id}.csv")))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Strikevote-Issued", issued.to_string()))
        .body(csv)
}

/// `POST /api/v1/elections/{id}/tokens`: issues every missing token; answers the mailing CSV.
pub async fn issue(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    let (n, csv) = issue_csv(&state, id, by).await?;
    Ok(tokens_download(id, n, csv))
}

/// Body of `POST /api/v1/elections/{id}/tokens/reissue`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReissueBody {
    member: String,
}

/// `POST /api/v1/elections/{id}/tokens/reissue` `{"member"}`: the new token, once.
pub async fn reissue(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ReissueBody>,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    let signer = state.signer.clone();
    let member = body.member.clone();
    let t = with_conn(&state, move |c| {
        token_store::reissue(c, id, &member, &signer, &by)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "member_id": t.member_id,
            "local": t.local,
            "token": t.token.expose(),
            "ballot_url": t.ballot_url,
        })))
}

/// Opens, closes or certifies; answers the new state and log size.
async fn transition(
    state: &web::Data<AppState>,
    id: ElectionId,
    action: Transition,
    by: String,
) -> Result<serde_json::Value> {
    let signer = state.signer.clone();
    with_conn(state, move |c| {
        let checkpoint = election::apply(c, id, action, &signer, &by)?;
        let e = election::find(c, id)?;
        Ok(json!({ "id": id, "state": e.state, "log_size": checkpoint.size }))
    })
    .await
}

async fn act(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    action: Transition,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    Ok(HttpResponse::Ok().json(transition(&state, id, action, by).await?))
}

/// `POST /api/v1/elections/{id}/open`.
pub async fn open(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    act(who, state, id, Transition::Open).await
}

/// `POST /api/v1/elections/{id}/close`.
pub async fn close(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    act(who, state, id, Transition::Close).await
}

/// `POST /api/v1/elections/{id}/certify`.
pub async fn certify(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    act(who, state, id, Transition::Certify).await
}
