//! A teller's part after close: check the whole log as an auditor would (signature, tree, every
//! ballot's proofs, the ceremony), add up each local's sealed ballots itself, and publish its
//! decryption shares of those sums with proofs. The teller never decrypts anything the server
//! hands it: a server that passed off one member's ballot as a sum would have to log it as the
//! only ballot of a local, in a log everyone can check.

use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::Record;
use strikevote_core::verify::verify_bundle;

use super::secrets::TellerFile;
use crate::audit;
use crate::db::DbConnection;
use crate::election::decryption::{self, Status};
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{Body, Entry, TallyShare};
use crate::tally::{LogCount, opened};

/// How a teller reaches the count: the log as a bundle, and where shares go.
pub trait TallyChannel {
    /// The log, its latest signed checkpoint and the verifier key (a bundle's three files).
    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)>;
    /// Submits this teller's shares; where the decryption stands after them.
    fn submit(&mut self, share: &TallyShare) -> Result<Status>;
}

/// The count in the database, beside the server.
pub struct DirectTally<'a> {
    /// The connection.
    pub conn: &'a mut DbConnection,
    /// The log key.
    pub signer: &'a LogKey,
    /// The election.
    pub id: ElectionId,
}

impl TallyChannel for DirectTally<'_> {
    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)> {
        audit::bundle_files(self.conn, self.id, self.signer)
    }

    fn submit(&mut self, share: &TallyShare) -> Result<Status> {
        Ok(decryption::submit(self.conn, self.id, share.clone(), self.signer)?.status)
    }
}

/// What `teller decrypt` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This teller's shares were accepted: the log they were made from (its size and root, to
    /// compare with the published checkpoint) and where the decryption stands now.
    Submitted {
        /// Entries in the log the teller checked.
        size: u64,
        /// Its root, base64 as in the checkpoint.
        root: String,
        /// Where the decryption stands.
        status: Status,
    },
    /// Nothing to do: this teller's shares are already in, or the result is.
    NothingToDo(String),
}

/// Checks the log and submits `file`'s teller's decryption shares of every local's sums.
pub fn decrypt(
    channel: &mut dyn TallyChannel,
    id: ElectionId,
    file: &TellerFile,
) -> Result<Outcome> {
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    let (log, checkpoint, key) = channel.bundle()?;
    let report = verify_bundle(&log, &checkpoint, &key).map_err(|e| {
        Error::conflict(
            ErrorCode::BadShare,
            format!("the election's log does not verify, so this teller decrypts nothing: {e}"),
        )
    })?;
    if report.election != id.to_string() {
        return Err(Error::Internal(format!(
            "the server sent the log of election {}, not {id}",
            report.election
        )));
    }
    if report.phase != "closed" {
        return Err(Error::conflict(
            ErrorCode::ElectionNotOpen,
            format!(
                "election {id} has not closed (its log says {}): tellers decrypt only after close",
                report.phase
            ),
        ));
    }
    if let Some((_, opened)) = &report.result {
        return Ok(Outcome::NothingToDo(format!(
            "the results are already decrypted (by teller(s) {:?}); nothing to do",
            opened.tellers
        )));
    }
    if report.shares.contains(&me) {
        return Ok(Outcome::NothingToDo(format!(
            "teller {me}'s shares are already in; waiting for the other tellers"
        )));
    }
    let (definition, count, record) = read_log(&log)?;
    let active = file.state.active().ok_or_else(|| {
        Error::conflict(
            ErrorCode::KeyNotReady,
            format!("teller {me}'s state file has not finished the key ceremony"),
        )
    })?;
    let logged = record
        .election_key()
        .ok_or_else(|| Error::Internal("the log has no election key".into()))?;
    if logged.shared_key() != active.key_set().shared_key() {
        return Err(Error::conflict(
            ErrorCode::KeyNotReady,
            format!("this state file holds a key share of another election key than {id}'s"),
        ));
    }
    let shares = opened::decrypt(&definition, &count, active, &mut rand::rngs::OsRng)
        .ok_or_else(|| Error::Internal("a decryption share could not be made".into()))?;
    let status = channel.submit(&TallyShare { teller: me, shares })?;
    Ok(Outcome::Submitted {
        size: report.size,
        root: report.root,
        status,
    })
}

/// The definition, the count and the ceremony of a verified log.
fn read_log(log: &[u8]) -> Result<(election::Definition, LogCount, Record)> {
    let mut bodies = log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| Entry::parse(l).map(|e| e.body));
    let unreadable = |e| Error::Internal(format!("a verified entry is unreadable: {e}"));
    let Some(Ok(Body::Election(definition))) = bodies.next() else {
        return Err(Error::Internal(
            "the log does not start with its election".into(),
        ));
    };
    let t = &definition.tellers;
    let params = TellerParams::new(t.count as usize, t.threshold as usize)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut record = Record::new(params);
    let mut count = LogCount::default();
    for body in bodies {
        let body = body.map_err(unreadable)?;
        if matches!(
            body,
            Body::TellerKey(_)
                | Body::TellerPolynomial(_)
                | Body::ElectionKey(_)
                | Body::TellerReady(_)
        ) {
            record.add(&body).map_err(Error::Internal)?;
        }
        count.add(&body);
    }
    Ok((definition, count, record))
}
