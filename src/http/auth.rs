//! Who is calling: the access check the route table drives (session cookie for pages, bearer
//! API token for the API), the signed-in [`Official`], and the session cookie's name.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, LOCATION};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::state::{AppState, with_conn};
use crate::account::Role;
use crate::account::{self, Account};
use crate::error::Error;

/// The session cookie, on a plain-HTTP (local trial) deployment.
pub const SESSION_COOKIE: &str = "sv_session";

/// The session cookie's name: behind https, `__Host-sv_session`, which browsers accept only
/// with `Secure`, `Path=/` and no `Domain`, so no subdomain or plain-HTTP page can set it.
pub fn session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-sv_session"
    } else {
        SESSION_COOKIE
    }
}

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
        super::error_page(req.request(), error.status(), error.to_string())
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

/// The signed-in official, put there by [`authorize`].
pub fn official(req: &HttpRequest) -> Result<Account, Error> {
    req.extensions()
        .get::<Account>()
        .cloned()
        .ok_or_else(|| Error::Unauthorized("sign in first".into()))
}
