//! A teller's part after close. The teller trusts nothing it did not pin at the key ceremony:
//! the log must be signed by the pinned key, keep the ceremony's entry 0 and extend the
//! checkpoint the teller saw ([`crate::pin`]); the teller's own clock must be past the
//! closing time (an early close needs the teller's confirmation); then it checks the whole log
//! as an auditor would (one fold, shared with the verifier), adds up each local's sealed
//! ballots itself, and makes its decryption shares of those sums — bound to the log up to its
//! close and signed with its identity key, so shares made on two different logs never combine.
//! [`prepare`] does all of that and sends nothing; the caller shows the teller what was
//! checked, then [`TallyChannel::submit`]s.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use strikevote_core::ElectionId;
use strikevote_core::crypto::identity::root_code;
use strikevote_core::crypto::tally::TallyError;
use strikevote_core::definition::Definition;
use strikevote_core::entry::{Body, Entry, LogRef, TallyShare};
use strikevote_core::tally::opened;
use strikevote_core::verify::Fold;

use crate::error::{Error, Result, code};
use crate::secrets::TellerFile;

/// How a teller reaches the count: the log as a bundle, and where shares go.
pub trait TallyChannel {
    /// The log, its latest signed checkpoint and the key the server says signs it.
    fn bundle(&mut self) -> Result<(Vec<u8>, String, String)>;
    /// Submits this teller's shares; where the decryption stands after them.
    fn submit(&mut self, share: &TallyShare) -> Result<Status>;
}

/// How far the tellers' decryption has gone.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Decryption))]
pub struct Status {
    /// Tellers (1-based) whose shares are logged, in log order.
    pub shared: Vec<u32>,
    /// Shares needed.
    pub threshold: usize,
    /// Whether the result entry is logged.
    pub decrypted: bool,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.decrypted {
            let tellers: Vec<String> = self.shared.iter().map(u32::to_string).collect();
            write!(f, "decrypted by teller(s) {}", tellers.join(", "))
        } else {
            let have = self.shared.len();
            let need = self.threshold;
            write!(
                f,
                "waiting for the tellers: {have} of the {need} decryptions needed are in ({} more)",
                need.saturating_sub(have)
            )
        }
    }
}

/// What the teller allows beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The log key from the notices (a verifier key or its fingerprint); it must be the one
    /// pinned at the ceremony.
    pub log_key: Option<String>,
    /// The teller confirms the early close the log shows (the officials told them).
    pub early_close_confirmed: bool,
    /// The teller's clock (now, except in tests).
    pub now: Option<DateTime<Utc>>,
}

/// What [`prepare`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Prepared {
    /// The shares to submit, and the log they were made on.
    Ready(Box<Ready>),
    /// Nothing to do: this teller's shares are already in, or the result is.
    NothingToDo(String),
}

/// Shares ready to submit, with what the teller checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Ready {
    /// The log's size when checked.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
    /// The log up to its close (what the shares are bound to): size.
    pub closed_size: u64,
    /// Its short code, the same for every teller who sees the same vote.
    pub code: String,
    /// The shares, signed.
    pub share: TallyShare,
    /// The totals the shares open: each local opened alone, and the group of small locals
    /// (its code and locals) with its ballots.
    pub group: Option<strikevote_core::tally::units::Group>,
    /// The fewest ballots any total covers.
    pub min_ballots: u32,
    /// The witnesses whose cosignature of the checkpoint was checked (empty when the election
    /// lists none).
    pub cosigned_by: Vec<String>,
}

impl std::fmt::Display for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the log checks out ({} entries, root {}); the vote closed at entry {}: log code \
             {} — compare this code with the other tellers before the result is certified",
            self.size,
            self.root,
            self.closed_size - 1,
            self.code
        )?;
        if !self.cosigned_by.is_empty() {
            write!(
                f,
                ". Its checkpoint is cosigned by the election's witnesses {}",
                self.cosigned_by.join(", ")
            )?;
        }
        match &self.group {
            Some(g) => write!(
                f,
                ". Locals with fewer than {min} ballots are counted together as `{code}`: {locals} \
                 ({n} ballots); every total opened covers at least {min} ballots",
                min = self.min_ballots,
                code = g.code,
                locals = g.locals.join(", "),
                n = g.ballots,
            ),
            None => write!(
                f,
                ". Every local is opened alone: each holds no ballot or at least {}",
                self.min_ballots
            ),
        }
    }
}

fn refused(code: &str, message: String) -> Error {
    Error::conflict(code, message)
}

