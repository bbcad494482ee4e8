//! After close, the tellers' decryption shares: checked against each teller's key share from
//! the ceremony and the sums of the log's ballots, logged as `tally_share` entries, and — with
//! the `threshold`-th — combined into the counts of the `result` entry. No single ballot is
//! ever decrypted: only each local's sums are.

use strikevote_core::crypto::tally::TallyError;

use super::{Election, ElectionId, State, ceremony, lock};
use crate::db::DbConnection;
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, Body, Kind, TallyShare};
use crate::log::store::{self, StoredCheckpoint};
use crate::tally::LogCount;
use crate::tally::opened;

pub use strikevote_teller::decrypt::Status;

/// Where the decryption of `election` stands.
pub fn status(conn: &mut DbConnection, election: &Election) -> Result<Status> {
    let logged = store::entries_of_kind(conn, election.id, &[Kind::TallyShare, Kind::Result])?;
    Ok(Status {
        shared: logged
            .iter()
            .filter_map(|b| match b {
                Body::TallyShare(s) => Some(s.teller),
                _ => None,
            })
            .collect(),
        threshold: ceremony::params(election)?.threshold,
        decrypted: logged.iter().any(|b| matches!(b, Body::Result(_))),
    })
}

/// The error for results asked for before the tellers have decrypted them.
pub fn awaiting(status: &Status) -> Error {
    Error::conflict(
        ErrorCode::AwaitingTellers,
        format!(
            "the results are not decrypted yet: {status}; each teller runs `strikevote teller \
             decrypt` (docs/TELLERS.md)"
        ),
    )
}

/// What the log's roster and ballot entries add up to (sums still encrypted).
pub fn log_count(conn: &mut DbConnection, id: ElectionId) -> Result<LogCount> {
    let entries = store::entries_of_kind(conn, id, &[Kind::Roster, Kind::Ballot])?;
    Ok(LogCount::of(id, &entries))
}

/// The largest body a teller's shares for `definition` can need (a `tally_share` entry's fields:
/// one share of each choice for each total opened — at most every local and the group — with
/// generous room for codes, proofs and the signature); anything larger is refused unread.
pub fn share_body_limit(definition: &super::Definition) -> usize {
    let totals = definition.locals.len() + 1;
    4096 + totals * (96 + definition.choices.len() * 320)
}

/// Refuses decryption shares for `election` before any is read: before close, after the
/// result, or addressed to a teller number it does not have (`teller`, once known).
pub fn open_to_shares(election: &Election, teller: Option<u32>) -> Result<()> {
    let id = election.id;
    if !election.state.phase().stands(Kind::TallyShare) {
        return Err(if election.state == State::Certified {
            Error::conflict(
                ErrorCode::AlreadyDecrypted,
                format!("election {id} is certified: its results were decrypted"),
            )
        } else {
            Error::conflict(
                ErrorCode::ElectionNotOpen,
                format!(
                    "election {id} is {}: tellers decrypt only after the vote closes",
                    election.state
                ),
            )
        });
    }
    let count = election.definition.tellers.count;
    match teller {
        Some(t) if t == 0 || t > count => Err(Error::bad_input(
            ErrorCode::BadShare,
            format!("election {id} has {count} teller(s): there is no teller {t}"),
        )),
        _ => Ok(()),
    }
}

/// What became of a teller's shares.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// Where the decryption stands now.
    pub status: Status,
    /// The checkpoint covering the shares (and the result, if they completed it).
    pub checkpoint: StoredCheckpoint,
}

