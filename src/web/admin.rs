//! The officials' pages: the elections list, the dashboard (turnout during the vote, results
//! after), and the admin actions with their confirmation steps. English only; every form
//! carries the CSRF field; every refusal shows the reason and changes nothing.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;
use serde::Deserialize;

use super::auth::Official;
use super::page::{csrf, csrf_ok, html, mailing_download};
use super::public::{Bar, ResultView, turnout_bars};
use crate::account::{Account, Role};
use crate::approvals::{self, Approved, CarriedOut};
use crate::election::Transition;
use crate::election::approval::{self, Action};
use crate::election::{self, Definition, ElectionId, State};
use crate::error::{Error, ErrorCode};
use crate::log::entry::{Body, Kind};
use crate::log::store;
use crate::roster;
use crate::state::AppState;
use crate::state::with_conn;
use crate::tally::Share;
use crate::token::store as token_store;

#[derive(Template)]
#[template(path = "elections.html")]
struct ElectionsPage {
    username: String,
    role: String,
    csrf: String,
    problems: Vec<String>,
    notice: Option<String>,
    elections: Vec<(String, String, String)>,
    can_watch: bool,
    is_admin: bool,
    /// The definition text pasted, shown again after a problem.
    definition: String,
}

pub(crate) fn redirect(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

async fn elections_view(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Account,
    status: StatusCode,
    problems: Vec<String>,
) -> HttpResponse {
    elections_view_keeping(req, state, who, (status, problems), String::new()).await
}

/// The elections page with `definition` back in the paste box (after a problem with it).
async fn elections_view_keeping(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Account,
    (status, problems): (StatusCode, Vec<String>),
    definition: String,
) -> HttpResponse {
    let (csrf, cookie) = csrf(req, state);
    let elections = with_conn(state, election::list).await.unwrap_or_default();
    let page = ElectionsPage {
        username: who.username.clone(),
        role: who.role.to_string(),
        csrf,
        problems,
        notice: None,
        elections: elections
            .iter()
            .map(|e| {
                (
                    e.id.to_string(),
                    e.definition.title.clone(),
                    e.state.to_string(),
                )
            })
            .collect(),
        can_watch: who.role != Role::Auditor,
        is_admin: who.role == Role::Admin,
        definition,
    };
    html(status, &page, cookie)
}

fn failure(req: &HttpRequest, e: &Error) -> HttpResponse {
    super::page::error_page(req, e.status(), e.to_string())
}

/// An official at an election's dashboard: who, which election (the path's `{id}`), and the
/// request being answered. Every election action takes one, so none repeats the sign-in and
/// election checks, and every refusal shows the dashboard again with the reason.
pub struct Desk {
    req: HttpRequest,
    state: web::Data<AppState>,
    who: Account,
    id: ElectionId,
}

impl actix_web::FromRequest for Desk {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Self::of(req).map_err(|e| super::extractor_error(req, e)))
    }
}

