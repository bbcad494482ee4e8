//! Officials' sign-in: the access middleware driven by the route table, login (throttled per
//! account and per address), logout.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, LOCATION};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::member::{csrf, csrf_ok, html};
use crate::account::{self, Account};
use crate::api::with_conn;
use crate::error::Error;
use crate::routes::{self, Access};
use crate::startup::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sv_session";
/// Failed logins one address may make per window, across accounts.
const MAX_FAILURES_PER_ADDRESS: u32 = 20;
const ADDRESS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Enforces the route table's access rules on every request. Pages authenticate by session
/// cookie, the API by `Authorization: Bearer <API token>` only (so no cookie can be ridden
/// across sites into the API). The signed-in [`Account`] goes into the request's extensions.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let pattern = req.match_pattern();
    let access = pattern
        .as_deref()
        .and_then(|p| routes::access(req.method(), p));
    let Some(Access::Roles(roles)) = access else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let api = req.path().starts_with("/api/");
    let credential = if api {
        req.headers()
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned())
    } else {
        req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
    };
    let account = match (credential, req.app_data::<web::Data<AppState>>()) {
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
            let next_url = req.path().to_owned();
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

fn deny<B>(req: ServiceRequest, api: bool, error: Error) -> ServiceResponse<EitherBody<B>> {
    let res = if api {
        error.error_response()
    } else {
        super::member::error_page(req.request(), error.status(), error.to_string())
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

/// Only same-site paths are followed after login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
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

fn address_of(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

fn throttled(state: &AppState, ip: Option<IpAddr>) -> bool {
    let (Some(ip), Ok(map)) = (ip, state.login_failures.lock()) else {
        return false;
    };
    map.get(&ip).is_some_and(|(n, since)| {
        *n >= MAX_FAILURES_PER_ADDRESS && since.elapsed() < ADDRESS_WINDOW
    })
}

fn note_failure(state: &AppState, ip: Option<IpAddr>) {
    let (Some(ip), Ok(mut map)) = (ip, state.login_failures.lock()) else {
        return;
    };
    let entry = map.entry(ip).or_insert((0, Instant::now()));
    if entry.1.elapsed() >= ADDRESS_WINDOW {
        *entry = (0, Instant::now());
    }
    entry.0 += 1;
}

/// `POST /login`: checks the password and starts a session.
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
    let ip = address_of(&req);
    if throttled(&state, ip) {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins from your address. Wait 15 minutes.".into(),
        );
    }
    let (username, password) = (form.username.trim().to_owned(), form.password.clone());
    let result = with_conn(&state, move |c| {
        let account = account::login(c, &username, &password)?;
        let secret = account::start_session(c, &account)?;
        Ok((account, secret))
    })
    .await;
    match result {
        Ok((account, secret)) => {
            tracing::info!(username = %account.username, "official signed in");
            let session = Cookie::build(SESSION_COOKIE, secret)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(state.public_url.is_https())
                .finish();
            HttpResponse::SeeOther()
                .insert_header((LOCATION, next.clone()))
                .cookie(session)
                .finish()
        }
        Err(e) => {
            if matches!(e, Error::Unauthorized(_)) {
                note_failure(&state, ip);
            }
            page(e.status(), e.to_string())
        }
    }
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
        return super::member::error_page(
            &req,
            StatusCode::FORBIDDEN,
            "This form has expired.".into(),
        );
    }
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        let secret = c.value().to_owned();
        let _ = with_conn(&state, move |conn| account::end_session(conn, &secret)).await;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
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
