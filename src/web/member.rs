//! The member pages: vote, confirmation, token status, receipt check. Server-rendered HTML
//! that works without JavaScript; every error re-renders the form with the message tied to its
//! field and a 4xx status, and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;
use serde::Deserialize;

use super::i18n::{Lang, Text};
use super::page::{csrf, csrf_ok, html};
use crate::ballot::receipt::{lookup_receipt, public_status};
use crate::ballot::{self, CastRequest};
use crate::election::{Choice, State};
use crate::error::{Error, ErrorCode};
use crate::http::state::AppState;
use crate::http::state::with_conn;
use crate::http::wiped::{Wipe, WipedForm};
use crate::log::entry::{Body, Kind};
use crate::token::{HashedToken, PlainToken};

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
    error: Option<String>,
    error_field: &'static str,
    token: String,
    /// The public result, once the token's election is certified.
    result_link: Option<String>,
    /// Whom to contact about the error, if the token's election says.
    contact: Option<String>,
    /// Said instead of an error: the token was used and the vote is over.
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "ballot.html")]
struct BallotPage {
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
    error: Option<&'static str>,
    error_field: &'static str,
    election_title: String,
    question: String,
    local: String,
    /// (id, submitted value padded to a fixed width, label: the definition's wording, else
    /// the page's word).
    choices: Vec<(&'static str, String, String)>,
    token: String,
    csrf: String,
    /// Whom to contact, if the definition says.
    contact: Option<String>,
    /// What the page's own code needs to seal the ballot on the member's device.
    sealing: SealingView,
}

/// What the ballot page's sealing code is given: the election key (from the log's
/// `election_key` entry), the election and local a ballot is bound to, and the code's name.
struct SealingView {
    /// The election key, base64url.
    key: String,
    election: String,
    local: String,
    /// The SHA-256 of the served sealing code, hex (as the log names it).
    code: &'static str,
    /// Its Subresource Integrity value.
    integrity: &'static str,
}

#[derive(Template)]
#[template(path = "done.html")]
struct DonePage {
    t: &'static Text,
    lang: &'static str,
    /// Where the language switch posts the receipt (never in an address).
    switch_action: &'static str,
    csrf: String,
    receipt: String,
    tracker: String,
    checkpoint_size: u64,
    checkpoint_root: String,
    leaf_index: u64,
    /// Whether the member's device sealed it (else the server did).
    by_member: bool,
}

#[derive(Template)]
#[template(path = "token_status.html")]
struct StatusPage {
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
    error: Option<&'static str>,
    error_field: &'static str,
    status: Option<&'static str>,
    csrf: String,
}

struct FoundView {
    /// The public result, once the election is certified.
    result_link: Option<String>,
    verified: bool,
    index: u64,
    tree_size: u64,
    entry: String,
    tracker: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
    switch_action: &'static str,
    csrf: String,
    error: Option<&'static str>,
    error_field: &'static str,
    found: Option<FoundView>,
    receipt: String,
}

fn start_page(lang: Lang, error: Option<ErrorCode>, token: String) -> StartPage {
    let t = lang.text();
    start_page_saying(lang, error.map(|c| t.error(c).to_owned()), token)
}

fn start_page_saying(lang: Lang, error: Option<String>, token: String) -> StartPage {
    let t = lang.text();
    StartPage {
        t,
        lang: lang.code(),
        switch_href: "/vote?lang=".to_owned(),
        error,
        error_field: "token",
        token,
        result_link: None,
        contact: None,
        notice: None,
    }
}

/// Query of `GET /vote`.
#[derive(Deserialize)]
pub struct VoteQuery {
    token: Option<String>,
    lang: Option<String>,
}

/// `GET /vote[?token=…]`: the token form, or (with a token) the ballot.
pub async fn vote_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<VoteQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let Some(typed) = query.token.as_deref().filter(|t| !t.trim().is_empty()) else {
        return html(StatusCode::OK, &start_page(lang, None, String::new()), None);
    };
    let Ok(token) = PlainToken::parse(typed) else {
        return html(
            StatusCode::BAD_REQUEST,
            &start_page(
                lang,
                Some(ErrorCode::TokenFormat),
                typed.chars().take(64).collect(),
            ),
            None,
        );
    };
    ballot_page(&req, &state, lang, token, None).await
}

