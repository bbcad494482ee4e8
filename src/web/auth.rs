//! Officials' sign-in and sign-out pages (throttled per account and per address); the access
//! check itself is [`crate::http::auth`].

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::page::{csrf, csrf_ok, html};
use crate::account::{self, Account};
use crate::http::auth::{safe_next, session_cookie_name};
use crate::http::state::{AppState, with_conn};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    csrf: String,
    next: String,
    username: String,
}

/// Query of `GET /login`.
#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let (csrf, cookie) = csrf(&req, &state);
    let page = LoginPage {
        error: None,
        csrf,
        next: safe_next(query.next.as_deref()),
        username: String::new(),
    };
    html(StatusCode::OK, &page, cookie)
}

/// Form of `POST /login`.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// `POST /login`: checks the password and starts a session. Failures, lockouts and throttles
/// are logged with the username and the client address.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let (csrf, cookie) = csrf(&req, &state);
    let next = safe_next(form.next.as_deref());
    let page = |status: StatusCode, error: String| {
        let p = LoginPage {
            error: Some(error),
            csrf: csrf.clone(),
            next: next.clone(),
            username: form.username.chars().take(64).collect(),
        };
        html(status, &p, cookie.clone())
    };
    if !csrf_ok(&req, &form.csrf) {
        return page(
            StatusCode::FORBIDDEN,
            "This form has expired. Please try again.".into(),
        );
    }
    let address = crate::http::client_address(&req, &state.settings)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let (username, password) = (form.username.trim().to_owned(), form.password.clone());
    let (user, addr) = (username.clone(), address.clone());
    // Password checks are bounded (account::gate): a flood gets 429 at once, memory stays flat.
    let turn = match state.password_gate.enter().await {
        Ok(turn) => turn,
        Err(e) => {
            state.metrics.login("busy");
            tracing::warn!(address = %address, "login refused: too many password checks waiting");
            return page(e.status(), e.to_string());
        }
    };
    let result = with_conn(&state, move |c| attempt(c, &addr, &user, &password)).await;
    drop(turn);
    let shown_user: String = username.chars().take(64).collect();
    match result {
        Ok(Attempt::Throttled) => {
            state.metrics.login("address_throttled");
            tracing::warn!(username = ?shown_user, address = %address, "login throttled: too many failures from this address");
            page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed logins from your address. Wait 15 minutes.".into(),
            )
        }
        Ok(Attempt::SignedIn(account, secret)) => {
            state.metrics.login("signed_in");
            tracing::info!(username = ?account.username, address = %address, "official signed in");
            HttpResponse::SeeOther()
                .insert_header((LOCATION, next.clone()))
                .cookie(session_cookie(&state, secret))
                .finish()
        }
        Ok(Attempt::Failed(why)) => {
            // One answer for every failure: the page never says which usernames exist.
            state.metrics.login(why.as_str());
            tracing::warn!(username = ?shown_user, address = %address, reason = why.as_str(), "login failed");
            page(StatusCode::UNAUTHORIZED, account::FAILED_LOGIN.into())
        }
        Err(e) => page(e.status(), e.to_string()),
    }
}

/// One sign-in attempt from `address`. Every failure counts against the address, whatever
/// its reason (counting only some would tell them apart).
fn attempt(
    c: &mut crate::db::DbConnection,
    address: &str,
    username: &str,
    password: &str,
) -> crate::error::Result<Attempt> {
    if !account::reserve_address_attempt(c, address)? {
        return Ok(Attempt::Throttled);
    }
    match account::check_login(c, username, password)? {
        Ok(account) => {
            account::release_address_attempt(c, address)?;
            let secret = account::start_session(c, &account)?;
            Ok(Attempt::SignedIn(account, secret))
        }
        Err(why) => Ok(Attempt::Failed(why)),
    }
}

/// What a sign-in attempt came to.
enum Attempt {
    /// Too many failures from the address: no password was checked.
    Throttled,
    /// Signed in: the account and its new session's secret.
    SignedIn(Account, String),
    /// Refused, and why (the page does not say).
    Failed(account::LoginFailure),
}

/// The session cookie: host-only, HTTP only, same-site strict, secure on HTTPS.
fn session_cookie(state: &AppState, secret: String) -> Cookie<'static> {
    let https = state.public_url.is_https();
    Cookie::build(session_cookie_name(https), secret)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .finish()
}

/// Form of `POST /logout`.
#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `POST /logout`: ends the session.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    if !csrf_ok(&req, &form.csrf) {
        return super::page::error_page(
            &req,
            StatusCode::FORBIDDEN,
            "This form has expired.".into(),
        );
    }
    let name = session_cookie_name(state.public_url.is_https());
    if let Some(c) = req.cookie(name) {
        let secret = c.value().to_owned();
        let _ = with_conn(&state, move |conn| account::end_session(conn, &secret)).await;
    }
    let mut gone = Cookie::build(name, "")
        .path("/")
        .secure(state.public_url.is_https())
        .finish();
    gone.make_removal();
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/login"))
        .cookie(gone)
        .finish()
}
