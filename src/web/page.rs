//! What every HTML page shares: rendering with a status (never cached), the double-submit CSRF
//! value and its check, and the HTML error page. Member pages, officials' pages and the login
//! page all use these; none borrows them from another page module.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use sha2::{Digest, Sha256};

use super::i18n::{Lang, Text};
use crate::http::state::AppState;

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

/// The CSRF cookie's name: behind https `__Host-sv_csrf`, which only this host can set over
/// https (no subdomain, no plain-HTTP page), like the session cookie.
pub fn csrf_cookie_name(https: bool) -> &'static str {
    if https { "__Host-sv_csrf" } else { CSRF_COOKIE }
}

/// The form's CSRF value. Signed in, it is derived from the session secret (SHA-256 of a
/// label and the secret, 16 bytes in hex), so a value planted in a cookie by another page
/// cannot match it; before sign-in (the login form, members' pages) it is the double-submit
/// cookie's value, or a new one and the cookie to set.
pub fn csrf(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    let https = state.public_url.is_https();
    if let Some(bound) = session_bound(req, https) {
        return (bound, None);
    }
    if let Some(c) = req.cookie(csrf_cookie_name(https))
        && c.value().len() == 32
    {
        return (c.value().to_owned(), None);
    }
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return (String::new(), None);
    }
    let value = hex::encode(bytes);
    let cookie = Cookie::build(csrf_cookie_name(https), value.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .finish();
    (value, Some(cookie))
}

/// The CSRF value bound to the request's session cookie, if it carries one.
fn session_bound(req: &HttpRequest, https: bool) -> Option<String> {
    let session = req.cookie(crate::http::auth::session_cookie_name(https))?;
    let digest = Sha256::new()
        .chain_update(b"strikevote csrf v1\n")
        .chain_update(session.value().as_bytes())
        .finalize();
    Some(hex::encode(&digest[..16]))
}

/// The CSRF check: the form's value equals the session-bound value when a session cookie is
/// sent, else the double-submit cookie's (compared in constant time).
pub fn csrf_ok(req: &HttpRequest, submitted: &str) -> bool {
    let https = req
        .app_data::<actix_web::web::Data<AppState>>()
        .is_some_and(|s| s.public_url.is_https());
    let expected = match session_bound(req, https) {
        Some(bound) => bound,
        None => match req.cookie(csrf_cookie_name(https)) {
            Some(cookie) => cookie.value().to_owned(),
            None => return false,
        },
    };
    expected.len() == 32 && crate::http::same_secret(expected.as_bytes(), submitted.as_bytes())
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

/// The letters PDF as a one-time download (never cached), saying how many tokens it holds;
/// the admin page and the API answer it alike.
pub fn letters_download(
    id: crate::election::ElectionId,
    local: Option<&str>,
    issued: usize,
    pdf: Vec<u8>,
) -> HttpResponse {
    let name = match local {
        Some(code) => format!("letters-{id}-local-{code}.pdf"),
        None => format!("letters-{id}.pdf"),
    };
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(actix_web::http::header::ContentDisposition::attachment(
            name,
        ))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Strikevote-Issued", issued.to_string()))
        .body(pdf)
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

/// A piece of a sentence template cut at its `{placeholders}`: its words, then the name of the
/// slot that follows them (`""` after the last). A page puts markup (a link, code) in the slots
/// while the words stay escaped, in whatever order a language puts them.
pub struct Piece<'a> {
    /// The words before the slot.
    pub text: &'a str,
    /// The slot's name.
    pub slot: &'a str,
}

/// `template` cut at each `{name}`.
pub fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some((text, after)) = rest.split_once('{') {
        let Some((slot, tail)) = after.split_once('}') else {
            break;
        };
        out.push(Piece { text, slot });
        rest = tail;
    }
    out.push(Piece {
        text: rest,
        slot: "",
    });
    out
}