async fn ballot_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    lang: Lang,
    token: PlainToken,
    error: Option<ErrorCode>,
) -> HttpResponse {
    let hash = token.hash();
    let keys = state.casting.keys();
    let found = with_conn(state, move |c| {
        let (election, local) = ballot::ballot_for(c, &hash)?;
        let key = keys.get(c, &election)?;
        Ok((election, local, key))
    })
    .await;
    let (election, local, key) = match found {
        Ok(found) => found,
        Err(e) => {
            let code = e.code();
            let said = member_error(state, lang, code, token.hash()).await;
            return said.page(lang, code, token.expose().to_owned());
        }
    };
    let t = lang.text();
    let (csrf, cookie) = csrf(req, state);
    let d = &election.definition;
    let sealing = SealingView {
        key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes()),
        election: election.id.to_string(),
        local: local.clone(),
        code: crate::sealing_code::sealing_code_sha256(),
        integrity: crate::sealing_code::sealing_code_integrity(),
    };
    let local_name = d
        .local(&local)
        .map(|l| format!("{} — {}", l.code, l.name))
        .unwrap_or(local);
    let page = BallotPage {
        t,
        lang: lang.code(),
        switch_href: format!("/vote?token={}&lang=", token.expose()),
        error: error.map(|c| t.error(c)),
        error_field: "choices",
        election_title: d.texts(lang.code()).0.to_owned(),
        question: d.texts(lang.code()).1.to_owned(),
        contact: d.contact.clone(),
        local: local_name,
        choices: d
            .choices
            .iter()
            .map(|c| {
                let label = d.label(lang.code(), *c).unwrap_or(t.choice(*c));
                (c.as_str(), c.padded(), label.to_owned())
            })
            .collect(),
        token: token.expose().to_owned(),
        csrf,
        sealing,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(status, &page, cookie)
}

/// Form of `POST /vote`: a plain `choice` the server seals (a page without JavaScript), or the
/// `ballot` the page's code sealed (JSON) and the `sealing_code` it names.
#[derive(Deserialize)]
pub struct VoteForm {
    token: String,
    choice: Option<String>,
    ballot: Option<String>,
    sealing_code: Option<String>,
    csrf: String,
    lang: Option<String>,
}

/// Who seals the ballot a form asks for, or the error its page shows.
fn form_sealing(form: &VoteForm) -> Result<ballot::Sealing, ErrorCode> {
    if let Some(sealed) = form.ballot.as_deref().filter(|b| !b.is_empty()) {
        let ballot = serde_json::from_str(sealed).map_err(|_| ErrorCode::InvalidBallot)?;
        let code = match form.sealing_code.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(c.to_ascii_lowercase())
            }
            Some(_) => return Err(ErrorCode::UnknownSealingCode),
        };
        return Ok(ballot::Sealing::Member(Box::new(ballot::MemberBallot {
            ballot,
            code,
        })));
    }
    match form.choice.as_deref().map(str::trim) {
        None | Some("") => Err(ErrorCode::ChoiceMissing),
        Some(c) => Choice::parse(c)
            .map(ballot::Sealing::Server)
            .ok_or(ErrorCode::InvalidChoice),
    }
}

/// The cookie that carries a cast ballot's receipt from `POST /vote` to `GET /vote/done`
/// (post-redirect-get: the browser keeps no form body in its history). Only for that page,
/// never sent to scripts or other sites, gone when the browser closes.
const DONE_COOKIE: &str = "sv_done";

fn done_cookie(receipt: String, https: bool) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(DONE_COOKIE, receipt)
        .path("/vote/done")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .secure(https)
        .finish()
}

