//! The certificate of a certified result: what the printable page and its PDF state — the
//! election, question and window (in the election's time zone), the rule in words, the decision
//! sentence, the per-local table, who certified it and when, the signing key's fingerprint, the
//! checkpoint that holds the result, where to verify it, and lines for the tellers to sign. The
//! PDF is drawn by the server (`printpdf`, with an embedded font), no browser needed.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;

use crate::db::DbConnection;
use crate::election::{self, ElectionId, State};
use crate::error::{Error, ErrorCode, Result};
use crate::http::state::{AppState, with_conn};
use crate::log::entry::{self, Body, Kind};
use crate::log::store;
use crate::tally::Results;

/// Everything a certificate states.
pub struct Certificate {
    /// The election's id.
    pub id: ElectionId,
    /// Its title and question.
    pub title: String,
    /// The question put to members.
    pub question: String,
    /// The voting window, in the election's time zone.
    pub window: String,
    /// The rule, thresholds and quorum in words.
    pub rule: String,
    /// The group of small locals explained, if there is one.
    pub group_note: Option<String>,
    /// The decision and why, in one sentence.
    pub decision: String,
    /// The results.
    pub results: Results,
    /// Who certified (the official's username).
    pub certified_by: String,
    /// When (the checkpoint's signing time, in the election's time zone).
    pub certified_at: String,
    /// The signing key's fingerprint.
    pub fingerprint: String,
    /// The log's origin.
    pub origin: String,
    /// The checkpoint holding the result: its size and root (base64).
    pub checkpoint: (u64, String),
    /// The signed note itself.
    pub note: String,
    /// Where anyone verifies it.
    pub audit_url: String,
    /// The tellers, by name, for the signature lines.
    pub tellers: Vec<String>,
}

/// The certificate of a certified election (`409` before certification).
pub fn of(conn: &mut DbConnection, id: ElectionId, fingerprint: String) -> Result<Certificate> {
    let e = election::find(conn, id)?;
    if e.state != State::Certified {
        return Err(Error::conflict(
            ErrorCode::Embargoed,
            format!("election {id} is not certified yet: its certificate exists once it is"),
        ));
    }
    let results = election::count::results(conn, id)?;
    let certified_by = store::entries_of_kind(conn, id, &[Kind::Admin])?
        .into_iter()
        .filter_map(|b| match b {
            Body::Admin(a) if a.action == entry::AdminAction::Certify => Some(a.by),
            _ => None,
        })
        .next_back()
        .unwrap_or_default();
    let checkpoint = crate::log::witnessing::published(conn, &e, &e.definition)?;
    let d = &e.definition;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Certificate {
        id,
        title: d.title.clone(),
        question: d.question.clone(),
        window: format!(
            "{} to {}",
            d.local_time(&d.opens_at),
            d.local_time(&d.closes_at)
        ),
        rule: d.rule_in_words(),
        decision: results.explain(d).sentence,
        group_note: results.group_note(d),
        certified_by,
        certified_at: d.local_time(&checkpoint.created_at.and_utc()),
        fingerprint,
        origin: e.origin.clone(),
        checkpoint: (checkpoint.size, b64.encode(checkpoint.root)),
        note: checkpoint.note,
        audit_url: format!("{}/elections/{id}/audit", e.public_url),
        tellers: (1..=d.tellers.count).map(|n| d.tellers.name(n)).collect(),
        results,
    })
}

/// The certificate's lines, as the PDF prints them (also what the tests read back).
pub fn lines(c: &Certificate) -> Vec<(Style, String)> {
    let mut out = vec![
        (Style::Heading, "Certificate of the result".to_owned()),
        (Style::Title, c.title.clone()),
        (Style::Text, format!("Question: {}", c.question)),
        (Style::Text, format!("Voting window: {}", c.window)),
        (Style::Text, format!("Rule: {}", c.rule)),
        (Style::Blank, String::new()),
        (Style::Strong, c.decision.clone()),
        (Style::Blank, String::new()),
    ];
    out.extend(table_lines(&c.results));
    if let Some(note) = &c.group_note {
        out.extend([(Style::Blank, String::new()), (Style::Text, note.clone())]);
    }
    out.extend([
        (Style::Blank, String::new()),
        (
            Style::Text,
            format!("Certified by {} on {}.", c.certified_by, c.certified_at),
        ),
        (
            Style::Text,
            format!(
                "The result is in the election's signed log {}: checkpoint of size {}, root {}.",
                c.origin, c.checkpoint.0, c.checkpoint.1
            ),
        ),
        (Style::Text, format!("Signing key fingerprint: {}", c.fingerprint)),
        (
            Style::Text,
            format!(
                "Verify: download the bundle at {} and run strikevote audit verify FOLDER --key {} --origin {}",
                c.audit_url, c.fingerprint, c.origin
            ),
        ),
        (Style::Blank, String::new()),
        (Style::Text, "Signed by the tellers:".to_owned()),
    ]);
    for name in &c.tellers {
        out.push((Style::Blank, String::new()));
        out.push((
            Style::Text,
            format!("______________________________   {name}"),
        ));
    }
    out
}

