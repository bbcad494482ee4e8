//! The election dashboard: turnout during the vote, the results after, the actions waiting
//! for a second admin, the log's latest entries.

use super::*;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    username: String,
    role: String,
    csrf: String,
    problems: Vec<String>,
    notice: Option<String>,
    id: String,
    title: String,
    state: String,
    opens_at: String,
    closes_at: String,
    rule: String,
    log_size: u64,
    checkpoint_time: String,
    /// The log key's fingerprint, for the notices and letters to print.
    fingerprint: String,
    turnout: Vec<(String, u64, u64, String)>,
    cast_total: u64,
    eligible_total: u64,
    turnout_total: String,
    /// What happens to small locals at close, if any are at risk.
    small_locals: Vec<String>,
    turnout_bars: Vec<Bar>,
    chart_height: u32,
    results: Option<ResultView>,
    actions: Vec<String>,
    ceremony: String,
    decryption: Option<String>,
    /// Whether the server opens and closes votes at their times (`schedule_seconds` > 0).
    scheduled: bool,
    checklist: crate::web::checklist::Checklist,
    is_admin: bool,
    /// Actions waiting for a second admin: id, what, who asked, when, whether it is this
    /// official's own request.
    /// Each pending action: id, description, who asked, when, whether the viewer asked, who
    /// approved it (once approved, it waits for the asker to carry it out).
    pending: Vec<(String, String, String, String, bool, String)>,
    /// Whether the two-person rule is on.
    two_person_rule: bool,
    /// Email to members: the server, and counts by kind.
    email: super::notices::EmailPanel,
}

/// What the dashboard shows, read in one go.
struct Snapshot {
    election: election::Election,
    turnout: election::count::Turnout,
    checkpoint: store::StoredCheckpoint,
    results: Option<crate::tally::Results>,
    actions: Vec<String>,
    ceremony: election::ceremony::Status,
    decryption: Option<election::decryption::Status>,
    counts: std::collections::BTreeMap<String, election::LocalCounts>,
    pending: Vec<approval::Pending>,
    email: super::notices::EmailPanel,
}

fn snapshot(
    c: &mut crate::db::DbConnection,
    id: ElectionId,
    server: Option<String>,
) -> crate::error::Result<Snapshot> {
    let election = election::find(c, id)?;
    let (results, decryption) = match election.state {
        State::Closed | State::Certified => {
            let status = election::decryption::status(c, &election)?;
            let results = match status.decrypted {
                true => Some(election::count::results(c, id)?),
                false => None,
            };
            (results, Some(status))
        }
        _ => (None, None),
    };
    let mut actions = Vec::new();
    for body in store::entries_of_kind(c, id, &[Kind::Admin])? {
        if let Body::Admin(admin) = body {
            actions.push(match admin.approved_by {
                Some(second) => format!("{} by {}, approved by {}", admin.action, admin.by, second),
                None => format!("{} by {}", admin.action, admin.by),
            });
        }
    }
    Ok(Snapshot {
        counts: election::local_counts(c, &election)?,
        ceremony: election::ceremony::status(c, &election)?,
        turnout: election::count::turnout(c, id)?,
        checkpoint: store::latest_checkpoint(c, id)?,
        election,
        results,
        actions,
        decryption,
        pending: approval::list(c, id)?,
        email: super::notices::EmailPanel::read(c, id, server)?,
    })
}

/// The dashboard's warnings about small locals (their totals are never opened alone).
fn small_locals(definition: &election::Definition, t: &election::count::Turnout) -> Vec<String> {
    let eligible = t
        .locals
        .iter()
        .map(|(c, l)| (c.clone(), l.eligible))
        .collect();
    let cast = t.locals.iter().map(|(c, l)| (c.clone(), l.cast)).collect();
    crate::tally::units::warnings(definition, &eligible, &cast)
}

pub(super) async fn dashboard_view(
    desk: &Desk,
    status: StatusCode,
    problems: Vec<String>,
    notice: Option<String>,
) -> HttpResponse {
    let id = desk.id;
    let server = desk.state.settings.mail().ok().flatten();
    let server = server.map(|m| m.server_shown());
    let s = match desk.run(move |c| snapshot(c, id, server)).await {
        Ok(s) => s,
        Err(e) => return failure(&desk.req, &e),
    };
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let (e, t) = (&s.election, &s.turnout);
    let bars = turnout_bars(t);
    let share = |part, whole| Share { part, whole }.to_string();
    let page = Dashboard {
        username: desk.who.username.clone(),
        role: desk.who.role.to_string(),
        csrf,
        problems,
        notice,
        id: e.id.to_string(),
        title: e.definition.title.clone(),
        state: e.state.to_string(),
        opens_at: e.definition.local_time(&e.definition.opens_at),
        closes_at: e.definition.local_time(&e.definition.closes_at),
        rule: e.definition.rule.as_str().to_owned(),
        log_size: e.log_size,
        checkpoint_time: e.definition.local_time(&s.checkpoint.created_at.and_utc()),
        fingerprint: crate::log::note::fingerprint(&desk.state.signer.public_key()),
        turnout: t
            .locals
            .iter()
            .map(|(code, l)| (code.clone(), l.cast, l.eligible, share(l.cast, l.eligible)))
            .collect(),
        cast_total: t.cast,
        eligible_total: t.eligible,
        turnout_total: share(t.cast, t.eligible),
        small_locals: small_locals(&e.definition, t),
        chart_height: crate::web::public::chart_height(&bars),
        turnout_bars: bars,
        results: s
            .results
            .map(|r| ResultView::new(r, &e.definition, crate::web::i18n::Lang::english())),
        actions: s.actions,
        ceremony: s.ceremony.to_string(),
        decryption: s.decryption.as_ref().map(|d| d.to_string()),
        scheduled: desk.state.settings.schedule_seconds > 0,
        checklist: crate::web::checklist::of(
            e,
            &s.counts,
            &s.ceremony,
            s.decryption.as_ref(),
            desk.state.settings.schedule_seconds > 0,
        ),
        is_admin: desk.who.role == Role::Admin,
        pending: s
            .pending
            .iter()
            .map(|p| {
                let at = e.definition.local_time(&p.requested_at.and_utc());
                let mine = p.requested_by == desk.who.username;
                (
                    p.id.clone(),
                    p.description.clone(),
                    p.requested_by.clone(),
                    at,
                    mine,
                    p.approved_by.clone().unwrap_or_default(),
                )
            })
            .collect(),
        two_person_rule: e.definition.two_person_rule,
        email: s.email,
    };
    html(status, &page, cookie)
}

/// `GET /admin/elections/{id}`: the dashboard.
pub async fn dashboard(desk: Desk) -> HttpResponse {
    desk.show(None).await
}
