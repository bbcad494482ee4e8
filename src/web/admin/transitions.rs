//! Moving the election on (open, close, certify) with its confirmation page, and deciding the
//! actions that wait for a second admin (approve, carry out, cancel).

use super::*;

#[derive(Template)]
#[template(path = "confirm.html")]
struct Confirm {
    id: String,
    title: String,
    state: String,
    window: String,
    csrf: String,
    action: &'static str,
    heading: &'static str,
    explanation: &'static str,
    /// A warning in bold before the button (closing early, opening before the window), or
    /// what is being certified.
    warning: Option<String>,
    button: &'static str,
}

/// The confirmation step's heading, explanation and button for each transition.
fn confirmation(action: Transition) -> (&'static str, &'static str, &'static str) {
    match action {
        Transition::Open => (
            "Open the vote?",
            "Members can vote from the moment the voting window starts. The definition and the roster freeze now and cannot change again.",
            "Yes, open the vote",
        ),
        Transition::Close => (
            "Close the vote?",
            "No more ballots will be accepted. The tellers then decrypt the totals (each runs `strikevote teller decrypt`), and the results become visible to officials, observers and the public. This cannot be undone.",
            "Yes, close the vote",
        ),
        Transition::Certify => (
            "Certify the result?",
            "The result the tellers decrypted, already in the log, is certified in your name. This cannot be undone.",
            "Yes, certify",
        ),
    }
}

