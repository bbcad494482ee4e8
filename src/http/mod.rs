//! The HTTP toolkit below the pages (`web/`) and the JSON API (`api/`): the extractor limits
//! and error bodies, the access check and the signed-in official (`auth`), per-address limits
//! (`limit`), the probes and metrics (`health`), the application state (`state`), client
//! addresses, security headers and the access log.

pub mod auth;
pub mod health;
pub mod limit;
pub mod state;
pub mod wiped;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::error::{Error, ErrorCode};

/// Registers the extractor limits and error bodies, the routes `routes` registers (the route
/// table's, [`crate::routes::configure`]) and the JSON or HTML 404 for every other path.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    body_limit: usize,
    routes: impl FnOnce(&mut web::ServiceConfig),
) {
    let (payload, json, form) = body_configs(body_limit);
    cfg.app_data(payload)
        .app_data(json)
        .app_data(form)
        .app_data(web::QueryConfig::default().error_handler(|e, req| {
            extractor_error(
                req,
                Error::bad_input(ErrorCode::InvalidQuery, e.to_string()),
            )
        }))
        .app_data(
            web::PathConfig::default().error_handler(|e, _| {
                Error::bad_input(ErrorCode::InvalidPath, e.to_string()).into()
            }),
        )
        .configure(routes)
        .default_service(web::to(not_found));
}

/// What bounds a body of at most `limit` bytes, for each way a handler reads one: a
/// `Content-Length` over it is refused before anything is read, a longer stream as soon as it
/// passes it, with `413 payload_too_large`.
pub fn body_configs(limit: usize) -> (web::PayloadConfig, web::JsonConfig, web::FormConfig) {
    (
        web::PayloadConfig::new(limit),
        web::JsonConfig::default()
            .limit(limit)
            .error_handler(|e, req| extractor_error(req, json_error(e))),
        web::FormConfig::default()
            .limit(limit)
            .error_handler(|e, req| extractor_error(req, form_error(e))),
    )
}

fn json_error(e: JsonPayloadError) -> Error {
    match e {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            Error::PayloadTooLarge
        }
        other => Error::bad_input(ErrorCode::InvalidJson, other.to_string()),
    }
}

fn form_error(e: UrlencodedError) -> Error {
    match e {
        UrlencodedError::Overflow { .. } => Error::PayloadTooLarge,
        other => Error::bad_input(ErrorCode::InvalidForm, other.to_string()),
    }
}

/// Pages answer errors in HTML, the API (and probes) in JSON.
pub fn wants_html(req: &HttpRequest) -> bool {
    // The path as routed (percent-decoded), so `/%61pi/…` is answered as the API it reached.
    let path = req.match_info().as_str();
    !path.starts_with("/api/") && !matches!(path, "/healthz" | "/readyz")
}

/// An extractor failure, as HTML for pages and as JSON for the API.
pub(crate) fn extractor_error(req: &HttpRequest, error: Error) -> actix_web::Error {
    if wants_html(req) {
        let page = error_page(req, error.status(), error.to_string());
        return actix_web::error::InternalError::from_response(error, page).into();
    }
    error.into()
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, Error> {
    let error = Error::not_found(ErrorCode::NotFound, format!("nothing here: {}", req.path()));
    if wants_html(&req) {
        return Ok(error_page(&req, error.status(), error.to_string()));
    }
    Err(error)
}

/// The answer for a known path with a wrong method, with the `Allow` header RFC 9110 requires
/// (`allow`: the path's methods, e.g. `GET, POST`).
pub async fn method_not_allowed(req: HttpRequest, allow: std::sync::Arc<str>) -> HttpResponse {
    let error = Error::MethodNotAllowed(req.method().to_string());
    let mut response = if wants_html(&req) {
        error_page(&req, error.status(), error.to_string())
    } else {
        error.error_response()
    };
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            e if e.is_storage_full() => {
                tracing::error!(error = %self, "the database's storage is full");
                Error::StorageFull.to_string()
            }
            // Internal details go to the server log, not to the client.
            Error::Database(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "request failed");
                "the server failed to handle this request; it has been logged".to_owned()
            }
            Error::LogForked(_) => {
                tracing::error!(error = %self, "refused to sign: the database is behind the signed log");
                "the service cannot record anything now: its database is older than the log it \
                 already published; the operators must restore the right database"
                    .to_owned()
            }
            other => other.to_string(),
        };
        HttpResponse::build(self.status()).json(json!({ "error": self.code(), "message": message }))
    }
}

