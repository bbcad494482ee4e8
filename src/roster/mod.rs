//! Rosters: CSV parsing (pure, in [`csv`]) and the all-or-nothing import.

pub mod csv;

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use uuid::Uuid;

pub use self::csv::{LineProblem, RosterError, RosterRow, parse_roster};
use crate::db::DbConnection;
use crate::db::schema::{members, tokens};
use crate::election::{self, Election, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::{self, Body, Kind, NewEntry};
use crate::log::{self, LogKey};

/// Rows written per INSERT: well under both backends' bound-parameter limits.
const CHUNK: usize = 500;

/// What an import changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// Members in the roster now.
    pub members: usize,
    /// Members new to the roster.
    pub added: usize,
    /// Members whose local, name or email changed.
    pub updated: usize,
    /// Members no longer on the roster (their tokens are withdrawn).
    pub removed: usize,
}

/// Data rows in a CSV file (records after the header), counted without validating them.
fn count_rows(bytes: &[u8]) -> usize {
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes);
    let mut record = ::csv::ByteRecord::new();
    let mut n = 0;
    while let Ok(true) = reader.read_byte_record(&mut record) {
        n += 1;
    }
    n
}

/// Parses `bytes` and replaces the election's roster with it, in one transaction.
///
/// Members already on the roster keep their row and any token issued to them; members no
/// longer listed are removed together with their tokens. Refused once the vote has opened.
/// `progress` is told how many rows have been written so far. `max_rows` (uploads through the
/// web page or the API) refuses a larger file before it is parsed.
pub fn import(
    conn: &mut DbConnection,
    id: ElectionId,
    bytes: &[u8],
    signer: &LogKey,
    actor: &str,
    max_rows: Option<usize>,
    progress: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    if let Some(max) = max_rows {
        let rows = count_rows(bytes);
        if rows > max {
            return Err(Error::bad_input(
                ErrorCode::RosterTooLarge,
                format!(
                    "the roster has {rows} rows; an upload may have at most {max} \
                     (upload_max_rows). Import a larger roster with `strikevote roster import`"
                ),
            ));
        }
    }
    // Parse before taking any lock: a bad file never touches the database.
    let election = election::find(conn, id)?;
    election::ensure_draft(&election, "import a roster")?;
    let codes: HashSet<&str> = election
        .definition
        .locals
        .iter()
        .map(|l| l.code.as_str())
        .collect();
    let rows = parse_roster(bytes, &codes)
        .map_err(|e| Error::bad_input(ErrorCode::InvalidRoster, e.to_string()))?;

    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        election::ensure_draft(&election, "import a roster")?;
        let summary = replace(conn, id, &rows, progress)?;
        let mut entries = vec![entry::admin(&id, entry::AdminAction::RosterImport, actor)];
        entries.extend(changed_roster_entries(conn, &election, &rows)?);
        log::store::append(conn, &election, &entries, signer)?;
        Ok(summary)
    })
}

/// A `roster` entry for every local whose eligible count or digest differs from its latest
/// roster entry (every local, on the first import).
fn changed_roster_entries(
    conn: &mut DbConnection,
    election: &Election,
    rows: &[RosterRow],
) -> Result<Vec<NewEntry>> {
    let mut latest: HashMap<String, (u64, String)> = HashMap::new();
    for body in log::store::entries_of_kind(conn, election.id, &[Kind::Roster])? {
        if let Body::Roster(logged) = body {
            latest.insert(logged.local, (logged.eligible, logged.digest));
        }
    }
    let mut by_local: HashMap<&str, Vec<&str>> = HashMap::new();
    for row in rows {
        by_local
            .entry(row.local.as_str())
            .or_default()
            .push(row.member_id.as_str());
    }
    let mut out = Vec::new();
    for local in &election.definition.locals {
        let ids = by_local.remove(local.code.as_str()).unwrap_or_default();
        let eligible = ids.len() as u64;
        let digest = entry::roster_digest(ids);
        let now = (eligible, hex::encode(digest));
        if latest.get(local.code.as_str()) != Some(&now) {
            out.push(entry::roster(
                &election.id,
                local.code.as_str(),
                eligible,
                &digest,
            ));
        }
    }
    Ok(out)
}

