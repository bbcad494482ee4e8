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
use crate::text::fill;

use super::i18n::{Lang, Text};
use super::page::{Piece, pieces};

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
    /// Who certified (the official's username) and when (the checkpoint's signing time, in
    /// the election's time zone), as the page's definition list states it.
    pub certified: String,
    /// The same as a sentence.
    pub certified_sentence: String,
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
    /// The command that verifies it.
    pub verify_command: String,
    /// The sentence saying how to verify, cut where the link and the command go.
    pub verify: Vec<Piece<'static>>,
    /// The tellers, by name, for the signature lines.
    pub tellers: Vec<String>,
    /// The words it is written in.
    pub t: &'static Text,
}

/// The certificate of a certified election in `lang` (`409` before certification).
pub fn of(
    conn: &mut DbConnection,
    id: ElectionId,
    fingerprint: String,
    lang: Lang,
) -> Result<Certificate> {
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
    let t = lang.text();
    let (title, question) = d.texts(lang.code());
    let certified = [
        ("name", certified_by.as_str()),
        ("date", &d.local_time(&checkpoint.created_at.and_utc())),
    ];
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Certificate {
        id,
        title: title.to_owned(),
        question: question.to_owned(),
        window: fill(
            t.res_window_value,
            &[
                ("opens", &d.local_time(&d.opens_at)),
                ("closes", &d.local_time(&d.closes_at)),
            ],
        ),
        rule: d.rule_in_words_of(&t.words),
        decision: results.explain_in(d, &t.words).sentence,
        group_note: results.group_note_in(d, &t.words),
        certified: fill(t.res_certified_value, &certified),
        certified_sentence: fill(t.res_certified_sentence, &certified),
        verify_command: format!(
            "strikevote audit verify FOLDER --key {fingerprint} --origin {}",
            e.origin
        ),
        fingerprint,
        origin: e.origin.clone(),
        checkpoint: (checkpoint.size, b64.encode(checkpoint.root)),
        note: checkpoint.note,
        audit_url: format!("{}/elections/{id}/audit", e.public_url),
        verify: pieces(t.res_verify),
        // A teller the definition does not name is "teller N" in the reader's language.
        tellers: (1..=d.tellers.count)
            .map(|n| match d.tellers.given_name(n) {
                Some(name) => name.to_owned(),
                None => fill(t.res_teller, &[("number", &n.to_string())]),
            })
            .collect(),
        results,
        t,
    })
}

