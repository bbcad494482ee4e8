//! What every HTML page shares: rendering with a status (never cached), the double-submit CSRF
//! value and its check, and the HTML error page. Member pages, officials' pages and the login
//! page all use these; none borrows them from another page module.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::i18n::{Lang, Text};
use crate::state::AppState;

const CSRF_COOKIE: &str = "sv_csrf";

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
    heading: &'static str,
    message: String,
}

/// Renders a page with a status; pages carrying a token are never cached.
pub fn html(
    status: StatusCode,
    page: &impl Template,
    cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    match page.render() {
        Ok(body) => {
            let mut res = HttpResponse::build(status);
            res.content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"));
            if let Some(c) = cookie {
                res.cookie(c);
            }
            res.body(body)
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().body("the page could not be rendered")
        }
    }
}

/// The form's CSRF value: the cookie's if it has one, else a new one (and the cookie to set).
pub fn csrf(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(CSRF_COOKIE)
        && c.value().len() == 32
    {
        return (c.value().to_owned(), None);
    }
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return (String::new(), None);
    }
    let value = hex::encode(bytes);
    let cookie = Cookie::build(CSRF_COOKIE, value.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.is_https())
        .finish();
    (value, Some(cookie))
}

/// Double-submit check: the form's value equals the cookie's, compared in constant time.
pub fn csrf_ok(req: &HttpRequest, submitted: &str) -> bool {
    let Some(cookie) = req.cookie(CSRF_COOKIE) else {
        return false;
    };
    let (a, b) = (cookie.value().as_bytes(), submitted.as_bytes());
    a.len() == 32 && same_secret(a, b)
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An HTML error page for a browser path (the API answers JSON instead).
pub fn error_page(req: &HttpRequest, status: StatusCode, message: String) -> HttpResponse {
    let lang = Lang::pick(None, req);
    let t = lang.text();
    let page = ErrorPage {
        t,
        lang: lang.code(),
        switch_href: "/vote?lang=".to_owned(),
        heading: t.err_title,
        message,
    };
    html(status, &page, None)
}

/// The mailing CSV as a one-time download (never cached), saying how many tokens it holds;
/// the admin page and the API answer it alike.
pub fn mailing_download(
    id: crate::election::ElectionId,
    issued: usize,
    csv: Vec<u8>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(actix_web::http::header::ContentDisposition::attachment(
            format!("tokens-{id}.csv"),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Strikevote-Issued", issued.to_string()))
        .body(csv)
}
