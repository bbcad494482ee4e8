//! Counting from the log: turnout during the vote (no choices), results after it, and the
//! certification that writes the result into the log.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ElectionId, State, find, lock};
use crate::db::DbConnection;
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, Kind};
use crate::log::store::{self, StoredCheckpoint};
use crate::tally::{LogCount, Results};

/// Ballots cast per local during the vote: counts of redeemed tokens, never choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Turnout {
    /// Per local code: (cast, eligible).
    pub locals: BTreeMap<String, LocalTurnout>,
    /// Ballots cast in all locals.
    pub cast: u64,
    /// Members eligible in all locals.
    pub eligible: u64,
}

/// One local's turnout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LocalTurnout {
    /// Ballots cast.
    pub cast: u64,
    /// Members eligible.
    pub eligible: u64,
}

/// Turnout per local, at any time (it reveals no choice).
pub fn turnout(conn: &mut DbConnection, id: ElectionId) -> Result<Turnout> {
    let election = find(conn, id)?;
    let locals: BTreeMap<String, LocalTurnout> = super::local_counts(conn, &election)?
        .into_iter()
        .map(|(code, c)| {
            let turnout = LocalTurnout {
                cast: c.tokens_used.unsigned_abs(),
                eligible: c.eligible.unsigned_abs(),
            };
            (code, turnout)
        })
        .collect();
    Ok(Turnout {
        cast: locals.values().map(|l| l.cast).sum(),
        eligible: locals.values().map(|l| l.eligible).sum(),
        locals,
    })
}

fn embargoed() -> Error {
    Error::conflict(
        ErrorCode::Embargoed,
        "results are embargoed until the vote closes",
    )
}

/// The results, recounted from the log; refused until the vote has closed.
pub fn results(conn: &mut DbConnection, id: ElectionId) -> Result<Results> {
    let election = find(conn, id)?;
    if !matches!(election.state, State::Closed | State::Certified) {
        return Err(embargoed());
    }
    recount(conn, id, &election.definition)
}

/// The count of the log's own roster and ballot entries — the same count the offline
/// verifier makes ([`LogCount`]).
fn recount(
    conn: &mut DbConnection,
    id: ElectionId,
    definition: &super::Definition,
) -> Result<Results> {
    let entries = store::entries_of_kind(conn, id, &[Kind::Roster, Kind::Ballot])?;
    Ok(LogCount::of(&entries).results(definition))
}

/// Certifies a closed election: appends the `result` entry, recounted from the log under the
/// election's lock, and marks it certified.
pub fn certify(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
    actor: &str,
) -> Result<(Results, StoredCheckpoint)> {
    crate::log::store::transaction(conn, |conn| {
        let election = lock(conn, id)?;
        match election.state {
            State::Closed => {}
            State::Certified => {
                return Err(Error::conflict(
                    ErrorCode::AlreadyCertified,
                    format!("election {id} is already certified"),
                ));
            }
            _ => return Err(embargoed()),
        }
        let results = recount(conn, id, &election.definition)?;
        let result = entry::result(&id, &results.entry_body());
        let checkpoint = super::enter(
            conn,
            &election,
            State::Certified,
            (actor, "certify"),
            result,
            signer,
        )?;
        Ok((results, checkpoint))
    })
}
