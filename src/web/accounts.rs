//! The officials' accounts from the admin pages (the CLI's `admin` commands, in a browser):
//! who has an account and which role, creating one, creating or revoking an API token — each
//! recorded in the accounts audit trail, shown on the same page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::page::{csrf, csrf_ok, html};
use crate::account::{self, AccountEvent, Acting, Listed, Role};
use crate::election::approval::{self, Action};
use crate::error::{ErrorCode, Result};
use crate::http::auth::Official;
use crate::http::state::{AppState, with_conn};
use crate::log::LogKey;

/// Audit-trail lines the page shows.
const EVENTS_SHOWN: i64 = 50;

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    username: String,
    role: String,
    csrf: String,
    problems: Vec<String>,
    notice: Option<String>,
    accounts: Vec<Listed>,
    events: Vec<AccountEvent>,
    /// A token just created, shown this once.
    new_token: Option<(String, String)>,
}

async fn view(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Official,
    (status, problems, notice): (StatusCode, Vec<String>, Option<String>),
    new_token: Option<(String, String)>,
) -> HttpResponse {
    let listed = with_conn(state, |c| {
        Ok((account::list(c)?, account::events(c, EVENTS_SHOWN)?))
    })
    .await;
    let (accounts, events) = listed.unwrap_or_default();
    let (csrf, cookie) = csrf(req, state);
    let page = AccountsPage {
        username: who.0.username.clone(),
        role: who.0.role.to_string(),
        csrf,
        problems,
        notice,
        accounts,
        events,
        new_token,
    };
    html(status, &page, cookie)
}

/// The accounts page showing `who`'s new API token once (carried out after a second admin
/// approved it).
pub(super) async fn new_token_shown(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Official,
    (name, token): (String, String),
) -> HttpResponse {
    let notice = format!("The API token {name} was created, approved by a second admin.");
    let which = format!("{}/{name}", who.0.username);
    let answer = (StatusCode::OK, Vec::new(), Some(notice));
    view(req, state, who, answer, Some((which, token))).await
}

/// `GET /admin/accounts`.
pub async fn accounts_page(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
) -> HttpResponse {
    view(&req, &state, &who, (StatusCode::OK, Vec::new(), None), None).await
}

/// Form of `POST /admin/accounts`: one of five actions.
#[derive(Deserialize)]
pub struct AccountForm {
    csrf: String,
    /// `create_account`, `create_token`, `revoke_token`, `disable_account` or
    /// `enable_account`.
    action: String,
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    name: String,
}

/// What an action did, for the page: a notice, or a token to show once.
enum Done {
    Notice(String),
    Token(String, String),
}

/// `POST /admin/accounts`: creates an account, creates an API token (shown once) or revokes
/// one, disables or enables an account; each in the signed-in admin's name, in the audit trail.
pub async fn account_action(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    if !csrf_ok(&req, &form.csrf) {
        let expired = vec!["This form has expired. Please try again.".to_owned()];
        let answer = (StatusCode::FORBIDDEN, expired, None);
        return view(&req, &state, &who, answer, None).await;
    }
    let f = form.into_inner();
    let actor = who.0.username.clone();
    let signer = state.signer.clone();
    let (answer, fresh) = match with_conn(&state, move |c| act(c, &f, &actor, &signer)).await {
        Ok(Done::Notice(notice)) => ((StatusCode::OK, Vec::new(), Some(notice)), None),
        Ok(Done::Token(which, token)) => ((StatusCode::OK, Vec::new(), None), Some((which, token))),
        Err(e) => ((e.status(), vec![e.to_string()], None), None),
    };
    view(&req, &state, &who, answer, fresh).await
}

/// Does what the accounts form asks, in `actor`'s name; a change the two-person rule covers
/// while a vote is open waits for a second admin.
fn act(
    c: &mut crate::db::DbConnection,
    f: &AccountForm,
    actor: &str,
    signer: &LogKey,
) -> Result<Done> {
    let (user, name) = (f.username.trim(), f.name.trim());
    let acting = Acting::new(actor, signer);
    let notice = match f.action.as_str() {
        "create_account" => {
            let role = Role::parse(&f.role)?;
            match account::create(c, (user, &f.password, role), acting) {
                Ok(a) => format!("Account {} ({}) created.", a.username, a.role),
                Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
                    let hash = account::hash_new_password(user, &f.password)?;
                    let action = Action::CreateAdmin {
                        username: user.to_owned(),
                        password_hash: hash,
                    };
                    return wait_for_second(c, &action, actor);
                }
                Err(e) => return Err(e),
            }
        }
        "create_token" => match account::create_api_token(c, (user, name), acting) {
            Ok(token) => return Ok(Done::Token(format!("{user}/{name}"), token)),
            Err(e) if e.code() == ErrorCode::ApprovalNeeded => {
                let name = account::changes::check_token_name(name)?.to_owned();
                return wait_for_second(c, &Action::AdminApiToken { name }, actor);
            }
            Err(e) => return Err(e),
        },
        "revoke_token" => {
            account::revoke_api_token(c, (user, name), acting)?;
            format!("Token {user}/{name} revoked.")
        }
        "disable_account" => {
            account::set_disabled(c, user, true, acting)?;
            format!(
                "Account {user} disabled: its sessions ended and its API tokens stopped working."
            )
        }
        "enable_account" => {
            account::set_disabled(c, user, false, acting)?;
            format!("Account {user} enabled.")
        }
        other => {
            return Err(crate::error::Error::bad_input(
                crate::error::ErrorCode::InvalidAction,
                format!("unknown action `{}`", crate::text::shown(other)),
            ));
        }
    };
    Ok(Done::Notice(notice))
}

/// Records `action` as waiting for a second admin on the dashboard of the open election whose
/// rule it falls under.
fn wait_for_second(c: &mut crate::db::DbConnection, action: &Action, actor: &str) -> Result<Done> {
    let Some(id) = account::changes::gating_election(c)? else {
        return Err(crate::error::Error::conflict(
            ErrorCode::ApprovalNeeded,
            "the vote that needed a second admin is no longer open: try again",
        ));
    };
    let pending = approval::request(c, id, action, actor)?;
    let then = if approval::yields_secret(action) {
        "once approved, you carry it out there and see the token, once"
    } else {
        "it is done when they approve"
    };
    Ok(Done::Notice(format!(
        "A vote is open, so a second admin must approve this ({}). It waits on the dashboard of          election {id} (/admin/elections/{id}); {then}.",
        pending.description
    )))
}