/// "2 days 3 hours" (at least a minute).
fn span_in_words(d: chrono::Duration) -> String {
    let (days, hours, minutes) = (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60);
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => unit(minutes.max(1), "minute"),
        (0, h) => format!("{} {}", unit(h, "hour"), unit(minutes, "minute")),
        (d, h) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

/// What the official should weigh before `action` on `election` now.
fn warning(
    action: Transition,
    e: &election::Election,
    results: Option<&crate::tally::Results>,
) -> Option<String> {
    let now = chrono::Utc::now();
    let d = &e.definition;
    let time = |t: &chrono::DateTime<chrono::Utc>| d.local_time(t);
    match action {
        Transition::Close if now < d.closes_at => Some(format!(
            "The voting window runs until {}: closing now ends it {} early. Members who have not voted yet will not be able to.",
            time(&d.closes_at),
            span_in_words(d.closes_at - now)
        )),
        Transition::Open if now < d.opens_at => Some(format!(
            "The voting window starts at {}: members can vote only from then.",
            time(&d.opens_at)
        )),
        Transition::Certify => {
            results.map(|r| format!("You are certifying: {}", r.explain(d).sentence))
        }
        _ => None,
    }
}

/// Query of the confirmation page.
#[derive(Deserialize)]
pub struct ActionQuery {
    action: String,
}

/// `GET /admin/elections/{id}/confirm?action=open|close|certify`: the confirmation step, naming
/// the election and warning of what the action cuts short.
pub async fn confirm_page(desk: Desk, query: web::Query<ActionQuery>) -> HttpResponse {
    let action = match Transition::parse(&query.action) {
        Ok(a) => a,
        Err(e) => return failure(&desk.req, &e),
    };
    let id = desk.id;
    let found = desk
        .run(move |c| {
            let e = election::find(c, id)?;
            let results = match action {
                Transition::Certify => election::count::results(c, id).ok(),
                _ => None,
            };
            Ok((e, results))
        })
        .await;
    let (e, results) = match found {
        Ok(found) => found,
        Err(e) => return failure(&desk.req, &e),
    };
    let (heading, explanation, button) = confirmation(action);
    let (csrf, cookie) = csrf(&desk.req, &desk.state);
    let d = &e.definition;
    let window = format!(
        "{} → {}",
        d.local_time(&d.opens_at),
        d.local_time(&d.closes_at)
    );
    html(
        StatusCode::OK,
        &Confirm {
            id: id.to_string(),
            title: d.title.clone(),
            state: e.state.to_string(),
            window,
            csrf,
            action: action.as_str(),
            heading,
            explanation,
            warning: warning(action, &e, results.as_ref()),
            button,
        },
        cookie,
    )
}

/// Form of `POST /admin/elections/{id}/state`.
#[derive(Deserialize)]
pub struct StateForm {
    csrf: String,
    action: String,
    /// The official's password, typed again.
    #[serde(default)]
    password: String,
}

/// `POST /admin/elections/{id}/state`: open, close or certify (after the confirmation step).
pub async fn change_state(desk: Desk, form: web::Form<StateForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let Ok(action) = Transition::parse(&form.action) else {
        let unknown = vec!["Unknown action.".to_owned()];
        return desk.problems(StatusCode::BAD_REQUEST, unknown).await;
    };
    if let Some(refused) = desk.reconfirmed(&form.password).await {
        return refused;
    }
    let ((signer, by), id) = (desk.actor(), desk.id);
    let who = by.clone();
    match desk
        .run(move |c| election::apply(c, id, action, &signer, &who))
        .await
    {
        Ok(_) => redirect(format!("/admin/elections/{id}")),
        Err(e) if e.code() == ErrorCode::ApprovalNeeded => desk.ask_second(Action::Close, by).await,
        Err(e) => desk.refused(&e).await,
    }
}

/// Form of `POST /admin/elections/{id}/pending`.
#[derive(Deserialize)]
pub struct PendingForm {
    csrf: String,
    /// The pending action's id.
    pending: String,
    /// `approve`, `carry_out` or `cancel`.
    decision: String,
    /// The official's password, asked again to approve or carry out (not to cancel).
    #[serde(default)]
    password: String,
}

/// `POST /admin/elections/{id}/pending`: a second admin approves an action another admin asked
/// for (it is then done, naming both in the log), or any admin cancels it.
pub async fn decide_pending(desk: Desk, form: web::Form<PendingForm>) -> HttpResponse {
    if !desk.fresh(&form.csrf) {
        return desk.expired().await;
    }
    let ((signer, me), id) = (desk.actor(), desk.id);
    let pending_id = form.pending.clone();
    match form.decision.as_str() {
        "cancel" => {
            let done = desk
                .run(move |c| approval::cancel(c, id, &pending_id, &me))
                .await;
            match done {
                Ok(p) => {
                    let what = format!(
                        "Cancelled: {} (asked for by {}).",
                        p.description, p.requested_by
                    );
                    desk.show(Some(what)).await
                }
                Err(e) => desk.refused(&e).await,
            }
        }
        "approve" => {
            let _turn = match desk.state.password_gate.enter().await {
                Ok(turn) => turn,
                Err(e) => return desk.refused(&e).await,
            };
            let password = form.password.clone();
            let done = desk
                .run(move |c| approvals::approve(c, (id, &pending_id), (&me, &password), &signer))
                .await;
            match done {
                Ok(Approved::Done(p)) => {
                    let done = p.action().map(|a| a.done()).unwrap_or_default();
                    let what = format!("Approved: {done} (asked for by {}).", p.requested_by);
                    desk.show(Some(what)).await
                }
                Ok(Approved::Waiting(p)) => {
                    let what = format!(
                        "Approved: {}. {} carries it out from this dashboard; the new token(s) \
                         will be shown to {} only.",
                        p.description, p.requested_by, p.requested_by
                    );
                    desk.show(Some(what)).await
                }
                Err(e) => desk.refused(&e).await,
            }
        }
        "carry_out" => carry_out(&desk, pending_id, form.password.clone()).await,
        _ => {
            let unknown = vec!["Unknown decision: approve, carry out or cancel.".to_owned()];
            desk.problems(StatusCode::BAD_REQUEST, unknown).await
        }
    }
}

/// The asker carries out an approved action and alone sees its secret.
async fn carry_out(desk: &Desk, pending_id: String, password: String) -> HttpResponse {
    let _turn = match desk.state.password_gate.enter().await {
        Ok(turn) => turn,
        Err(e) => return desk.refused(&e).await,
    };
    let ((signer, me), id) = (desk.actor(), desk.id);
    let head = crate::notices::letters::Letterhead::of(&desk.state.settings, &signer);
    let done = desk
        .run(move |c| {
            approvals::carry_out(c, (id, &pending_id), (&me, &password), (&signer, &head))
        })
        .await;
    match done {
        Ok(CarriedOut::Reissued(t)) => tokens::reissued(desk, Ok(t)).await,
        Ok(CarriedOut::Mailing(n, csv)) => tokens::reissued_all(desk, Ok((n, csv))).await,
        Ok(CarriedOut::Letters(0, _)) => {
            let none = "Carried out: no letter was needed any more — every one of those members \
                        has voted or been reissued a token since.";
            desk.show(Some(none.into())).await
        }
        Ok(CarriedOut::Letters(n, pdf)) => crate::web::page::letters_download(id, None, n, pdf),
        Ok(CarriedOut::ApiToken(name, token)) => {
            let who = crate::http::auth::Official(desk.who.clone());
            crate::web::accounts::new_token_shown(&desk.req, &desk.state, &who, (name, token)).await
        }
        Err(e) => desk.refused(&e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_span_reads_in_the_two_largest_units_and_never_as_zero() {
        assert_eq!(span_in_words(Duration::seconds(5)), "1 minute");
        assert_eq!(span_in_words(Duration::minutes(59)), "59 minutes");
        assert_eq!(span_in_words(Duration::minutes(61)), "1 hour 1 minute");
        assert_eq!(span_in_words(Duration::minutes(120)), "2 hours 0 minutes");
        assert_eq!(
            span_in_words(Duration::days(2) + Duration::hours(3) + Duration::minutes(7)),
            "2 days 3 hours"
        );
        assert_eq!(span_in_words(Duration::days(1)), "1 day 0 hours");
    }

    #[test]
    fn each_step_asks_in_its_own_words() {
        for (action, word) in [
            (Transition::Open, "open"),
            (Transition::Close, "close"),
            (Transition::Certify, "certify"),
        ] {
            let (heading, explanation, button) = confirmation(action);
            assert!(heading.to_lowercase().contains(word), "{heading}");
            assert!(button.to_lowercase().contains(word), "{button}");
            assert!(!explanation.is_empty());
        }
    }
}