/// A member as stored: its row id and what the roster file gave.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = members)]
pub(crate) struct StoredMember {
    #[diesel(column_name = id)]
    pub row_id: String,
    pub member_id: String,
    #[diesel(column_name = local_code)]
    pub local: String,
    pub name: String,
    pub email: String,
    /// The member's language for what the service sends them (two letters), if the roster
    /// gave one.
    pub language: Option<String>,
    /// The member's postal address (lines joined by `\n`), if the roster gave one.
    pub address: Option<String>,
}

/// Member `member_id` of election `id`'s roster, or `member_not_found`.
pub(crate) fn member(
    conn: &mut DbConnection,
    id: ElectionId,
    member_id: &str,
) -> Result<StoredMember> {
    members::table
        .filter(members::election_id.eq(id.to_string()))
        .filter(members::member_id.eq(member_id))
        .select(StoredMember::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            Error::not_found(
                ErrorCode::MemberNotFound,
                format!("member `{member_id}` is not on the roster of election {id}"),
            )
        })
}

/// A new row of `members`.
#[derive(Insertable)]
#[diesel(table_name = members)]
struct NewMember<'a> {
    id: String,
    election_id: &'a str,
    member_id: &'a str,
    local_code: &'a str,
    name: &'a str,
    email: &'a str,
    language: Option<&'a str>,
    address: Option<&'a str>,
}

/// What a new roster changes: members to add, rows to update, rows to remove.
struct Changes<'a> {
    inserts: Vec<NewMember<'a>>,
    updates: Vec<(String, &'a RosterRow)>,
    removed: Vec<String>,
}

fn changes<'a>(eid: &'a str, existing: Vec<StoredMember>, rows: &'a [RosterRow]) -> Changes<'a> {
    let mut existing: HashMap<String, StoredMember> = existing
        .into_iter()
        .map(|m| (m.member_id.clone(), m))
        .collect();
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for row in rows {
        match existing.remove(&row.member_id) {
            None => inserts.push(NewMember {
                id: Uuid::now_v7().to_string(),
                election_id: eid,
                member_id: &row.member_id,
                local_code: &row.local,
                name: &row.name,
                email: &row.email,
                language: row.language.as_deref(),
                address: row.address.as_deref(),
            }),
            Some(m) => {
                if m.local != row.local
                    || m.name != row.name
                    || m.email != row.email
                    || m.language != row.language
                    || m.address != row.address
                {
                    updates.push((m.row_id, row));
                }
            }
        }
    }
    // Whatever is left in `existing` is no longer on the roster.
    let removed = existing.into_values().map(|m| m.row_id).collect();
    Changes {
        inserts,
        updates,
        removed,
    }
}

fn replace(
    conn: &mut DbConnection,
    id: ElectionId,
    rows: &[RosterRow],
    progress: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    let eid = id.to_string();
    let existing: Vec<StoredMember> = members::table
        .filter(members::election_id.eq(&eid))
        .select(StoredMember::as_select())
        .load(conn)?;
    let Changes {
        inserts,
        updates,
        removed,
    } = changes(&eid, existing, rows);
    let total = removed.len() + updates.len() + inserts.len();
    let mut done = 0;
    for chunk in removed.chunks(CHUNK) {
        diesel::delete(tokens::table.filter(tokens::member.eq_any(chunk))).execute(conn)?;
        diesel::delete(members::table.filter(members::id.eq_any(chunk))).execute(conn)?;
        done += chunk.len();
        progress(done, total);
    }
    for (row_id, row) in &updates {
        diesel::update(members::table.find(row_id))
            .set((
                members::local_code.eq(&row.local),
                members::name.eq(&row.name),
                members::email.eq(&row.email),
                members::language.eq(&row.language),
                members::address.eq(&row.address),
            ))
            .execute(conn)?;
        done += 1;
        if done % CHUNK == 0 {
            progress(done, total);
        }
    }
    for chunk in inserts.chunks(CHUNK) {
        crate::on_backend!(conn, |c| diesel::insert_into(members::table)
            .values(chunk)
            .execute(c))?;
        done += chunk.len();
        progress(done, total);
    }
    progress(total, total);
    Ok(ImportSummary {
        members: rows.len(),
        added: inserts.len(),
        updated: updates.len(),
        removed: removed.len(),
    })
}