/// `POST /vote`: casts the ballot and shows the receipt, or the form again with the reason.
pub async fn cast_vote(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: WipedForm<VoteForm>,
) -> HttpResponse {
    let lang = Lang::pick(form.lang.as_deref(), &req);
    if !csrf_ok(&req, &form.csrf) {
        return html(
            ErrorCode::FormExpired.page_status(),
            &start_page(lang, Some(ErrorCode::FormExpired), String::new()),
            None,
        );
    }
    let Ok(token) = PlainToken::parse(&form.token) else {
        return html(
            StatusCode::BAD_REQUEST,
            &start_page(lang, Some(ErrorCode::TokenFormat), String::new()),
            None,
        );
    };
    let sealing = match form_sealing(&form) {
        Ok(sealing) => sealing,
        Err(code) => return ballot_page(&req, &state, lang, token, Some(code)).await,
    };
    let request = CastRequest {
        token: token.hash(),
        sealing,
    };
    match state.casting.cast(request).await {
        Ok(cast) => HttpResponse::SeeOther()
            .insert_header(("Location", format!("/vote/done?lang={}", lang.code())))
            .insert_header(("Cache-Control", "no-store"))
            .cookie(done_cookie(cast.receipt, state.public_url.is_https()))
            .finish(),
        Err(e)
            if matches!(
                e.code(),
                ErrorCode::InvalidChoice
                    | ErrorCode::InvalidBallot
                    | ErrorCode::BallotSeen
                    | ErrorCode::UnknownSealingCode
            ) =>
        {
            ballot_page(&req, &state, lang, token, Some(e.code())).await
        }
        Err(e) => {
            let code = match &e {
                Error::Unavailable(_)
                | Error::Database(_)
                | Error::Internal(_)
                | Error::LogForked(_) => ErrorCode::Server,
                other => other.code(),
            };
            let said = member_error(&state, lang, code, token.hash()).await;
            said.page(lang, code, String::new())
        }
    }
}

/// `GET /vote/done`: the confirmation of the ballot just cast, from the receipt its cookie
/// carries (set by `POST /vote`); without one, the receipt check page.
pub async fn done(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let Some(receipt) = req.cookie(DONE_COOKIE).map(|c| c.value().to_owned()) else {
        return HttpResponse::SeeOther()
            .insert_header(("Location", format!("/verify?lang={}", lang.code())))
            .finish();
    };
    match with_conn(&state, move |c| lookup_receipt(c, &receipt)).await {
        Ok(found) => {
            let (csrf, cookie) = csrf(&req, &state);
            html(StatusCode::OK, &done_page(lang, csrf, found), cookie)
        }
        Err(e) => {
            let page = start_page(lang, Some(e.code()), String::new());
            html(e.code().page_status(), &page, None)
        }
    }
}

/// Query carrying only a language.
#[derive(Deserialize)]
pub struct LangQuery {
    pub(crate) lang: Option<String>,
}

fn status_page(
    lang: Lang,
    csrf: String,
    error: Option<ErrorCode>,
    status: Option<&'static str>,
) -> StatusPage {
    let t = lang.text();
    StatusPage {
        t,
        lang: lang.code(),
        switch_href: "/token-status?lang=".to_owned(),
        error: error.map(|c| t.error(c)),
        error_field: "token",
        status,
        csrf,
    }
}

/// `GET /token-status`: the form.
pub async fn token_status_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let (csrf, cookie) = csrf(&req, &state);
    html(StatusCode::OK, &status_page(lang, csrf, None, None), cookie)
}

/// Form of `POST /token-status`.
#[derive(Deserialize)]
pub struct StatusForm {
    token: String,
    csrf: String,
    lang: Option<String>,
}

impl Wipe for StatusForm {
    fn wipe(&mut self) {
        self.token.wipe();
    }
}

impl Wipe for VoteForm {
    fn wipe(&mut self) {
        self.token.wipe();
        self.choice.wipe();
    }
}

