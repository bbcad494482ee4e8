//! The key ceremony for tellers on their own machines: each request carries the teller's
//! invitation code (`Authorization: Teller <code>`) and its number in the path. A teller reads
//! the ceremony's log entries and replays them itself (it trusts the server for nothing but
//! delivery), publishes its own messages, and stores and fetches age-sealed secret shares.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::with_conn;
use crate::election::{self, ElectionId, decryption};
use crate::error::{Error, ErrorCode, Result};
use crate::http::state::AppState;
use crate::log::entry::{Body, Entry, Kind, TallyShare};
use crate::log::store as log_store;
use crate::teller::{invitations, store};

/// The teller number of a path (`…/tellers/{teller}/…`).
pub(super) fn teller_number(segment: &str) -> Result<u32> {
    segment.parse().map_err(|_| {
        Error::bad_input(
            ErrorCode::InvalidQuery,
            "the teller number is a whole number",
        )
    })
}

/// The election and teller of the path, once the invitation code checks out.
async fn teller(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: &(String, String),
) -> Result<(ElectionId, u32)> {
    let id = ElectionId::parse(&path.0)?;
    let teller = teller_number(&path.1)?;
    let code = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Teller "))
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::Unauthorized("a teller sends `Authorization: Teller <invitation code>`".into())
        })?;
    with_conn(state, move |c| invitations::check(c, id, teller, &code)).await?;
    Ok((id, teller))
}

/// The teller of the path and its request body, read only once the invitation checks out
/// (nobody learns anything about the body's form without one).
async fn authorised<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: &(String, String),
    body: &[u8],
) -> Result<(ElectionId, u32, T)> {
    let (id, me) = teller(req, state, path).await?;
    let body = serde_json::from_slice(body).map_err(|e| {
        Error::bad_input(
            ErrorCode::InvalidJson,
            format!("the body is not the expected JSON: {e}"),
        )
    })?;
    Ok((id, me, body))
}

/// The path of the teller routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // described, not read: handlers parse the path themselves
pub struct TellerPath {
    /// The election's id.
    #[param(value_type = String, format = "uuid")]
    id: String,
    /// The teller's number, 1-based.
    #[param(value_type = u32, minimum = 1)]
    teller: String,
}

/// What a teller sees of the ceremony.
#[derive(Serialize, ToSchema)]
pub struct Board {
    /// The tellers' count and threshold.
    tellers: TellerCount,
    /// The ceremony's log entries, exact text, in log order.
    entries: Vec<String>,
    /// Whether this teller's secret shares are stored.
    sent: bool,
    /// The shares other tellers sent to this one.
    shares: Vec<ShareFrom>,
}

/// How many tellers there are and how many decrypt.
#[derive(Serialize, ToSchema)]
pub struct TellerCount {
    /// Tellers in all.
    count: u32,
    /// Tellers needed to decrypt.
    threshold: u32,
}

/// A secret share sent to this teller.
#[derive(Serialize, ToSchema)]
pub struct ShareFrom {
    /// The sending teller's number.
    from: u32,
    /// The age-encrypted share, standard base64.
    sealed: String,
    /// The sender's signature over it, 128 hex digits (docs/LOG_FORMAT.md, "Identity keys").
    signature: String,
}

/// `GET /api/v1/elections/{id}/tellers/{teller}/board`: the tellers' numbers, the ceremony's
/// log entries (exact bytes), whether this teller's shares are stored, and the shares sent to it.
#[utoipa::path(get, path = "/api/v1/elections/{id}/tellers/{teller}/board", tag = "tellers", params(TellerPath),
    responses((status = 200, description = "The ceremony as this teller sees it", body = Board)))]
