//! Casting over JSON, a member's receipt look-up and token status.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::with_conn;
use crate::ballot::receipt::{lookup_receipt, public_status};
use crate::ballot::{self, Cast, CastRequest};
use crate::election::{self, Choice, State};
use crate::error::{Error, ErrorCode, Result};
use crate::state::AppState;
use crate::token::PlainToken;
use crate::web::auth::Official;

/// Body of `POST /api/v1/ballots`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CastBody {
    token: String,
    choice: String,
}

impl CastBody {
    /// The request it asks for, or the API error naming what is wrong.
    pub fn request(&self) -> Result<CastRequest> {
        Ok(CastRequest {
            token: parse_token(&self.token)?,
            choice: parse_choice(&self.choice)?,
        })
    }
}

/// Parses what a member typed into a hashed token, or the API's `token_unknown`.
pub fn parse_token(text: &str) -> Result<crate::token::HashedToken> {
    PlainToken::parse(text).map(|t| t.hash()).map_err(|_| {
        Error::bad_input(
            ErrorCode::TokenUnknown,
            "this is not a ballot token: a token looks like SV-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX",
        )
    })
}

/// Parses a choice name, or the API's `invalid_choice`.
pub fn parse_choice(text: &str) -> Result<Choice> {
    Choice::parse(text.trim()).ok_or_else(|| {
        Error::bad_input(
            ErrorCode::InvalidChoice,
            "choose \"yes\" or \"no\" (or \"abstain\" where the election allows it)",
        )
    })
}

/// The JSON answer for a cast ballot: the receipt and the ballot's tracker, never the choice
/// (the answer is the same length whatever it was).
pub fn cast_json(cast: &Cast) -> serde_json::Value {
    json!({
        "receipt": cast.receipt,
        "tracker": cast.tracker,
        "election": cast.election,
        "local": cast.local,
        "leaf_index": cast.leaf_index,
        "tree_size": cast.tree_size,
        "checkpoint": cast.checkpoint,
        "inclusion_proof": cast.inclusion_proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })
}

/// `POST /api/v1/ballots` `{"token", "choice"}`: casts a ballot; answers after its batch
/// commits with the receipt, the leaf index, the signed checkpoint and the inclusion proof.
pub async fn cast(state: web::Data<AppState>, body: web::Json<CastBody>) -> Result<HttpResponse> {
    let cast = state.casting.cast(body.request()?).await?;
    Ok(HttpResponse::Ok().json(cast_json(&cast)))
}

/// `GET /api/v1/receipts/{receipt}`: a member's own ballot entry and its inclusion proof
/// against the latest checkpoint (allowed during the embargo: the member holds the receipt).
pub async fn receipt(
    state: web::Data<AppState>,
    receipt: web::Path<String>,
) -> Result<HttpResponse> {
    let body = with_conn(&state, move |c| {
        let found = lookup_receipt(c, &receipt)?;
        Ok(json!({
            "election": found.election,
            "leaf_index": found.index,
            "entry": found.entry,
            "tracker": found.tracker,
            "tree_size": found.tree_size,
            "checkpoint": found.checkpoint,
            "inclusion_proof": found.proof.iter().map(hex::encode).collect::<Vec<_>>(),
            "verified": found.verified,
        }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Body of `POST /api/v1/token-status`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    token: String,
}

/// `POST /api/v1/token-status` `{"token"}`: `not_used`, `used` or `revoked` — nothing more.
pub async fn token_status(
    state: web::Data<AppState>,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse> {
    let token = parse_token(&body.token)?;
    let status = with_conn(&state, move |c| ballot::token_status(c, &token)).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": public_status(status) })))
}

/// `GET /api/v1/elections/{id}/turnout`: ballots cast per local; no choices, ever.
pub async fn turnout(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = election::ElectionId::parse(&id)?;
    let t = with_conn(&state, move |c| election::count::turnout(c, id)).await?;
    Ok(HttpResponse::Ok().json(t))
}

/// `GET /api/v1/elections/{id}/results`: once the tellers have decrypted the result (409
/// `embargoed` while the vote is open, `awaiting_tellers` after close until then).
pub async fn results(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse> {
    let id = election::ElectionId::parse(&id)?;
    let (results, state_now) = with_conn(&state, move |c| {
        let r = election::count::results(c, id)?;
        Ok((r, election::find(c, id)?.state))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "certified": state_now == State::Certified,
        "results": results,
    })))
}
