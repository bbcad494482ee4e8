//! One teller's part in the key ceremony, one pass at a time: publish or send what this
//! teller owes now, read what the others have published and sent it, and move its state on.
//! The `teller setup` command runs a pass with the state file; the demo and the tests run
//! every teller's passes in one process ([`run_all`]).

use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::{Board, Outgoing, Record, Teller};

use super::secrets::{TellerFile, seal_share};
use super::store;
use crate::db::DbConnection;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, NewEntry};

/// How a teller reaches the ceremony: directly in the database (beside the server, the demo,
/// the tests) or over HTTPS with its invitation code ([`super::remote::Remote`]).
pub trait Channel {
    /// The election's teller parameters.
    fn params(&mut self) -> Result<TellerParams>;
    /// The ceremony as logged so far (replayed and checked by the teller itself).
    fn record(&mut self) -> Result<Record>;
    /// Appends one of this teller's public messages.
    fn publish(&mut self, message: NewEntry) -> Result<()>;
    /// Whether this teller's secret shares are stored.
    fn has_sent(&mut self) -> Result<bool>;
    /// Stores this teller's secret shares, each sealed to its recipient.
    fn send_shares(&mut self, sealed: &[(u32, Vec<u8>)]) -> Result<()>;
    /// The sealed shares sent to this teller, by sender.
    fn shares(&mut self) -> Result<Vec<(u32, Vec<u8>)>>;
}

/// The ceremony in the database, as teller `teller`.
pub struct Direct<'a> {
    /// The connection.
    pub conn: &'a mut DbConnection,
    /// The log key.
    pub signer: &'a LogKey,
    /// The election.
    pub id: ElectionId,
    /// The teller (1-based).
    pub teller: u32,
}

impl Channel for Direct<'_> {
    fn params(&mut self) -> Result<TellerParams> {
        store::params(&election::find(self.conn, self.id)?)
    }

    fn record(&mut self) -> Result<Record> {
        let election = election::find(self.conn, self.id)?;
        store::record(self.conn, &election)
    }

    fn publish(&mut self, message: NewEntry) -> Result<()> {
        store::publish(self.conn, self.id, message, self.signer)
    }

    fn has_sent(&mut self) -> Result<bool> {
        store::has_sent(self.conn, self.id, self.teller)
    }

    fn send_shares(&mut self, sealed: &[(u32, Vec<u8>)]) -> Result<()> {
        store::send_shares(self.conn, self.id, self.teller, sealed)
    }

    fn shares(&mut self) -> Result<Vec<(u32, Vec<u8>)>> {
        store::shares_for(self.conn, self.id, self.teller)
    }
}

/// Where the ceremony stands after a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Whether the election key is logged and every teller is ready.
    pub complete: bool,
    /// One line for the teller.
    pub message: String,
}

/// Runs passes for teller `file.teller` until nothing more can be done now; `save` is called
/// whenever the state moved on (before anything that depends on it is published).
pub fn take_part(
    channel: &mut dyn Channel,
    id: ElectionId,
    file: &mut TellerFile,
    save: &mut dyn FnMut(&TellerFile) -> Result<()>,
) -> Result<Progress> {
    let count = channel.params()?.count;
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    let logged = channel.record()?;
    if let Some(key) = logged.teller_keys().get(&me) {
        let mine = file
            .recipient()
            .map_err(|e| Error::Internal(e.to_string()))?;
        if key.recipient != mine {
            return Err(Error::conflict(
                ErrorCode::CeremonyRefused,
                format!(
                    "teller {me} already took part in the key ceremony of election {id} with \
                     another state file; use that file (a new one cannot replace it)"
                ),
            ));
        }
    }
    loop {
        let record = channel.record()?;
        let published = publish_mine(channel, id, me, file, &record)?;
        let record = if published { channel.record()? } else { record };
        let board = board(channel, file, &record, count)?;
        let (next, moved) = file
            .state
            .clone()
            .advance(&board)
            .map_err(|e| Error::conflict(ErrorCode::CeremonyRefused, e.to_string()))?;
        if moved {
            file.state = next;
            save(file)?;
        }
        if !published && !moved {
            return Ok(progress(&record, count, me));
        }
    }
}