pub async fn board(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, me) = teller(&req, &state, &path).await?;
    let body = with_conn(&state, move |c| {
        let e = election::find(c, id)?;
        let entries: Vec<String> = log_store::entries_of_kind(c, id, &Kind::CEREMONY)?
            .into_iter()
            .map(|body| String::from_utf8_lossy(&Entry::new(id, body).to_bytes()).into_owned())
            .collect();
        let shares: Vec<_> = store::shares_for(c, id, me)?
            .into_iter()
            .map(|s| ShareFrom {
                from: s.teller,
                sealed: B64.encode(s.sealed),
                signature: s.signature,
            })
            .collect();
        Ok(Board {
            tellers: TellerCount {
                count: e.definition.tellers.count,
                threshold: e.definition.tellers.threshold,
            },
            entries,
            sent: store::has_sent(c, id, me)?,
            shares,
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// Body of `POST …/messages`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// The log entry, exact text (docs/LOG_FORMAT.md).
    entry: String,
}

/// What was published.
#[derive(Serialize, ToSchema)]
pub struct Published {
    /// The entry's type.
    published: &'static str,
}

/// `POST /api/v1/elections/{id}/tellers/{teller}/messages` `{"entry"}`: one of this teller's
/// public messages (`teller_key`, `teller_polynomial`, `teller_ready` naming this teller).
#[utoipa::path(post, path = "/api/v1/elections/{id}/tellers/{teller}/messages", tag = "tellers", params(TellerPath),
    request_body = MessageBody,
    responses(
        (status = 200, description = "The message is in the log", body = Published),
        (status = 400, description = "ceremony_refused"),
        (status = 409, description = "ceremony_refused election_not_draft")))]
pub async fn message(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let (id, me, body): (_, _, MessageBody) = authorised(&req, &state, &path, &body).await?;
    let bytes = body.entry.into_bytes();
    let entry = Entry::parse(&bytes).map_err(|e| {
        Error::bad_input(ErrorCode::CeremonyRefused, format!("not a log entry: {e}"))
    })?;
    let own = match &entry.body {
        Body::TellerKey(k) => k.teller == me,
        Body::TellerPolynomial(p) => p.teller == me,
        Body::TellerReady(r) => r.teller == me,
        _ => false,
    };
    if entry.election != id || !own {
        return Err(Error::bad_input(
            ErrorCode::CeremonyRefused,
            format!("teller {me} may publish only its own ceremony messages for this election"),
        ));
    }
    let signer = state.signer.clone();
    let message = entry.to_new();
    with_conn(&state, move |c| store::publish(c, id, message, &signer)).await?;
    Ok(HttpResponse::Ok().json(Published {
        published: entry.kind().as_str(),
    }))
}

/// Body of `POST …/shares`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharesBody {
    /// One share per other teller.
    shares: Vec<SealedShare>,
}

/// One sealed share.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SealedShare {
    /// The receiving teller's number.
    to: u32,
    /// The share, an age-encrypted file to the receiver's key, standard base64.
    sealed: String,
    /// The sender's signature over it, 128 hex digits.
    signature: String,
}

/// The shares are stored.
#[derive(Serialize, ToSchema)]
pub struct Stored {
    /// Always true.
    stored: bool,
}

/// `POST /api/v1/elections/{id}/tellers/{teller}/shares`: this teller's secret shares, each
/// age-encrypted to its recipient (the server cannot read them).
#[utoipa::path(post, path = "/api/v1/elections/{id}/tellers/{teller}/shares", tag = "tellers", params(TellerPath),
    request_body = SharesBody,
    responses(
        (status = 200, description = "The shares are stored", body = Stored),
        (status = 400, description = "ceremony_refused"),
        (status = 409, description = "ceremony_refused election_not_draft")))]
pub async fn shares(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    let (id, me, body): (_, _, SharesBody) = authorised(&req, &state, &path, &body).await?;
    let mut sealed = Vec::new();
    for s in body.shares {
        let bytes = B64
            .decode(s.sealed.as_bytes())
            .ok()
            .filter(|b| b.starts_with(b"age-encryption.org/v1\n") && b.len() <= 4096);
        let Some(bytes) = bytes else {
            return Err(Error::bad_input(
                ErrorCode::CeremonyRefused,
                "each share is an age-encrypted file, base64-encoded",
            ));
        };
        if s.to == me || s.to == 0 || s.to > crate::election::definition::Tellers::MAX {
            return Err(Error::bad_input(
                ErrorCode::CeremonyRefused,
                "a share for no other teller",
            ));
        }
        sealed.push(store::SignedShare {
            teller: s.to,
            sealed: bytes,
            signature: s.signature,
        });
    }
    with_conn(&state, move |c| store::send_shares(c, id, me, &sealed)).await?;
    Ok(HttpResponse::Ok().json(Stored { stored: true }))
}

