//! The officials' JSON API (bearer API token): the same operations as the CLI and the admin
//! pages, so a union can script an election end to end. Every action is logged with the
//! token's username.

use actix_web::{HttpResponse, web};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ElectionPath;
use super::{read_body, with_conn};
use crate::approvals::{self, Approved, CarriedOut};
use crate::election::Transition;
use crate::election::approval::{self, Action};
use crate::election::{self, Definition, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::http::auth::Official;
use crate::http::state::AppState;
use crate::roster;
use crate::token::store as token_store;
use crate::web::page::mailing_download;

/// One election in the list.
#[derive(Serialize, ToSchema)]
pub struct ElectionItem {
    /// Its id.
    id: ElectionId,
    /// Its title.
    title: String,
    /// Its state.
    state: election::State,
}

/// `GET /api/v1/elections`.
#[utoipa::path(get, path = "/api/v1/elections", tag = "officials",
    responses((status = 200, description = "Every election, newest first", body = Vec<ElectionItem>)))]
pub async fn list(_who: Official, state: web::Data<AppState>) -> Result<HttpResponse> {
    let all = with_conn(&state, election::list).await?;
    let rows: Vec<_> = all
        .into_iter()
        .map(|e| ElectionItem {
            id: e.id,
            title: e.definition.title,
            state: e.state,
        })
        .collect();
    Ok(HttpResponse::Ok().json(rows))
}

/// `GET /api/v1/elections/{id}`.
#[utoipa::path(get, path = "/api/v1/elections/{id}", tag = "officials", params(ElectionPath),
    responses((status = 200, description = "The election, its counts per local and its key ceremony", body = election::Summary)))]
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

/// A new election's id and its tellers' invitation codes.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// The new election's id.
    id: ElectionId,
    /// One invitation per teller: the code exists in plain text only in this answer.
    teller_invitations: Vec<Invitation>,
}

/// A teller's invitation to the key ceremony.
#[derive(Serialize, ToSchema)]
pub struct Invitation {
    /// The teller's number, 1-based.
    teller: u32,
    /// The teller's name from the definition.
    name: String,
    /// The invitation code (`Authorization: Teller <code>`).
    code: String,
}

/// `POST /api/v1/elections` with the TOML definition as the body: 201 `{"id"}`.
#[utoipa::path(post, path = "/api/v1/elections", tag = "officials",
    request_body(content = String, content_type = "text/plain", description = "The election definition, TOML (docs/ELECTION_DEFINITION.md); any content type is read as TOML"),
    responses(
        (status = 201, description = "The election is created as a draft, entry 0 logged", body = Created),
        (status = 400, description = "invalid_definition invalid_body")))]
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
            .map(|(teller, code)| Invitation {
                teller,
                name: definition.tellers.name(teller),
                code,
            })
            .collect();
        Ok((id, codes))
    })
    .await?;
    // The invitation codes exist in plain text only in this answer.
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(Created {
            id,
            teller_invitations: invitations,
        }))
}

/// `POST /api/v1/elections/{id}/roster` with the CSV as the body.
#[utoipa::path(post, path = "/api/v1/elections/{id}/roster", tag = "officials", params(ElectionPath),
    request_body(content = String, content_type = "text/csv", description = "The roster, CSV with the header `member_id,local,name,email` (docs/ROSTER.md)"),
    responses(
        (status = 200, description = "The roster is stored and logged", body = roster::ImportSummary),
        (status = 400, description = "invalid_roster roster_too_large"),
        (status = 409, description = "election_not_draft")))]
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
#[utoipa::path(post, path = "/api/v1/elections/{id}/tokens", tag = "officials", params(ElectionPath),
    responses(
        (status = 200, description = "The mailing file: one row per token issued now; the tokens exist in plain text only here",
            body = String, content_type = "text/csv",
            headers(("X-Strikevote-Issued" = u64, description = "Tokens issued by this request"))),
        (status = 409, description = "roster_missing election_closed")))]
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
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReissueBody {
    /// The member's id on the roster.
    member: String,
}

