//! The outbox in the database: messages queued per member, claimed by a sender with a lease,
//! and finished as sent, refused, skipped (the member had voted) or queued again for later.
//!
//! No row holds a token. Claiming is a compare-and-set on `(state, attempts)`, so two
//! instances never hold the same message; a sender that dies leaves its rows `sending` until
//! their lease runs out, and then another claims them (and makes a fresh token).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::DbConnection;
use crate::db::schema::{members, outbox, tokens};
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::token::TokenStatus;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Kind {
    /// The member's ballot link, with the vote's dates.
    Ballot,
    /// A reminder with a fresh ballot link (the unused old one dies).
    Reminder,
    /// The certified result, with links to the result page and the certificate.
    Result,
}

crate::stored_as_word!(Kind, "message kind", {
    Ballot => "ballot",
    Reminder => "reminder",
    Result => "result",
});

impl Kind {
    /// Whether its message carries a ballot link (made as it is sent).
    pub fn carries_token(self) -> bool {
        matches!(self, Kind::Ballot | Kind::Reminder)
    }
}

/// Where a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum State {
    /// Waiting to be sent (from `not_before`).
    Queued,
    /// A sender holds it until its lease runs out.
    Sending,
    /// The SMTP server accepted it.
    Sent,
    /// Bounced: the SMTP server refused it for good (a 5xx reply: the address is wrong, or
    /// the mailbox does not exist): the member needs a letter.
    Bounced,
    /// Failed: the roster's address is not one an SMTP server takes, or no try succeeded in
    /// [`MAX_ATTEMPTS`]: the member needs a letter.
    Failed,
    /// Not sent: the member had already voted (or the vote closed first).
    Skipped,
}

impl State {
    /// The states of a message that reached nobody for good: its member needs a letter.
    pub const UNDELIVERED: [State; 2] = [State::Bounced, State::Failed];
}

crate::stored_as_word!(State, "message state", {
    Queued => "queued",
    Sending => "sending",
    Sent => "sent",
    Bounced => "bounced",
    Failed => "failed",
    Skipped => "skipped",
});

/// How many tries a message gets before it counts as failed.
pub const MAX_ATTEMPTS: i32 = 8;

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewMessage {
    id: String,
    election_id: String,
    member: String,
    kind: Kind,
    round: i32,
    state: State,
    attempts: i32,
    not_before: NaiveDateTime,
    queued_at: NaiveDateTime,
}

/// What queueing did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// Messages queued now.
    pub queued: u64,
    /// Members with no email address in the roster (they need a letter).
    pub without_email: u64,
    /// Members left out because this message was already queued or sent to them.
    pub already: u64,
    /// Ballot notices left out while the vote is open under the two-person rule: the member
    /// holds a working link (from a mailing file), and replacing it is a reissue, which needs a
    /// second admin.
    pub holding_token: u64,
}