/// The client's address: the peer, or — only when the peer is one of the configured
/// `trusted_proxies` — the last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(
    req: &HttpRequest,
    settings: &crate::settings::Settings,
) -> Option<std::net::IpAddr> {
    client_address_among(req, &settings.trusted_proxies)
}

/// [`client_address`] given the trusted proxies.
pub fn client_address_among(
    req: &HttpRequest,
    trusted_proxies: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .unwrap_or(peer),
    )
}

/// Whether the request reached us over TLS: always when the public URL is https and the peer
/// is a trusted proxy saying `X-Forwarded-Proto: https`, or the public URL is https itself.
pub fn is_https(req: &HttpRequest, state: &crate::http::state::AppState) -> bool {
    let proxied = req
        .peer_addr()
        .is_some_and(|p| state.settings.trusted_proxies.contains(&p.ip()));
    if proxied && let Some(proto) = req.headers().get("x-forwarded-proto") {
        return proto.as_bytes().eq_ignore_ascii_case(b"https");
    }
    state.public_url.is_https()
}

/// Security headers on every answer (docs/DESIGN.md "Security baseline").
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}

/// Logs one line per request: method, path with every token- or receipt-like segment redacted
/// (never the query string, which may carry a ballot token), status and duration. Bodies are
/// never logged.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().to_string();
    let path = redacted_path(req.match_info().as_str());
    // The pattern actix matched (`/api/v1/receipts/{receipt}`), never the path itself.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let metrics = req
        .app_data::<web::Data<crate::http::state::AppState>>()
        .map(|s| s.metrics.clone());
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        metrics.request(&method, &route, res.status().as_u16(), started.elapsed());
    }
    tracing::info!(
        method,
        path,
        status = res.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "http"
    );
    Ok(res)
}

/// A path as the request log may show it: the segment after `receipts/` and any segment that
/// reads as a ballot token or a receipt become `{redacted}`; overlong paths are cut.
pub fn redacted_path(path: &str) -> String {
    let mut after_receipts = false;
    let shown: Vec<String> = path
        .split('/')
        .map(|segment| {
            let secret = after_receipts
                || crate::token::parse_receipt(segment).is_some()
                || crate::token::PlainToken::parse(segment).is_ok()
                || segment.to_ascii_uppercase().starts_with("SV-");
            after_receipts = segment == "receipts";
            if secret && !segment.is_empty() {
                "{redacted}".to_owned()
            } else {
                segment
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect()
            }
        })
        .collect();
    shown.join("/")
}

/// `Cache-Control: no-store` on every answer that does not set its own (tokens, receipts,
/// results and officials' pages must never sit in a shared or browser cache), and HSTS when
/// members reach the service over https.
pub async fn privacy_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = req
        .app_data::<web::Data<crate::http::state::AppState>>()
        .is_some_and(|state| is_https(req.request(), state));
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(actix_web::http::header::CACHE_CONTROL) {
        headers.insert(
            actix_web::http::header::CACHE_CONTROL,
            actix_web::http::header::HeaderValue::from_static("no-store"),
        );
    }
    if https {
        headers.insert(
            actix_web::http::header::STRICT_TRANSPORT_SECURITY,
            actix_web::http::header::HeaderValue::from_static(
                "max-age=63072000; includeSubDomains",
            ),
        );
    }
    Ok(res)
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How a browser path's error is drawn; the pages register theirs (translated, in the site's
/// look) when the routes are configured ([`set_error_page`]).
type ErrorPage = fn(&HttpRequest, StatusCode, String) -> HttpResponse;

static ERROR_PAGE: std::sync::OnceLock<ErrorPage> = std::sync::OnceLock::new();

/// Registers the pages' error page (the first registration holds).
pub fn set_error_page(page: ErrorPage) {
    let _ = ERROR_PAGE.set(page);
}

/// An HTML error page for a browser path: the pages' own, or a plain one before they are
/// registered.
pub fn error_page(req: &HttpRequest, status: StatusCode, message: String) -> HttpResponse {
    match ERROR_PAGE.get() {
        Some(page) => page(req, status, message),
        None => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(format!(
                "<!doctype html><title>{status}</title><p>{}</p>",
                message
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            )),
    }
}
