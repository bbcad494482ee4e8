//! Public election pages: the auditor's page and bundle downloads, and the result once the
//! vote has closed (with a print stylesheet for the certified copy).

use actix_web::http::StatusCode;
use actix_web::http::header::ContentDisposition;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::page::{error_page, html};
use crate::audit;
use crate::election::{self, ElectionId, State};
use crate::error::Error;
use crate::http::state::AppState;
use crate::http::state::with_conn;
use crate::log::witnessing::Witnessing;

/// `GET /`: to the ballot.
pub async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/vote"))
        .finish()
}

/// `GET /static/style.css`.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("static/style.css"))
}

/// `GET /static/official.js`: the officials' pages' one script (a one-time download's form
/// replaced by what was downloaded).
pub async fn official_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("static/official.js"))
}

use crate::sealing_code::{SEALING_CODE, sealing_code_sha256};

/// `GET /static/sealing.js`: the sealing code, with its SHA-256 in a header (anyone can compare
/// the bytes they were served with the ones the log names).
pub async fn sealing_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Sealing-Code-SHA256", sealing_code_sha256()))
        .body(SEALING_CODE)
}

pub(super) fn page_error(req: &HttpRequest, e: Error) -> HttpResponse {
    if matches!(
        e,
        Error::Database(_) | Error::Internal(_) | Error::LogForked(_)
    ) {
        tracing::error!(error = %e, "page failed");
        return error_page(
            req,
            e.status(),
            "the server failed; it has been logged".into(),
        );
    }
    error_page(req, e.status(), e.to_string())
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    id: String,
    title: String,
    state: String,
    origin: String,
    vkey: String,
    fingerprint: String,
    checkpoint: String,
    bundle_ready: bool,
    /// Each sealing code the log names, and from when (the `open` and `sealing_code` entries).
    codes: Vec<(String, String)>,
    /// The code this server serves now.
    served: &'static str,
}

/// `GET /elections/{id}/audit`: everything an auditor needs, and how to check it.
pub async fn audit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let signer = state.signer.clone();
    let found = with_conn(&state, move |c| {
        let id = ElectionId::parse(&id)?;
        let e = election::find(c, id)?;
        let cp = Witnessing::default().newest_published(c, &e, &e.definition)?;
        let kinds = [
            crate::log::entry::Kind::Open,
            crate::log::entry::Kind::SealingCode,
        ];
        let codes = crate::log::store::entries_of_kind(c, id, &kinds)?
            .into_iter()
            .filter_map(|body| match body {
                crate::log::entry::Body::Open(o) | crate::log::entry::Body::SealingCode(o) => {
                    Some((o.sealing_code, election::definition::format_time(&o.at)))
                }
                _ => None,
            })
            .collect();
        Ok((e, cp, codes))
    })
    .await;
    match found {
        Ok((e, cp, codes)) => html(
            StatusCode::OK,
            &AuditPage {
                id: e.id.to_string(),
                title: e.definition.title.clone(),
                state: e.state.to_string(),
                vkey: signer.verifier(&e.origin).to_string(),
                fingerprint: crate::log::note::fingerprint(&signer.public_key()),
                origin: e.origin,
                checkpoint: cp.note,
                bundle_ready: e.state != State::Open,
                codes,
                served: sealing_code_sha256(),
            },
            None,
        ),
        Err(e) => page_error(&req, e),
    }
}

/// `GET /elections/{id}/bundle/{file}`: `log.jsonl` (not while the vote is open),
/// `checkpoint` or `key.vkey`.
pub async fn bundle_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (id, file) = path.into_inner();
    if ![audit::LOG_FILE, audit::CHECKPOINT_FILE, audit::KEY_FILE].contains(&file.as_str()) {
        return error_page(
            &req,
            StatusCode::NOT_FOUND,
            format!("a bundle has no file `{file}`"),
        );
    }
    let signer = state.signer.clone();
    let result = with_conn(&state, move |c| {
        audit::bundle_files(c, ElectionId::parse(&id)?, &signer)
    })
    .await;
    match result {
        Ok((log, checkpoint, key)) => {
            let body = match file.as_str() {
                audit::LOG_FILE => log,
                audit::CHECKPOINT_FILE => checkpoint.into_bytes(),
                _ => key.into_bytes(),
            };
            HttpResponse::Ok()
                .content_type(if file == audit::LOG_FILE {
                    "application/jsonl"
                } else {
                    "text/plain; charset=utf-8"
                })
                .insert_header(ContentDisposition::attachment(file))
                .body(body)
        }
        Err(e) => page_error(&req, e),
    }
}

