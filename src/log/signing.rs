//! Opening the signing key for a database: one key per election, never a second one.

use super::key::{self, KeyError, LogKey};
use super::store;
use crate::db::DbConnection;
use crate::error::{Error, ErrorCode, Result};

/// The signing key at `path` for the database `conn` reaches: created only while the database
/// holds no election (a new key would orphan their logs), and refused unless it signed every
/// election the database holds.
pub fn signing_key(
    conn: &mut DbConnection,
    path: &std::path::Path,
    heads_dir: Option<&std::path::Path>,
) -> Result<LogKey> {
    let any = crate::election::count_all(conn)?;
    let key = key::load(path, heads_dir, any == 0).map_err(|e| match e {
        KeyError::Missing { .. } => Error::conflict(ErrorCode::WrongSigningKey, e.to_string()),
        other => Error::Internal(other.to_string()),
    })?;
    store::check_key_for_all(conn, &key)?;
    Ok(key)
}