/// A reissued token.
#[derive(Serialize, ToSchema)]
pub struct Reissued {
    /// The member's id.
    member_id: String,
    /// The member's local.
    local: String,
    /// The new token (the old one is revoked); shown only here.
    token: String,
    /// The member's ballot address.
    ballot_url: String,
}

impl From<token_store::IssuedToken> for Reissued {
    fn from(t: token_store::IssuedToken) -> Self {
        Reissued {
            member_id: t.member_id,
            local: t.local,
            token: t.token.expose().to_owned(),
            ballot_url: t.ballot_url,
        }
    }
}

/// `POST /api/v1/elections/{id}/tokens/reissue` `{"member"}`: the new token, once.
#[utoipa::path(post, path = "/api/v1/elections/{id}/tokens/reissue", tag = "officials", params(ElectionPath),
    request_body = ReissueBody,
    responses(
        (status = 200, description = "The member's new token", body = Reissued),
        (status = 202, description = "The vote is open and the two-person rule is on: the reissue waits for a second admin's approval on the dashboard", body = Waiting),
        (status = 404, description = "member_not_found"),
        (status = 409, description = "token_used election_closed")))]
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
    let who = by.clone();
    let done = with_conn(&state, move |c| {
        token_store::reissue(c, id, &member, &signer, &who)
    })
    .await;
    let t = match done {
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
            let member = body.member.clone();
            return ask_second(&state, id, Action::Reissue { member }, by).await;
        }
        done => done?,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Reissued::from(t)))
}

/// Body of `POST /api/v1/elections/{id}/tellers/{teller}/replace`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceBody {
    /// For a teller who has already published their key: restart the key ceremony to give
    /// their seat to someone else (logged; what the tellers published is void). Without it such
    /// a replacement is refused (`ceremony_refused`).
    #[serde(default)]
    restart: bool,
}

/// A teller's seat given to someone else.
#[derive(Serialize, ToSchema)]
pub struct Replaced {
    /// The seat's new invitation code (shown only here; the old one stops working).
    invitation: Invitation,
    /// Whether the key ceremony restarted: every other teller then runs setup again and
    /// confirms the new teller's fingerprint.
    restarted: bool,
}

/// `POST /api/v1/elections/{id}/tellers/{teller}/replace`: gives a teller's seat of a draft
/// election to someone else — a new invitation code for it; for a teller who published their key,
/// with `{"restart": true}`, a logged restart of the key ceremony.
#[utoipa::path(post, path = "/api/v1/elections/{id}/tellers/{teller}/replace", tag = "officials",
    params(super::tellers::TellerPath),
    request_body = ReplaceBody,
    responses(
        (status = 200, description = "The seat's new invitation code; the key ceremony restarted if the teller had published their key", body = Replaced),
        (status = 400, description = "invalid_body invalid_query"),
        (status = 409, description = "ceremony_refused election_not_draft")))]
pub async fn replace_teller(
    who: Official,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<ReplaceBody>,
) -> Result<HttpResponse> {
    let by = who.0.username;
    let id = ElectionId::parse(&path.0)?;
    let teller = super::tellers::teller_number(&path.1)?;
    let (signer, restart) = (state.signer.clone(), body.restart);
    let (r, name) = with_conn(&state, move |c| {
        let r = crate::teller::invitations::replace(c, &signer, (id, teller), &by, restart)?;
        Ok((r, election::find(c, id)?.definition.tellers.name(teller)))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Replaced {
            invitation: Invitation {
                teller,
                name,
                code: r.code,
            },
            restarted: r.restarted,
        }))
}

/// An election's state after an official's action.
#[derive(Serialize, ToSchema)]
pub struct Transitioned {
    /// The election.
    id: ElectionId,
    /// Its state now.
    state: election::State,
    /// The log's size after the action's entries.
    log_size: u64,
}