impl Desk {
    fn of(req: &HttpRequest) -> Result<Self, Error> {
        let who = super::auth::signed_in(req)?;
        let id = ElectionId::parse(req.match_info().get("id").unwrap_or_default())?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| Error::Internal("the application state is missing".into()))?;
        Ok(Self {
            req: req.clone(),
            state,
            who,
            id,
        })
    }

    /// Whether the form's CSRF value is this browser's.
    fn fresh(&self, csrf: &str) -> bool {
        csrf_ok(&self.req, csrf)
    }

    /// The official's password, typed again, before an action that changes the vote: `None`
    /// when it is right, else the dashboard saying why nothing was done. Password checks wait
    /// their turn under the gate, like sign-ins.
    async fn reconfirmed(&self, password: &str) -> Option<HttpResponse> {
        let _turn = match self.state.password_gate.enter().await {
            Ok(turn) => turn,
            Err(e) => return Some(self.refused(&e).await),
        };
        let (me, password) = (self.who.username.clone(), password.to_owned());
        match self
            .run(move |c| approvals::reconfirm(c, &me, &password))
            .await
        {
            Ok(()) => None,
            Err(e) => {
                let problem = match e {
                    Error::Unauthorized(_) => Error::Unauthorized(
                        "Your password, typed again, was missing or wrong: nothing was done."
                            .into(),
                    ),
                    other => other,
                };
                Some(self.refused(&problem).await)
            }
        }
    }

    /// The log key and the official's name, for an action that logs.
    fn actor(&self) -> (std::sync::Arc<crate::log::LogKey>, String) {
        (self.state.signer.clone(), self.who.username.clone())
    }

    /// The two-person rule stopped `action` by `by`: records it as waiting for a second admin
    /// and says so on the dashboard (where the other admins see it, with Approve).
    async fn ask_second(&self, action: Action, by: String) -> HttpResponse {
        let id = self.id;
        match self
            .run(move |c| approval::request(c, id, &action, &by))
            .await
        {
            Ok(p) => {
                let notice = format!(
                    "Waiting for a second admin: {}. Another admin approves it on this page \
                     (the two-person rule); nothing has changed yet.",
                    p.description
                );
                self.show(Some(notice)).await
            }
            Err(e) => self.refused(&e).await,
        }
    }

    /// Runs a database action on the pool.
    async fn run<T: Send + 'static>(
        &self,
        action: impl FnOnce(&mut crate::db::DbConnection) -> crate::error::Result<T> + Send + 'static,
    ) -> crate::error::Result<T> {
        with_conn(&self.state, action).await
    }

    /// The dashboard with a notice (`None`: none).
    async fn show(&self, notice: Option<String>) -> HttpResponse {
        dashboard_view(self, StatusCode::OK, Vec::new(), notice).await
    }

    /// The dashboard again, with the problems that stopped an action.
    async fn problems(&self, status: StatusCode, problems: Vec<String>) -> HttpResponse {
        dashboard_view(self, status, problems, None).await
    }

    /// The dashboard again, with the reason an action was refused.
    async fn refused(&self, e: &Error) -> HttpResponse {
        self.problems(e.status(), vec![e.to_string()]).await
    }

    /// The dashboard again, saying the form's CSRF value did not match.
    async fn expired(&self) -> HttpResponse {
        let problem = vec!["This form has expired. Please try again.".to_owned()];
        self.problems(StatusCode::FORBIDDEN, problem).await
    }
}

/// `GET /admin`: the elections.
pub async fn elections_page(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
) -> HttpResponse {
    elections_view(&req, &state, &who.0, StatusCode::OK, Vec::new()).await
}

/// The fields of a multipart form, each at most `limit` bytes in all.
async fn read_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<HashMap<String, Vec<u8>>, Error> {
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut fields = HashMap::new();
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| {
            Error::bad_input(
                ErrorCode::InvalidForm,
                format!("the form could not be read: {e}"),
            )
        })?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| {
                Error::bad_input(
                    ErrorCode::InvalidForm,
                    format!("the form could not be read: {e}"),
                )
            })?;
            total += chunk.len();
            if total > limit {
                return Err(Error::PayloadTooLarge);
            }
            value.extend_from_slice(&chunk);
        }
        fields.insert(name, value);
    }
    Ok(fields)
}