/// `POST /token-status`: not used, used or revoked — the ballot-stuffing alarm.
pub async fn token_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: WipedForm<StatusForm>,
) -> HttpResponse {
    let lang = Lang::pick(form.lang.as_deref(), &req);
    let t = lang.text();
    let (csrf, cookie) = csrf(&req, &state);
    if !csrf_ok(&req, &form.csrf) {
        return html(
            StatusCode::FORBIDDEN,
            &status_page(lang, csrf, Some(ErrorCode::FormExpired), None),
            cookie,
        );
    }
    let Ok(token) = PlainToken::parse(&form.token) else {
        return html(
            StatusCode::BAD_REQUEST,
            &status_page(lang, csrf, Some(ErrorCode::TokenFormat), None),
            cookie,
        );
    };
    let hash: HashedToken = token.hash();
    match with_conn(&state, move |c| ballot::token_status(c, &hash)).await {
        Ok(stored) => {
            let sentence = match public_status(stored) {
                "not_used" => t.status_not_used,
                "used" => t.status_used,
                _ => t.status_revoked,
            };
            html(
                StatusCode::OK,
                &status_page(lang, csrf, None, Some(sentence)),
                cookie,
            )
        }
        Err(e) => html(
            e.code().page_status(),
            &status_page(lang, csrf, Some(e.code()), None),
            cookie,
        ),
    }
}

/// `GET /verify`: the receipt form (a receipt is looked up only by `POST`, so it never enters
/// an address the browser keeps).
pub async fn verify_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LangQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let (csrf, cookie) = csrf(&req, &state);
    html(StatusCode::OK, &verify_view(lang, csrf), cookie)
}

fn verify_view(lang: Lang, csrf: String) -> VerifyPage {
    let t = lang.text();
    VerifyPage {
        t,
        lang: lang.code(),
        switch_href: "/verify?lang=".to_owned(),
        switch_action: "/verify",
        csrf,
        error: None,
        error_field: "receipt",
        found: None,
        receipt: String::new(),
    }
}

/// Form of the receipt pages: `POST /verify`, `POST /receipt`, `POST /receipt/file`.
#[derive(Deserialize)]
pub struct ReceiptForm {
    receipt: String,
    csrf: String,
    lang: Option<String>,
}

/// `POST /verify`: whether a receipt's ballot is in the log, its inclusion proof checked
/// against the latest signed checkpoint.
pub async fn verify_receipt(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ReceiptForm>,
) -> HttpResponse {
    let lang = Lang::pick(form.lang.as_deref(), &req);
    let t = lang.text();
    let (csrf, cookie) = csrf(&req, &state);
    let mut page = verify_view(lang, csrf.clone());
    if !csrf_ok(&req, &form.csrf) {
        page.error = Some(t.error(ErrorCode::FormExpired));
        return html(ErrorCode::FormExpired.page_status(), &page, cookie);
    }
    let typed = form.receipt.trim().to_owned();
    page.receipt = typed.chars().take(64).collect();
    match with_conn(&state, move |c| lookup_receipt(c, &typed)).await {
        Ok(found) => {
            page.found = Some(FoundView {
                result_link: found.certified.then(|| result_link(found.election, lang)),
                verified: found.verified,
                index: found.index,
                tree_size: found.tree_size,
                entry: found.entry,
                tracker: found.tracker,
            });
            html(StatusCode::OK, &page, cookie)
        }
        Err(e) => {
            let code = e.code();
            page.error = Some(t.error(code));
            html(code.page_status(), &page, cookie)
        }
    }
}

/// The confirmation page of a cast ballot.
/// Whether a ballot entry says the member's device sealed it.
fn sealed_by_member(entry: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(entry).is_ok_and(|e| e["sealed_by"] == "member")
}

