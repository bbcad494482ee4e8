//! Teller invitation codes: one per teller, printed once when issued, stored only as SHA-256.
//! With its code a teller reaches the key ceremony over HTTPS (`teller setup --server`);
//! issuing codes again replaces every earlier one.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::db::schema::teller_invitations;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};

fn digest(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

/// A fresh code for every teller of a draft election (`only`: for that teller alone),
/// replacing the earlier ones; returns `(teller, code)` pairs — the only time the codes exist
/// in plain text. One teller's seat can be handed to someone else this way while that teller
/// has published nothing: once their key is in the log, the seat is theirs for this ceremony.
pub fn issue(
    conn: &mut DbConnection,
    id: ElectionId,
    only: Option<u32>,
) -> Result<Vec<(u32, String)>> {
    conn.transaction(|conn| {
        let election = election::lock(conn, id)?;
        crate::election::ceremony::still_open(&election)?;
        let count = election.definition.tellers.count;
        let seats: Vec<u32> = match only {
            None => (1..=count).collect(),
            Some(t) => {
                seat_free(conn, &election, t)?;
                vec![t]
            }
        };
        let eid = id.to_string();
        for teller in &seats {
            diesel::delete(
                teller_invitations::table
                    .filter(teller_invitations::election_id.eq(&eid))
                    .filter(teller_invitations::teller.eq(*teller as i32)),
            )
            .execute(conn)?;
        }
        let mut codes = Vec::new();
        for teller in seats {
            let code = strikevote_core::token::random_receipt()
                .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
            diesel::insert_into(teller_invitations::table)
                .values((
                    teller_invitations::election_id.eq(&eid),
                    teller_invitations::teller.eq(teller as i32),
                    teller_invitations::code_hash.eq(digest(&code)),
                ))
                .execute(conn)?;
            codes.push((teller, code));
        }
        Ok(codes)
    })
}

/// Teller `teller`'s seat can be given to someone else: it exists and its key is not logged.
fn seat_free(conn: &mut DbConnection, election: &election::Election, teller: u32) -> Result<()> {
    let count = election.definition.tellers.count;
    if teller == 0 || teller > count {
        return Err(Error::bad_input(
            ErrorCode::InvalidBody,
            format!("teller {teller} does not exist: the election has {count} tellers"),
        ));
    }
    let record = crate::election::ceremony::record(conn, election)?;
    if record.teller_keys().contains_key(&teller) {
        return Err(Error::conflict(
            ErrorCode::CeremonyRefused,
            format!(
                "teller {teller} has already published their key: the seat is theirs for this \
                 key ceremony, and a new code would not let anyone else take it. If they cannot \
                 go on, the election has to be created again"
            ),
        ));
    }
    Ok(())
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
