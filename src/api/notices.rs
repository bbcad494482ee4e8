//! Sending members their ballots and the result by email: queue a kind of message for an
//! election, and follow the outbox's progress (counts, and the members who need a letter).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ElectionPath;
use super::with_conn;
use crate::election::ElectionId;
use crate::error::{Error, ErrorCode, Result};
use crate::http::auth::Official;
use crate::http::state::AppState;
use crate::notices::outbox::{self, Kind, Progress, Queued};

/// Body of `POST /api/v1/elections/{id}/notices`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// `ballot` (each member's ballot link, made as it is sent; before the vote closes) or
    /// `result` (after certification).
    kind: String,
}

/// The outbox of an election: counts by kind and state, and whose messages failed.
#[derive(Serialize, ToSchema)]
pub struct Outbox {
    /// `kind` → `state` (`queued`, `sending`, `sent`, `bounced`, `failed`, `skipped`) →
    /// messages.
    #[serde(flatten)]
    progress: Progress,
    /// Member ids whose ballot notice bounced or failed for good (they need a letter).
    failed_ballots: Vec<String>,
    /// The SMTP server messages go through (password hidden), or null when none is set.
    server: Option<String>,
}

/// The kind a request names (the ones officials send by hand).
pub fn kind_named(word: &str) -> Result<Kind> {
    match word {
        "ballot" => Ok(Kind::Ballot),
        "result" => Ok(Kind::Result),
        other => Err(Error::bad_input(
            ErrorCode::InvalidAction,
            format!(
                "`{}` is not a message officials send: `ballot` or `result`",
                crate::text::shown(other)
            ),
        )),
    }
}

/// Refuses when no SMTP server is configured: a queued message would wait for ever.
pub fn require_mail(state: &AppState) -> Result<()> {
    match state.settings.mail() {
        Ok(Some(_)) => Ok(()),
        _ => Err(Error::conflict(
            ErrorCode::MailNotConfigured,
            "no SMTP server is configured (smtp_url and mail_from, docs/OPERATIONS.md \"Email\"): \
             nothing can be sent by email; use the mailing file or letters",
        )),
    }
}

/// `POST /api/v1/elections/{id}/notices` `{"kind"}`: queues the message for every member who
/// should get it and has an email address; the server's sender sends them.
#[utoipa::path(post, path = "/api/v1/elections/{id}/notices", tag = "officials", params(ElectionPath),
    request_body = SendBody,
    responses(
        (status = 200, description = "What was queued now, and who was left out (counts only)", body = Queued),
        (status = 400, description = "invalid_action"),
        (status = 409, description = "mail_not_configured election_closed")))]
pub async fn send(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<SendBody>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let kind = kind_named(&body.kind)?;
    require_mail(&state)?;
    let queued = with_conn(&state, move |c| outbox::queue(c, id, kind, 0)).await?;
    Ok(HttpResponse::Ok().json(queued))
}

/// `GET /api/v1/elections/{id}/notices`: the outbox's counts (never who voted).
#[utoipa::path(get, path = "/api/v1/elections/{id}/notices", tag = "officials", params(ElectionPath),
    responses((status = 200, description = "Messages by kind and state", body = Outbox)))]
pub async fn status(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let (progress, failed_ballots) = with_conn(&state, move |c| {
        crate::election::find(c, id)?;
        Ok((
            outbox::progress(c, id)?,
            outbox::failed_members(c, id, Kind::Ballot)?,
        ))
    })
    .await?;
    let server = state
        .settings
        .mail()
        .ok()
        .flatten()
        .map(|m| m.server_shown());
    Ok(HttpResponse::Ok().json(Outbox {
        progress,
        failed_ballots,
        server,
    }))
}

/// Which letters: of one local alone, for a mail house's batch.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LettersQuery {
    /// A local's code: only its members' letters (all locals when absent).
    local: Option<String>,
}

/// `POST /api/v1/elections/{id}/letters`: issues a token to every member who needs a letter
/// (no email address, or their ballot or reminder email bounced or failed) and has none — of
/// one local alone with `?local=` — and answers their letters as one PDF, one page each (the
/// only copy of those tokens).
#[utoipa::path(post, path = "/api/v1/elections/{id}/letters", tag = "officials", params(ElectionPath, LettersQuery),
    responses(
        (status = 200, description = "The letters: one page per member given a token now, with the ballot link as text and QR code; the tokens exist in plain text only here",
            body = Vec<u8>, content_type = "application/pdf",
            headers(("X-Strikevote-Issued" = u64, description = "Tokens issued by this request: letters in the PDF"))),
        (status = 204, description = "Nobody needs a letter now: nothing was issued",
            headers(("X-Strikevote-Issued" = u64, description = "0"))),
        (status = 400, description = "unknown_local"),
        (status = 409, description = "election_closed")))]
pub async fn letters(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<LettersQuery>,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    let signer = state.signer.clone();
    let head = crate::notices::letters::Letterhead::of(&state.settings, &signer);
    let local = query.into_inner().local;
    let asked = local.clone();
    let (n, pdf) = with_conn(&state, move |c| {
        crate::notices::letters::issue(c, id, (&signer, &by), &head, asked.as_deref())
    })
    .await?;
    if n == 0 {
        return Ok(HttpResponse::NoContent()
            .insert_header(("X-Strikevote-Issued", "0"))
            .finish());
    }
    Ok(crate::web::page::letters_download(
        id,
        local.as_deref(),
        n,
        pdf,
    ))
}

/// `POST /api/v1/elections/{id}/letters/bounced`: while the vote is open under the two-person
/// rule, asks a second admin to approve letters replacing the links of the members whose email
/// bounced after the mail server took it (the letters step leaves them out); the asker then
/// carries it out through the pending route and alone gets the letters.
#[utoipa::path(post, path = "/api/v1/elections/{id}/letters/bounced", tag = "officials", params(ElectionPath),
    responses(
        (status = 202, description = "The request waits for a second admin, naming the members", body = super::admin::Waiting),
        (status = 409, description = "no_bounced_links approval_needed not_eligible_approver")))]
pub async fn ask_bounced_letters(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&id)?;
    let action = with_conn(&state, move |c| {
        crate::notices::letters::bounced_request(c, id)
    })
    .await?;
    super::admin::ask_second(&state, id, action, by).await
}

/// `POST /api/v1/elections/{id}/bounces` with one delivery status notification as the body
/// (the whole message as received, RFC 3464): the message it names is marked `bounced` — its
/// member then needs a letter — if it is one this election sent and the report's failed
/// recipient is the address it went to.
#[utoipa::path(post, path = "/api/v1/elections/{id}/bounces", tag = "officials", params(ElectionPath),
    request_body(content = String, content_type = "text/plain", description = "One delivery status notification (RFC 3464), the whole message as received; any content type (message/rfc822 too) is read as the raw message"),
    responses(
        (status = 200, description = "What the report changed", body = crate::notices::bounces::Recorded),
        (status = 400, description = "invalid_bounce bounce_not_ours")))]
pub async fn bounces(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let raw = super::read_body(body, state.settings.upload_limit_bytes).await?;
    let report = crate::notices::bounces::parse(&raw)?;
    let recorded = with_conn(&state, move |c| {
        crate::election::find(c, id)?;
        crate::notices::bounces::record(c, id, &report)
    })
    .await?;
    Ok(HttpResponse::Ok().json(recorded))
}