/// How a certificate line is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// The page heading.
    Heading,
    /// The election's title.
    Title,
    /// Body text (wrapped).
    Text,
    /// The decision (bold).
    Strong,
    /// Table rows (monospace).
    Mono,
    /// A blank line.
    Blank,
}

/// Wraps `text` at `width` characters, on spaces (the monospace table's lines).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().map_or(0, |l| l.chars().count());
        if last > 0 && last + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// The certificate as a PDF (A4): its words in DejaVu Sans, embedded, so that any title,
/// question or teller's name prints ([`super::pdf`]); the table in Courier.
pub fn pdf(c: &Certificate) -> Result<Vec<u8>> {
    use super::pdf::Font;
    use printpdf::{BuiltinFont, Mm, PdfDocument};
    let failed = |e: printpdf::Error| Error::Internal(format!("the certificate PDF: {e}"));
    let title = format!("Certificate: {}", c.title);
    let (doc, page, layer) = PdfDocument::new(title, Mm(210.0), Mm(297.0), "certificate");
    let regular = Font::embed(&doc, super::pdf::REGULAR)?;
    let bold = Font::embed(&doc, super::pdf::BOLD)?;
    let mono = doc.add_builtin_font(BuiltinFont::Courier).map_err(failed)?;
    let mut layer = doc.get_page(page).get_layer(layer);
    let mut y = 277.0;
    for (style, text) in lines(c) {
        let (font, size, step) = match style {
            Style::Heading => (Some(&bold), 18.0, 9.0),
            Style::Title => (Some(&bold), 14.0, 7.0),
            Style::Strong => (Some(&bold), 11.0, 5.5),
            Style::Mono => (None, 8.0, 4.2),
            Style::Text => (Some(&regular), 10.0, 5.0),
            Style::Blank => (Some(&regular), 10.0, 3.0),
        };
        let wrapped = match font {
            Some(f) => f.wrap(&text, size, 170.0),
            None => wrap(&text, 200),
        };
        for line in wrapped {
            if y < 20.0 {
                let (next, next_layer) = doc.add_page(Mm(210.0), Mm(297.0), "certificate");
                layer = doc.get_page(next).get_layer(next_layer);
                y = 277.0;
            }
            let font = font.map_or(&mono, |f| &f.font);
            layer.use_text(line, size, Mm(20.0), Mm(y), font);
            y -= step;
        }
    }
    doc.save_to_bytes().map_err(failed)
}

/// `GET /elections/{id}/certificate.pdf`: the certificate of a certified result, as a PDF.
pub async fn certificate_pdf(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let fingerprint = crate::log::note::fingerprint(&state.signer.public_key());
    let made = with_conn(&state, move |c| {
        let id = ElectionId::parse(&id)?;
        pdf(&of(c, id, fingerprint)?)
    })
    .await;
    match made {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header(actix_web::http::header::ContentDisposition::attachment(
                "certificate.pdf",
            ))
            .body(bytes),
        Err(e) => super::page::error_page(&req, e.status(), e.to_string()),
    }
}

/// The results table of the certificate, in fixed-width lines: a header, then
/// [`crate::tally::Results::rows`].
fn table_lines(results: &crate::tally::Results) -> Vec<(Style, String)> {
    let w = results.code_width();
    let mut out = vec![(
        Style::Mono,
        format!(
            "{:<w$}  Eligible   Cast   Yes    No  Abst.  Yes share  Reached  Delegates",
            "Local"
        ),
    )];
    for l in results.rows() {
        let [yes, no, abstain] = l.shown();
        let reached = match (l.code.as_str(), l.passed) {
            ("total", true) => "PASSED",
            ("total", false) => "FAILED",
            (_, true) => "yes",
            (_, false) => "no",
        };
        out.push((
            Style::Mono,
            format!(
                "{:<w$} {:>9} {:>6} {:>5} {:>5} {:>5} {:>10} {:>8} {:>5}/{}",
                l.code,
                l.eligible,
                l.cast,
                yes,
                no,
                abstain,
                l.authorization.to_string(),
                reached,
                l.delegates_yes,
                l.delegates
            ),
        ));
    }
    out
}
