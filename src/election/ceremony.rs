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
    let mut record = Record::new(params(election)?);
    let kinds = [
        Kind::TellerKey,
        Kind::TellerPolynomial,
        Kind::ElectionKey,
        Kind::TellerReady,
    ];
    for body in store::entries_of_kind(conn, election.id, &kinds)? {
        record.add(&body).map_err(|e| {
            Error::Internal(format!("the logged key ceremony is inconsistent: {e}"))
        })?;
    }
    Ok(record)
}