/// One bar of a server-drawn SVG chart.
pub struct Bar {
    /// Row label.
    pub label: String,
    /// Bar length in chart units (0–300).
    pub width: u32,
    /// The figure written after the bar.
    pub text: String,
    /// Top of the row.
    pub y: u32,
}

/// Bars for shares, each `part / whole` of 300 units.
pub fn bars(rows: &[(String, u64, u64, String)]) -> Vec<Bar> {
    rows.iter()
        .enumerate()
        .map(|(i, (label, part, whole, text))| Bar {
            label: label.clone(),
            width: if *whole == 0 {
                0
            } else {
                ((u128::from(*part) * u128::from(BAR_WIDTH)) / u128::from(*whole)) as u32
            },
            text: text.clone(),
            y: i as u32 * BAR_ROW,
        })
        .collect()
}

/// A chart's width in its own units: the bars' full width (labels sit above each bar, so a
/// phone shows them at a readable size).
pub const BAR_WIDTH: u32 = 300;
/// The height of one bar's row (its label line and the bar).
pub const BAR_ROW: u32 = 44;

/// The height of a chart of `bars`.
pub fn chart_height(bars: &[Bar]) -> u32 {
    bars.len() as u32 * BAR_ROW + 4
}

/// `GET /elections/{id}/results.csv`: one row per local and a total (after close).
pub async fn results_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let found = with_conn(&state, move |c| {
        election::count::results(c, ElectionId::parse(&id)?)
    })
    .await;
    let r = match found {
        Ok(r) => r,
        Err(e) => return page_error(&req, e),
    };
    let Some(body) = results_table(&r) else {
        return error_page(
            &req,
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot write the CSV".into(),
        );
    };
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition::attachment("results.csv"))
        .body(body)
}

/// The CSV of [`crate::tally::Results::rows`], names neutralised for spreadsheets.
fn results_table(r: &crate::tally::Results) -> Option<Vec<u8>> {
    const HEADER: [&str; 14] = [
        "local",
        "name",
        "eligible",
        "cast",
        "turnout",
        "yes",
        "no",
        "abstain",
        "authorization",
        "passed",
        "delegates",
        "delegates_yes",
        "delegates_no",
        "counted_in",
    ];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).ok()?;
    for l in r.rows() {
        let [yes, no, abstain] = l.shown();
        w.write_record([
            crate::text::spreadsheet_cell(&l.code).into_owned(),
            crate::text::spreadsheet_cell(&l.name).into_owned(),
            l.eligible.to_string(),
            l.cast.to_string(),
            l.turnout.to_string(),
            yes,
            no,
            abstain,
            l.authorization.to_string(),
            l.passed.to_string(),
            l.delegates.to_string(),
            l.delegates_yes.to_string(),
            l.delegates_no.to_string(),
            l.group.clone().unwrap_or_default(),
        ])
        .ok()?;
    }
    w.into_inner().ok()
}

/// Turnout bars for the dashboard.
pub fn turnout_bars(t: &election::count::Turnout) -> Vec<Bar> {
    let rows: Vec<_> = t
        .locals
        .iter()
        .map(|(code, l)| {
            let share = crate::tally::Share {
                part: l.cast,
                whole: l.eligible,
            };
            (
                code.clone(),
                l.cast,
                l.eligible,
                format!("{} of {} ({share})", l.cast, l.eligible),
            )
        })
        .collect::<Vec<_>>();
    bars(&rows)
}
