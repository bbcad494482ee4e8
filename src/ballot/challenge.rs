//! "Check it first" (a Benaloh challenge): instead of casting a ballot its page sealed, a
//! member has the page reveal the ballot's choice and encryption randomness. The server checks
//! that they re-seal to the tracker the member was shown and writes a `challenge` entry; anyone
//! can then check it (docs/LOG_FORMAT.md, "Sealing on the member's device, and challenges").
//! The token stays unused, and the checked ballot can never be cast: its tracker is in the log.

use diesel::prelude::*;
use strikevote_core::crypto::ballot::{ChallengeError, Context, resealed_tracker};

use super::{ElectionKeys, ensure_accepting, live_token, status_error, witnesses_down};
use crate::db::DbConnection;
use crate::db::schema::tokens;
use crate::election::{self, Choice, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::{self, NewEntry};
use crate::log::{self, LogKey};
use crate::token::{HashedToken, TokenStatus};

/// How many ballots one token may check before it must cast: each check writes an entry, so
/// a token cannot flood the log.
pub const MAX_CHALLENGES: i32 = 5;

/// A member's request to check a sealed ballot instead of casting it.
pub struct ChallengeRequest {
    /// The SHA-256 of the token typed.
    pub token: HashedToken,
    /// The tracker the page showed, 64 lowercase hex digits.
    pub tracker: String,
    /// The choice the page says it sealed, as the definition names it.
    pub choice: String,
    /// One scalar per option, base64url without padding: each ciphertext's randomness.
    pub randomness: Vec<String>,
    /// The SHA-256 (hex) of the sealing code that sealed it, if it says.
    pub code: Option<String>,
}

impl std::fmt::Debug for ChallengeRequest {
    /// Never the token's digest; the rest is public once logged, but not before.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeRequest").finish_non_exhaustive()
    }
}

/// A challenge written to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenged {
    /// The election.
    pub election: ElectionId,
    /// The member's local.
    pub local: String,
    /// The checked ballot's tracker.
    pub tracker: String,
    /// The choice it held.
    pub choice: String,
    /// The challenge entry's index in the log.
    pub leaf_index: u64,
    /// The log's size after it.
    pub tree_size: u64,
    /// The signed checkpoint of that log.
    pub checkpoint: String,
    /// How many more ballots this token may check.
    pub checks_left: u32,
}

fn bad(code: ErrorCode, message: &str) -> Error {
    Error::bad_input(code, message)
}

/// Checks the challenge and writes it to the log, leaving the token unused.
pub fn challenge(
    conn: &mut DbConnection,
    signer: &LogKey,
    keys: &ElectionKeys,
    request: &ChallengeRequest,
) -> Result<Challenged> {
    let (id, local) = live_token(conn, &request.token)?;
    log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_accepting(&election)?;
        if keys.is_unwitnessed(id) {
            return Err(witnesses_down());
        }
        let challenge = holding(conn, keys, &election, &local, request)?;
        let mut entries: Vec<NewEntry> = Vec::new();
        if let Some(code) = request.code.as_deref() {
            let wanted = std::collections::HashSet::from([code]);
            let (named, announce) = keys.codes.resolve(conn, &election, &wanted)?;
            if !named.contains(code) {
                return Err(super::sealing::unknown_code());
            }
            entries.extend(announce);
        }
        let tracker = request.tracker.clone();
        if !log::store::trackers_in_log(conn, id, std::slice::from_ref(&tracker))?.is_empty() {
            return Err(Error::conflict(
                ErrorCode::BallotSeen,
                "this sealed ballot is already in the log (cast or checked): seal a new one",
            ));
        }
        let used = count_check(conn, &request.token)?;
        let choice = challenge.choice.clone();
        entries.push(entry::challenge(&id, challenge));
        let appended = log::store::append(conn, &election, &entries, signer)?;
        Ok(Challenged {
            election: id,
            local: local.clone(),
            tracker,
            choice,
            leaf_index: appended.first_index + entries.len() as u64 - 1,
            tree_size: appended.checkpoint.size,
            checkpoint: appended.checkpoint.note,
            checks_left: u32::try_from(MAX_CHALLENGES - used).unwrap_or(0),
        })
    })
}

/// The challenge entry the request asks for, once its choice and randomness re-seal, for the
/// member's local, to the tracker the member was shown.
fn holding(
    conn: &mut DbConnection,
    keys: &ElectionKeys,
    election: &election::Election,
    local: &str,
    request: &ChallengeRequest,
) -> Result<entry::Challenge> {
    let options = &election.definition.choices;
    let position = Choice::parse(&request.choice)
        .and_then(|c| options.iter().position(|o| *o == c))
        .ok_or_else(|| {
            bad(
                ErrorCode::InvalidChoice,
                "the checked ballot's `choice` is not one of this election's choices",
            )
        })?;
    let challenge = entry::Challenge {
        local: local.to_owned(),
        sealing_code: request.code.clone(),
        tracker: request.tracker.clone(),
        choice: options[position].as_str().to_owned(),
        randomness: request.randomness.clone(),
    };
    let randomness = challenge.randomness_bytes().ok_or_else(|| {
        bad(
            ErrorCode::InvalidBallot,
            "`randomness` must be one base64url value (no padding) of 32 bytes per option",
        )
    })?;
    let key = keys.get(conn, election)?;
    let context = Context {
        election: &election.id,
        local,
    };
    let remade = resealed_tracker(&key, context, options.len(), position, &randomness).map_err(
        |e| match e {
            ChallengeError::Malformed(why) => bad(ErrorCode::InvalidBallot, why),
            other => bad(ErrorCode::InvalidBallot, &other.to_string()),
        },
    )?;
    if hex::encode(remade) != request.tracker {
        return Err(bad(
            ErrorCode::ChallengeMismatch,
            "the choice and randomness your page revealed do not make the sealed ballot it \
             showed you: the page did not seal what it said. Do not vote with this page; tell \
             your election officials. Nothing was recorded and your token is unused.",
        ));
    }
    Ok(challenge)
}

/// Counts one more check against the token, if it is still live and under the cap; returns
/// how many it has made now.
fn count_check(conn: &mut DbConnection, token: &HashedToken) -> Result<i32> {
    let hash = token.0.to_vec();
    let counted: Option<i32> = crate::on_backend!(conn, |c| diesel::update(
        tokens::table
            .filter(tokens::hash.eq(&hash))
            .filter(tokens::status.eq(TokenStatus::Live))
            .filter(tokens::challenges.lt(MAX_CHALLENGES))
    )
    .set(tokens::challenges.eq(tokens::challenges + 1))
    .returning(tokens::challenges)
    .get_result::<i32>(c)
    .optional())?;
    if let Some(n) = counted {
        return Ok(n);
    }
    let status: TokenStatus = tokens::table
        .filter(tokens::hash.eq(&hash))
        .select(tokens::status)
        .first(conn)?;
    Err(if status == TokenStatus::Live {
        Error::conflict(
            ErrorCode::TooManyChallenges,
            format!(
                "you have checked {MAX_CHALLENGES} sealed ballots already: seal your ballot once \
                 more and cast it"
            ),
        )
    } else {
        status_error(status)
    })
}
