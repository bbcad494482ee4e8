//! The result as people read it, in their language: the view shared by the officials'
//! dashboard and the public result page (which, once certified, is the certificate too).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::i18n::{Lang, Text};
use super::page::html;
use super::public::{Bar, bars, chart_height, page_error};
use crate::election::{self, ElectionId, State};
use crate::error::Result;
use crate::http::state::{AppState, with_conn};
use crate::tally::{Explanation, Results};
use crate::text::fill;

/// The view of a result shared by the dashboard and the printable page.
pub struct ResultView {
    /// The results.
    pub r: Results,
    /// The decision sentence and the thresholds in words.
    pub e: Explanation,
    /// The page's words.
    pub t: &'static Text,
    /// The sentences around the table, filled in.
    pub lines: Lines,
    /// Yes-share bars per local.
    pub yes_bars: Vec<Bar>,
    /// The group of small locals explained, if there is one.
    pub group_note: Option<String>,
    /// Chart height.
    pub chart_height: u32,
}

/// The sentences of a result view that carry figures.
pub struct Lines {
    /// `(at least 75% needed)`, beside each local's share.
    pub local_needed: String,
    /// The same for the deciding popular share.
    pub overall_needed: String,
    /// `(quorum: …)` beside the turnout, if there is a quorum.
    pub quorum_needed: Option<String>,
    /// The popular vote's line (deciding, or for information).
    pub popular: String,
    /// The delegate vote's line.
    pub delegates: String,
    /// The quorum's line.
    pub quorum: String,
    /// The chart's caption.
    pub chart_caption: String,
    /// The group of small locals' name, if there is one.
    pub group_name: String,
}

impl Lines {
    fn new(r: &Results, e: &Explanation, t: &Text) -> Self {
        let reached = |yes: bool| {
            if yes {
                t.res_reached
            } else {
                t.res_not_reached
            }
        };
        let needed = |what: &str| fill(t.res_needed, &[("needed", what)]);
        let share = r.popular.authorization.to_string();
        let (yes, all) = (
            r.delegates.yes.to_string(),
            (r.delegates.yes + r.delegates.no).to_string(),
        );
        let popular = match e.popular_decides {
            true => fill(
                t.res_popular_line,
                &[
                    ("share", &share),
                    ("needed", &e.overall_needed),
                    ("outcome", reached(r.popular.passed)),
                ],
            ),
            false => fill(t.res_popular_info_line, &[("share", &share)]),
        };
        let delegates = match e.popular_decides {
            false => fill(
                t.res_delegates_line,
                &[
                    ("yes", &yes),
                    ("all", &all),
                    ("needed", &e.overall_needed),
                    ("outcome", reached(r.delegates.passed)),
                ],
            ),
            true => fill(t.res_delegates_info_line, &[("yes", &yes), ("all", &all)]),
        };
        let quorum = match &e.quorum_needed {
            Some(q) => fill(
                t.res_quorum_line,
                &[
                    ("turnout", &r.popular.turnout.to_string()),
                    ("quorum", q),
                    (
                        "outcome",
                        if r.quorum_met {
                            t.res_quorum_met
                        } else {
                            t.res_quorum_missed
                        },
                    ),
                ],
            ),
            None => t.res_quorum_none.to_owned(),
        };
        Self {
            local_needed: needed(&e.local_needed),
            overall_needed: needed(&e.overall_needed),
            quorum_needed: e
                .quorum_needed
                .as_ref()
                .map(|q| fill(t.res_quorum_needed, &[("quorum", q)])),
            popular,
            delegates,
            quorum,
            chart_caption: fill(t.res_chart_caption, &[("needed", &e.local_needed)]),
            group_name: r
                .group
                .as_ref()
                .map(|g| t.words.group_name(&g.name).to_owned())
                .unwrap_or_default(),
        }
    }
}

impl ResultView {
    /// Builds the view of `r`, counted under `definition`, in `lang`.
    pub fn new(r: Results, definition: &election::Definition, lang: Lang) -> Self {
        let t = lang.text();
        // One bar per local opened alone, and one for the group of small locals.
        let rows: Vec<_> = r
            .rows()
            .into_iter()
            .filter(|l| l.code != "total" && l.group.is_none())
            .map(|l| {
                let share = l.authorization;
                (l.code, share.part, share.whole, share.to_string())
            })
            .collect();
        let yes_bars = bars(&rows);
        let e = r.explain_in(definition, &t.words);
        Self {
            lines: Lines::new(&r, &e, t),
            group_note: r.group_note_in(definition, &t.words),
            chart_height: chart_height(&yes_bars),
            e,
            t,
            r,
            yes_bars,
        }
    }
}

#[derive(Template)]
#[template(path = "result.html")]
struct ResultPage {
    id: String,
    title: String,
    question: String,
    /// Once certified: everything the certificate states.
    cert: Option<super::certificate::Certificate>,
    view: ResultView,
    t: &'static Text,
    lang: &'static str,
    switch_href: String,
}

/// The result and, once certified, its certificate in `lang`.
fn result_and_certificate(
    c: &mut crate::db::DbConnection,
    id: ElectionId,
    fingerprint: String,
    lang: Lang,
) -> Result<(
    election::Election,
    Results,
    Option<super::certificate::Certificate>,
)> {
    let r = election::count::results(c, id)?;
    let e = election::find(c, id)?;
    let cert = match e.state {
        State::Certified => Some(super::certificate::of(c, id, fingerprint, lang)?),
        _ => None,
    };
    Ok((e, r, cert))
}

/// `GET /elections/{id}/result`: the printable result (refused until the vote closes), in the
/// reader's language (`?lang=`, else the browser's).
pub async fn result_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<super::member::LangQuery>,
) -> HttpResponse {
    let lang = Lang::pick(query.lang.as_deref(), &req);
    let fingerprint = crate::log::note::fingerprint(&state.signer.public_key());
    let id = match ElectionId::parse(&id) {
        Ok(id) => id,
        Err(e) => return page_error(&req, e.into()),
    };
    let switch_href = format!("/elections/{id}/result?lang=");
    let found = with_conn(&state, move |c| {
        result_and_certificate(c, id, fingerprint, lang)
    })
    .await;
    match found {
        Ok((e, r, cert)) => {
            let (title, question) = e.definition.texts(lang.code());
            html(
                StatusCode::OK,
                &ResultPage {
                    id: e.id.to_string(),
                    title: title.to_owned(),
                    question: question.to_owned(),
                    cert,
                    view: ResultView::new(r, &e.definition, lang),
                    t: lang.text(),
                    lang: lang.code(),
                    switch_href,
                },
                None,
            )
        }
        Err(e) => page_error(&req, e),
    }
}
