//! Votes open and close themselves at their definition's times. The server checks now and then
//! ([`crate::startup`]); each change goes through [`super::apply`] under the election's lock,
//! with the same log entries as an official's (the `admin` entry says `by: "schedule"`), so
//! several instances checking at once change each election once and the others are refused.

use chrono::Utc;
use diesel::prelude::*;

use super::{ElectionId, State, Transition, apply};
use crate::db::DbConnection;
use crate::db::schema::tokens;
use crate::error::Result;
use crate::log::LogKey;

/// The actor the log names for scheduled changes.
pub const ACTOR: &str = "schedule";

/// Opens every draft whose window has begun and that is ready (roster, tokens issued, election
/// key), and closes every open vote whose window has ended. Returns what it changed; a change
/// another instance made first, or a draft not ready, is skipped (the dashboard says why).
pub fn run_due(conn: &mut DbConnection, signer: &LogKey) -> Result<Vec<(ElectionId, Transition)>> {
    let mut done = Vec::new();
    for e in super::list(conn)? {
        let now = Utc::now();
        let d = &e.definition;
        let due = match e.state {
            State::Draft if d.opens_at <= now && now < d.closes_at && has_tokens(conn, e.id)? => {
                Transition::Open
            }
            State::Open if d.closes_at <= now => Transition::Close,
            _ => continue,
        };
        match apply(
            conn,
            e.id,
            due,
            signer,
            super::approval::Who::Operator(ACTOR),
        ) {
            Ok(_) => done.push((e.id, due)),
            Err(err) => {
                tracing::debug!(election = %e.id, action = due.as_str(), reason = %err, "scheduled change skipped")
            }
        }
    }
    Ok(done)
}

/// Whether tokens were issued (a vote nobody could cast in is not opened by itself).
fn has_tokens(conn: &mut DbConnection, id: ElectionId) -> Result<bool> {
    let n: i64 = tokens::table
        .filter(tokens::election_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