/// Opens, closes or certifies; answers the new state and log size.
async fn transition(
    state: &web::Data<AppState>,
    id: ElectionId,
    action: Transition,
    by: String,
) -> Result<Transitioned> {
    let signer = state.signer.clone();
    with_conn(state, move |c| {
        let checkpoint = election::apply(c, id, action, &signer, &by)?;
        let e = election::find(c, id)?;
        Ok(Transitioned {
            id,
            state: e.state,
            log_size: checkpoint.size,
        })
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
    match transition(&state, id, action, by.clone()).await {
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
            ask_second(&state, id, Action::Close, by).await
        }
        done => Ok(HttpResponse::Ok().json(done?)),
    }
}

/// An action waiting for a second admin.
#[derive(Serialize, ToSchema)]
pub struct Waiting {
    /// What happens next, in words.
    message: String,
    /// The pending action.
    pending: approval::Pending,
}

/// The two-person rule stopped `action` by `by`: records it for a second admin (who approves
/// it on the election's dashboard) and answers 202 with it.
pub(super) async fn ask_second(
    state: &web::Data<AppState>,
    id: ElectionId,
    action: Action,
    by: String,
) -> Result<HttpResponse> {
    let pending = with_conn(state, move |c| approval::request(c, id, &action, &by)).await?;
    Ok(HttpResponse::Accepted().json(Waiting {
        message: format!(
            "waiting for a second admin: {}; another admin approves it on the election's \
             dashboard or with POST /api/v1/elections/{id}/pending/{} (the two-person rule), \
             nothing has changed yet",
            pending.description, pending.id
        ),
        pending,
    }))
}

/// `POST /api/v1/elections/{id}/open`.
#[utoipa::path(post, path = "/api/v1/elections/{id}/open", tag = "officials", params(ElectionPath),
    responses(
        (status = 200, description = "Opens the vote (the key ceremony must be complete)", body = Transitioned),
        (status = 409, description = "election_not_draft roster_missing key_not_ready window_passed")))]
pub async fn open(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    act(who, state, id, Transition::Open).await
}

/// `POST /api/v1/elections/{id}/close`.
#[utoipa::path(post, path = "/api/v1/elections/{id}/close", tag = "officials", params(ElectionPath),
    responses(
        (status = 200, description = "Closes the vote", body = Transitioned),
        (status = 202, description = "The vote is open, before its closing time, and the two-person rule is on: closing waits for a second admin's approval on the dashboard", body = Waiting),
        (status = 409, description = "election_not_open")))]
pub async fn close(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    act(who, state, id, Transition::Close).await
}

/// `POST /api/v1/elections/{id}/certify`.
#[utoipa::path(post, path = "/api/v1/elections/{id}/certify", tag = "officials", params(ElectionPath),
    responses(
        (status = 200, description = "Certifies the decrypted result", body = Transitioned),
        (status = 409, description = "embargoed awaiting_tellers already_certified")))]
pub async fn certify(
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    act(who, state, id, Transition::Certify).await
}

/// The path of one pending action.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // described, not read: the handler parses the path itself
pub struct PendingPath {
    /// The election's id.
    #[param(value_type = String, format = "uuid")]
    id: String,
    /// The pending action's id.
    pending: String,
}

/// The actions waiting in an election.
#[derive(Serialize, ToSchema)]
pub struct PendingList {
    /// Oldest first; an approved one waits for the official who asked to carry it out.
    pending: Vec<approval::Pending>,
}

/// `GET /api/v1/elections/{id}/pending`: the actions waiting for a second admin (or, approved,
/// for the admin who asked).
#[utoipa::path(get, path = "/api/v1/elections/{id}/pending", tag = "officials", params(ElectionPath),
    responses((status = 200, description = "The pending actions, oldest first", body = PendingList)))]
pub async fn pending(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let pending = with_conn(&state, move |c| {
        election::find(c, id)?;
        approval::list(c, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(PendingList { pending }))
}

/// What an official decides about a pending action.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// A second admin approves: a close is done at once; a reissue or a replacement then waits
    /// for the admin who asked.
    Approve,
    /// The admin who asked carries out an approved reissue or replacement, and alone gets the
    /// new token(s).
    CarryOut,
    /// Any admin cancels it.
    Cancel,
}

/// `POST /api/v1/elections/{id}/pending/{pending}`'s body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// What to do.
    decision: Decision,
    /// The token's official's password, asked again to approve or carry out (not to cancel).
    #[serde(default)]
    password: String,
}

