//! One teller's part in the key ceremony, one pass at a time: publish or send what this
//! teller owes now, read what the others have published and sent it, and move its state on.
//! The `teller setup` command runs a pass with the state file; the demo and the tests run
//! every teller's passes in one process ([`run_all`]).

use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::{Board, Outgoing, Record, Teller};
use strikevote_core::crypto::identity::{fingerprint, verify_share};

use super::secrets::{TellerFile, seal_share};
use super::store::{self, SignedShare};
use crate::db::DbConnection;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, NewEntry};

/// How a teller reaches the ceremony: directly in the database (beside the server, the demo,
/// the tests) or over HTTPS ([`super::remote::Remote`]) — with its invitation code either way.
pub trait Channel {
    /// The election's teller parameters.
    fn params(&mut self) -> Result<TellerParams>;
    /// The ceremony as logged so far (replayed and checked by the teller itself).
    fn record(&mut self) -> Result<Record>;
    /// Appends one of this teller's public messages.
    fn publish(&mut self, message: NewEntry) -> Result<()>;
    /// Whether this teller's secret shares are stored.
    fn has_sent(&mut self) -> Result<bool>;
    /// Stores this teller's secret shares, each sealed to its recipient and signed.
    fn send_shares(&mut self, sealed: &[SignedShare]) -> Result<()>;
    /// The sealed shares sent to this teller, by sender.
    fn shares(&mut self) -> Result<Vec<SignedShare>>;
    /// The whole log, its latest checkpoint and the key the server says signs it (a bundle's
    /// three files; the teller pins the key once and never takes it from the server again).
    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)>;
}

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

impl Channel for Direct<'_> {
    fn params(&mut self) -> Result<TellerParams> {
        self.invited()?;
        store::params(&election::find(self.conn, self.id)?)
    }

    fn record(&mut self) -> Result<Record> {
        let election = election::find(self.conn, self.id)?;
        store::record(self.conn, &election)
    }

    fn publish(&mut self, message: NewEntry) -> Result<()> {
        self.invited()?;
        store::publish(self.conn, self.id, message, self.signer)
    }

    fn has_sent(&mut self) -> Result<bool> {
        store::has_sent(self.conn, self.id, self.teller)
    }

    fn send_shares(&mut self, sealed: &[SignedShare]) -> Result<()> {
        self.invited()?;
        store::send_shares(self.conn, self.id, self.teller, sealed)
    }

    fn shares(&mut self) -> Result<Vec<SignedShare>> {
        self.invited()?;
        store::shares_for(self.conn, self.id, self.teller)
    }

    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)> {
        crate::audit::bundle_files(self.conn, self.id, self.signer)
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
/// whenever the state moved on (before anything that depends on it is published). The
/// ceremony goes past round 1 only once the teller has confirmed every other teller's
/// fingerprint ([`TellerFile::confirmed`]); every key, message and share is checked against
/// the identities so confirmed.
pub fn take_part(
    channel: &mut dyn Channel,
    id: ElectionId,
    file: &mut TellerFile,
    log_key: Option<&str>,
    save: &mut dyn FnMut(&TellerFile) -> Result<()>,
) -> Result<Progress> {
    let count = channel.params()?.count;
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    // Before anything is published: the log is the one pinned (or, the first time, signed by
    // the key the teller was given).
    let min = pin_log(channel, file, log_key, save)?;
    loop {
        let record = channel.record()?;
        check_identities(&record, file, me)?;
        let published = publish_mine(channel, id, me, file, &record)?;
        let record = if published { channel.record()? } else { record };
        check_identities(&record, file, me)?;
        if let Some(waiting) = unconfirmed(&record, file, count, me) {
            return Ok(with_minimum(waiting, min));
        }
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
            if record.teller_keys().contains_key(&me) {
                pin_log(channel, file, log_key, save)?;
            }
            return Ok(with_minimum(progress(&record, count, me), min));
        }
    }
}

/// The election's minimum per decrypted total, said once the key is ready — and at every step
/// when it is below what is advised, so the teller can raise it with the officials before the
/// vote opens.
fn with_minimum(mut progress: Progress, min: u32) -> Progress {
    use strikevote_core::definition::SmallLocals;
    let said = if min < SmallLocals::ADVISED_MIN {
        format!(
            "warning: this election decrypts totals of as few as {min} ballot(s) \
             (small_locals.min_ballots): the result of a local with that few shows how its \
             members voted; ask the officials why before the vote opens"
        )
    } else if progress.complete {
        format!(
            "no total of fewer than {min} ballots will be decrypted: smaller locals are counted \
             together"
        )
    } else {
        return progress;
    };
    progress.message = format!("{said}\n{}", progress.message);
    progress
}

/// Checks the whole log as it stands against this teller's pin (the first time: pins it) and
/// moves the pin to its latest checkpoint; the election's minimum ballots per decrypted total.
fn pin_log(
    channel: &mut dyn Channel,
    file: &mut TellerFile,
    log_key: Option<&str>,
    save: &mut dyn FnMut(&TellerFile) -> Result<()>,
) -> Result<u32> {
    let checked = super::pin::check(file, channel.bundle()?, log_key)?;
    if file.pin.as_ref() != Some(&checked.pin) {
        file.pin = Some(checked.pin);
        save(file)?;
    }
    Ok(checked.fold.definition.small_locals.min_ballots)
}

