//! Teller invitation codes: one per teller, printed once when issued, stored only as SHA-256.
//! With its code a teller reaches the key ceremony over HTTPS (`teller setup --server`);
//! issuing codes again replaces every earlier one. One teller's seat goes to someone else with
//! [`replace`]: a new code for that seat, and — once that teller's key is in the log — a restart
//! of the key ceremony.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::db::schema::{teller_invitations, teller_shares};
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, AdminAction, Body};

fn digest(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

/// A fresh code for every teller of a draft election, replacing the earlier ones; returns
/// `(teller, code)` pairs — the only time the codes exist in plain text.
pub fn issue(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<(u32, String)>> {
    conn.transaction(|conn| {
        let election = election::lock(conn, id)?;
        crate::election::ceremony::still_open(&election)?;
        (1..=election.definition.tellers.count)
            .map(|teller| fresh_code(conn, id, teller).map(|code| (teller, code)))
            .collect()
    })
}

/// A new code for seat `teller`, replacing its earlier one.
fn fresh_code(conn: &mut DbConnection, id: ElectionId, teller: u32) -> Result<String> {
    let eid = id.to_string();
    diesel::delete(
        teller_invitations::table
            .filter(teller_invitations::election_id.eq(&eid))
            .filter(teller_invitations::teller.eq(teller as i32)),
    )
    .execute(conn)?;
    let code = strikevote_core::token::random_receipt()
        .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
    diesel::insert_into(teller_invitations::table)
        .values((
            teller_invitations::election_id.eq(&eid),
            teller_invitations::teller.eq(teller as i32),
            teller_invitations::code_hash.eq(digest(&code)),
        ))
        .execute(conn)?;
    Ok(code)
}

/// Seat `teller` given to someone else, as [`replace`] did it.
#[derive(Debug)]
pub struct Replaced {
    /// The seat's new invitation code (its only time in plain text).
    pub code: String,
    /// Whether the key ceremony restarted (the teller had published their key).
    pub restarted: bool,
}

/// Gives teller `teller`'s seat of a draft election to someone else: a new invitation code for
/// it (the old one stops working; the other tellers' stay). While that teller has published
/// nothing, that is all. Once their key is in the log the others' secret shares are made for
/// it (and after a restart the others expect the same identity key again), so the seat changes
/// hands only with a restart of the key ceremony, which
/// `restart` must ask for: `by` is logged with it (an `admin` `ceremony_restart` and the
/// `ceremony_restart` entry), every ceremony entry before it is void, and the secret shares
/// sent so far are deleted. A complete ceremony is never restarted.
pub fn replace(
    conn: &mut DbConnection,
    signer: &LogKey,
    (id, teller): (ElectionId, u32),
    by: &str,
    restart: bool,
) -> Result<Replaced> {
    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        crate::election::ceremony::still_open(&election)?;
        let count = election.definition.tellers.count;
        if teller == 0 || teller > count {
            return Err(Error::bad_input(
                ErrorCode::InvalidBody,
                format!("teller {teller} does not exist: the election has {count} tellers"),
            ));
        }
        let mut record = crate::election::ceremony::record(conn, &election)?;
        // A teller who published a key holds the seat — also one who stayed through an
        // earlier restart and has not published again (their identity key carries over).
        let restarted = record.holds_seat(teller);
        if restarted && !restart {
            return Err(Error::conflict(
                ErrorCode::CeremonyRefused,
                format!(
                    "teller {teller} has already published their key: the other tellers' secret \
                     shares are made for it, so their seat goes to someone else only if the key \
                     ceremony starts again. Ask for the restart to go on: every teller then runs \
                     setup again (keeping their state file) and confirms the new teller's \
                     fingerprint by phone"
                ),
            ));
        }
        if restarted {
            let body = Body::CeremonyRestart(entry::CeremonyRestart {
                replaced: vec![teller],
            });
            record
                .add(&body)
                .map_err(|e| Error::conflict(ErrorCode::CeremonyRefused, e))?;
            let entries = [
                entry::admin(&id, AdminAction::CeremonyRestart, by),
                entry::Entry::new(id, body).to_new(),
            ];
            crate::log::store::append(conn, &election, &entries, signer)?;
            diesel::delete(
                teller_shares::table.filter(teller_shares::election_id.eq(id.to_string())),
            )
            .execute(conn)?;
        }
        let code = fresh_code(conn, id, teller)?;
        Ok(Replaced { code, restarted })
    })
}

/// Whether `code` is teller `teller`'s current invitation for the election.
pub fn check(conn: &mut DbConnection, id: ElectionId, teller: u32, code: &str) -> Result<()> {
    let stored: Option<Vec<u8>> = teller_invitations::table
        .filter(teller_invitations::election_id.eq(id.to_string()))
        .filter(teller_invitations::teller.eq(i32::try_from(teller).unwrap_or(-1)))
        .select(teller_invitations::code_hash)
        .first(conn)
        .optional()?;
    if code.len() > 128 || stored.as_deref() != Some(digest(code).as_slice()) {
        return Err(Error::Unauthorized(
            "this is not the invitation code of this teller for this election".into(),
        ));
    }
    Ok(())
}

/// The SHA-256 (hex) of the `strikevote-teller` program tellers are to run — `given` (the
/// `teller_program` setting), else the one installed beside this program (a release ships
/// both) — for the invitations to print: a teller checks the copy they downloaded against it
/// before running it. `None` when there is no such file.
pub fn teller_program_sha256(given: Option<&std::path::Path>) -> Option<String> {
    let program = match given {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()
            .ok()?
            .with_file_name(format!("strikevote-teller{}", std::env::consts::EXE_SUFFIX)),
    };
    let bytes = std::fs::read(program).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}