/// Checks the log against what `file` pinned and the teller's clock, and makes `file`'s
/// teller's decryption shares of every local's sums; sends nothing.
pub fn prepare(
    channel: &mut dyn TallyChannel,
    id: ElectionId,
    file: &TellerFile,
    options: &Options,
) -> Result<Prepared> {
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    if file.pin.is_none() {
        return Err(refused(
            code::KEY_NOT_READY,
            format!(
                "teller {me}'s state file pinned no log at the key ceremony (run `teller setup` \
                 once more before the vote opens): it cannot tell the real log from a fork"
            ),
        ));
    }
    let checked = crate::pin::check(file, channel.bundle()?, options.log_key.as_deref())?;
    let (report, fold) = (checked.report, checked.fold);
    if report.election != id.to_string() {
        return Err(Error::internal(format!(
            "the server sent the log of election {}, not {id}",
            report.election
        )));
    }
    let Some(close) = &fold.close else {
        return Err(refused(
            code::ELECTION_NOT_OPEN,
            format!(
                "election {id} has not closed (its log says {}): tellers decrypt only after close",
                report.phase
            ),
        ));
    };
    check_clock(&fold.definition, close, options)?;
    if let Some((_, opened)) = &report.result {
        return Ok(Prepared::NothingToDo(format!(
            "the results are already decrypted (by teller(s) {:?}); nothing to do",
            opened.tellers
        )));
    }
    if report.shares.contains(&me) {
        return Ok(Prepared::NothingToDo(format!(
            "teller {me}'s shares are already in; waiting for the other tellers"
        )));
    }
    let share = signed_shares(file, id, &fold, &close.closed)?;
    let code = B64
        .decode(&close.closed.root)
        .ok()
        .and_then(|r| <[u8; 32]>::try_from(r).ok())
        .map(|r| root_code(&r))
        .unwrap_or_default();
    let units = strikevote_core::tally::Units::of(&fold.definition, &fold.count.ballots)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(Prepared::Ready(Box::new(Ready {
        size: report.size,
        root: report.root,
        closed_size: close.closed.size,
        code,
        share,
        group: units.group,
        min_ballots: units.min_ballots,
        cosigned_by: report.cosigned_by,
    })))
}

/// `file`'s teller's decryption shares of every total to open in `fold` (never one over fewer
/// ballots than the definition's minimum), bound to `closed` and
/// signed with its identity key (after checking its key share is of the logged election key).
fn signed_shares(
    file: &TellerFile,
    id: ElectionId,
    fold: &Fold,
    closed: &LogRef,
) -> Result<TallyShare> {
    let me = u32::try_from(file.teller).unwrap_or(u32::MAX);
    let active = file.state.active().ok_or_else(|| {
        Error::conflict(
            code::KEY_NOT_READY,
            format!("teller {me}'s state file has not finished the key ceremony"),
        )
    })?;
    let logged = fold
        .ceremony
        .election_key()
        .ok_or_else(|| Error::internal("the log has no election key"))?;
    if logged.shared_key() != active.key_set().shared_key() {
        return Err(Error::conflict(
            code::KEY_NOT_READY,
            format!("this state file holds a key share of another election key than {id}'s"),
        ));
    }
    let shares = opened::decrypt(
        &fold.definition,
        &fold.count,
        active,
        &mut rand::rngs::OsRng,
    )
    .map_err(|e| match e {
        TallyError::TooFewBallots { .. } => refused(
            code::TOO_FEW_BALLOTS,
            format!(
                "{e}. Nothing was sent: with so few ballots in the whole election no total can be \
                 published without showing how members voted"
            ),
        ),
        other => Error::internal(format!("a decryption share could not be made: {other}")),
    })?;
    let identity = file
        .signing_key()
        .map_err(|e| Error::internal(e.to_string()))?;
    let made = strikevote_core::entry::tally_share(&id, me, closed.clone(), shares, &identity);
    match Entry::parse(&made.bytes) {
        Ok(Entry {
            body: Body::TallyShare(share),
            ..
        }) => Ok(share),
        _ => Err(Error::internal("a tally share could not be written")),
    }
}

/// How times are shown to tellers (UTC, to the second).
const TIME: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The teller's own clock must be past the closing time; an earlier close, which the log
/// shows with who closed it and who approved, needs the teller's confirmation.
fn check_clock(
    definition: &Definition,
    close: &strikevote_core::verify::Close,
    options: &Options,
) -> Result<()> {
    let now = options.now.unwrap_or_else(Utc::now);
    if now >= definition.closes_at || options.early_close_confirmed {
        return Ok(());
    }
    let who = match &close.by {
        Some(a) => match &a.approved_by {
            Some(second) => format!("by `{}`, approved by `{second}`", a.by),
            None => format!("by `{}`, with no second official's approval", a.by),
        },
        None => "with no official's action logged".to_owned(),
    };
    Err(refused(
        code::ELECTION_NOT_OPEN,
        format!(
            "the vote is to close at {closes} and this computer's clock says {now}, but the \
             log says it was closed early, at {at}, {who}. Decrypt only if the officials told \
             you of this early close: then run again with --confirm-early-close. If nobody \
             told you, this may be a forged close: tell the other tellers and the officials",
            closes = definition.closes_at.format(TIME),
            now = now.format(TIME),
            at = close.at.format(TIME),
        ),
    ))
}