/// The error for a ceremony someone tampered with: what happened, and that the vote must not
/// open.
fn tampered(what: String) -> Error {
    Error::conflict(
        ErrorCode::CeremonyRefused,
        format!(
            "{what}. Stop: tell the other tellers and the officials; do not let the vote open \
             (docs/TELLERS.md, \"What can go wrong\")"
        ),
    )
}

/// This teller's seat must hold its own keys, and every other teller's identity must be the
/// one that teller read out (where it has been confirmed).
fn check_identities(record: &Record, file: &TellerFile, me: u32) -> Result<()> {
    let keys = record.teller_keys();
    if let Some(mine) = keys.get(&me) {
        let identity = file
            .signing_key()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let recipient = file
            .recipient()
            .map_err(|e| Error::Internal(e.to_string()))?;
        if mine.identity != identity.public_hex() || mine.recipient != recipient {
            return Err(tampered(format!(
                "someone else holds your seat: the log's key for teller {me} (fingerprint {}) is \
                 not the one in your state file (fingerprint {})",
                fingerprint(&mine.identity).unwrap_or_default(),
                identity.fingerprint()
            )));
        }
    }
    for (teller, confirmed) in &file.confirmed {
        if let Some(key) = keys.get(teller)
            && fingerprint(&key.identity).as_deref() != Some(confirmed.as_str())
        {
            return Err(tampered(format!(
                "teller {teller}'s key on the server (fingerprint {}) is not the one teller \
                 {teller} read to you ({confirmed}): the server, or something between you and \
                 it, substituted it — or someone else took teller {teller}'s seat",
                fingerprint(&key.identity).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// While every teller's key is in but this teller has not confirmed the others' fingerprints,
/// the ceremony waits here: what to do next.
fn unconfirmed(record: &Record, file: &TellerFile, count: usize, me: u32) -> Option<Progress> {
    let keys = record.teller_keys();
    if keys.len() < count || !matches!(file.state, Teller::Committing(_)) {
        return None;
    }
    let missing: Vec<u32> = (1..=count as u32)
        .filter(|t| *t != me && !file.confirmed.contains_key(t))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let flags: Vec<String> = missing
        .iter()
        .map(|t| format!("--confirm {t}=<fingerprint teller {t} reads you>"))
        .collect();
    Some(Progress {
        complete: false,
        message: format!(
            "teller {me}: round 1 done; every teller's key is in. Before going on, confirm the \
             other tellers' fingerprints outside the server (by phone or in person: each reads \
             you theirs, you read them yours, {}), then run again with {}",
            file.fingerprint().unwrap_or_default(),
            flags.join(" ")
        ),
    })
}

/// Publishes (or sends) whatever this teller owes the ceremony now; whether it did.
fn publish_mine(
    channel: &mut dyn Channel,
    id: ElectionId,
    me: u32,
    file: &TellerFile,
    record: &Record,
) -> Result<bool> {
    let identity = file
        .signing_key()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let message = match file.state.outgoing() {
        Outgoing::Commitment(c) if !record.teller_keys().contains_key(&me) => {
            let recipient = file
                .recipient()
                .map_err(|e| Error::Internal(e.to_string()))?;
            Some(entry::teller_key(&id, me, &identity, &recipient, &c))
        }
        Outgoing::Polynomial(p) if !record.polynomials().contains_key(&me) => {
            Some(entry::teller_polynomial(&id, me, &p, &identity))
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
                let signature = identity.sign_share(&id, me, to, &bytes);
                sealed.push(SignedShare {
                    teller: to,
                    sealed: bytes,
                    signature,
                });
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
            Some(entry::teller_ready(&id, me, &identity))
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
    let id = ElectionId::parse(&file.election).map_err(|e| Error::Internal(e.to_string()))?;
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    for SignedShare {
        teller: from,
        sealed,
        signature,
    } in channel.shares()?
    {
        let sender = record
            .teller_keys()
            .get(&from)
            .map(|k| k.identity.as_str())
            .unwrap_or_default();
        verify_share(sender, &id, from, me, &sealed, &signature).map_err(|e| {
            tampered(format!(
                "the secret share from teller {from} does not check out ({e}): the server, or \
                 something between you and it, altered or swapped it"
            ))
        })?;
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
/// Issues fresh invitation codes; returns each teller's file with its code.
pub fn run_all(
    conn: &mut DbConnection,
    signer: &LogKey,
    id: ElectionId,
) -> Result<Vec<(TellerFile, String)>> {
    let election = election::find(conn, id)?;
    let params = store::params(&election)?;
    let mut files = (0..params.count)
        .map(|i| {
            Teller::new(params, i, &mut rand::rngs::OsRng)
                .map(|state| TellerFile::new(id, i + 1, state))
                .map_err(|e| Error::Internal(e.to_string()))
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