/// Queues `kind` (round `round`) for every member of the election with an email address who
/// should get it — for a ballot notice or reminder, those who have not voted — unless it was
/// queued for them before. One transaction; the messages go out as the sender reaches them.
pub fn queue(conn: &mut DbConnection, id: ElectionId, kind: Kind, round: i32) -> Result<Queued> {
    conn.transaction(|conn| {
        let election = election::lock(conn, id)?;
        let allowed = match kind {
            Kind::Ballot | Kind::Reminder => {
                election::may(&election, crate::log::entry::AdminAction::TokensIssue)
            }
            Kind::Result => election.state == election::State::Certified,
        };
        if !allowed {
            let when = match kind {
                Kind::Result => "only after the result is certified",
                _ => "only before the vote closes",
            };
            return Err(Error::conflict(
                ErrorCode::ElectionClosed,
                format!(
                    "cannot send {kind} messages: election {id} is {}; they are sent {when}",
                    election.state
                ),
            ));
        }
        let eid = id.to_string();
        let already = outbox::table
            .filter(outbox::member.eq(members::id))
            .filter(outbox::kind.eq(kind))
            .filter(outbox::round.eq(round));
        let voted = tokens::table
            .filter(tokens::member.eq(members::id))
            .filter(tokens::status.eq(TokenStatus::Used));
        let live = tokens::table
            .filter(tokens::member.eq(members::id))
            .filter(tokens::status.eq(TokenStatus::Live));
        let keep_live = kind == Kind::Ballot
            && election.state == election::State::Open
            && election.definition.two_person_rule;
        let mut base = members::table
            .filter(members::election_id.eq(&eid))
            .into_boxed();
        if kind.carries_token() {
            base = base.filter(not(exists(voted)));
        }
        let candidates: Vec<(String, String, bool, bool)> = base
            .select((members::id, members::email, exists(already), exists(live)))
            .load(conn)?;
        let now = Utc::now().naive_utc();
        let mut done = Queued::default();
        let mut rows = Vec::new();
        for (member, email, queued_before, holds_live) in candidates {
            if email.trim().is_empty() {
                done.without_email += 1;
            } else if queued_before {
                done.already += 1;
            } else if keep_live && holds_live {
                done.holding_token += 1;
            } else {
                rows.push(NewMessage {
                    id: Uuid::now_v7().to_string(),
                    election_id: eid.clone(),
                    member,
                    kind,
                    round,
                    state: State::Queued,
                    attempts: 0,
                    not_before: now,
                    queued_at: now,
                });
            }
        }
        done.queued = rows.len() as u64;
        for chunk in rows.chunks(500) {
            crate::on_backend!(conn, |c| diesel::insert_into(outbox::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(done)
    })
}

/// A message a sender holds, with what it needs to write it.
#[derive(Clone, Debug, Queryable)]
pub struct Claimed {
    /// The outbox row.
    pub id: String,
    /// Its election.
    pub election_id: String,
    /// The member's row id.
    pub member: String,
    /// What it is.
    pub kind: Kind,
    /// Which reminder (0 otherwise).
    pub round: i32,
    /// Tries so far, this one included (also the claim's version).
    pub attempts: i32,
}

/// Claims up to `limit` messages that are due (queued and past `not_before`, or held by a
/// sender whose lease ran out) for `instance`, with a lease of `lease` from now.
pub fn claim(
    conn: &mut DbConnection,
    instance: &str,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<Claimed>> {
    let now = Utc::now().naive_utc();
    let due: Vec<(String, State, i32)> = outbox::table
        .filter(
            outbox::state
                .eq(State::Queued)
                .and(outbox::not_before.le(now))
                .or(outbox::state
                    .eq(State::Sending)
                    .and(outbox::lease_until.lt(now))),
        )
        .order(outbox::not_before)
        .limit(limit)
        .select((outbox::id, outbox::state, outbox::attempts))
        .load(conn)?;
    let mut mine = Vec::new();
    for (id, state, attempts) in due {
        let taken = diesel::update(
            outbox::table
                .filter(outbox::id.eq(&id))
                .filter(outbox::state.eq(state))
                .filter(outbox::attempts.eq(attempts)),
        )
        .set((
            outbox::state.eq(State::Sending),
            outbox::attempts.eq(attempts + 1),
            outbox::claimed_by.eq(instance),
            outbox::lease_until.eq(now + lease),
        ))
        .execute(conn)?;
        if taken == 1 {
            mine.push(id);
        }
    }
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    Ok(outbox::table
        .filter(outbox::id.eq_any(&mine))
        .select((
            outbox::id,
            outbox::election_id,
            outbox::member,
            outbox::kind,
            outbox::round,
            outbox::attempts,
        ))
        .load(conn)?)
}

/// How a held message ended this time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the SMTP server.
    Sent,
    /// Not sent: the member had voted, or the vote closed first.
    Skipped(&'static str),
    /// Refused for good by the SMTP server (a 5xx reply): counted as bounced, listed for a
    /// letter.
    Bounced(String),
    /// Not one an SMTP server takes, or out of tries: counted as failed, listed for a letter.
    Failed(String),
    /// Try again after `wait`.
    Later(String, chrono::Duration),
    /// Not tried: the claim was lost while the message waited for its turn (another sender
    /// holds it now). Nothing is recorded.
    Lost,
}

/// Records how a message held by `instance` (claim version `attempts`) ended. A claim that
/// was lost meanwhile (the lease ran out and another sender took it) changes nothing.
pub fn finish(
    conn: &mut DbConnection,
    message: &Claimed,
    instance: &str,
    outcome: Outcome,
) -> Result<bool> {
    let now = Utc::now().naive_utc();
    let held = outbox::table
        .filter(outbox::id.eq(&message.id))
        .filter(outbox::state.eq(State::Sending))
        .filter(outbox::claimed_by.eq(instance))
        .filter(outbox::attempts.eq(message.attempts));
    // What the row becomes: its state, the reply kept, and when it may be tried again.
    let (state, said, not_before) = match outcome {
        Outcome::Lost => return Ok(false),
        Outcome::Sent => (State::Sent, None, now),
        Outcome::Skipped(why) => (State::Skipped, Some(why.to_owned()), now),
        Outcome::Bounced(said) => (State::Bounced, Some(said), now),
        Outcome::Failed(said) => (State::Failed, Some(said), now),
        Outcome::Later(said, wait) if message.attempts < MAX_ATTEMPTS => {
            (State::Queued, Some(said), now + wait)
        }
        Outcome::Later(said, _) => (
            State::Failed,
            Some(format!("no success in {MAX_ATTEMPTS} tries; last: {said}")),
            now,
        ),
    };
    let changed = diesel::update(held)
        .set((
            outbox::state.eq(state),
            outbox::last_error.eq(said),
            outbox::not_before.eq(not_before),
            outbox::sent_at.eq((state == State::Sent).then_some(now)),
            outbox::claimed_by.eq(None::<String>),
            outbox::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Extends the lease `instance` holds on `message` to `until` (a message waiting for its turn
/// under the shared pace); `false` if the claim was lost meanwhile, and the message must not
/// be sent.
pub fn renew(
    conn: &mut DbConnection,
    message: &Claimed,
    instance: &str,
    until: DateTime<Utc>,
) -> Result<bool> {
    let held = outbox::table
        .filter(outbox::id.eq(&message.id))
        .filter(outbox::state.eq(State::Sending))
        .filter(outbox::claimed_by.eq(instance))
        .filter(outbox::attempts.eq(message.attempts));
    let changed = diesel::update(held)
        .set(outbox::lease_until.eq(until.naive_utc()))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The wait before try `attempts + 1`: 30 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let doubled = 30i64 << attempts.clamp(1, 8).saturating_sub(1);
    chrono::Duration::seconds(doubled.min(3600))
}

/// Counts of an election's messages by kind and state: what officials see (never who).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// `kind` → `state` → messages.
    pub counts: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

impl Progress {
    /// Messages of `kind` in `state`.
    pub fn of(&self, kind: Kind, state: State) -> u64 {
        self.counts
            .get(kind.as_str())
            .and_then(|m| m.get(state.as_str()))
            .copied()
            .unwrap_or(0)
    }

    /// Messages of `kind` still to go (queued or being sent).
    pub fn pending(&self, kind: Kind) -> u64 {
        self.of(kind, State::Queued) + self.of(kind, State::Sending)
    }

    /// Messages of `kind` in any state.
    pub fn total(&self, kind: Kind) -> u64 {
        State::ALL.iter().map(|s| self.of(kind, *s)).sum()
    }
}

/// The election's message counts.
pub fn progress(conn: &mut DbConnection, id: ElectionId) -> Result<Progress> {
    let rows: Vec<(Kind, State, i64)> = outbox::table
        .filter(outbox::election_id.eq(id.to_string()))
        .group_by((outbox::kind, outbox::state))
        .select((outbox::kind, outbox::state, diesel::dsl::count_star()))
        .load(conn)?;
    let mut progress = Progress::default();
    for (kind, state, n) in rows {
        *progress
            .counts
            .entry(kind.to_string())
            .or_default()
            .entry(state.to_string())
            .or_default() += n as u64;
    }
    Ok(progress)
}

/// The member ids whose `kind` message bounced or failed for good, for the letters (sorted).
pub fn failed_members(conn: &mut DbConnection, id: ElectionId, kind: Kind) -> Result<Vec<String>> {
    Ok(outbox::table
        .inner_join(members::table)
        .filter(outbox::election_id.eq(id.to_string()))
        .filter(outbox::kind.eq(kind))
        .filter(outbox::state.eq_any(State::UNDELIVERED))
        .select(members::member_id)
        .order(members::member_id)
        .load(conn)?)
}

/// Queues every reminder whose time has come, for the open elections whose definition sets
/// them (round k for the definition's k-th reminder, 1-based), once each: a round already in
/// the outbox is left alone. Returns what it queued.
pub fn queue_due_reminders(conn: &mut DbConnection) -> Result<Vec<(ElectionId, i32, Queued)>> {
    let now = Utc::now();
    let mut done = Vec::new();
    for election in election::list(conn)? {
        if election.state != election::State::Open {
            continue;
        }
        for (k, at) in election.definition.reminders.iter().enumerate() {
            let round = k as i32 + 1;
            if *at > now {
                break;
            }
            let queued_before: i64 = outbox::table
                .filter(outbox::election_id.eq(election.id.to_string()))
                .filter(outbox::kind.eq(Kind::Reminder))
                .filter(outbox::round.eq(round))
                .count()
                .get_result(conn)?;
            if queued_before > 0 {
                continue;
            }
            match queue(conn, election.id, Kind::Reminder, round) {
                Ok(q) => done.push((election.id, round, q)),
                // Closed meanwhile: no reminder.
                Err(e) if e.code() == ErrorCode::ElectionClosed => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(done)
}