fn field_text(fields: &HashMap<String, Vec<u8>>, name: &str) -> String {
    fields
        .get(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// `POST /admin/elections` (multipart: `definition_file` or `definition`, `csrf`).
pub async fn create_election(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    let who = who.0;
    let fields = match read_multipart(&req, payload, state.settings.upload_limit_bytes).await {
        Ok(f) => f,
        Err(e) => return elections_view(&req, &state, &who, e.status(), vec![e.to_string()]).await,
    };
    if !csrf_ok(&req, &field_text(&fields, "csrf")) {
        return elections_view(
            &req,
            &state,
            &who,
            StatusCode::FORBIDDEN,
            vec!["This form has expired. Please try again.".into()],
        )
        .await;
    }
    let file = field_text(&fields, "definition_file");
    let text = if file.trim().is_empty() {
        field_text(&fields, "definition")
    } else {
        file
    };
    let definition = match Definition::from_toml(&text) {
        Ok(d) => d,
        Err(e) => {
            let problems = match e {
                election::DefinitionError::Invalid(ps) => {
                    ps.iter().map(|p| p.to_string()).collect()
                }
                other => vec![other.to_string()],
            };
            let status = (StatusCode::BAD_REQUEST, problems);
            return elections_view_keeping(&req, &state, &who, status, text).await;
        }
    };
    let (host, signer, by) = (
        state.public_url.clone(),
        state.signer.clone(),
        who.username.clone(),
    );
    match with_conn(&state, move |c| {
        election::create(c, &definition, &host, &signer, &by)
    })
    .await
    {
        Ok(id) => redirect(format!("/admin/elections/{id}")),
        Err(e) => elections_view(&req, &state, &who, e.status(), vec![e.to_string()]).await,
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    username: String,
    role: String,
    csrf: String,
    problems: Vec<String>,
    notice: Option<String>,
    id: String,
    title: String,
    state: String,
    opens_at: String,
    closes_at: String,
    rule: String,
    log_size: u64,
    checkpoint_time: String,
    turnout: Vec<(String, u64, u64, String)>,
    cast_total: u64,
    eligible_total: u64,
    turnout_total: String,
    /// What happens to small locals at close, if any are at risk.
    small_locals: Vec<String>,
    turnout_bars: Vec<Bar>,
    chart_height: u32,
    results: Option<ResultView>,
    actions: Vec<String>,
    ceremony: String,
    decryption: Option<String>,
    /// Whether the server opens and closes votes at their times (`schedule_seconds` > 0).
    scheduled: bool,
    checklist: super::checklist::Checklist,
    is_admin: bool,
    /// Actions waiting for a second admin: id, what, who asked, when, whether it is this
    /// official's own request.
    /// Each pending action: id, description, who asked, when, whether the viewer asked, who
    /// approved it (once approved, it waits for the asker to carry it out).
    pending: Vec<(String, String, String, String, bool, String)>,
    /// Whether the two-person rule is on.
    two_person_rule: bool,
}

/// What the dashboard shows, read in one go.
struct Snapshot {
    election: election::Election,
    turnout: election::count::Turnout,
    checkpoint: store::StoredCheckpoint,
    results: Option<crate::tally::Results>,
    actions: Vec<String>,
    ceremony: election::ceremony::Status,
    decryption: Option<election::decryption::Status>,
    counts: std::collections::BTreeMap<String, election::LocalCounts>,
    pending: Vec<approval::Pending>,
}

fn snapshot(c: &mut crate::db::DbConnection, id: ElectionId) -> crate::error::Result<Snapshot> {
    let election = election::find(c, id)?;
    let (results, decryption) = match election.state {
        State::Closed | State::Certified => {
            let status = election::decryption::status(c, &election)?;
            let results = match status.decrypted {
                true => Some(election::count::results(c, id)?),
                false => None,
            };
            (results, Some(status))
        }
        _ => (None, None),
    };
    let mut actions = Vec::new();
    for body in store::entries_of_kind(c, id, &[Kind::Admin])? {
        if let Body::Admin(admin) = body {
            actions.push(match admin.approved_by {
                Some(second) => format!("{} by {}, approved by {}", admin.action, admin.by, second),
                None => format!("{} by {}", admin.action, admin.by),
            });
        }
    }
    Ok(Snapshot {
        counts: election::local_counts(c, &election)?,
        ceremony: election::ceremony::status(c, &election)?,
        turnout: election::count::turnout(c, id)?,
        checkpoint: store::latest_checkpoint(c, id)?,
        election,
        results,
        actions,
        decryption,
        pending: approval::list(c, id)?,
    })
}

/// The dashboard's warnings about small locals (their totals are never opened alone).
fn small_locals(definition: &election::Definition, t: &election::count::Turnout) -> Vec<String> {
    let eligible = t
        .locals
        .iter()
        .map(|(c, l)| (c.clone(), l.eligible))
        .collect();
    let cast = t.locals.iter().map(|(c, l)| (c.clone(), l.cast)).collect();
    crate::tally::units::warnings(definition, &eligible, &cast)
}

async fn dashboard_view(
    desk: &Desk,
    status: StatusCode,
    problems: Vec<String>,
    notice: Option<String>,
) -> HttpResponse {
    let id = desk.id;
    let s = match desk.run(move |c| snapshot(c, id)).await {
        Ok(s) => s,
        Err(e) => return failure(&desk.req, &e),
    };
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let (e, t) = (&s.election, &s.turnout);
    let bars = turnout_bars(t);
    let share = |part, whole| Share { part, whole }.to_string();
    let page = Dashboard {
        username: desk.who.username.clone(),
        role: desk.who.role.to_string(),
        csrf,
        problems,
        notice,
        id: e.id.to_string(),
        title: e.definition.title.clone(),
        state: e.state.to_string(),
        opens_at: e.definition.local_time(&e.definition.opens_at),
        closes_at: e.definition.local_time(&e.definition.closes_at),
        rule: e.definition.rule.as_str().to_owned(),
        log_size: e.log_size,
        checkpoint_time: e.definition.local_time(&s.checkpoint.created_at.and_utc()),
        turnout: t
            .locals
            .iter()
            .map(|(code, l)| (code.clone(), l.cast, l.eligible, share(l.cast, l.eligible)))
            .collect(),
        cast_total: t.cast,
        eligible_total: t.eligible,
        turnout_total: share(t.cast, t.eligible),
        small_locals: small_locals(&e.definition, t),
        chart_height: super::public::chart_height(&bars),
        turnout_bars: bars,
        results: s.results.map(|r| ResultView::new(r, &e.definition)),
        actions: s.actions,
        ceremony: s.ceremony.to_string(),
        decryption: s.decryption.as_ref().map(|d| d.to_string()),
        scheduled: desk.state.settings.schedule_seconds > 0,
        checklist: super::checklist::of(
            e,
            &s.counts,
            &s.ceremony,
            s.decryption.as_ref(),
            desk.state.settings.schedule_seconds > 0,
        ),
        is_admin: desk.who.role == Role::Admin,
        pending: s
            .pending
            .iter()
            .map(|p| {
                let at = e.definition.local_time(&p.requested_at.and_utc());
                let mine = p.requested_by == desk.who.username;
                (
                    p.id.clone(),
                    p.description.clone(),
                    p.requested_by.clone(),
                    at,
                    mine,
                    p.approved_by.clone().unwrap_or_default(),
                )
            })
            .collect(),
        two_person_rule: e.definition.two_person_rule,
    };
    html(status, &page, cookie)
}

/// `GET /admin/elections/{id}`: the dashboard.
pub async fn dashboard(desk: Desk) -> HttpResponse {
    desk.show(None).await
}

/// `POST /admin/elections/{id}/roster` (multipart: `roster`, `csrf`).
pub async fn upload_roster(desk: Desk, payload: web::Payload) -> HttpResponse {
    let limit = desk.state.settings.upload_limit_bytes;
    let fields = match read_multipart(&desk.req, payload, limit).await {
        Ok(f) => f,
        Err(e) => return desk.refused(&e).await,
    };
    if !desk.fresh(&field_text(&fields, "csrf")) {
        return desk.expired().await;
    }
    let bytes = fields.get("roster").cloned().unwrap_or_default();
    let ((signer, by), id) = (desk.actor(), desk.id);
    let max_rows = desk.state.settings.upload_max_rows;
    let imported = desk
        .run(move |c| roster::import(c, id, &bytes, &signer, &by, Some(max_rows), &|_, _| {}))
        .await;
    match imported {
        Ok(s) => {
            desk.show(Some(format!(
                "Roster imported: {} members ({} added, {} updated, {} removed).",
                s.members, s.added, s.updated, s.removed
            )))
            .await
        }
        Err(e) => {
            // The roster error lists every bad line, one per line of its message.
            let problems = e
                .to_string()
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            desk.problems(e.status(), problems).await
        }
    }
}

/// A form with only the CSRF field.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// A confirmation form: the CSRF field and the official's password, typed again.
#[derive(Deserialize)]
pub struct ConfirmedForm {
    csrf: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/elections/{id}/tokens`: issues the missing tokens; the CSV downloads once.
pub async fn issue_tokens(desk: Desk, form: web::Form<ConfirmedForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    match desk
        .run(move |c| token_store::issue_mailing(c, id, &signer, &by))
        .await
    {
        Ok((0, _)) => {
            let nothing = "Every member already has a token; nothing was issued.";
            desk.show(Some(nothing.into())).await
        }
        Ok((n, csv)) => mailing_download(id, n, csv),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "issue_tokens.html")]
struct IssueTokens {
    id: String,
    title: String,
    csrf: String,
    needy: i64,
    /// Per local: code, members, members with a token, members who will get one.
    rows: Vec<(String, i64, i64, i64)>,
}

/// `GET /admin/elections/{id}/tokens`: the confirmation step, saying how many members of each
/// local will get a token.
pub async fn issue_tokens_page(desk: Desk) -> HttpResponse {
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            Ok((e.clone(), election::local_counts(c, &e)?))
        })
        .await;
    let (e, counts) = match found {
        Ok(found) => found,
        Err(e) => return desk.refused(&e).await,
    };
    let rows: Vec<(String, i64, i64, i64)> = counts
        .into_iter()
        .map(|(code, l)| {
            let have = l.tokens_live + l.tokens_used;
            (code, l.eligible, have, l.eligible - have)
        })
        .collect();
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let page = IssueTokens {
        id: id.to_string(),
        title: e.definition.title,
        csrf,
        needy: rows.iter().map(|r| r.3).sum(),
        rows,
    };
    html(StatusCode::OK, &page, cookie)
}

#[derive(Template)]
#[template(path = "reissue_all.html")]
struct ReissueAll {
    id: String,
    title: String,
    csrf: String,
    live: i64,
}

/// `GET /admin/elections/{id}/reissue-all`: the confirmation step, saying how many unused
/// tokens would stop working.
pub async fn reissue_all_page(desk: Desk) -> HttpResponse {
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            let counts = election::local_counts(c, &e)?;
            Ok((e, counts.values().map(|l| l.tokens_live).sum::<i64>()))
        })
        .await;
    match found {
        Ok((e, live)) => {
            let (csrf, cookie) = csrf(&desk.req, &desk.state);
            let page = ReissueAll {
                id: id.to_string(),
                title: e.definition.title,
                csrf,
                live,
            };
            html(StatusCode::OK, &page, cookie)
        }
        Err(e) => desk.refused(&e).await,
    }
}

/// `POST /admin/elections/{id}/reissue-all`: revokes every live token, issues new ones to every
/// member who has not voted, and downloads their mailing.
pub async fn reissue_all(desk: Desk, form: web::Form<ConfirmedForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    let who = by.clone();
    match desk
        .run(move |c| token_store::reissue_mailing(c, id, &signer, &who))
        .await
    {
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
            desk.ask_second(Action::ReissueAll, by).await
        }
        done => reissued_all(&desk, done).await,
    }
}

/// The answer once every unused token is replaced: the mailing file.
async fn reissued_all(desk: &Desk, done: crate::error::Result<(usize, Vec<u8>)>) -> HttpResponse {
    match done {
        Ok((0, _)) => {
            let nothing = "Every member has voted; no token was replaced.";
            desk.show(Some(nothing.into())).await
        }
        Ok((n, csv)) => mailing_download(desk.id, n, csv),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "reissued.html")]
struct Reissued {
    id: String,
    member: String,
    token: String,
    url: String,
}

/// Form of `POST /admin/elections/{id}/reissue`.
#[derive(Deserialize)]
pub struct ReissueForm {
    csrf: String,
    member: String,
    /// `yes` once the official has seen whose token it is.
    confirm: Option<String>,
    /// The official's password, typed again with the confirmation.
    #[serde(default)]
    password: String,
}

#[derive(Template)]
#[template(path = "reissue_confirm.html")]
struct ReissueConfirm {
    id: String,
    title: String,
    csrf: String,
    member: String,
    name: String,
    local: String,
}

/// `POST /admin/elections/{id}/reissue`: revokes the member's token; shows the new one once.
pub async fn reissue_token(desk: Desk, form: web::Form<ReissueForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let member = form.member.trim().to_owned();
    let ((signer, by), id) = (desk.actor(), desk.id);
    if form.confirm.as_deref() != Some("yes") {
        // First say whose token it is; nothing changes until the official confirms.
        let who = member.clone();
        let found = desk
            .run(move |c| Ok((election::find(c, id)?, crate::roster::member(c, id, &who)?)))
            .await;
        return match found {
            Ok((e, m)) => {
                let (csrf, cookie) = csrf(&desk.req, &desk.state);
                let local = e
                    .definition
                    .local(&m.local)
                    .map_or(m.local.clone(), |l| format!("{} — {}", l.code, l.name));
                let name = match m.name.trim() {
                    "" => format!("member {}", m.member_id),
                    name => name.to_owned(),
                };
                let page = ReissueConfirm {
                    id: id.to_string(),
                    title: e.definition.title,
                    csrf,
                    member: m.member_id,
                    name,
                    local,
                };
                html(StatusCode::OK, &page, cookie)
            }
            Err(e) => desk.refused(&e).await,
        };
    }
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let (who, asked) = (by.clone(), member.clone());
    match desk
        .run(move |c| token_store::reissue(c, id, &asked, &signer, &who))
        .await
    {
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
            desk.ask_second(Action::Reissue { member }, by).await
        }
        done => reissued(&desk, done).await,
    }
}

/// The answer once a member's token is reissued: the new token, shown once.
async fn reissued(
    desk: &Desk,
    done: crate::error::Result<token_store::IssuedToken>,
) -> HttpResponse {
    match done {
        Ok(t) => html(
            StatusCode::OK,
            &Reissued {
                id: desk.id.to_string(),
                member: t.member_id,
                token: t.token.expose().to_owned(),
                url: t.ballot_url,
            },
            None,
        ),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "invitations.html")]
struct Invitations {
    id: String,
    title: String,
    rows: Vec<(u32, String, String)>,
}

/// `POST /admin/elections/{id}/invitations`: new invitation codes for every teller, shown once.
pub async fn issue_invitations(desk: Desk, form: web::Form<CsrfForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let id = desk.id;
    let issued = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            let codes = crate::teller::invitations::issue(c, id)?;
            Ok((e, codes))
        })
        .await;
    match issued {
        Ok((e, codes)) => html(
            StatusCode::OK,
            &Invitations {
                id: id.to_string(),
                title: e.definition.title.clone(),
                rows: codes
                    .into_iter()
                    .map(|(t, code)| (t, e.definition.tellers.name(t), code))
                    .collect(),
            },
            None,
        ),
        Err(e) => desk.refused(&e).await,
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct Confirm {
    id: String,
    title: String,
    state: String,
    window: String,
    csrf: String,
    action: &'static str,
    heading: &'static str,
    explanation: &'static str,
    /// A warning in bold before the button (closing early, opening before the window), or
    /// what is being certified.
    warning: Option<String>,
    button: &'static str,
}

/// The confirmation step's heading, explanation and button for each transition.
fn confirmation(action: Transition) -> (&'static str, &'static str, &'static str) {
    match action {
        Transition::Open => (
            "Open the vote?",
            "Members can vote from the moment the voting window starts. The definition and the roster freeze now and cannot change again.",
            "Yes, open the vote",
        ),
        Transition::Close => (
            "Close the vote?",
            "No more ballots will be accepted. The tellers then decrypt the totals (each runs `strikevote teller decrypt`), and the results become visible to officials, observers and the public. This cannot be undone.",
            "Yes, close the vote",
        ),
        Transition::Certify => (
            "Certify the result?",
            "The result the tellers decrypted, already in the log, is certified in your name. This cannot be undone.",
            "Yes, certify",
        ),
    }
}

/// "2 days 3 hours" (at least a minute).
fn span_in_words(d: chrono::Duration) -> String {
    let (days, hours, minutes) = (
        d.num_days(),
        d.num_hours() % 24,
        (d.num_minutes() % 60).max(1),
    );
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => unit(minutes, "minute"),
        (0, h) => format!("{} {}", unit(h, "hour"), unit(minutes, "minute")),
        (d, h) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

/// What the official should weigh before `action` on `election` now.
fn warning(
    action: Transition,
    e: &election::Election,
    results: Option<&crate::tally::Results>,
) -> Option<String> {
    let now = chrono::Utc::now();
    let d = &e.definition;
    let time = |t: &chrono::DateTime<chrono::Utc>| d.local_time(t);
    match action {
        Transition::Close if now < d.closes_at => Some(format!(
            "The voting window runs until {}: closing now ends it {} early. Members who have not voted yet will not be able to.",
            time(&d.closes_at),
            span_in_words(d.closes_at - now)
        )),
        Transition::Open if now < d.opens_at => Some(format!(
            "The voting window starts at {}: members can vote only from then.",
            time(&d.opens_at)
        )),
        Transition::Certify => {
            results.map(|r| format!("You are certifying: {}", r.explain(d).sentence))
        }
        _ => None,
    }
}

/// Query of the confirmation page.
#[derive(Deserialize)]
pub struct ActionQuery {
    action: String,
}

/// `GET /admin/elections/{id}/confirm?action=open|close|certify`: the confirmation step, naming
/// the election and warning of what the action cuts short.
pub async fn confirm_page(desk: Desk, query: web::Query<ActionQuery>) -> HttpResponse {
    let action = match Transition::parse(&query.action) {
        Ok(a) => a,
        Err(e) => return failure(&desk.req, &e),
    };
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            let results = match action {
                Transition::Certify => election::count::results(c, id).ok(),
                _ => None,
            };
            Ok((e, results))
        })
        .await;
    let (e, results) = match found {
        Ok(found) => found,
        Err(e) => return failure(&desk.req, &e),
    };
    let (heading, explanation, button) = confirmation(action);
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let d = &e.definition;
    let window = format!(
        "{} → {}",
        d.local_time(&d.opens_at),
        d.local_time(&d.closes_at)
    );
    html(
        StatusCode::OK,
        &Confirm {
            id: id.to_string(),
            title: d.title.clone(),
            state: e.state.to_string(),
            window,
            csrf,
            action: action.as_str(),
            heading,
            explanation,
            warning: warning(action, &e, results.as_ref()),
            button,
        },
        cookie,
    )
}

/// Form of `POST /admin/elections/{id}/state`.
#[derive(Deserialize)]
pub struct StateForm {
    csrf: String,
    action: String,
    /// The official's password, typed again.
    #[serde(default)]
    password: String,
}

/// `POST /admin/elections/{id}/state`: open, close or certify (after the confirmation step).
pub async fn change_state(desk: Desk, form: web::Form<StateForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let Ok(action) = Transition::parse(&form.action) else {
        let unknown = vec!["Unknown action.".to_owned()];
        return desk.problems(StatusCode::BAD_REQUEST, unknown).await;
    };
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    let who = by.clone();
    match desk
        .run(move |c| election::apply(c, id, action, &signer, &who))
        .await
    {
        Ok(_) => redirect(format!("/admin/elections/{id}")),
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => desk.ask_second(Action::Close, by).await,
        Err(e) => desk.refused(&e).await,
    }
}

/// Form of `POST /admin/elections/{id}/pending`.
#[derive(Deserialize)]
pub struct PendingForm {
    csrf: String,
    /// The pending action's id.
    pending: String,
    /// `approve`, `carry_out` or `cancel`.
    decision: String,
    /// The official's password, asked again to approve or carry out (not to cancel).
    #[serde(default)]
    password: String,
}

/// `POST /admin/elections/{id}/pending`: a second admin approves an action another admin asked
/// for (it is then done, naming both in the log), or any admin cancels it.
pub async fn decide_pending(desk: Desk, form: web::Form<PendingForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let ((signer, me), id) = (desk.actor(), desk.id);
    let pending_id = form.pending.clone();
    match form.decision.as_str() {
        "cancel" => {
            let done = desk
                .run(move |c| approval::cancel(c, id, &pending_id, &me))
                .await;
            match done {
                Ok(p) => {
                    let what = format!(
                        "Cancelled: {} (asked for by {}).",
                        p.description, p.requested_by
                    );
                    desk.show(Some(what)).await
                }
                Err(e) => desk.refused(&e).await,
            }
        }
        "approve" => {
            let _turn = match desk.state.password_gate.enter().await {
                Ok(turn) => turn,
                Err(e) => return desk.refused(&e).await,
            };
            let password = form.password.clone();
            let done = desk
                .run(move |c| approvals::approve(c, (id, &pending_id), (&me, &password), &signer))
                .await;
            match done {
                Ok(Approved::Done(p)) => {
                    let what = format!(
                        "Approved: the vote is closed (asked for by {}).",
                        p.requested_by
                    );
                    desk.show(Some(what)).await
                }
                Ok(Approved::Waiting(p)) => {
                    let what = format!(
                        "Approved: {}. {} carries it out from this dashboard; the new token(s) \
                         will be shown to {} only.",
                        p.description, p.requested_by, p.requested_by
                    );
                    desk.show(Some(what)).await
                }
                Err(e) => desk.refused(&e).await,
            }
        }
        "carry_out" => {
            let _turn = match desk.state.password_gate.enter().await {
                Ok(turn) => turn,
                Err(e) => return desk.refused(&e).await,
            };
            let password = form.password.clone();
            let done = desk
                .run(move |c| approvals::carry_out(c, (id, &pending_id), (&me, &password), &signer))
                .await;
            match done {
                Ok(CarriedOut::Reissued(t)) => reissued(&desk, Ok(t)).await,
                Ok(CarriedOut::Mailing(n, csv)) => reissued_all(&desk, Ok((n, csv))).await,
                Ok(CarriedOut::ApiToken(name, token)) => {
                    let who = super::auth::Official(desk.who.clone());
                    super::accounts::new_token_shown(&desk.req, &desk.state, &who, (name, token))
                        .await
                }
                Err(e) => desk.refused(&e).await,
            }
        }
        _ => {
            let unknown = vec!["Unknown decision: approve, carry out or cancel.".to_owned()];
            desk.problems(StatusCode::BAD_REQUEST, unknown).await
        }
    }
}
