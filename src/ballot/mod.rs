//! Casting: a batch of ballot requests committed as one transaction (docs/DESIGN.md "Casting path").
//!
//! [`commit_batch`] redeems every token of the batch (refusing used, revoked, unknown ones
//! individually), appends the ballots to each election's log sorted by leaf hash, signs one
//! checkpoint per election, and returns each request's receipt with its inclusion proof — all
//! before anyone is answered. [`pool::CastingPool`] gathers requests into such batches.

pub mod challenge;
pub mod pool;
mod prepare;
pub mod receipt;
mod sealing;

pub use prepare::{Prepared, prepare};
pub use sealing::MemberBallot;

use prepare::{Batch, Crypto};

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{members, tokens};
use strikevote_core::crypto::PublicKey;

use crate::election::{self, Choice, Election, ElectionId, State};
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::{self, NewEntry};
use crate::log::merkle::{self, Hash};
use crate::log::{self, LogKey};
use crate::token::TokenStatus;
use crate::token::{HashedToken, random_receipt};

/// One member's request to cast a ballot.
#[derive(Clone)]
pub struct CastRequest {
    /// The SHA-256 of the token typed; the plaintext never reaches the pool.
    pub token: HashedToken,
    /// What is cast: a choice the server seals, or a ballot the member's page sealed.
    pub sealing: Sealing,
}

/// Who seals a ballot.
#[derive(Clone)]
pub enum Sealing {
    /// The server, from the member's plain choice (pages without JavaScript, API clients that
    /// send a padded choice).
    Server(Choice),
    /// The member's page: the server checks its proofs and never sees the choice.
    Member(Box<MemberBallot>),
}

impl std::fmt::Debug for CastRequest {
    /// Never the choice, and never the token's digest either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by = match self.sealing {
            Sealing::Server(_) => "server",
            Sealing::Member(_) => "member",
        };
        f.debug_struct("CastRequest")
            .field("sealed_by", &by)
            .finish_non_exhaustive()
    }
}

/// What the casting pool keeps of each election: its key, read from its log once (it never
/// changes after the ceremony), and whether its witnesses stopped answering (then new ballots
/// are refused before anything is used up, until a checkpoint is cosigned again).
#[derive(Default)]
pub struct ElectionKeys {
    keys: std::sync::Mutex<HashMap<ElectionId, PublicKey>>,
    unwitnessed: std::sync::Mutex<HashSet<ElectionId>>,
    /// The sealing codes each election's log names, as last read from it.
    codes: sealing::NamedCodes,
}

impl ElectionKeys {
    /// Marks the election's witnesses as not answering (`true`) or answering again.
    pub fn set_unwitnessed(&self, id: ElectionId, down: bool) {
        let mut set = self.unwitnessed.lock().unwrap_or_else(|p| p.into_inner());
        if down {
            set.insert(id);
        } else {
            set.remove(&id);
        }
    }

    /// Whether the election's witnesses were not answering at the last attempt.
    pub fn is_unwitnessed(&self, id: ElectionId) -> bool {
        self.unwitnessed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    /// Every election whose witnesses were not answering.
    pub fn unwitnessed(&self) -> Vec<ElectionId> {
        self.unwitnessed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// The key ballots of `election` are sealed to.
    pub fn get(&self, conn: &mut DbConnection, election: &Election) -> Result<PublicKey> {
        let cached = self
            .keys
            .lock()
            .map_err(|_| Error::Internal("the election key cache is poisoned".into()))?
            .get(&election.id)
            .cloned();
        if let Some(key) = cached {
            return Ok(key);
        }
        let record = election::ceremony::record(conn, election)?;
        let key = record
            .election_key()
            .map(|k| k.shared_key().clone())
            .ok_or_else(|| {
                Error::Internal(format!(
                    "election {} is open without an election key",
                    election.id
                ))
            })?;
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(election.id, key.clone());
        }
        Ok(key)
    }
}

/// A cast ballot, as the member is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cast {
    /// The election.
    pub election: ElectionId,
    /// The election's title.
    pub title: String,
    /// The member's local.
    pub local: String,
    /// The ballot's tracker: SHA-256 of its ciphertexts, 64 hex digits (never the choice).
    pub tracker: String,
    /// The receipt.
    pub receipt: String,
    /// The ballot's index in the log.
    pub leaf_index: u64,
    /// The signed checkpoint of the batch's tree.
    pub checkpoint: String,
    /// That tree's size.
    pub tree_size: u64,
    /// Inclusion proof of the ballot in that tree, RFC 9162 order.
    pub inclusion_proof: Vec<Hash>,
    /// Whether the election lists witnesses: then `checkpoint` is relied on only once they
    /// have cosigned a checkpoint covering the ballot ([`pool`] waits for that).
    pub witnessed: bool,
}

