//! Log entries (format v1): compact JSON objects with `v`, `type` and `election` first.
//! The bytes built here are stored and hashed as they are; nothing re-serializes them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ElectionId;
use crate::definition::{Choice, Definition, format_time};

/// The format version every entry carries.
pub const VERSION: u8 = 1;

/// Entry types written so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The frozen definition; always entry 0.
    Election,
    /// A local's eligible count and roster digest.
    Roster,
    /// Tokens were issued (counts only).
    TokensIssued,
    /// One member's token was replaced (local only, never the member).
    TokenReissued,
    /// Voting opened.
    Open,
    /// A ballot.
    Ballot,
    /// Voting closed.
    Close,
    /// The certified result.
    Result,
    /// An official's action and who took it.
    Admin,
}

impl Kind {
    /// The `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Election => "election",
            Kind::Roster => "roster",
            Kind::TokensIssued => "tokens_issued",
            Kind::TokenReissued => "token_reissued",
            Kind::Open => "open",
            Kind::Ballot => "ballot",
            Kind::Close => "close",
            Kind::Result => "result",
            Kind::Admin => "admin",
        }
    }
}

/// An entry ready to append: its type and its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Its type (also stored in a column, for queries).
    pub kind: Kind,
    /// The exact JSON bytes.
    pub bytes: Vec<u8>,
    /// A ballot's receipt (also stored in a column, so a member can find their entry).
    pub receipt: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    v: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    election: &'a ElectionId,
    #[serde(flatten)]
    body: T,
}

fn encode<T: Serialize>(election: &ElectionId, kind: Kind, body: T) -> NewEntry {
    let envelope = Envelope {
        v: VERSION,
        kind: kind.as_str(),
        election,
        body,
    };
    // Serializing plain structs of strings and integers to a Vec cannot fail.
    let bytes = serde_json::to_vec(&envelope).unwrap_or_default();
    NewEntry {
        kind,
        bytes,
        receipt: None,
    }
}

/// A ballot: exactly local, choice and receipt — no member, no token, no time.
pub fn ballot(id: &ElectionId, local: &str, choice: Choice, receipt: &str) -> NewEntry {
    #[derive(Serialize)]
    struct Ballot<'a> {
        local: &'a str,
        choice: &'static str,
        receipt: &'a str,
    }
    let mut entry = encode(
        id,
        Kind::Ballot,
        Ballot {
            local,
            choice: choice.as_str(),
            receipt,
        },
    );
    entry.receipt = Some(receipt.to_owned());
    entry
}

/// The certified result (body from [`crate::tally::Results::entry_body`]).
pub fn result(id: &ElectionId, body: &serde_json::Value) -> NewEntry {
    encode(id, Kind::Result, body)
}

/// Entry 0: the definition, field for field as the official wrote it.
pub fn election(id: &ElectionId, definition: &Definition) -> NewEntry {
    encode(id, Kind::Election, definition)
}

/// A local's roster: how many members are eligible and a digest committing to who.
pub fn roster(id: &ElectionId, local: &str, eligible: u64, digest: &[u8; 32]) -> NewEntry {
    #[derive(Serialize)]
    struct Roster<'a> {
        local: &'a str,
        eligible: u64,
        digest: String,
    }
    encode(
        id,
        Kind::Roster,
        Roster {
            local,
            eligible,
            digest: hex::encode(digest),
        },
    )
}

/// Tokens issued, counted per local.
pub fn tokens_issued(id: &ElectionId, locals: &BTreeMap<String, u64>) -> NewEntry {
    #[derive(Serialize)]
    struct Issued<'a> {
        count: u64,
        locals: &'a BTreeMap<String, u64>,
    }
    encode(
        id,
        Kind::TokensIssued,
        Issued {
            count: locals.values().sum(),
            locals,
        },
    )
}

/// An official's action, naming the official — never a member. It stands in the same append
/// as the entries the action writes (right before them; after entry 0 for the creation).
pub fn admin(id: &ElectionId, action: &str, by: &str) -> NewEntry {
    #[derive(Serialize)]
    struct Admin<'a> {
        action: &'a str,
        by: &'a str,
    }
    encode(id, Kind::Admin, Admin { action, by })
}

/// One token replaced in `local`.
pub fn token_reissued(id: &ElectionId, local: &str) -> NewEntry {
    #[derive(Serialize)]
    struct Reissued<'a> {
        local: &'a str,
    }
    encode(id, Kind::TokenReissued, Reissued { local })
}

#[derive(Serialize)]
struct At {
    at: String,
}

/// Voting opened at `at`.
pub fn open(id: &ElectionId, at: DateTime<Utc>) -> NewEntry {
    encode(
        id,
        Kind::Open,
        At {
            at: format_time(&at),
        },
    )
}

/// Voting closed at `at`.
pub fn close(id: &ElectionId, at: DateTime<Utc>) -> NewEntry {
    encode(
        id,
        Kind::Close,
        At {
            at: format_time(&at),
        },
    )
}

/// The roster commitment of one local: SHA-256 over its member ids sorted bytewise, each
/// followed by a newline. Anyone holding the roster can recompute it.
pub fn roster_digest<'a>(member_ids: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
    let mut ids: Vec<&str> = member_ids.into_iter().collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_compact_json_with_the_envelope_first() {
        let id = ElectionId::parse("0192c7a0-0000-4000-8000-000000000001").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-10-01T07:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            String::from_utf8(open(&id, at).bytes).unwrap(),
            r#"{"v":1,"type":"open","election":"0192c7a0-0000-4000-8000-000000000001","at":"2026-10-01T07:00:00Z"}"#
        );
        let digest = roster_digest(["b", "a"]);
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(b"a\nb\n")));
        assert_eq!(
            String::from_utf8(roster(&id, "600", 2, &digest).bytes).unwrap(),
            format!(
                r#"{{"v":1,"type":"roster","election":"0192c7a0-0000-4000-8000-000000000001","local":"600","eligible":2,"digest":"{}"}}"#,
                hex::encode(digest)
            )
        );
        let mut locals = BTreeMap::new();
        locals.insert("600".to_owned(), 2);
        locals.insert("700".to_owned(), 1);
        assert_eq!(
            String::from_utf8(tokens_issued(&id, &locals).bytes).unwrap(),
            r#"{"v":1,"type":"tokens_issued","election":"0192c7a0-0000-4000-8000-000000000001","count":3,"locals":{"600":2,"700":1}}"#
        );
    }
}
