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

use super::page::{csrf, csrf_ok, html, mailing_download};
use super::public::{Bar, turnout_bars};
use super::result::ResultView;
use crate::account::{Account, Role};
use crate::approvals::{self, Approved, CarriedOut};
use crate::election::Transition;
use crate::election::approval::{self, Action};
use crate::election::{self, Definition, ElectionId, State};
use crate::error::{Error, ErrorCode};
use crate::http::auth::Official;
use crate::http::state::AppState;
use crate::http::state::with_conn;
use crate::log::entry::{Body, Kind};
use crate::log::store;
use crate::roster;
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
    elections: Vec<ElectionRow>,
    /// Elections where an action waits for this admin's approval: (id, title, how many).
    waiting: Vec<(String, String, usize)>,
    can_watch: bool,
    is_admin: bool,
    /// The definition text pasted, shown again after a problem.
    definition: String,
}

/// One election in the list: enough to tell two of the same title apart.
struct ElectionRow {
    id: String,
    /// The id's first 8 characters, as the CLI's and the dashboard's addresses start.
    short_id: String,
    title: String,
    state: String,
    /// The voting window in the election's time zone.
    window: String,
    /// When it was created, UTC, to the minute.
    created: String,
}

impl ElectionRow {
    fn of(e: &election::Election) -> Self {
        let d = &e.definition;
        let id = e.id.to_string();
        Self {
            short_id: id.chars().take(8).collect(),
            id,
            title: d.title.clone(),
            state: e.state.to_string(),
            window: format!(
                "{} → {}",
                d.local_time(&d.opens_at),
                d.local_time(&d.closes_at)
            ),
            created: e.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
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
    let waiting = if who.role == Role::Admin {
        let admin = who.username.clone();
        let counts = with_conn(state, move |c| election::approval::waiting_for(c, &admin))
            .await
            .unwrap_or_default();
        elections
            .iter()
            .filter_map(|e| {
                let n = *counts.get(&e.id.to_string())?;
                Some((e.id.to_string(), e.definition.title.clone(), n))
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = ElectionsPage {
        username: who.username.clone(),
        role: who.role.to_string(),
        csrf,
        problems,
        notice: None,
        elections: elections.iter().map(ElectionRow::of).collect(),
        waiting,
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
        std::future::ready(Self::of(req).map_err(|e| crate::http::extractor_error(req, e)))
    }
}

impl Desk {
    fn of(req: &HttpRequest) -> Result<Self, Error> {
        let who = crate::http::auth::signed_in(req)?;
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
        dashboard::dashboard_view(self, StatusCode::OK, Vec::new(), notice).await
    }

    /// The dashboard again, with the problems that stopped an action.
    async fn problems(&self, status: StatusCode, problems: Vec<String>) -> HttpResponse {
        dashboard::dashboard_view(self, status, problems, None).await
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

mod dashboard;
mod notices;
mod tokens;
mod transitions;

pub use dashboard::dashboard;
pub use notices::{
    ask_bounced_letters, issue_letters, letters_page, preview_notices, send_notices,
};
pub use tokens::{
    ConfirmedForm, InvitationsForm, ReissueForm, issue_invitations, issue_tokens,
    issue_tokens_page, reissue_all, reissue_all_page, reissue_token, upload_roster,
};
pub use transitions::{
    ActionQuery, PendingForm, StateForm, change_state, confirm_page, decide_pending,
};