/// Publishes (or sends) whatever this teller owes the ceremony now; whether it did.
fn publish_mine(
    channel: &mut dyn Channel,
    id: ElectionId,
    me: u32,
    file: &TellerFile,
    record: &Record,
) -> Result<bool> {
    let message = match file.state.outgoing() {
        Outgoing::Commitment(c) if !record.teller_keys().contains_key(&me) => {
            let recipient = file
                .recipient()
                .map_err(|e| Error::Internal(e.to_string()))?;
            Some(entry::teller_key(&id, me, &recipient, &c))
        }
        Outgoing::Polynomial(p) if !record.polynomials().contains_key(&me) => {
            Some(entry::teller_polynomial(&id, me, &p))
        }
        Outgoing::Shares(shares) if !channel.has_sent()? => {
            let mut sealed = Vec::with_capacity(shares.len());
            for (to, share) in shares {
                let to = to as u32 + 1;
                let recipient = record
                    .teller_keys()
                    .get(&to)
                    .map(|k| k.recipient.as_str())
                    .unwrap_or_default();
                let bytes = seal_share(recipient, &share).map_err(|e| {
                    Error::conflict(ErrorCode::CeremonyRefused, format!("teller {to}: {e}"))
                })?;
                sealed.push((to, bytes));
            }
            channel.send_shares(&sealed)?;
            return Ok(true);
        }
        Outgoing::Ready(keys) if !record.ready().contains(&me) => {
            let Some(logged) = record.election_key() else {
                return Ok(false);
            };
            if logged.shared_key() != keys.shared_key()
                || logged.participant_keys() != keys.participant_keys()
            {
                return Err(Error::conflict(
                    ErrorCode::CeremonyRefused,
                    "this teller's key share does not match the logged election key: do not \
                     open the vote; contact the other tellers",
                ));
            }
            Some(entry::teller_ready(&id, me))
        }
        _ => None,
    };
    match message {
        Some(m) => {
            channel.publish(m)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The ceremony as this teller sees it: the public messages and its own secret shares.
fn board(
    channel: &mut dyn Channel,
    file: &TellerFile,
    record: &Record,
    count: usize,
) -> Result<Board> {
    let mut board = Board {
        commitments: vec![None; count],
        polynomials: vec![None; count],
        shares: vec![None; count],
    };
    for (t, k) in record.teller_keys() {
        let c: [u8; 32] = hex::decode(&k.commitment)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Internal("a logged commitment is malformed".into()))?;
        board.commitments[*t as usize - 1] = Some(c);
    }
    for (t, p) in record.polynomials() {
        board.polynomials[*t as usize - 1] = Some(p.clone());
    }
    for (from, sealed) in channel.shares()? {
        let share = file.open_share(&sealed).map_err(|e| {
            Error::conflict(ErrorCode::CeremonyRefused, format!("teller {from}: {e}"))
        })?;
        if let Some(slot) = (from as usize)
            .checked_sub(1)
            .and_then(|i| board.shares.get_mut(i))
        {
            *slot = Some(share);
        }
    }
    Ok(board)
}

/// One line saying where the ceremony stands.
fn progress(record: &Record, count: usize, me: u32) -> Progress {
    Progress {
        complete: record.is_complete(),
        message: progress_line(record, count, me),
    }
}

fn progress_line(record: &Record, count: usize, me: u32) -> String {
    let all: Vec<u32> = (1..=count as u32).collect();
    let missing = |have: &dyn Fn(u32) -> bool| {
        let who: Vec<String> = all
            .iter()
            .filter(|t| !have(**t))
            .map(u32::to_string)
            .collect();
        who.join(", ")
    };
    if record.is_complete() {
        return format!("the election key is ready: all {count} tellers hold their key shares");
    }
    if record.teller_keys().len() < count {
        let who = missing(&|t| record.teller_keys().contains_key(&t));
        return format!("teller {me}: round 1 done; waiting for the keys of tellers {who}");
    }
    if record.polynomials().len() < count {
        let who = missing(&|t| record.polynomials().contains_key(&t));
        return format!("teller {me}: round 2 done; waiting for the polynomials of tellers {who}");
    }
    let who = missing(&|t| record.ready().contains(&t));
    format!(
        "teller {me}: waiting for tellers {who} to exchange their secret shares and check them (run again later)"
    )
}

/// Runs the whole ceremony in this process with every teller's state in memory (the demo and
/// the tests: a real election has each teller run `teller setup` on their own machine).
pub fn run_all(
    conn: &mut DbConnection,
    signer: &LogKey,
    id: ElectionId,
) -> Result<Vec<TellerFile>> {
    let election = election::find(conn, id)?;
    let params = store::params(&election)?;
    let mut files = (0..params.count)
        .map(|i| {
            Teller::new(params, i, &mut rand::rngs::OsRng)
                .map(|state| TellerFile::new(id, i + 1, state))
                .map_err(|e| Error::Internal(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    for _round in 0..4 {
        let mut complete = false;
        for file in &mut files {
            let teller = u32::try_from(file.teller).unwrap_or(u32::MAX);
            let mut channel = Direct {
                conn: &mut *conn,
                signer,
                id,
                teller,
            };
            complete = take_part(&mut channel, id, file, &mut |_| Ok(()))?.complete;
        }
        if complete {
            return Ok(files);
        }
    }
    Err(Error::Internal(
        "the in-process key ceremony did not complete".into(),
    ))
}