fn token_unknown() -> Error {
    Error::not_found(
        ErrorCode::TokenUnknown,
        "this ballot token is not known: check it against your ballot notice",
    )
}

fn token_used() -> Error {
    Error::conflict(
        ErrorCode::TokenUsed,
        "this ballot token has already been used to vote; if you did not vote, contact your election officials",
    )
}

fn token_revoked() -> Error {
    Error::conflict(
        ErrorCode::TokenRevoked,
        "this ballot token was replaced by a newer one; use the token of your latest notice",
    )
}

fn status_error(status: TokenStatus) -> Error {
    match status {
        TokenStatus::Used => token_used(),
        TokenStatus::Revoked => token_revoked(),
        TokenStatus::Live => token_unknown(),
    }
}

/// Whether ballots are accepted now: the vote is open and inside its window.
pub fn ensure_accepting(election: &Election) -> Result<()> {
    let now = Utc::now();
    let d = &election.definition;
    let closed = |why: String| Err(Error::conflict(ErrorCode::ElectionNotOpen, why));
    if !election.state.phase().stands(entry::Kind::Ballot) {
        return closed(match election.state {
            State::Draft => "voting has not opened yet".into(),
            _ => "voting has closed".into(),
        });
    }
    if now < d.opens_at {
        return closed(format!(
            "voting has not started: it opens at {}",
            election::definition::format_time(&d.opens_at)
        ));
    }
    if now >= d.closes_at {
        return closed(format!(
            "voting has ended: it closed at {}",
            election::definition::format_time(&d.closes_at)
        ));
    }
    Ok(())
}

/// Commits a batch of requests; the answer for request `i` is at position `i`. An outer error
/// means the whole batch failed and nothing of it was committed.
pub fn commit_batch(
    conn: &mut DbConnection,
    signer: &LogKey,
    keys: &ElectionKeys,
    requests: &[CastRequest],
) -> Result<Vec<Result<Cast>>> {
    let prepared = prepare::prepare(conn, keys, requests.to_vec())?;
    commit_prepared(conn, signer, keys, prepared)
}

/// Commits a prepared batch ([`prepare::prepare`]): one transaction per election, under its
/// lock. The answer for request `i` is at position `i`; an outer error means nothing of the
/// batch was committed.
pub fn commit_prepared(
    conn: &mut DbConnection,
    signer: &LogKey,
    keys: &ElectionKeys,
    prepared: Prepared,
) -> Result<Vec<Result<Cast>>> {
    let Prepared {
        requests,
        hashes,
        info,
        mut answers,
        by_election,
        crypto,
    } = prepared;
    let batch = Batch {
        requests: &requests,
        hashes: &hashes,
        info: &info,
    };
    // One transaction per election, in a fixed order so instances never deadlock.
    for (election_id, indexes) in &by_election {
        let id = ElectionId::parse(election_id)?;
        let outcome = crate::log::store::transaction(conn, |conn| {
            cast_in_election(conn, (signer, keys), id, (&batch, &crypto), indexes)
        });
        match outcome {
            Ok(outcome) => {
                for (i, answer) in outcome {
                    answers[i] = Some(answer);
                }
            }
            // This election's ballots only: another election's, committed in their own
            // transaction, keep their answers.
            Err(e) => {
                tracing::error!(election = %id, ballots = indexes.len(), error = %e, "ballot commit failed");
                for &i in indexes {
                    answers[i] = Some(Err(if e.is_storage_full() {
                        Error::StorageFull
                    } else {
                        unconfirmed()
                    }));
                }
            }
        }
    }
    Ok(answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(Error::Internal("a request was not answered".into()))))
        .collect())
}

