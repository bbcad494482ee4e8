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
use super::page::{csrf, csrf_ok, html};
use super::public::{Bar, ResultView, turnout_bars};
use crate::account::{Account, Role};
use crate::api::admin::{issue_csv, tokens_download};
use crate::election::Transition;
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
}

fn redirect(to: String) -> HttpResponse {
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
    };
    html(status, &page, cookie)
}

fn failure(req: &HttpRequest, e: &Error) -> HttpResponse {
    super::page::error_page(req, e.status(), e.to_string())
}

/// The signed-in official and the election named in the path, or the error page.
fn official_and_election(
    req: &HttpRequest,
    who: Official,
    id: &str,
) -> Result<(Account, ElectionId), HttpResponse> {
    let id = ElectionId::parse(id).map_err(|e| failure(req, &e.into()))?;
    Ok((who.0, id))
}

/// The dashboard again, with the reason an action was refused.
async fn refused(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Account,
    id: ElectionId,
    e: &Error,
) -> HttpResponse {
    dashboard_view(req, state, who, id, e.status(), vec![e.to_string()], None).await
}

/// The dashboard again, saying the form's CSRF value did not match.
async fn expired(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Account,
    id: ElectionId,
) -> HttpResponse {
    let problem = vec!["This form has expired. Please try again.".to_owned()];
    dashboard_view(req, state, who, id, StatusCode::FORBIDDEN, problem, None).await
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
            return elections_view(&req, &state, &who, StatusCode::BAD_REQUEST, problems).await;
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
    turnout_bars: Vec<Bar>,
    chart_height: u32,
    results: Option<ResultView>,
    actions: Vec<String>,
    is_admin: bool,
}

async fn dashboard_view(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Account,
    id: ElectionId,
    status: StatusCode,
    problems: Vec<String>,
    notice: Option<String>,
) -> HttpResponse {
    let found = with_conn(state, move |c| {
        let e = election::find(c, id)?;
        let t = election::count::turnout(c, id)?;
        let cp = store::latest_checkpoint(c, id)?;
        let results = match e.state {
            State::Closed | State::Certified => Some(election::count::results(c, id)?),
            _ => None,
        };
        let mut actions = Vec::new();
        for body in store::entries_of_kind(c, id, &[Kind::Admin])? {
            if let Body::Admin(admin) = body {
                actions.push(format!("{} by {}", admin.action, admin.by));
            }
        }
        Ok((e, t, cp, results, actions))
    })
    .await;
    let (e, t, cp, results, actions) = match found {
        Ok(x) => x,
        Err(e) => return failure(req, &e),
    };
    let (csrf, cookie) = csrf(req, state);
    let bars = turnout_bars(&t);
    let page = Dashboard {
        username: who.username.clone(),
        role: who.role.to_string(),
        csrf,
        problems,
        notice,
        id: e.id.to_string(),
        title: e.definition.title.clone(),
        state: e.state.to_string(),
        opens_at: election::definition::format_time(&e.definition.opens_at),
        closes_at: election::definition::format_time(&e.definition.closes_at),
        rule: e.definition.rule.as_str().to_owned(),
        log_size: e.log_size,
        checkpoint_time: cp.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        turnout: t
            .locals
            .iter()
            .map(|(code, l)| {
                (
                    code.clone(),
                    l.cast,
                    l.eligible,
                    Share {
                        part: l.cast,
                        whole: l.eligible,
                    }
                    .to_string(),
                )
            })
            .collect(),
        cast_total: t.cast,
        eligible_total: t.eligible,
        turnout_total: Share {
            part: t.cast,
            whole: t.eligible,
        }
        .to_string(),
        chart_height: bars.len() as u32 * 28 + 4,
        turnout_bars: bars,
        results: results.map(ResultView::new),
        actions,
        is_admin: who.role == Role::Admin,
    };
    html(status, &page, cookie)
}

