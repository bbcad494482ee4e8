//! Which sealing code sealed a member's ballot (log format v7): a ballot or challenge may name
//! the SHA-256 of the code that sealed it only when the election's log names that code — the
//! `open` entry names the code this server served when the vote opened, and a `sealing_code`
//! entry names the code of a server that started serving another version while the vote was
//! open, written in the same append as the first ballot or challenge that names it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::Utc;
use strikevote_core::crypto::encoded::EncodedBallot;

use super::{Batch, Cast, Sealing};
use crate::db::DbConnection;
use crate::election::{Election, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::{self, Body, Kind, NewEntry};

/// A ballot sealed on the member's device, and the code that sealed it if it says.
#[derive(Clone)]
pub struct MemberBallot {
    /// The sealed ballot (with its ciphertexts' encodings as read).
    pub ballot: EncodedBallot,
    /// The SHA-256 (hex) of the sealing code that sealed it: this server's, or one the log
    /// names; `None` when the member's own software sealed it.
    pub code: Option<String>,
}

/// The code this server serves to ballot pages.
pub fn own_code() -> &'static str {
    crate::sealing_code::sealing_code_sha256()
}

/// The sealing codes each election's log names, as last read (a log only ever adds codes, so
/// what was read stays true; a code not found here is looked for in the log again).
#[derive(Default)]
pub struct NamedCodes(Mutex<HashMap<ElectionId, HashSet<String>>>);

/// The refusal of a ballot or challenge naming a code the log does not name.
pub(super) fn unknown_code() -> Error {
    Error::bad_input(
        ErrorCode::UnknownSealingCode,
        "the ballot names a sealing code this election's log does not name: reload the ballot \
         page and seal again; nothing was recorded and your token is still unused",
    )
}

impl NamedCodes {
    /// Whether the log names each of `wanted`; returns the entry that names this server's own
    /// code first when a ballot names it and the log does not yet (to append before them).
    /// Under the election's lock, so no other instance names it meanwhile.
    pub fn resolve(
        &self,
        conn: &mut DbConnection,
        election: &Election,
        wanted: &HashSet<&str>,
    ) -> Result<(HashSet<String>, Option<NewEntry>)> {
        let cached = self.get(election.id);
        if wanted.iter().all(|c| cached.contains(*c)) {
            return Ok((cached, None));
        }
        let mut named = HashSet::new();
        for body in
            crate::log::store::entries_of_kind(conn, election.id, &[Kind::Open, Kind::SealingCode])?
        {
            if let Body::Open(o) | Body::SealingCode(o) = body {
                named.insert(o.sealing_code);
            }
        }
        // Only what is committed is remembered: an entry appended below may yet roll back.
        if let Ok(mut map) = self.0.lock() {
            map.insert(election.id, named.clone());
        }
        let own = own_code();
        let announce = (wanted.contains(own) && !named.contains(own)).then(|| {
            named.insert(own.to_owned());
            entry::sealing_code(&election.id, Utc::now(), own)
        });
        Ok((named, announce))
    }

    fn get(&self, id: ElectionId) -> HashSet<String> {
        self.0
            .lock()
            .map(|m| m.get(&id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The member-sealed ballots among `candidates` whose code the log names (or will, in
    /// this append); the others are answered in `out` with nothing used up.
    pub(super) fn check(
        &self,
        conn: &mut DbConnection,
        election: &Election,
        batch: &Batch,
        candidates: Vec<usize>,
        out: &mut Vec<(usize, Result<Cast>)>,
    ) -> Result<(Vec<usize>, Option<NewEntry>)> {
        let code = |i: usize| match &batch.requests[i].sealing {
            Sealing::Member(m) => m.code.as_deref(),
            Sealing::Server(_) => None,
        };
        let wanted: HashSet<&str> = candidates.iter().filter_map(|&i| code(i)).collect();
        if wanted.is_empty() {
            return Ok((candidates, None));
        }
        let (named, announce) = self.resolve(conn, election, &wanted)?;
        let mut kept = Vec::with_capacity(candidates.len());
        for i in candidates {
            match code(i) {
                Some(c) if !named.contains(c) => out.push((i, Err(unknown_code()))),
                _ => kept.push(i),
            }
        }
        // Named only if a ballot naming it is still to be cast.
        let own = own_code();
        let announce = announce.filter(|_| kept.iter().any(|&i| code(i) == Some(own)));
        Ok((kept, announce))
    }
}