/// The answer to a ballot whose commit failed. Almost always nothing was recorded (the
/// transaction rolled back), but a failure after the commit (recording the signed head beside
/// the key) leaves the ballot in the log, so the member is sent to the token status, which is
/// always true.
pub fn unconfirmed() -> Error {
    Error::Unavailable(
        "your ballot could not be confirmed because of a server error: check your token's status, and if it is not used, vote again"
            .into(),
    )
}

/// The answer while the election's witnesses do not answer: nothing was used up.
pub fn witnesses_down() -> Error {
    Error::Unwitnessed(
        "the vote's independent witnesses cannot be reached just now, so no ballot can be \
         confirmed: nothing was recorded and your ballot token is unused; try again in a minute"
            .into(),
    )
}

/// The answer to a ballot recorded in the log whose checkpoint the witnesses did not cosign
/// in time: it is in the log and will be counted, but it cannot be acknowledged yet.
pub fn recorded_unwitnessed() -> Error {
    Error::Unwitnessed(
        "your ballot was recorded, but the vote's independent witnesses have not yet confirmed \
         the log, so no receipt can be given now. Do not vote again: check your token's status \
         in a few minutes (it reads used)"
            .into(),
    )
}

/// One election's share of a batch, under its lock: refuses what cannot be cast, redeems the
/// tokens, takes each ballot's cryptography from the batch's preparation (or does it now, on
/// every core, where the preparation could not), appends the ballots in one signed append and
/// proves each one's inclusion.
fn cast_in_election(
    conn: &mut DbConnection,
    (signer, keys): (&LogKey, &ElectionKeys),
    id: ElectionId,
    (batch, prepared): (&Batch, &HashMap<usize, Crypto>),
    indexes: &[usize],
) -> Result<Vec<(usize, Result<Cast>)>> {
    let election = election::lock(conn, id)?;
    crate::error::failpoint("cast::locked", &id)?;
    let mut out = Vec::with_capacity(indexes.len());
    if keys.is_unwitnessed(id) {
        // Nothing is used up while no ballot could be acknowledged.
        out.extend(indexes.iter().map(|&i| (i, Err(witnesses_down()))));
        return Ok(out);
    }
    let candidates = castable(&election, batch.requests, indexes, &mut out);
    if candidates.is_empty() {
        return Ok(out);
    }
    let crypto = crypto_under_lock(conn, keys, &election, batch, prepared, &candidates)?;
    let candidates = sound(conn, &election, batch, &crypto, candidates, &mut out)?;
    let (candidates, announce) = keys
        .codes
        .check(conn, &election, batch, candidates, &mut out)?;
    if candidates.is_empty() {
        return Ok(out);
    }
    let redeemed = redeem(conn, candidates.iter().map(|&i| &batch.hashes[i]).collect())?;
    crate::error::failpoint("cast::redeemed", &id)?;
    let (casting, taken): (Vec<usize>, Vec<usize>) = candidates
        .into_iter()
        .partition(|&i| redeemed.contains(&batch.hashes[i]));
    // Used or revoked by another instance since the look-up.
    out.extend(taken.into_iter().map(|i| (i, Err(token_used()))));
    if casting.is_empty() {
        return Ok(out);
    }
    crate::error::failpoint("cast::sealed", &id)?;
    let mut ballots = Vec::with_capacity(casting.len());
    for i in casting {
        let receipt = random_receipt()
            .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
        let (by, sealed) = match (&batch.requests[i].sealing, crypto.get(&i)) {
            (Sealing::Member(m), _) => (
                (entry::SealedBy::Member, m.code.as_deref()),
                m.ballot.clone(),
            ),
            (Sealing::Server(_), Some(Crypto::Sealed(ballot))) => {
                ((entry::SealedBy::Server, None), ballot.as_ref().clone())
            }
            (Sealing::Server(_), _) => {
                return Err(Error::Internal("a ballot could not be sealed".into()));
            }
        };
        let tracker = hex::encode(sealed.tracker());
        let local = batch.local(i);
        let entry = entry::ballot(&id, &local, by, sealed, &receipt);
        ballots.push(Pending {
            leaf: merkle::leaf_hash(&entry.bytes),
            request: i,
            local,
            receipt,
            tracker,
            entry,
        });
    }
    // A code this server serves that the log does not name yet is named first.
    let prefix: Vec<NewEntry> = announce.into_iter().collect();
    out.extend(append_ballots(conn, signer, &election, prefix, ballots)?);
    Ok(out)
}

