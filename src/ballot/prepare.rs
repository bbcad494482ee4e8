//! The part of casting that needs no lock: each request's token looked up, and each ballot's
//! cryptography done on every core — a member's ballot's proofs checked, a plain choice sealed
//! — before its election is locked. The casting pool prepares one batch while the one before
//! commits, so the proofs and the database's work overlap instead of taking turns.
//!
//! Nothing here decides: the commit looks at the election again under its lock, redeems only
//! tokens still live, and refuses a tracker already in the log, so a token used or an election
//! closed in between is answered as if nothing had been prepared. What a batch could not
//! prepare (an election that opened in between, say) is done under the lock instead.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use strikevote_core::crypto::PublicKey;
use strikevote_core::crypto::ballot::{Context, SealedBallot, seal_many, validity};
use strikevote_core::crypto::encoded::EncodedBallot;

use super::{
    Cast, CastRequest, ElectionKeys, Sealing, ensure_accepting, status_error, token_unknown,
    token_used,
};
use crate::db::DbConnection;
use crate::db::schema::{members, tokens};
use crate::election::{self, Election, ElectionId};
use crate::error::{Error, Result};
use crate::token::TokenStatus;

/// The token's election, status and local.
pub(super) type TokenInfo = (String, TokenStatus, String);

/// A batch whose tokens were looked up and whose ballots' cryptography is done.
pub struct Prepared {
    pub(super) requests: Vec<CastRequest>,
    pub(super) hashes: Vec<Vec<u8>>,
    pub(super) info: HashMap<Vec<u8>, TokenInfo>,
    /// The answers already known (an unknown, used or revoked token, a token twice).
    pub(super) answers: Vec<Option<Result<Cast>>>,
    /// The others, by election.
    pub(super) by_election: BTreeMap<String, Vec<usize>>,
    /// Each request's cryptography, by position, where it was done.
    pub(super) crypto: HashMap<usize, Crypto>,
}

/// One request's cryptography (a ballot's tracker is not kept: it hashes the encodings the
/// ballot holds, no point is encoded for it).
#[derive(Clone)]
pub(super) enum Crypto {
    /// A ballot the member's page sealed: whether its proofs verify for the election and the
    /// member's local.
    Checked(bool),
    /// The ballot the server sealed from the member's plain choice.
    Sealed(Box<EncodedBallot>),
}

/// What a batch's requests are and what their tokens were found to be.
pub(super) struct Batch<'a> {
    pub(super) requests: &'a [CastRequest],
    pub(super) hashes: &'a [Vec<u8>],
    pub(super) info: &'a HashMap<Vec<u8>, TokenInfo>,
}

impl Batch<'_> {
    /// The local of request `i`'s member.
    pub(super) fn local(&self, i: usize) -> String {
        self.info
            .get(&self.hashes[i])
            .map(|t| t.2.clone())
            .unwrap_or_default()
    }
}

impl Prepared {
    pub(super) fn batch(&self) -> Batch<'_> {
        Batch {
            requests: &self.requests,
            hashes: &self.hashes,
            info: &self.info,
        }
    }
}