/// `POST /api/v1/elections/{id}/tally-shares` `{"teller", "closed", "shares", "signature"}` (a
/// `tally_share` entry's fields): after close, a teller's decryption shares of every total to
/// open. Accepted from anyone if every proof verifies against that teller's key share; the
/// `threshold`-th opens the result, logged in the same append. Before close, after the result
/// or beyond what the election's shares can need, the body is refused unread.
#[utoipa::path(post, path = "/api/v1/elections/{id}/tally-shares", tag = "tellers", params(super::ElectionPath),
    request_body = TallyShareBody,
    responses(
        (status = 200, description = "The shares are logged (and, with the threshold-th, the result)", body = TallyAccepted),
        (status = 400, description = "bad_share"),
        (status = 409, description = "election_not_open already_decrypted"),
        (status = 413, description = "payload_too_large")))]
pub async fn tally_share(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    // Nothing is read before close or after the result, and never more than the election's
    // shares can need (an election of hundreds of locals needs more than the ordinary JSON
    // limit, so the bound follows its definition).
    let election = with_conn(&state, move |c| crate::election::find(c, id)).await?;
    decryption::open_to_shares(&election, None)?;
    let limit = decryption::share_body_limit(&election.definition);
    let body = super::read_body(body, limit).await?;
    let share: TallyShare = serde_json::from_slice(&body).map_err(|e| {
        Error::bad_input(
            ErrorCode::InvalidJson,
            format!("the body is not a `tally_share` entry's fields: {e}"),
        )
    })?;
    decryption::open_to_shares(&election, Some(share.teller))?;
    let signer = state.signer.clone();
    let accepted = with_conn(&state, move |c| decryption::submit(c, id, share, &signer)).await?;
    Ok(HttpResponse::Ok().json(TallyAccepted {
        message: accepted.status.to_string(),
        decryption: accepted.status,
        checkpoint: accepted.checkpoint.note,
    }))
}

/// Decryption shares accepted.
#[derive(Serialize, ToSchema)]
pub struct TallyAccepted {
    /// Where the decryption stands, in words.
    message: String,
    /// Where the decryption stands.
    decryption: decryption::Status,
    /// The checkpoint covering the shares (and the result, if they completed it).
    checkpoint: String,
}

/// The body of `POST …/tally-shares`, for the document: a `tally_share` entry's fields
/// (docs/LOG_FORMAT.md), read as [`TallyShare`].
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TallyShareBody {
    /// The teller's number, 1-based.
    teller: u32,
    /// The log up to and including its `close` entry, as the teller computed it.
    closed: ClosedLog,
    /// Local code → one share per choice, in the definition's order of choices.
    shares: std::collections::BTreeMap<String, Vec<DecryptionShare>>,
    /// The teller's signature (docs/LOG_FORMAT.md, "Identity keys"), 128 hex digits.
    signature: String,
}

/// A prefix of the log: its size and root.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ClosedLog {
    /// Entries, the close entry included.
    size: u64,
    /// Their RFC 9162 root, standard base64.
    root: String,
}

/// One decryption share with its proof (elastic-elgamal 0.3's form: base64url, no padding).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DecryptionShare {
    /// The share.
    share: DhElement,
    /// The proof that it used the teller's secret key share.
    proof: EqualityProof,
}

/// A group element.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DhElement {
    /// The element, base64url.
    dh_element: String,
}

/// A Chaum–Pedersen proof.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EqualityProof {
    /// The challenge, base64url.
    challenge: String,
    /// The response, base64url.
    response: String,
}
