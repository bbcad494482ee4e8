//! The officials' JSON API (bearer API token): the same operations as the CLI and the admin
//! pages, so a union can script an election end to end. Every action is logged with the
//! token's username.

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
use crate::web::page::mailing_download;

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
        let ceremony = election::ceremony::status(c, &e)?;
        Ok(election::summary_json(&e, &counts, &ceremony, &signer))
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
    let (id, invitations) = with_conn(&state, move |c| {
        let id = election::create(c, &definition, &url, &signer, &by)?;
        let codes: Vec<_> = crate::teller::invitations::issue(c, id)?
            .into_iter()
            .map(|(t, code)| json!({ "teller": t, "name": definition.tellers.name(t), "code": code }))
            .collect();
        Ok((id, codes))
    })
    .await?;
    // The invitation codes exist in plain text only in this answer.
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "id": id, "teller_invitations": invitations })))
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

/// `POST /api/v1/elections/{id}/tokens`: issues every missing token; answers the mailing CSV.
pub async fn issue(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    let signer = state.signer.clone();
    let (n, csv) = with_conn(&state, move |c| {
        token_store::issue_mailing(c, id, &signer, &by)
    })
    .await?;
    Ok(mailing_download(id, n, csv))
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
