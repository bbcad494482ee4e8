//! The key ceremony as the election's log records it (the tellers' side is `crate::teller`).

use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::Record;

use super::Election;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::log::entry::Kind;
use crate::log::store;

/// The election's teller parameters.
pub fn params(election: &Election) -> Result<TellerParams> {
    let t = &election.definition.tellers;
    TellerParams::new(t.count as usize, t.threshold as usize)
        .map_err(|e| Error::Internal(format!("stored definition: {e}")))
}

/// The ceremony as logged so far.
pub fn record(conn: &mut DbConnection, election: &Election) -> Result<Record> {
    let mut record = Record::new(election.id, params(election)?);
    for body in store::entries_of_kind(conn, election.id, &Kind::CEREMONY)? {
        record.add(&body).map_err(|e| {
            Error::Internal(format!("the logged key ceremony is inconsistent: {e}"))
        })?;
    }
    Ok(record)
}

/// Where an election's key ceremony stands, for officials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = KeyCeremony)]
pub struct Status {
    /// Tellers in all.
    pub tellers: usize,
    /// Tellers needed to decrypt.
    pub threshold: usize,
    /// Tellers whose key and commitment are logged (round 1).
    pub keys: usize,
    /// Tellers whose polynomial is logged (round 2).
    pub polynomials: usize,
    /// Tellers who hold a checked key share (round 3).
    pub ready: usize,
    /// The election key is logged and every teller is ready: the vote may open.
    pub complete: bool,
    /// Times officials restarted the ceremony to replace a teller who had published.
    pub restarts: usize,
}

impl Status {
    /// The status the logged ceremony gives.
    pub fn of(record: &Record, params: TellerParams) -> Self {
        Self {
            tellers: params.count,
            threshold: params.threshold,
            keys: record.teller_keys().len(),
            polynomials: record.polynomials().len(),
            ready: record.ready().len(),
            complete: record.is_complete(),
            restarts: record.restarts().len(),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.tellers;
        if self.restarts > 0 {
            write!(f, "restarted {}×; ", self.restarts)?;
        }
        if self.complete {
            write!(
                f,
                "complete: the election key is ready ({} of {n} tellers needed to decrypt)",
                self.threshold
            )
        } else if self.keys < n {
            write!(
                f,
                "round 1 of 3: {} of {n} tellers have published their keys",
                self.keys
            )
        } else if self.polynomials < n {
            write!(
                f,
                "round 2 of 3: {} of {n} tellers have published their polynomials",
                self.polynomials
            )
        } else {
            write!(
                f,
                "round 3 of 3: {} of {n} tellers hold a checked key share",
                self.ready
            )
        }
    }
}

/// The election's ceremony status.
pub fn status(conn: &mut DbConnection, election: &Election) -> Result<Status> {
    Ok(Status::of(&record(conn, election)?, params(election)?))
}

/// Refuses once the election has left its draft: the key ceremony happens before the vote.
pub fn still_open(election: &Election) -> Result<()> {
    if !election.state.phase().stands(Kind::TellerKey) {
        return Err(Error::conflict(
            crate::error::ErrorCode::ElectionNotDraft,
            format!(
                "the key ceremony of election {} is over: the election is {}",
                election.id, election.state
            ),
        ));
    }
    Ok(())
}
