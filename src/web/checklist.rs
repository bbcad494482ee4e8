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
    let stand = Standing {
        members: counts.values().map(|c| c.eligible).sum(),
        with_token: counts.values().map(|c| c.tokens_live + c.tokens_used).sum(),
        locals: counts.len(),
        opened: e.state != State::Draft,
        closed: matches!(e.state, State::Closed | State::Certified),
        decrypted: decrypted.is_some_and(|s| s.decrypted),
    };
    Checklist {
        steps: steps(e, &stand, key, decrypted),
        next: next_step(e, &stand, key, scheduled),
    }
}

/// The counts and states the checklist is made of.
struct Standing {
    members: i64,
    with_token: i64,
    locals: usize,
    opened: bool,
    closed: bool,
    decrypted: bool,
}

fn steps(
    e: &Election,
    s: &Standing,
    key: &ceremony::Status,
    decrypted: Option<&decryption::Status>,
) -> Vec<(bool, String)> {
    let d = &e.definition;
    vec![
        (
            s.members > 0,
            match s.members {
                0 => "Roster: not imported yet".to_owned(),
                n => format!("Roster imported: {n} members in {} locals", s.locals),
            },
        ),
        (
            s.members > 0 && s.with_token == s.members,
            format!(
                "Ballot tokens issued: {} of {} members",
                s.with_token, s.members
            ),
        ),
        (key.complete, format!("Key ceremony: {key}")),
        (
            s.opened,
            format!(
                "Vote opened (window {} to {})",
                d.local_time(&d.opens_at),
                d.local_time(&d.closes_at)
            ),
        ),
        (s.closed, "Vote closed".to_owned()),
        (
            s.decrypted,
            match decrypted {
                Some(status) => format!("Totals decrypted by the tellers: {status}"),
                None => "Totals decrypted by the tellers (after close)".to_owned(),
            },
        ),
        (e.state == State::Certified, "Result certified".to_owned()),
    ]
}

fn next_step(e: &Election, s: &Standing, key: &ceremony::Status, scheduled: bool) -> String {
    let d = &e.definition;
    let by_itself = |when: String| match scheduled {
        true => format!(" (or it {when} by itself)"),
        false => String::new(),
    };
    if s.members == 0 {
        "import the roster (a CSV of member_id, local, name, email).".to_owned()
    } else if s.with_token < s.members {
        format!(
            "issue ballot tokens: {} members have none yet.",
            s.members - s.with_token
        )
    } else if !key.complete {
        "give each teller their invitation (\"Issue teller invitations\" below: a card per teller with the address, their number, their code and the exact command); the tellers run `strikevote-teller setup`, confirm each other's fingerprints by phone, and run it again until the election key is ready (docs/TELLERS.md).".to_owned()
    } else if !s.opened {
        let when = format!("opens at {}", d.local_time(&d.opens_at));
        format!("open the vote{}.", by_itself(when))
    } else if !s.closed {
        let when = format!("closes at {}", d.local_time(&d.closes_at));
        format!("watch turnout; close the vote{}.", by_itself(when))
    } else if !s.decrypted {
        "the tellers run `strikevote teller decrypt` to unlock the totals (docs/TELLERS.md)."
            .to_owned()
    } else if e.state != State::Certified {
        "check the result below, then certify it.".to_owned()
    } else {
        "nothing: the result is certified. Print the certificate and publish the audit page."
            .to_owned()
    }
}
