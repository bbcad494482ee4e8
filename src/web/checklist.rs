//! Where an election stands, as a checklist on its dashboard, and the one thing to do next.

use std::collections::BTreeMap;

use crate::election::ceremony;
use crate::election::decryption;
use crate::election::{Election, LocalCounts, State};

/// The steps (done or not, in words) and the next thing to do.
pub struct Checklist {
    /// Each step: whether it is done, and what it says.
    pub steps: Vec<(bool, String)>,
    /// What to do next, in one sentence.
    pub next: String,
}

/// The checklist of `e`, from its roster and token counts, its key ceremony and decryption.
pub fn of(
    e: &Election,
    counts: &BTreeMap<String, LocalCounts>,
    key: &ceremony::Status,
    decrypted: Option<&decryption::Status>,
    scheduled: bool,
) -> Checklist {
    let d = &e.definition;
    let members: i64 = counts.values().map(|c| c.eligible).sum();
    let with_token: i64 = counts.values().map(|c| c.tokens_live + c.tokens_used).sum();
    let opened = e.state != State::Draft;
    let closed = matches!(e.state, State::Closed | State::Certified);
    let is_decrypted = decrypted.is_some_and(|s| s.decrypted);
    let steps = vec![
        (
            members > 0,
            match members {
                0 => "Roster: not imported yet".to_owned(),
                n => format!("Roster imported: {n} members in {} locals", counts.len()),
            },
        ),
        (
            members > 0 && with_token == members,
            format!("Ballot tokens issued: {with_token} of {members} members"),
        ),
        (key.complete, format!("Key ceremony: {key}")),
        (
            opened,
            format!(
                "Vote opened (window {} to {})",
                d.local_time(&d.opens_at),
                d.local_time(&d.closes_at)
            ),
        ),
        (closed, "Vote closed".to_owned()),
        (
            is_decrypted,
            match decrypted {
                Some(s) => format!("Totals decrypted by the tellers: {s}"),
                None => "Totals decrypted by the tellers (after close)".to_owned(),
            },
        ),
        (e.state == State::Certified, "Result certified".to_owned()),
    ];
    let by_itself = |when: &str| {
        if scheduled {
            format!(" (or it {when} by itself)")
        } else {
            String::new()
        }
    };
    let next = if members == 0 {
        "import the roster (a CSV of member_id, local, name, email).".to_owned()
    } else if with_token < members {
        format!(
            "issue ballot tokens: {} members have none yet.",
            members - with_token
        )
    } else if !key.complete {
        "the tellers run `strikevote teller setup` until the election key is ready (docs/TELLERS.md).".to_owned()
    } else if !opened {
        format!(
            "open the vote{}.",
            by_itself(&format!("opens at {}", d.local_time(&d.opens_at)))
        )
    } else if !closed {
        format!(
            "watch turnout; close the vote{}.",
            by_itself(&format!("closes at {}", d.local_time(&d.closes_at)))
        )
    } else if !is_decrypted {
        "the tellers run `strikevote teller decrypt` to unlock the totals (docs/TELLERS.md)."
            .to_owned()
    } else if e.state != State::Certified {
        "check the result below, then certify it.".to_owned()
    } else {
        "nothing: the result is certified. Print the certificate and publish the audit page."
            .to_owned()
    };
    Checklist { steps, next }
}
