//! Teller invitation codes: one per teller, printed once when issued, stored only as SHA-256.
//! With its code a teller reaches the key ceremony over HTTPS (`teller setup --server`);
//! issuing codes again replaces every earlier one.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::db::schema::teller_invitations;
use crate::election::{self, ElectionId};
use crate::error::{Error, Result};

fn digest(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

/// A fresh code for every teller of a draft election, replacing any earlier ones; returns
/// `(teller, code)` pairs — the only time the codes exist in plain text.
pub fn issue(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<(u32, String)>> {
    conn.transaction(|conn| {
        let election = election::lock(conn, id)?;
        crate::election::ceremony::still_open(&election)?;
        let eid = id.to_string();
        diesel::delete(teller_invitations::table.filter(teller_invitations::election_id.eq(&eid)))
            .execute(conn)?;
        let mut codes = Vec::new();
        for teller in 1..=election.definition.tellers.count {
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