/// Looks up the batch's tokens and does the cryptography of every ballot whose election is
/// accepting ballots now. An outer error means nothing could be looked up.
pub fn prepare(
    conn: &mut DbConnection,
    keys: &ElectionKeys,
    requests: Vec<CastRequest>,
) -> Result<Prepared> {
    let hashes: Vec<Vec<u8>> = requests.iter().map(|r| r.token.0.to_vec()).collect();
    let found: Vec<(Vec<u8>, String, TokenStatus, String)> = tokens::table
        .inner_join(members::table)
        .filter(tokens::hash.eq_any(&hashes))
        .select((
            tokens::hash,
            tokens::election_id,
            tokens::status,
            members::local_code,
        ))
        .load(conn)?;
    let info: HashMap<Vec<u8>, TokenInfo> = found
        .into_iter()
        .map(|(h, e, s, l)| (h, (e, s, l)))
        .collect();

    // Classify; a token twice in one batch gets one chance only.
    let mut answers: Vec<Option<Result<Cast>>> = (0..requests.len()).map(|_| None).collect();
    let mut seen = HashSet::new();
    let mut by_election: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, hash) in hashes.iter().enumerate() {
        answers[i] = match info.get(hash) {
            None => Some(Err(token_unknown())),
            Some(_) if !seen.insert(hash.clone()) => Some(Err(token_used())),
            Some((_, status, _)) if *status != TokenStatus::Live => {
                Some(Err(status_error(*status)))
            }
            Some((election, _, _)) => {
                by_election.entry(election.clone()).or_default().push(i);
                None
            }
        };
    }
    let mut prepared = Prepared {
        requests,
        hashes,
        info,
        answers,
        by_election,
        crypto: HashMap::new(),
    };
    let mut crypto = HashMap::new();
    for (id, indexes) in &prepared.by_election {
        match crypto_before_lock(conn, keys, id, &prepared.batch(), indexes) {
            Ok(done) => crypto.extend(done),
            // Done under the lock instead, where an error is answered.
            Err(e) => tracing::debug!(error = %e, "a batch's ballots could not be prepared"),
        }
    }
    prepared.crypto = crypto;
    Ok(prepared)
}

/// The cryptography of one election's requests, if it accepts ballots now.
fn crypto_before_lock(
    conn: &mut DbConnection,
    keys: &ElectionKeys,
    id: &str,
    batch: &Batch,
    indexes: &[usize],
) -> Result<Vec<(usize, Crypto)>> {
    let id = ElectionId::parse(id)?;
    let election = election::find(conn, id)?;
    if ensure_accepting(&election).is_err() || keys.is_unwitnessed(id) {
        return Ok(Vec::new());
    }
    let key = keys.get(conn, &election)?;
    crypto_of(&key, &election, batch, indexes)
}

/// Checks the proofs of the member-sealed ballots among `indexes` with the right number of
/// options, and seals the plain choices the election allows — each for the member's local,
/// on every core.
pub(super) fn crypto_of(
    key: &PublicKey,
    election: &Election,
    batch: &Batch,
    indexes: &[usize],
) -> Result<Vec<(usize, Crypto)>> {
    let choices = &election.definition.choices;
    let (mut members, mut server) = (Vec::new(), Vec::new());
    for &i in indexes {
        match &batch.requests[i].sealing {
            Sealing::Member(m) if m.ballot.len() == choices.len() => members.push(i),
            Sealing::Server(choice) => {
                if let Some(option) = choices.iter().position(|c| c == choice) {
                    server.push((i, option));
                }
            }
            Sealing::Member(_) => {}
        }
    }
    let locals: HashMap<usize, String> = members
        .iter()
        .chain(server.iter().map(|(i, _)| i))
        .map(|&i| (i, batch.local(i)))
        .collect();
    let context = |i: usize| Context {
        election: &election.id,
        local: &locals[&i],
    };
    let mut out = Vec::with_capacity(members.len() + server.len());

    let ballots: Vec<&EncodedBallot> = members
        .iter()
        .filter_map(|&i| match &batch.requests[i].sealing {
            Sealing::Member(m) => Some(&m.ballot),
            Sealing::Server(_) => None,
        })
        .collect();
    let pairs: Vec<(Context<'_>, &SealedBallot)> = members
        .iter()
        .zip(&ballots)
        .map(|(&i, b)| (context(i), b.ballot()))
        .collect();
    let valid = validity(key, choices.len(), &pairs);
    out.extend(
        members
            .iter()
            .zip(valid)
            .map(|(&i, v)| (i, Crypto::Checked(v))),
    );

    let wanted: Vec<(Context<'_>, usize)> = server.iter().map(|&(i, o)| (context(i), o)).collect();
    let sealed = seal_many(key, choices.len(), &wanted)
        .ok_or_else(|| Error::Internal("a ballot could not be sealed".into()))?;
    for ((i, _), ballot) in server.iter().zip(sealed) {
        out.push((*i, Crypto::Sealed(Box::new(ballot.into()))));
    }
    Ok(out)
}