fn done_page(lang: Lang, csrf: String, found: crate::ballot::receipt::FoundReceipt) -> DonePage {
    let t = lang.text();
    let by_member = sealed_by_member(&found.entry);
    let checkpoint = found.checkpoint.as_str();
    let mut lines = checkpoint.lines().skip(1);
    let size = lines
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_default();
    DonePage {
        t,
        lang: lang.code(),
        switch_action: "/receipt",
        csrf,
        checkpoint_size: size,
        checkpoint_root: lines.next().unwrap_or_default().to_owned(),
        receipt: found.receipt,
        tracker: found.tracker,
        leaf_index: found.index,
        by_member,
    }
}

/// A receipt form's receipt looked up, once its form checks out; otherwise the token page
/// saying why (an expired form, or no such receipt).
async fn posted_receipt(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: &ReceiptForm,
) -> Result<(Lang, crate::ballot::receipt::FoundReceipt), HttpResponse> {
    let lang = Lang::pick(form.lang.as_deref(), req);
    let refused = |code: ErrorCode| {
        let page = start_page(lang, Some(code), String::new());
        html(code.page_status(), &page, None)
    };
    if !csrf_ok(req, &form.csrf) {
        return Err(refused(ErrorCode::FormExpired));
    }
    let typed = form.receipt.clone();
    match with_conn(state, move |c| lookup_receipt(c, &typed)).await {
        Ok(found) => Ok((lang, found)),
        Err(e) => Err(refused(e.code())),
    }
}

/// `POST /receipt`: the confirmation page again, in the language asked for (its language
/// switch posts here, carrying the receipt, so it is kept without entering an address).
pub async fn receipt_again(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ReceiptForm>,
) -> HttpResponse {
    let (lang, f) = match posted_receipt(&req, &state, &form).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let (csrf, cookie) = csrf(&req, &state);
    let page = done_page(lang, csrf, f);
    html(StatusCode::OK, &page, cookie)
}

/// `POST /receipt/file`: the receipt as a small text file to keep (never the choice).
pub async fn receipt_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ReceiptForm>,
) -> HttpResponse {
    let (lang, f) = match posted_receipt(&req, &state, &form).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let t = lang.text();
    let proof = f.tlog_proof();
    let sealed_by = if sealed_by_member(&f.entry) {
        t.sealed_by_member
    } else {
        t.sealed_by_server
    };
    let text = format!(
        "{}\n{}\n\n{}: {}\n{}: {}\n{}: {}\n{}: {}\n\n{sealed_by}\n{}\n{}/verify\n\n{proof}",
        t.receipt_file_title,
        f.title,
        t.receipt_label,
        f.receipt,
        t.tracker_label,
        f.tracker,
        t.position_label,
        f.index,
        t.checkpoint_label,
        f.checkpoint.lines().take(3).collect::<Vec<_>>().join(" "),
        t.keep_receipt,
        f.public_url,
    );
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(actix_web::http::header::ContentDisposition::attachment(
            "ballot-receipt.txt",
        ))
        .body(text)
}

/// The public result page of a certified election, in the member's language.
fn result_link(id: crate::election::ElectionId, lang: Lang) -> String {
    format!("/elections/{id}/result?lang={}", lang.code())
}

/// What a member page says about an error.
struct Said {
    sentence: String,
    result_link: Option<String>,
    contact: Option<String>,
    /// Not an error to fix: a member who voted opens their link after the result.
    voted: bool,
}

impl Said {
    /// The start page saying it (with `token` typed in again where there is an error to fix).
    fn page(self, lang: Lang, code: ErrorCode, token: String) -> HttpResponse {
        let (error, notice, status) = if self.voted {
            (None, Some(self.sentence), StatusCode::OK)
        } else {
            (Some(self.sentence), None, code.page_status())
        };
        let mut page =
            start_page_saying(lang, error, if self.voted { String::new() } else { token });
        (page.result_link, page.contact, page.notice) = (self.result_link, self.contact, notice);
        html(status, &page, None)
    }
}