/// `GET /admin/elections/{id}`: the dashboard.
pub async fn dashboard(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let (who, id) = match official_and_election(&req, who, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    dashboard_view(&req, &state, &who, id, StatusCode::OK, Vec::new(), None).await
}

/// `POST /admin/elections/{id}/roster` (multipart: `roster`, `csrf`).
pub async fn upload_roster(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (who, id) = match official_and_election(&req, who, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let fields = match read_multipart(&req, payload, state.settings.upload_limit_bytes).await {
        Ok(f) => f,
        Err(e) => {
            return refused(&req, &state, &who, id, &e).await;
        }
    };
    if !csrf_ok(&req, &field_text(&fields, "csrf")) {
        return expired(&req, &state, &who, id).await;
    }
    let bytes = fields.get("roster").cloned().unwrap_or_default();
    let (signer, by) = (state.signer.clone(), who.username.clone());
    let max_rows = state.settings.upload_max_rows;
    match with_conn(&state, move |c| {
        roster::import(c, id, &bytes, &signer, &by, Some(max_rows), &|_, _| {})
    })
    .await
    {
        Ok(s) => {
            let notice = format!(
                "Roster imported: {} members ({} added, {} updated, {} removed).",
                s.members, s.added, s.updated, s.removed
            );
            dashboard_view(
                &req,
                &state,
                &who,
                id,
                StatusCode::OK,
                Vec::new(),
                Some(notice),
            )
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
            dashboard_view(&req, &state, &who, id, e.status(), problems, None).await
        }
    }
}

/// A form with only the CSRF field.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /admin/elections/{id}/tokens`: issues the missing tokens; the CSV downloads once.
pub async fn issue_tokens(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let (who, id) = match official_and_election(&req, who, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    if !csrf_ok(&req, &form.csrf) {
        return expired(&req, &state, &who, id).await;
    }
    match issue_csv(&state, id, who.username.clone()).await {
        Ok((0, _)) => {
            dashboard_view(
                &req,
                &state,
                &who,
                id,
                StatusCode::OK,
                Vec::new(),
                Some("Every member already has a token; nothing was issued.".into()),
            )
            .await
        }
        Ok((n, csv)) => tokens_download(id, n, csv),
        Err(e) => refused(&req, &state, &who, id, &e).await,
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
}

/// `POST /admin/elections/{id}/reissue`: revokes the member's token; shows the new one once.
pub async fn reissue_token(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ReissueForm>,
) -> HttpResponse {
    let (who, id) = match official_and_election(&req, who, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    if !csrf_ok(&req, &form.csrf) {
        return expired(&req, &state, &who, id).await;
    }
    let member = form.member.trim().to_owned();
    let (signer, by) = (state.signer.clone(), who.username.clone());
    match with_conn(&state, move |c| {
        token_store::reissue(c, id, &member, &signer, &by)
    })
    .await
    {
        Ok(t) => {
            let url = t.ballot_url.clone();
            html(
                StatusCode::OK,
                &Reissued {
                    id: id.to_string(),
                    member: t.member_id,
                    token: t.token.expose().to_owned(),
                    url,
                },
                None,
            )
        }
        Err(e) => refused(&req, &state, &who, id, &e).await,
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct Confirm {
    id: String,
    csrf: String,
    action: &'static str,
    heading: &'static str,
    explanation: &'static str,
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
            "No more ballots will be accepted, and the results become visible to officials, observers and the public log. This cannot be undone.",
            "Yes, close the vote",
        ),
        Transition::Certify => (
            "Certify the result?",
            "The result is recounted from the log and written into it as the certified result. This cannot be undone.",
            "Yes, certify",
        ),
    }
}

/// Query of the confirmation page.
#[derive(Deserialize)]
pub struct ActionQuery {
    action: String,
}

/// `GET /admin/elections/{id}/confirm?action=open|close|certify`: the confirmation step.
pub async fn confirm_page(
    req: HttpRequest,
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ActionQuery>,
) -> HttpResponse {
    let id = match ElectionId::parse(&id) {
        Ok(id) => id,
        Err(e) => return failure(&req, &e.into()),
    };
    let action = match Transition::parse(&query.action) {
        Ok(a) => a,
        Err(e) => return failure(&req, &e),
    };
    let (heading, explanation, button) = confirmation(action);
    let (csrf, cookie) = csrf(&req, &state);
    html(
        StatusCode::OK,
        &Confirm {
            id: id.to_string(),
            csrf,
            action: action.as_str(),
            heading,
            explanation,
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
}

/// `POST /admin/elections/{id}/state`: open, close or certify (after the confirmation step).
pub async fn change_state(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<StateForm>,
) -> HttpResponse {
    let (who, id) = match official_and_election(&req, who, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    if !csrf_ok(&req, &form.csrf) {
        return expired(&req, &state, &who, id).await;
    }
    let Ok(action) = Transition::parse(&form.action) else {
        return dashboard_view(
            &req,
            &state,
            &who,
            id,
            StatusCode::BAD_REQUEST,
            vec!["Unknown action.".into()],
            None,
        )
        .await;
    };
    let (signer, by) = (state.signer.clone(), who.username.clone());
    match with_conn(&state, move |c| {
        election::apply(c, id, action, &signer, &by)
    })
    .await
    {
        Ok(_) => redirect(format!("/admin/elections/{id}")),
        Err(e) => refused(&req, &state, &who, id, &e).await,
    }
}
