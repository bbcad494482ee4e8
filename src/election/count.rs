//! Counting: turnout during the vote (counts of ballots, never choices), the results once the
//! tellers have decrypted them after close, and the officials' certification.

use std::collections::BTreeMap;

use serde::Serialize;

use super::decryption;
use super::{ElectionId, State, find, lock};
use crate::db::DbConnection;
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, Body, Kind};
use crate::log::store::{self, StoredCheckpoint};
use crate::tally::opened;
use crate::tally::{Results, Units};

/// Ballots cast per local during the vote: counts of redeemed tokens, never choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Turnout {
    /// Per local code: (cast, eligible).
    pub locals: BTreeMap<String, LocalTurnout>,
    /// Ballots cast in all locals.
    pub cast: u64,
    /// Members eligible in all locals.
    pub eligible: u64,
}

/// One local's turnout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// The results the tellers' decryption gave (the log's `result` entry, counted under the
/// election's rules); refused before close, and until `threshold` tellers have decrypted.
pub fn results(conn: &mut DbConnection, id: ElectionId) -> Result<Results> {
    let election = find(conn, id)?;
    if !matches!(election.state, State::Closed | State::Certified) {
        return Err(embargoed());
    }
    decrypted(conn, &election)
}

fn decrypted(conn: &mut DbConnection, election: &super::Election) -> Result<Results> {
    let logged = store::entries_of_kind(conn, election.id, &[Kind::Result])?;
    let Some(Body::Result(body)) = logged.into_iter().next() else {
        let count = decryption::log_count(conn, election.id)?;
        if let Err(e) = Units::of(&election.definition, &count.ballots) {
            return Err(Error::conflict(
                ErrorCode::TooFewBallots,
                format!("the result cannot be decrypted: {e}"),
            ));
        }
        let status = decryption::status(conn, election)?;
        return Err(decryption::awaiting(&status));
    };
    opened::stated_counts(&body)
        .and_then(|stated| stated.results(&election.definition))
        .ok_or_else(|| Error::Internal("the logged result does not state its counts".into()))
}

/// Certifies a closed election whose tellers have decrypted the result: logs the official's
/// `certify` and marks it certified.
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
        let results = decrypted(conn, &election)?;
        let checkpoint = super::enter(
            conn,
            &election,
            State::Certified,
            (actor.into(), entry::AdminAction::Certify),
            None,
            signer,
        )?;
        Ok((results, checkpoint))
    })
}