/// What a decision did.
#[derive(Serialize, ToSchema)]
pub struct Decided {
    /// What happened, in words.
    message: String,
    /// The new token, when the admin who asked carried out a reissue (shown this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    reissued: Option<Reissued>,
    /// The new mailing (CSV text), when the admin who asked carried out a replacement of every
    /// unused token (shown this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    mailing: Option<String>,
    /// The new API token, when the admin who asked carried out an admin's API token (shown
    /// this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    api_token: Option<String>,
    /// The letters (a PDF, in standard base64), when the admin who asked carried out letters
    /// replacing bounced links (shown this once; absent when none was needed any more).
    #[serde(skip_serializing_if = "Option::is_none")]
    letters: Option<String>,
}

impl Decided {
    fn said(message: String) -> Self {
        Decided {
            message,
            reissued: None,
            mailing: None,
            api_token: None,
            letters: None,
        }
    }
}

/// `POST /api/v1/elections/{id}/pending/{pending}` `{"decision"}`: approve, carry out or
/// cancel a pending action, as on the dashboard.
#[utoipa::path(post, path = "/api/v1/elections/{id}/pending/{pending}", tag = "officials", params(PendingPath),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "What the decision did", body = Decided),
        (status = 401, description = "unauthorized"),
        (status = 403, description = "forbidden"),
        (status = 429, description = "too_many_requests"),
        (status = 404, description = "pending_not_found"),
        (status = 409, description = "same_official already_approved not_eligible_approver approval_needed election_not_open token_used")))]
pub async fn decide(
    who: Official,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<DecisionBody>,
) -> Result<HttpResponse> {
    let (id, pending_id) = path.into_inner();
    let id = ElectionId::parse(&id)?;
    let me = who.0.username;
    let signer = state.signer.clone();
    let head = crate::notices::letters::Letterhead::of(&state.settings, &signer);
    let _turn = match body.decision {
        Decision::Cancel => None,
        _ => Some(state.password_gate.enter().await?),
    };
    let decided = with_conn(&state, move |c| -> Result<Decided> {
        let at = (id, pending_id.as_str());
        let who = (me.as_str(), body.password.as_str());
        Ok(match body.decision {
            Decision::Cancel => {
                let p = approval::cancel(c, id, &pending_id, &me)?;
                Decided::said(format!("cancelled: {}", p.description))
            }
            Decision::Approve => match approvals::approve(c, at, who, &signer)? {
                Approved::Done(p) => Decided::said(format!("approved and done: {}", p.description)),
                Approved::Waiting(p) => Decided::said(format!(
                    "approved: {}; {} carries it out and alone gets the new token(s)",
                    p.description, p.requested_by
                )),
            },
            Decision::CarryOut => match approvals::carry_out(c, at, who, (&signer, &head))? {
                CarriedOut::Reissued(t) => Decided {
                    reissued: Some(Reissued::from(t)),
                    ..Decided::said("carried out: the member's new token".into())
                },
                CarriedOut::Mailing(n, csv) => Decided {
                    mailing: Some(String::from_utf8_lossy(&csv).into_owned()),
                    ..Decided::said(format!("carried out: {n} new token(s)"))
                },
                CarriedOut::ApiToken(name, token) => Decided {
                    api_token: Some(token),
                    ..Decided::said(format!("carried out: your new API token {name}"))
                },
                CarriedOut::Letters(0, _) => Decided::said(
                    "carried out: no letter was needed any more (those members have voted or \
                     been reissued a token since)"
                        .into(),
                ),
                CarriedOut::Letters(n, pdf) => Decided {
                    letters: Some(base64::engine::general_purpose::STANDARD.encode(pdf)),
                    ..Decided::said(format!(
                        "carried out: {n} letter(s) replacing bounced links"
                    ))
                },
            },
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(decided))
}