/// The member's sentence for an error; for a vote that is not open, with the date it opens or
/// closed (in the election's time zone); with the election's contact line when the token
/// names an election, and once it is certified, the link to its result.
async fn member_error(
    state: &web::Data<AppState>,
    lang: Lang,
    code: ErrorCode,
    token: HashedToken,
) -> Said {
    let t = lang.text();
    let mut said = Said {
        sentence: t.error(code).to_owned(),
        result_link: None,
        contact: None,
        voted: false,
    };
    let found = with_conn(state, move |c| {
        let election = ballot::election_of(c, &token)?;
        let closed = crate::log::store::entries_of_kind(c, election.id, &[Kind::Close])?
            .into_iter()
            .find_map(|b| match b {
                Body::Close(at) => Some(at.at),
                _ => None,
            });
        Ok((election, closed))
    })
    .await;
    let Ok((election, closed)) = found else {
        return said;
    };
    let d = &election.definition;
    said.contact = d.contact.clone();
    if election.state == State::Certified {
        said.result_link = Some(result_link(election.id, lang));
        if code == ErrorCode::TokenUsed {
            said.sentence = t.voted_result.to_owned();
            said.voted = true;
        }
    }
    if code != ErrorCode::ElectionNotOpen {
        return said;
    }
    let now = chrono::Utc::now();
    match (election.state, closed) {
        (State::Draft | State::Open, _) if now < d.opens_at => {
            said.sentence = t
                .err_not_started
                .replace("{date}", &d.local_time(&d.opens_at));
        }
        // Closed by the officials before the window's end: the day it was.
        (State::Closed | State::Certified, Some(at)) if at < d.closes_at => {
            said.sentence = t.err_closed_early.replace("{date}", &d.local_time(&at));
        }
        (State::Open | State::Closed | State::Certified, _) if now >= d.closes_at => {
            said.sentence = t.err_ended.replace("{date}", &d.local_time(&d.closes_at));
        }
        _ => {}
    }
    said
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckPage {
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
    /// The server the checker asks (empty: the one that served the page).
    server: String,
    election: String,
    tracker: String,
    /// For the saved copy: the sealing code itself, inline (a file opened from disk cannot
    /// load a module); otherwise the page loads the served file.
    inline: Option<String>,
    integrity: &'static str,
}

/// Query of `GET /check`: what to fill in (from the ballot page's link).
#[derive(Deserialize)]
pub struct CheckQuery {
    lang: Option<String>,
    election: Option<String>,
    tracker: Option<String>,
}

fn check_page(lang: Lang, server: String, query: &CheckQuery, inline: Option<String>) -> CheckPage {
    let keep = |v: &Option<String>| {
        v.as_deref()
            .map(|v| {
                v.chars()
                    .filter(|c| c.is_ascii_hexdigit() || *c == '-')
                    .take(64)
                    .collect()
            })
            .unwrap_or_default()
    };
    CheckPage {
        t: lang.text(),
        lang: lang.code(),
        switch_href: "/check?lang=".to_owned(),
        server,
        election: keep(&query.election),
        tracker: keep(&query.tracker),
        inline,
        integrity: crate::sealing_code::sealing_code_integrity(),
    }
}

/// `GET /check`: confirm a checked ballot — its challenge entry re-sealed in the browser.
pub async fn check(req: HttpRequest, query: web::Query<CheckQuery>) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    html(
        StatusCode::OK,
        &check_page(lang, String::new(), &query, None),
        None,
    )
}

/// `GET /check/checker.html`: the same checker as one file to keep, the sealing code inline
/// (the served bytes, without their module `export` line) and this server's address filled in.
pub async fn checker_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CheckQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let code = String::from_utf8_lossy(crate::sealing_code::SEALING_CODE);
    let script = code
        .rfind("\nexport {")
        .map_or(code.as_ref(), |at| &code[..at])
        .replace("</script", "<\\/script");
    let server = state.public_url.to_string();
    let page = check_page(lang, server, &query, Some(script));
    match page.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(actix_web::http::header::ContentDisposition::attachment(
                "strikevote-checker.html",
            ))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "the checker page failed to render");
            HttpResponse::InternalServerError().finish()
        }
    }
}
