//! One teller's part in the key ceremony, one pass at a time: publish or send what this
//! teller owes now, read what the others have published and sent it, and move its state on.
//! `strikevote-teller setup` runs a pass with the state file over HTTPS
//! ([`crate::remote::Remote`]); the service runs the same passes through its database.

use strikevote_core::ElectionId;
use strikevote_core::crypto::TellerParams;
use strikevote_core::crypto::ceremony::{Board, Outgoing, Record};
use strikevote_core::crypto::identity::{fingerprint, verify_share};
use strikevote_core::entry::{self, NewEntry};

use crate::error::{Error, Result, code};
use crate::secrets::{TellerFile, seal_share};

/// How a teller reaches the ceremony: directly in the database (beside the server, the demo,
/// the tests) or over HTTPS ([`crate::remote::Remote`]) — with its invitation code either way.
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

/// A secret share as it travels between tellers: its recipient or sender, the age-sealed
/// bytes, and the sender's signature over them ([`strikevote_core::crypto::identity`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedShare {
    /// The other teller (recipient when sending, sender when receiving), 1-based.
    pub teller: u32,
    /// The age-encrypted share.
    pub sealed: Vec<u8>,
    /// The sender's signature, 128 hex digits.
    pub signature: String,
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
    let params = channel.params()?;
    let count = params.count;
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    // Before anything is published: the log is the one pinned (or, the first time, signed by
    // the key the teller was given).
    let min = pin_log(channel, file, log_key, save)?;
    let mut restarted = None;
    let said = |progress: Progress, restarted: &Option<String>| {
        let mut progress = with_minimum(progress, min);
        if let Some(notice) = restarted {
            progress.message = format!("{notice}\n{}", progress.message);
        }
        progress
    };
    loop {
        let record = channel.record()?;
        if let Some(notice) = follow_restarts(&record, file, (me, params), save)? {
            restarted = Some(notice);
        }
        check_identities(&record, file, me)?;
        let published = publish_mine(channel, id, me, file, &record)?;
        let record = if published { channel.record()? } else { record };
        check_identities(&record, file, me)?;
        if let Some(waiting) = unconfirmed(&record, file, count, me) {
            return Ok(said(waiting, &restarted));
        }
        let board = board(channel, file, &record, count)?;
        let (next, moved) = file
            .state
            .clone()
            .advance(&board)
            .map_err(|e| Error::conflict(code::CEREMONY_REFUSED, e.to_string()))?;
        if moved {
            file.state = next;
            save(file)?;
        }
        if !published && !moved {
            if record.teller_keys().contains_key(&me) {
                pin_log(channel, file, log_key, save)?;
            }
            return Ok(said(progress(&record, count, me), &restarted));
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
    let checked = crate::pin::check(file, channel.bundle()?, log_key)?;
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
        code::CEREMONY_REFUSED,
        format!(
            "{what}. Stop: tell the other tellers and the officials; do not let the vote open \
             (docs/TELLERS.md, \"What can go wrong\")"
        ),
    )
}

/// Follows the restarts of the key ceremony the log shows and this teller's state has not seen
/// (`ceremony_restart`): a restart that gave this teller's own seat away ends its part (its key
/// is never accepted again); any other voids its ceremony state, which starts again with fresh
/// randomness and the same identity key, and forgets the fingerprints it had confirmed for the
/// seats given to someone else — so the ceremony goes past round 1 again only once the teller
/// has confirmed the new teller's fingerprint by phone. What to tell the teller, if anything.
fn follow_restarts(
    record: &Record,
    file: &mut TellerFile,
    (me, params): (u32, TellerParams),
    save: &mut dyn FnMut(&TellerFile) -> Result<()>,
) -> Result<Option<String>> {
    let restarts = record.restarts();
    if restarts.len() < file.ceremony {
        return Err(tampered(format!(
            "the server's log shows {} restart(s) of the key ceremony, but your state file began \
             after {}: this is not the log you took part in",
            restarts.len(),
            file.ceremony
        )));
    }
    let unseen = &restarts[file.ceremony..];
    if unseen.is_empty() {
        return Ok(None);
    }
    let mine = file
        .signing_key()
        .map_err(|e| Error::internal(e.to_string()))?
        .public_hex();
    if unseen.iter().any(|r| r.replaced.get(&me) == Some(&mine)) {
        return Err(Error::conflict(
            code::CEREMONY_REFUSED,
            format!(
                "the officials restarted the key ceremony and gave your seat (teller {me}) to \
                 someone else: this state file can no longer take part. If you did not expect \
                 this, tell the other tellers and the officials before the vote opens"
            ),
        ));
    }
    let replaced: std::collections::BTreeSet<u32> = unseen
        .iter()
        .flat_map(|r| r.replaced.keys().copied())
        .collect();
    for teller in &replaced {
        file.confirmed.remove(teller);
    }
    let index = me as usize - 1;
    file.state =
        strikevote_core::crypto::ceremony::Teller::new(params, index, &mut rand::rngs::OsRng)
            .map_err(|e| Error::internal(e.to_string()))?;
    file.ceremony = restarts.len();
    save(file)?;
    let seats: Vec<String> = replaced.iter().map(u32::to_string).collect();
    Ok(Some(format!(
        "teller {me}: the officials restarted the key ceremony: the seat of teller(s) {} went to \
         someone else, and everything published before is void. You take part again with the \
         same identity key (fingerprint {}); when asked, confirm the new teller's fingerprint \
         with them by phone — if you were not told of this restart, stop and call the officials",
        seats.join(", "),
        file.fingerprint().unwrap_or_default()
    )))
}

/// This teller's seat must hold its own keys, and every other teller's identity must be the
/// one that teller read out (where it has been confirmed).
fn check_identities(record: &Record, file: &TellerFile, me: u32) -> Result<()> {
    let keys = record.teller_keys();
    if let Some(mine) = keys.get(&me) {
        let identity = file
            .signing_key()
            .map_err(|e| Error::internal(e.to_string()))?;
        let recipient = file
            .recipient()
            .map_err(|e| Error::internal(e.to_string()))?;
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
    if keys.len() < count
        || !matches!(
            file.state,
            strikevote_core::crypto::ceremony::Teller::Committing(_)
        )
    {
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
        .map_err(|e| Error::internal(e.to_string()))?;
    let message = match file.state.outgoing() {
        Outgoing::Commitment(c) if !record.teller_keys().contains_key(&me) => {
            let recipient = file
                .recipient()
                .map_err(|e| Error::internal(e.to_string()))?;
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
                    Error::conflict(code::CEREMONY_REFUSED, format!("teller {to}: {e}"))
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
                    code::CEREMONY_REFUSED,
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
            .ok_or_else(|| Error::internal("a logged commitment is malformed"))?;
        board.commitments[*t as usize - 1] = Some(c);
    }
    for (t, p) in record.polynomials() {
        board.polynomials[*t as usize - 1] = Some(p.clone());
    }
    let id = ElectionId::parse(&file.election).map_err(|e| Error::internal(e.to_string()))?;
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
        let share = file
            .open_share(&sealed)
            .map_err(|e| Error::conflict(code::CEREMONY_REFUSED, format!("teller {from}: {e}")))?;
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