/// The cryptography of each of `candidates`: what the batch's preparation did, and the rest
/// (an election that began accepting ballots after it, say) done now, on every core.
fn crypto_under_lock(
    conn: &mut DbConnection,
    keys: &ElectionKeys,
    election: &Election,
    batch: &Batch,
    prepared: &HashMap<usize, Crypto>,
    candidates: &[usize],
) -> Result<HashMap<usize, Crypto>> {
    let mut crypto: HashMap<usize, Crypto> = candidates
        .iter()
        .filter_map(|i| prepared.get(i).map(|c| (*i, c.clone())))
        .collect();
    let missing: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| !crypto.contains_key(i))
        .collect();
    if !missing.is_empty() {
        let key = keys.get(conn, election)?;
        crypto.extend(prepare::crypto_of(&key, election, batch, &missing)?);
    }
    Ok(crypto)
}

/// The requests that may be cast now; the others are answered in `out`.
fn castable(
    election: &Election,
    requests: &[CastRequest],
    indexes: &[usize],
    out: &mut Vec<(usize, Result<Cast>)>,
) -> Vec<usize> {
    if let Err(e) = ensure_accepting(election) {
        let closed = |_| Err(Error::conflict(ErrorCode::ElectionNotOpen, e.to_string()));
        out.extend(indexes.iter().map(|&i| (i, closed(i))));
        return Vec::new();
    }
    let options = election.definition.choices.len();
    let mut allowed = Vec::with_capacity(indexes.len());
    for &i in indexes {
        match &requests[i].sealing {
            Sealing::Server(choice) if !election.definition.allows(*choice) => out.push((
                i,
                Err(Error::bad_input(
                    ErrorCode::InvalidChoice,
                    format!("`{}` is not a choice in this election", choice.as_str()),
                )),
            )),
            Sealing::Member(m) if m.ballot.len() != options => out.push((
                i,
                Err(Error::bad_input(
                    ErrorCode::InvalidBallot,
                    format!(
                        "the sealed ballot has {} options; this election has {options}",
                        m.ballot.len()
                    ),
                )),
            )),
            _ => allowed.push(i),
        }
    }
    allowed
}

/// The ballots members' pages sealed, among `candidates`: one whose proofs do not verify for
/// its election and the member's local, or one already in the log — or twice in this batch —
/// is refused as a copy; the others are answered in `out` with nothing used up.
fn sound(
    conn: &mut DbConnection,
    election: &Election,
    batch: &Batch,
    crypto: &HashMap<usize, Crypto>,
    candidates: Vec<usize>,
    out: &mut Vec<(usize, Result<Cast>)>,
) -> Result<Vec<usize>> {
    let checked: Vec<(usize, bool, String)> = candidates
        .iter()
        .filter_map(|&i| match &batch.requests[i].sealing {
            Sealing::Member(m) => {
                let valid = matches!(crypto.get(&i), Some(Crypto::Checked(true)));
                Some((i, valid, hex::encode(m.ballot.tracker())))
            }
            Sealing::Server(_) => None,
        })
        .collect();
    if checked.is_empty() {
        return Ok(candidates);
    }
    let trackers: Vec<String> = checked.iter().map(|(_, _, t)| t.clone()).collect();
    let in_log = log::store::trackers_in_log(conn, election.id, &trackers)?;
    let mut in_batch = HashSet::new();
    let mut refused = HashSet::new();
    for (i, ok, t) in &checked {
        let (i, ok) = (*i, *ok);
        let refusal = if !ok {
            Some(Error::bad_input(
                ErrorCode::InvalidBallot,
                "the sealed ballot's proofs do not verify for this election and your local: \
                 nothing was recorded and your token is still unused; seal it again",
            ))
        } else if in_log.contains(t) || !in_batch.insert(t) {
            Some(Error::conflict(
                ErrorCode::BallotSeen,
                "this sealed ballot is already in the log: a ballot cannot be cast twice, and \
                 nothing was recorded; seal your own",
            ))
        } else {
            None
        };
        if let Some(e) = refusal {
            out.push((i, Err(e)));
            refused.insert(i);
        }
    }
    Ok(candidates
        .into_iter()
        .filter(|i| !refused.contains(i))
        .collect())
}