/// The certificate's lines, as the PDF prints them (also what the tests read back).
pub fn lines(c: &Certificate) -> Vec<(Style, String)> {
    let t = c.t;
    let labelled = |label: &str, value: &str| format!("{label}: {value}");
    let mut out = vec![
        (Style::Heading, t.res_cert_heading.to_owned()),
        (Style::Title, c.title.clone()),
        (Style::Text, labelled(t.res_question, &c.question)),
        (Style::Text, labelled(t.res_window, &c.window)),
        (Style::Text, labelled(t.res_rule, &c.rule)),
        (Style::Blank, String::new()),
        (Style::Strong, c.decision.clone()),
        (Style::Blank, String::new()),
    ];
    out.extend(table_lines(&c.results, t));
    if let Some(note) = &c.group_note {
        out.extend([(Style::Blank, String::new()), (Style::Text, note.clone())]);
    }
    let in_log = fill(
        t.res_in_log,
        &[
            ("origin", &c.origin),
            ("size", &c.checkpoint.0.to_string()),
            ("root", &c.checkpoint.1),
        ],
    );
    let verify = fill(
        t.res_verify,
        &[("audit_link", &c.audit_url), ("command", &c.verify_command)],
    );
    out.extend([
        (Style::Blank, String::new()),
        (Style::Text, c.certified_sentence.clone()),
        (Style::Text, in_log),
        (Style::Text, labelled(t.res_fingerprint, &c.fingerprint)),
        (Style::Text, verify),
        (Style::Blank, String::new()),
        (Style::Text, format!("{}:", t.res_tellers)),
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
    /// A table row: its cells separated by tabs, the first left-aligned, the others right.
    Row,
    /// A blank line.
    Blank,
}

/// The page's text width (mm), from the left margin.
const TEXT_WIDTH: f32 = 170.0;
/// The left margin (mm).
const LEFT: f32 = 20.0;
/// The space between two table columns (mm).
const GAP: f32 = 3.0;

/// Where a table's columns end (mm from the left margin) and the size that fits them all in
/// the text width (8 points, smaller for wide headings, never under 6).
fn columns(font: &super::pdf::Font<'_>, rows: &[&str]) -> (Vec<f32>, f32) {
    let mut widths: Vec<f32> = Vec::new();
    for row in rows {
        for (i, cell) in row.split('\t').enumerate() {
            let w = font.width(cell, 8.0);
            match widths.get_mut(i) {
                Some(widest) => *widest = widest.max(w),
                None => widths.push(w),
            }
        }
    }
    let total: f32 = widths.iter().sum::<f32>() + GAP * widths.len().saturating_sub(1) as f32;
    let scale = (TEXT_WIDTH / total).clamp(0.75, 1.0);
    let mut right = 0.0;
    let ends = widths
        .iter()
        .map(|w| {
            right += w * scale + GAP;
            right - GAP
        })
        .collect();
    (ends, 8.0 * scale)
}

/// The certificate as a PDF (A4), in DejaVu Sans, embedded, so that any title, question or
/// teller's name prints ([`super::pdf`]); the table's figures right-aligned in their columns.
pub fn pdf(c: &Certificate) -> Result<Vec<u8>> {
    use super::pdf::Font;
    use printpdf::{Mm, PdfDocument};
    let failed = |e: printpdf::Error| Error::Internal(format!("the certificate PDF: {e}"));
    let title = format!("{}: {}", c.t.res_cert_heading, c.title);
    let (doc, page, layer) = PdfDocument::new(title, Mm(210.0), Mm(297.0), "certificate");
    let regular = Font::embed(&doc, super::pdf::REGULAR)?;
    let bold = Font::embed(&doc, super::pdf::BOLD)?;
    let mut layer = doc.get_page(page).get_layer(layer);
    let all = lines(c);
    let rows: Vec<&str> = all
        .iter()
        .filter(|(s, _)| *s == Style::Row)
        .map(|(_, t)| t.as_str())
        .collect();
    let (ends, row_size) = columns(&regular, &rows);
    let mut y = 277.0;
    for (style, text) in &all {
        let (font, size, step) = match style {
            Style::Heading => (&bold, 18.0, 9.0),
            Style::Title => (&bold, 14.0, 7.0),
            Style::Strong => (&bold, 11.0, 5.5),
            Style::Row => (&regular, row_size, 4.2),
            Style::Text => (&regular, 10.0, 5.0),
            Style::Blank => (&regular, 10.0, 3.0),
        };
        let wrapped = match style {
            Style::Row => vec![text.clone()],
            _ => font.wrap(text, size, TEXT_WIDTH),
        };
        for line in wrapped {
            if y < 20.0 {
                let (next, next_layer) = doc.add_page(Mm(210.0), Mm(297.0), "certificate");
                layer = doc.get_page(next).get_layer(next_layer);
                y = 277.0;
            }
            if *style != Style::Row {
                layer.use_text(line.as_str(), size, Mm(LEFT), Mm(y), &font.font);
            }
            for (i, cell) in line
                .split('\t')
                .enumerate()
                .filter(|_| *style == Style::Row)
            {
                let x = match (i, ends.get(i)) {
                    (0, _) | (_, None) => LEFT,
                    (_, Some(end)) => LEFT + end - font.width(cell, size),
                };
                layer.use_text(cell, size, Mm(x), Mm(y), &font.font);
            }
            y -= step;
        }
    }
    doc.save_to_bytes().map_err(failed)
}

/// `GET /elections/{id}/certificate.pdf`: the certificate of a certified result, as a PDF, in
/// the reader's language (`?lang=`, else the browser's).
pub async fn certificate_pdf(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<super::member::LangQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let fingerprint = crate::log::note::fingerprint(&state.signer.public_key());
    let made = with_conn(&state, move |c| {
        let id = ElectionId::parse(&id)?;
        pdf(&of(c, id, fingerprint, lang)?)
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

/// The results table of the certificate: a header, then [`crate::tally::Results::rows`], each
/// row's cells separated by tabs.
fn table_lines(results: &crate::tally::Results, t: &Text) -> Vec<(Style, String)> {
    let header = [
        t.res_local,
        t.res_eligible,
        t.res_cast,
        t.yes,
        t.no,
        t.res_col_abstain,
        t.res_yes_share,
        t.res_col_reached,
        t.res_col_delegates,
    ];
    let mut out = vec![(Style::Row, header.join("\t"))];
    for l in results.rows() {
        let [yes, no, abstain] = l.shown();
        let reached = match (l.code.as_str(), l.passed) {
            ("total", true) => t.words.passed,
            ("total", false) => t.words.failed,
            (_, true) => t.yes,
            (_, false) => t.no,
        };
        let cells = [
            l.code.clone(),
            l.eligible.to_string(),
            l.cast.to_string(),
            yes,
            no,
            abstain,
            l.authorization.to_string(),
            reached.to_owned(),
            format!("{}/{}", l.delegates_yes, l.delegates),
        ];
        out.push((Style::Row, cells.join("\t")));
    }
    out
}
