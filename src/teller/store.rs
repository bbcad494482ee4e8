//! The key ceremony through the database. Public messages (each teller's key and commitment,
//! polynomial, readiness, and the election key the service rebuilds from the polynomials)
//! are log entries, checked with the core's `ceremony::Record` before they are appended —
//! the rules the offline verifier replays. Secret shares, age-encrypted to their recipient,
//! wait in `teller_shares` until the recipient fetches them.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::teller_shares;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, Body, NewEntry};
use crate::log::store;
pub use strikevote_teller::ceremony::SignedShare;

pub use crate::election::ceremony::{params, record};

/// Appends a teller's public ceremony message, if the ceremony's rules allow it now; after
/// the last polynomial, also the election key rebuilt from all of them.
pub fn publish(
    conn: &mut DbConnection,
    id: ElectionId,
    message: NewEntry,
    signer: &LogKey,
) -> Result<()> {
    store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        crate::election::ceremony::still_open(&election)?;
        let mut record = record(conn, &election)?;
        let body = entry::Entry::parse(&message.bytes)
            .map_err(|e| {
                Error::bad_input(
                    ErrorCode::CeremonyRefused,
                    format!("a ceremony message is malformed: {e}"),
                )
            })?
            .body;
        // The core checks only the recipient's form; the service checks it is a key the other
        // tellers can encrypt to, before anyone depends on it.
        if let Body::TellerKey(k) = &body
            && <age::x25519::Recipient as std::str::FromStr>::from_str(&k.recipient).is_err()
        {
            return Err(Error::conflict(
                ErrorCode::CeremonyRefused,
                format!("teller {}'s recipient is not an age X25519 key", k.teller),
            ));
        }
        record
            .add(&body)
            .map_err(|e| Error::conflict(ErrorCode::CeremonyRefused, e))?;
        let mut entries = vec![message];
        if matches!(body, Body::TellerPolynomial(_))
            && let Some(rebuilt) = record.rebuilt_key()
        {
            let keys = rebuilt.map_err(|e| Error::conflict(ErrorCode::CeremonyRefused, e))?;
            entries.push(entry::election_key(&id, &keys));
        }
        store::append(conn, &election, &entries, signer)?;
        Ok(())
    })
}

/// Stores secret shares sent by `from` (1-based), each sealed to its recipient and signed by
/// the sender's identity key from its `teller_key` entry, once the ceremony's election key is
/// logged (round 3); shares already stored are kept as they are (a teller may run its command
/// again). A restart of the ceremony deletes them all.
pub fn send_shares(
    conn: &mut DbConnection,
    id: ElectionId,
    from: u32,
    sealed: &[SignedShare],
) -> Result<()> {
    let eid = id.to_string();
    conn.transaction(|conn| {
        // Locked: a restart of the ceremony (which deletes the shares sent so far) waits.
        let election = election::lock(conn, id)?;
        crate::election::ceremony::still_open(&election)?;
        let record = record(conn, &election)?;
        if record.election_key().is_none() {
            return Err(Error::conflict(
                ErrorCode::CeremonyRefused,
                format!(
                    "teller {from} sends secret shares before every teller's polynomial of this \
                     ceremony is logged"
                ),
            ));
        }
        let identity = record
            .teller_keys()
            .get(&from)
            .map(|k| k.identity.clone())
            .ok_or_else(|| {
                Error::conflict(
                    ErrorCode::CeremonyRefused,
                    format!("teller {from} sends shares before its key is logged"),
                )
            })?;
        for share in sealed {
            strikevote_core::crypto::identity::verify_share(
                &identity,
                &id,
                from,
                share.teller,
                &share.sealed,
                &share.signature,
            )
            .map_err(|e| {
                Error::bad_input(
                    ErrorCode::CeremonyRefused,
                    format!("the share for teller {}: {e}", share.teller),
                )
            })?;
        }
        for SignedShare {
            teller: to,
            sealed: bytes,
            signature,
        } in sealed
        {
            let present: i64 = teller_shares::table
                .filter(teller_shares::election_id.eq(&eid))
                .filter(teller_shares::from_teller.eq(from as i32))
                .filter(teller_shares::to_teller.eq(*to as i32))
                .count()
                .get_result(conn)?;
            if present == 0 {
                diesel::insert_into(teller_shares::table)
                    .values((
                        teller_shares::election_id.eq(&eid),
                        teller_shares::from_teller.eq(from as i32),
                        teller_shares::to_teller.eq(*to as i32),
                        teller_shares::sealed.eq(bytes),
                        teller_shares::signature.eq(signature),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// The sealed shares waiting for teller `to` (1-based), by sender.
pub fn shares_for(conn: &mut DbConnection, id: ElectionId, to: u32) -> Result<Vec<SignedShare>> {
    let rows: Vec<(i32, Vec<u8>, String)> = teller_shares::table
        .filter(teller_shares::election_id.eq(id.to_string()))
        .filter(teller_shares::to_teller.eq(to as i32))
        .select((
            teller_shares::from_teller,
            teller_shares::sealed,
            teller_shares::signature,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(from, sealed, signature)| {
            u32::try_from(from).ok().map(|teller| SignedShare {
                teller,
                sealed,
                signature,
            })
        })
        .collect())
}

/// Whether teller `from` already sent its shares.
pub fn has_sent(conn: &mut DbConnection, id: ElectionId, from: u32) -> Result<bool> {
    let n: i64 = teller_shares::table
        .filter(teller_shares::election_id.eq(id.to_string()))
        .filter(teller_shares::from_teller.eq(from as i32))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