/// The redemption itself: only tokens still live flip to used, atomically; returns those.
fn redeem(conn: &mut DbConnection, wanted: Vec<&Vec<u8>>) -> Result<HashSet<Vec<u8>>> {
    Ok(crate::on_backend!(conn, |c| diesel::update(
        tokens::table
            .filter(tokens::hash.eq_any(&wanted))
            .filter(tokens::status.eq(TokenStatus::Live))
    )
    .set(tokens::status.eq(TokenStatus::Used))
    .returning(tokens::hash)
    .get_results::<Vec<u8>>(c))?
    .into_iter()
    .collect())
}

/// A ballot about to be appended.
struct Pending {
    leaf: merkle::Hash,
    request: usize,
    local: String,
    receipt: String,
    tracker: String,
    entry: NewEntry,
}

/// Appends `prefix`, then the ballots (in leaf-hash order, not arrival order), and answers each
/// request with its receipt and inclusion proof.
fn append_ballots(
    conn: &mut DbConnection,
    signer: &LogKey,
    election: &Election,
    prefix: Vec<NewEntry>,
    mut ballots: Vec<Pending>,
) -> Result<Vec<(usize, Result<Cast>)>> {
    ballots.sort_by_key(|b| b.leaf);
    let skip = prefix.len() as u64;
    let mut entries = prefix;
    entries.extend(ballots.iter().map(|b| b.entry.clone()));
    let appended = log::store::append(conn, election, &entries, signer)?;
    let size = appended.checkpoint.size;
    let positions: Vec<u64> = (0..ballots.len() as u64)
        .map(|k| appended.first_index + skip + k)
        .collect();
    let proofs = log::store::inclusion_proofs(conn, election, size, &positions, &appended.made)?;
    Ok(ballots
        .into_iter()
        .zip(positions.into_iter().zip(proofs))
        .map(|(b, (leaf_index, proof))| {
            let cast = Cast {
                election: election.id,
                title: election.definition.title.clone(),
                local: b.local,
                tracker: b.tracker,
                receipt: b.receipt,
                leaf_index,
                checkpoint: appended.checkpoint.note.clone(),
                tree_size: size,
                inclusion_proof: proof,
                witnessed: election.definition.witnesses.is_some(),
            };
            (b.request, Ok(cast))
        })
        .collect())
}

/// What a member may learn of their own token: `live` (not used), `used` or `revoked`.
pub fn token_status(conn: &mut DbConnection, token: &HashedToken) -> Result<TokenStatus> {
    tokens::table
        .filter(tokens::hash.eq(token.0.to_vec()))
        .select(tokens::status)
        .first::<TokenStatus>(conn)
        .optional()?
        .ok_or_else(token_unknown)
}

/// The election a token belongs to, whatever the token's status.
pub fn election_of(conn: &mut DbConnection, token: &HashedToken) -> Result<Election> {
    let id: String = tokens::table
        .filter(tokens::hash.eq(token.0.to_vec()))
        .select(tokens::election_id)
        .first(conn)
        .optional()?
        .ok_or_else(token_unknown)?;
    election::find(conn, ElectionId::parse(&id)?)
}

/// The ballot page's view of a token: its election and the member's local, if it can vote.
pub fn ballot_for(conn: &mut DbConnection, token: &HashedToken) -> Result<(Election, String)> {
    let (id, local) = live_token(conn, token)?;
    let election = election::find(conn, id)?;
    ensure_accepting(&election)?;
    Ok((election, local))
}

/// The token's election and member's local, if the token can still vote.
fn live_token(conn: &mut DbConnection, token: &HashedToken) -> Result<(ElectionId, String)> {
    let row: Option<(String, TokenStatus, String)> = tokens::table
        .inner_join(members::table)
        .filter(tokens::hash.eq(token.0.to_vec()))
        .select((tokens::election_id, tokens::status, members::local_code))
        .first(conn)
        .optional()?;
    let (election_id, status, local) = row.ok_or_else(token_unknown)?;
    if status != TokenStatus::Live {
        return Err(status_error(status));
    }
    Ok((ElectionId::parse(&election_id)?, local))
}
