//! The officials' accounts from the admin pages (the CLI's `admin` commands, in a browser):
//! who has an account and which role, creating one, creating or revoking an API token — each
//! recorded in the accounts audit trail, shown on the same page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::Official;
use super::page::{csrf, csrf_ok, html};
use crate::account::{self, AccountEvent, Listed, Role};
use crate::error::Result;
use crate::state::{AppState, with_conn};

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
    let (answer, fresh) = match with_conn(&state, move |c| act(c, &f, &actor)).await {
        Ok(Done::Notice(notice)) => ((StatusCode::OK, Vec::new(), Some(notice)), None),
        Ok(Done::Token(which, token)) => ((StatusCode::OK, Vec::new(), None), Some((which, token))),
        Err(e) => ((e.status(), vec![e.to_string()], None), None),
    };
    view(&req, &state, &who, answer, fresh).await
}

/// Does what the accounts form asks, in `actor`'s name.
fn act(c: &mut crate::db::DbConnection, f: &AccountForm, actor: &str) -> Result<Done> {
    let (user, name) = (f.username.trim(), f.name.trim());
    let notice = match f.action.as_str() {
        "create_account" => {
            let role = Role::parse(&f.role)?;
            let a = account::create(c, (user, &f.password, role), actor)?;
            format!("Account {} ({}) created.", a.username, a.role)
        }
        "create_token" => {
            let token = account::create_api_token(c, (user, name), actor)?;
            return Ok(Done::Token(format!("{user}/{name}"), token));
        }
        "revoke_token" => {
            account::revoke_api_token(c, (user, name), actor)?;
            format!("Token {user}/{name} revoked.")
        }
        "disable_account" => {
            account::set_disabled(c, user, true, actor)?;
            format!(
                "Account {user} disabled: its sessions ended and its API tokens stopped working."
            )
        }
        "enable_account" => {
            account::set_disabled(c, user, false, actor)?;
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
