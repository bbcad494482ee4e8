//! The key ceremony beside the server: a teller's passes through the database ([`Direct`], for
//! `strikevote teller setup` without `--server`), and every teller's in one process
//! ([`run_all`], the demo and the tests). The passes themselves are the teller crate's
//! ([`strikevote_teller::ceremony`]), the same code a teller runs on their own machine.

use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::{Record, Teller};
pub use strikevote_teller::ceremony::{Channel, Progress, SignedShare, take_part};
use strikevote_teller::secrets::TellerFile;

use super::store;
use crate::db::DbConnection;
use crate::election::{self, ElectionId};
use crate::error::{Error, Result};
use crate::log::LogKey;
use crate::log::entry::NewEntry;

/// The ceremony in the database, as teller `teller` with its invitation code.
pub struct Direct<'a> {
    /// The connection.
    pub conn: &'a mut DbConnection,
    /// The log key.
    pub signer: &'a LogKey,
    /// The election.
    pub id: ElectionId,
    /// The teller (1-based).
    pub teller: u32,
    /// Its invitation code: required beside the server too, so whoever runs the server cannot
    /// take a teller's seat without the code the officials gave that teller.
    pub invitation: String,
}

impl Direct<'_> {
    fn invited(&mut self) -> Result<()> {
        super::invitations::check(self.conn, self.id, self.teller, &self.invitation)
    }
}

/// The teller crate's results from the service's.
fn ours<T>(r: Result<T>) -> strikevote_teller::Result<T> {
    r.map_err(strikevote_teller::Error::from)
}

impl Channel for Direct<'_> {
    fn params(&mut self) -> strikevote_teller::Result<TellerParams> {
        ours(self.invited())?;
        ours(election::find(self.conn, self.id).and_then(|e| store::params(&e)))
    }

    fn record(&mut self) -> strikevote_teller::Result<Record> {
        ours(election::find(self.conn, self.id).and_then(|e| store::record(self.conn, &e)))
    }

    fn publish(&mut self, message: NewEntry) -> strikevote_teller::Result<()> {
        ours(self.invited())?;
        ours(store::publish(self.conn, self.id, message, self.signer))
    }

    fn has_sent(&mut self) -> strikevote_teller::Result<bool> {
        ours(store::has_sent(self.conn, self.id, self.teller))
    }

    fn send_shares(&mut self, sealed: &[SignedShare]) -> strikevote_teller::Result<()> {
        ours(self.invited())?;
        ours(store::send_shares(self.conn, self.id, self.teller, sealed))
    }

    fn shares(&mut self) -> strikevote_teller::Result<Vec<SignedShare>> {
        ours(self.invited())?;
        ours(store::shares_for(self.conn, self.id, self.teller))
    }

    fn bundle(&mut self) -> strikevote_teller::Result<(Vec<u8>, String, String)> {
        ours(crate::audit::bundle_files(self.conn, self.id, self.signer))
    }
}

/// Runs the whole ceremony in this process with every teller's state in memory (the demo and
/// the tests: a real election has each teller run `teller setup` on their own machine).
/// Issues fresh invitation codes; returns each teller's file with its code.
pub fn run_all(
    conn: &mut DbConnection,
    signer: &LogKey,
    id: ElectionId,
) -> Result<Vec<(TellerFile, String)>> {
    let election = election::find(conn, id)?;
    let params = store::params(&election)?;
    let restarts = store::record(conn, &election)?.restarts().len();
    let mut files = (0..params.count)
        .map(|i| {
            let state = Teller::new(params, i, &mut rand::rngs::OsRng)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let mut file = TellerFile::new(id, i + 1, state);
            file.ceremony = restarts;
            Ok(file)
        })
        .collect::<Result<Vec<_>>>()?;
    // Every teller is in this process: each "reads" the others their fingerprints.
    let fingerprints = files
        .iter()
        .map(|f| f.fingerprint().map_err(|e| Error::Internal(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    for file in &mut files {
        file.confirmed = (1..=params.count as u32)
            .filter(|t| *t as usize != file.teller)
            .map(|t| (t, fingerprints[t as usize - 1].clone()))
            .collect();
    }
    let invitations = super::invitations::issue(conn, id)?;
    for _round in 0..5 {
        let mut complete = false;
        for file in &mut files {
            let teller = u32::try_from(file.teller).unwrap_or(u32::MAX);
            let invitation = invitations
                .iter()
                .find(|(t, _)| *t == teller)
                .map(|(_, code)| code.clone())
                .unwrap_or_default();
            let mut channel = Direct {
                conn: &mut *conn,
                signer,
                id,
                teller,
                invitation,
            };
            complete = take_part(&mut channel, id, file, None, &mut |_| Ok(()))?.complete;
        }
        if complete {
            let mut codes = invitations.into_iter().map(|(_, code)| code);
            return Ok(files
                .into_iter()
                .map(|f| (f, codes.next().unwrap_or_default()))
                .collect());
        }
    }
    Err(Error::Internal(
        "the in-process key ceremony did not complete".into(),
    ))
}
