//! Witnesses' cosignatures as stored, and the checkpoint they publish: the newest one the
//! quorum has cosigned (docs/LOG_FORMAT.md, "Cosignatures").

use chrono::Utc;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::store::{self, StoredCheckpoint};
use crate::db::DbConnection;
use crate::db::schema::{checkpoints, cosignatures};
use crate::error::{Error, Result};
use strikevote_core::ElectionId;

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::Internal(format!("tree size {n} out of range")))
}

fn to_u64(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Internal("a negative tree size".into()))
}

/// Records `witness`'s cosignature `line` of the checkpoint of `size` (once; a second is ignored).
pub fn record(
    conn: &mut DbConnection,
    id: ElectionId,
    size: u64,
    witness: &str,
    line: &str,
) -> Result<()> {
    let values = (
        cosignatures::election_id.eq(id.to_string()),
        cosignatures::size.eq(to_i64(size)?),
        cosignatures::witness.eq(witness),
        cosignatures::line.eq(line),
        cosignatures::created_at.eq(Utc::now().naive_utc()),
    );
    crate::on_backend!(conn, |c| diesel::insert_into(cosignatures::table)
        .values(values)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The largest size `witness` cosigned of this election's log (0 if none).
pub fn latest_by(conn: &mut DbConnection, id: ElectionId, witness: &str) -> Result<u64> {
    let size: Option<i64> = cosignatures::table
        .filter(cosignatures::election_id.eq(id.to_string()))
        .filter(cosignatures::witness.eq(witness))
        .select(max(cosignatures::size))
        .first(conn)?;
    size.map_or(Ok(0), to_u64)
}

/// The witnesses (of `names`) who cosigned the checkpoint of `size`, with their lines.
pub fn at(
    conn: &mut DbConnection,
    id: ElectionId,
    size: u64,
    names: &[String],
) -> Result<Vec<(String, String)>> {
    let mut rows: Vec<(String, String)> = cosignatures::table
        .filter(cosignatures::election_id.eq(id.to_string()))
        .filter(cosignatures::size.eq(to_i64(size)?))
        .filter(cosignatures::witness.eq_any(names))
        .select((cosignatures::witness, cosignatures::line))
        .load(conn)?;
    // In the order entry 0 lists them, so the published note is the same on every instance.
    rows.sort_by_key(|(w, _)| names.iter().position(|n| n == w));
    Ok(rows)
}

/// The newest checkpoint at least `quorum` of the witnesses `names` cosigned, with their
/// lines appended to the log's note; `None` if none has been. With no witnesses (`quorum` 0),
/// the newest signed checkpoint.
pub fn published(
    conn: &mut DbConnection,
    id: ElectionId,
    names: &[String],
    quorum: usize,
) -> Result<Option<StoredCheckpoint>> {
    if quorum == 0 {
        return store::latest_checkpoint(conn, id).map(Some);
    }
    let needed = i64::try_from(quorum).unwrap_or(i64::MAX);
    let size: Option<i64> = cosignatures::table
        .filter(cosignatures::election_id.eq(id.to_string()))
        .filter(cosignatures::witness.eq_any(names))
        .group_by(cosignatures::size)
        .having(count_star().ge(needed))
        .select(cosignatures::size)
        .order(cosignatures::size.desc())
        .first(conn)
        .optional()?;
    let Some(size) = size else {
        return Ok(None);
    };
    let mut checkpoint = checkpoint_at(conn, id, size)?;
    for (_, line) in at(conn, id, to_u64(size)?, names)? {
        checkpoint.note.push_str(&line);
    }
    Ok(Some(checkpoint))
}

/// The stored checkpoint of exactly `size` entries.
fn checkpoint_at(conn: &mut DbConnection, id: ElectionId, size: i64) -> Result<StoredCheckpoint> {
    let row: (Vec<u8>, String, chrono::NaiveDateTime) = checkpoints::table
        .filter(checkpoints::election_id.eq(id.to_string()))
        .filter(checkpoints::size.eq(size))
        .select((
            checkpoints::root,
            checkpoints::note,
            checkpoints::created_at,
        ))
        .first(conn)?;
    Ok(StoredCheckpoint {
        size: to_u64(size)?,
        root: super::merkle::Hash::try_from(row.0)
            .map_err(|_| Error::Internal("a stored root is not 32 bytes".into()))?,
        note: row.1,
        created_at: row.2,
    })
}
