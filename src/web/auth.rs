//! Officials' sign-in: the access middleware driven by the route table, login (throttled per
//! account and per address), logout.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, LOCATION};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::page::{csrf, csrf_ok, html, session_cookie_name};
use crate::account::Role;
use crate::account::{self, Account};
use crate::error::Error;
use crate::state::AppState;
use crate::state::with_conn;

/// Enforces one route's access rule (attached to the route by [`crate::routes`], so it runs
/// on the route actix matched after decoding the path). Pages authenticate by session cookie,
/// the API by `Authorization: Bearer <API token>` only (so no cookie can be ridden across
/// sites into the API). The signed-in [`Account`] goes into the request's extensions.
pub async fn require(
    roles: &'static [Role],
    api: bool,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let credential = if api {
        req.headers()
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned())
    } else {
        None
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let credential = if api {
        credential
    } else {
        let https = state.as_ref().is_some_and(|s| s.public_url.is_https());
        req.cookie(session_cookie_name(https))
            .map(|c| c.value().to_owned())
    };
    let account = match (credential, state.as_ref()) {
        (Some(secret), Some(state)) => {
            let found = with_conn(state, move |c| {
                if api {
                    account::api_token_account(c, &secret)
                } else {
                    account::session_account(c, &secret)
                }
            })
            .await;
            match found {
                Ok(a) => a,
                Err(e) => return Ok(deny(req, api, e)),
            }
        }
        _ => None,
    };
    match account {
        None if !api => {
            let next_url = req.match_info().as_str().to_owned();
            let res = HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("/login?next={}", urlencode(&next_url))))
                .finish();
            Ok(req.into_response(res).map_into_right_body())
        }
        None => Ok(deny(
            req,
            api,
            Error::Unauthorized("sign in: send `Authorization: Bearer <API token>`".into()),
        )),
        Some(a) if !roles.contains(&a.role) => {
            let e = Error::Forbidden(format!("the {} role may not do this", a.role));
            Ok(deny(req, api, e))
        }
        Some(a) => {
            req.extensions_mut().insert(a);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
    }
}

/// The signed-in official, put there by [`require`]. A protected handler takes it as an
/// argument, so it cannot run for nobody even if its route lost its check.
#[derive(Clone, Debug)]
pub struct Official(pub Account);

impl actix_web::FromRequest for Official {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            signed_in(req)
                .map(Official)
                .map_err(|e| super::extractor_error(req, e)),
        )
    }
}

/// The official [`require`] let in, for a protected handler's extractor; its absence (a route
/// that lost its check) is refused and logged.
pub(crate) fn signed_in(req: &HttpRequest) -> Result<Account, Error> {
    official(req).inspect_err(|_| {
        tracing::error!(path = %req.path(), "a protected handler ran without a signed-in official");
    })
}

fn deny<B>(req: ServiceRequest, api: bool, error: Error) -> ServiceResponse<EitherBody<B>> {
    let res = if api {
        error.error_response()
    } else {
        super::page::error_page(req.request(), error.status(), error.to_string())
    };
    req.into_response(res).map_into_right_body()
}

fn urlencode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Only paths on this site are followed after login: `/` then anything but a second `/` or a
/// `\`, in visible ASCII only. Browsers drop tabs and line breaks from a URL and read `\` as
/// `/`, so `/<TAB>/evil.example` would become `//evil.example`, another site; a line break
/// cannot go into a header at all.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n[1..].starts_with(['/', '\\'])
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
                && n.len() <= 2048 =>
        {
            n.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

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
    let address = super::client_address(&req, &state.settings)
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

/// The signed-in official, put there by [`authorize`].
pub fn official(req: &HttpRequest) -> Result<Account, Error> {
    req.extensions()
        .get::<Account>()
        .cloned()
        .ok_or_else(|| Error::Unauthorized("sign in first".into()))
}