/// Accepts teller `share.teller`'s decryption shares for a closed election from anyone, if
/// every proof verifies against that teller's key share; logs them and, if they are the
/// `threshold`-th, the result they open, in the same append.
pub fn submit(
    conn: &mut DbConnection,
    id: ElectionId,
    share: TallyShare,
    signer: &LogKey,
) -> Result<Accepted> {
    store::transaction(conn, |conn| {
        let election = lock(conn, id)?;
        let logged = Logged::read(conn, &election)?;
        let mut status = logged.status.clone();
        acceptable(&election, &status, share.teller)?;
        let keys = logged
            .record
            .election_key()
            .ok_or_else(|| Error::Internal("a closed election without an election key".into()))?;
        let count = &logged.count;
        opened::check(&election.definition, keys, count, &share).map_err(refused)?;
        let closed = store::closed_prefix(conn, &election)?;
        if closed.as_ref() != Some(&share.closed) {
            return Err(Error::bad_input(
                ErrorCode::BadShare,
                format!(
                    "teller {}'s shares were made on another log (up to its close: {} entries, \
                     root {}) than this election's: they cannot be combined with its shares",
                    share.teller, share.closed.size, share.closed.root
                ),
            ));
        }
        logged
            .record
            .check_signed(&Body::TallyShare(share.clone()))
            .map_err(|e| Error::bad_input(ErrorCode::BadShare, e))?;
        let mut made = vec![entry::as_given(&id, Body::TallyShare(share.clone()))];
        status.shared.push(share.teller);
        if status.shared.len() >= status.threshold {
            let mut shares = logged.shares.clone();
            shares.push(share);
            let definition = &election.definition;
            let opened = opened::open(definition, keys, count, &shares).map_err(refused)?;
            let results = opened.results(definition, count);
            let body =
                opened::result_body(&results, &opened, definition, count).map_err(refused)?;
            made.push(entry::result(&id, body));
            status.decrypted = true;
        }
        let appended = store::append(conn, &election, &made, signer)?;
        Ok(Accepted {
            status,
            checkpoint: appended.checkpoint,
        })
    })
}

/// What a share submission needs from the log, read in one pass: the key ceremony, the
/// rosters and ballots counted, the shares already in and whether the result is.
struct Logged {
    record: strikevote_core::crypto::ceremony::Record,
    count: LogCount,
    shares: Vec<TallyShare>,
    status: Status,
}

impl Logged {
    fn read(conn: &mut DbConnection, election: &Election) -> Result<Self> {
        let kinds = [
            Kind::TellerKey,
            Kind::TellerPolynomial,
            Kind::ElectionKey,
            Kind::TellerReady,
            Kind::CeremonyRestart,
            Kind::Roster,
            Kind::Ballot,
            Kind::TallyShare,
            Kind::Result,
        ];
        let mut record = strikevote_core::crypto::ceremony::Record::new(
            election.id,
            ceremony::params(election)?,
        );
        let mut count = LogCount::new(election.id);
        let (mut shares, mut decrypted) = (Vec::new(), false);
        for body in store::entries_of_kind(conn, election.id, &kinds)? {
            match &body {
                Body::TallyShare(s) => shares.push(s.clone()),
                Body::Result(_) => decrypted = true,
                Body::Roster(_) | Body::Ballot(_) => count.add(&body),
                _ => record.add(&body).map_err(|e| {
                    Error::Internal(format!("the logged key ceremony is inconsistent: {e}"))
                })?,
            }
        }
        let status = Status {
            shared: shares.iter().map(|s| s.teller).collect(),
            threshold: ceremony::params(election)?.threshold,
            decrypted,
        };
        Ok(Self {
            record,
            count,
            shares,
            status,
        })
    }
}

/// Refuses shares for an election that is not closed, already decrypted, or that this teller
/// has already given.
fn acceptable(election: &Election, status: &Status, teller: u32) -> Result<()> {
    let id = election.id;
    open_to_shares(election, Some(teller))?;
    if status.decrypted {
        return Err(Error::conflict(
            ErrorCode::AlreadyDecrypted,
            format!("election {id}'s results are already decrypted: {status}"),
        ));
    }
    if status.shared.contains(&teller) {
        return Err(Error::conflict(
            ErrorCode::AlreadyDecrypted,
            format!("teller {teller} has already decrypted election {id}: {status}"),
        ));
    }
    Ok(())
}

fn refused(e: TallyError) -> Error {
    Error::bad_input(
        ErrorCode::BadShare,
        format!("the decryption shares are refused: {e}"),
    )
}
