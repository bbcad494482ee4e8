//! The durable log of each election: append (under the election's lock), read, prove.

use std::collections::{BTreeSet, HashMap, HashSet};

use base64::Engine;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::LogKey;
use super::entry::NewEntry;
use super::heads;
use super::merkle::{self, CompactRange, Hash, NodeId};
use super::note::Checkpoint;
use crate::db::DbConnection;
use crate::db::schema::{checkpoints, elections, log_entries, log_nodes};
use crate::error::{Error, ErrorCode, Result};
use strikevote_core::ElectionId;

/// What the log store needs of an election: which log, the origin its checkpoints name, and
/// its size (as read under the election's lock when appending). The store takes this rather
/// than a whole election, so the log depends on nothing above it.
#[derive(Clone, Copy, Debug)]
pub struct LogOf<'a> {
    /// The election.
    pub id: ElectionId,
    /// The checkpoints' origin line.
    pub origin: &'a str,
    /// Entries in the log.
    pub log_size: u64,
}

/// Anything that names one election's log (an election, or a [`LogOf`]).
pub trait LogSource {
    /// The log it names.
    fn log_of(&self) -> LogOf<'_>;
}

impl LogSource for LogOf<'_> {
    fn log_of(&self) -> LogOf<'_> {
        *self
    }
}

/// Rows per multi-row INSERT.
const CHUNK: usize = 500;
/// Most entries one read returns.
pub const MAX_ENTRIES_PER_READ: u64 = 1000;

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The whole signed note.
    pub note: String,
    /// When it was signed (UTC).
    pub created_at: NaiveDateTime,
}

/// One stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Its position in the log.
    pub index: u64,
    /// Its `type`.
    pub kind: String,
    /// Its exact bytes.
    pub bytes: Vec<u8>,
}

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::Internal(format!("log position {n} out of range")))
}

fn to_hash(bytes: Vec<u8>) -> Result<Hash> {
    Hash::try_from(bytes).map_err(|_| Error::Internal("a stored hash is not 32 bytes".into()))
}

/// What an append did.
#[derive(Debug)]
pub struct Appended {
    /// The checkpoint signed over the new tree.
    pub checkpoint: StoredCheckpoint,
    /// The index of the first appended entry.
    pub first_index: u64,
    /// Every tree node the append completed (for proofs without reading them back).
    pub made: HashMap<NodeId, Hash>,
}

/// Runs `body` as one database transaction in which the log may be appended to; after it
/// commits, records every head it signed beside the signing key (durably) before returning,
/// so nobody is answered with a checkpoint the fork guard does not know.
pub fn transaction<T>(
    conn: &mut DbConnection,
    body: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    // Nested in another log transaction (an approval and the action it approves), the heads
    // are recorded when the outermost one commits, never before.
    if let Some(mark) = heads::begin() {
        let outcome = conn.transaction(body);
        if outcome.is_err() {
            heads::forget_after(mark);
        }
        return outcome;
    }
    let outcome = conn.transaction(body);
    let signed = heads::finish();
    let value = outcome?;
    for (store, id, head) in signed {
        crate::error::failpoint("log::committed", &id)?;
        store.record(id, head)?;
    }
    Ok(value)
}

/// Refuses unless every election's log in the database extends the head its signing key
/// recorded (run at start, so a restored old database is noticed before anything else).
pub fn check_heads(conn: &mut DbConnection, signer: &LogKey) -> Result<()> {
    let store = signer.heads();
    for (id, origin, log_size) in every_log(conn)? {
        let election = LogOf {
            id,
            origin: &origin,
            log_size,
        };
        let root = root_at(conn, &election, election.log_size)?;
        store.check(election.id, election.log_size, root, |n| {
            root_at(conn, &election, n)
        })?;
    }
    Ok(())
}

/// Refuses `signer` unless it is the key that signed the election's latest checkpoint (one key
/// per election: a command run with another key file must not append to its log).
pub fn check_key(
    conn: &mut DbConnection,
    election: &impl LogSource,
    signer: &LogKey,
) -> Result<()> {
    let election = &election.log_of();
    if election.log_size == 0 {
        return Ok(());
    }
    let latest = latest_checkpoint(conn, election.id)?;
    let verifier = signer.verifier(election.origin);
    if verifier.verify_checkpoint(&latest.note).is_ok() {
        return Ok(());
    }
    Err(Error::conflict(
        ErrorCode::WrongSigningKey,
        format!(
            "election {}'s log is signed with another key than {} (fingerprint {}): nothing \
             was appended. Use the key the election was created with — its fingerprint is on \
             the notices and the certificate — via STRIKEVOTE_SIGNING_KEY_PATH or \
             signing_key_path (by default strikevote.key beside the SQLite database)",
            election.id,
            signer.path().display(),
            super::note::fingerprint(&signer.public_key())
        ),
    ))
}

/// Refuses `signer` if any election in the database was signed with another key.
pub fn check_key_for_all(conn: &mut DbConnection, signer: &LogKey) -> Result<()> {
    for (id, origin, log_size) in every_log(conn)? {
        let election = LogOf {
            id,
            origin: &origin,
            log_size,
        };
        check_key(conn, &election, signer)?;
    }
    Ok(())
}

/// Every election's log in the database: id, origin, size.
fn every_log(conn: &mut DbConnection) -> Result<Vec<(ElectionId, String, u64)>> {
    let rows: Vec<(String, String, i64)> = elections::table
        .select((elections::id, elections::origin, elections::log_size))
        .order(elections::created_at)
        .load(conn)?;
    rows.into_iter()
        .map(|(id, origin, size)| {
            let size = u64::try_from(size)
                .map_err(|_| Error::Internal(format!("election {id} has a negative log size")))?;
            Ok((ElectionId::parse(&id)?, origin, size))
        })
        .collect()
}

/// Appends `entries` to the election's log and stores a newly signed checkpoint.
///
/// Must run inside [`transaction`]. The caller must hold the election's lock ([`crate::election::lock`]) in the current
/// transaction, and pass the election as read under it, so `log_size` is the true head.
pub fn append(
    conn: &mut DbConnection,
    election: &impl LogSource,
    entries: &[NewEntry],
    signer: &LogKey,
) -> Result<Appended> {
    let election = &election.log_of();
    if !heads::collecting() {
        return Err(Error::Internal(
            "log append outside log::store::transaction: its head would go unrecorded".into(),
        ));
    }
    check_key(conn, election, signer)?;
    let eid = election.id.to_string();
    let size = election.log_size;
    let mut tree = stored_edge(conn, &eid, size)?;
    // Never sign a tree that does not extend what this key already signed (a restored
    // database would otherwise fork the published log).
    signer.heads().check(election.id, size, tree.root(), |n| {
        root_at(conn, election, n)
    })?;
    let made = insert_entries(conn, &eid, size, entries, &mut tree)?;
    crate::error::failpoint("log::entries_stored", &election.id)?;
    let checkpoint = sign_head(conn, election, &tree, signer)?;
    crate::error::failpoint("log::head_signed", &election.id)?;
    Ok(Appended {
        checkpoint,
        first_index: size,
        made,
    })
}

/// The right edge of the stored tree of `size` entries, ready to push onto.
fn stored_edge(conn: &mut DbConnection, eid: &str, size: u64) -> Result<CompactRange> {
    let edge_ids = merkle::range_nodes(0, size);
    let edge_map = fetch_nodes(conn, eid, &edge_ids)?;
    let edge = edge_ids.iter().map(|id| edge_map[id]).collect();
    CompactRange::from_edge(size, edge)
        .ok_or_else(|| Error::Internal("the stored tree edge is inconsistent".into()))
}

/// A row of `log_entries`.
#[derive(Insertable)]
#[diesel(table_name = log_entries)]
struct EntryRow<'a> {
    election_id: &'a str,
    idx: i64,
    kind: &'a str,
    body: &'a [u8],
    receipt: Option<&'a str>,
    tracker: Option<&'a str>,
}

/// A row of `log_nodes`.
#[derive(Insertable)]
#[diesel(table_name = log_nodes)]
struct NodeRow<'a> {
    election_id: &'a str,
    level: i32,
    idx: i64,
    hash: Vec<u8>,
}

/// Stores the entries and every tree node they complete; returns those nodes.
fn insert_entries(
    conn: &mut DbConnection,
    eid: &str,
    size: u64,
    entries: &[NewEntry],
    tree: &mut CompactRange,
) -> Result<HashMap<NodeId, Hash>> {
    let mut entry_rows = Vec::with_capacity(entries.len());
    let mut node_rows = Vec::with_capacity(entries.len() * 2);
    let mut made = HashMap::with_capacity(entries.len() * 2);
    for (i, entry) in entries.iter().enumerate() {
        entry_rows.push(EntryRow {
            election_id: eid,
            idx: to_i64(size + i as u64)?,
            kind: entry.kind.as_str(),
            body: &entry.bytes,
            receipt: entry.receipt.as_deref(),
            tracker: entry.tracker.as_deref(),
        });
        for (node, hash) in tree.push(merkle::leaf_hash(&entry.bytes)) {
            node_rows.push(NodeRow {
                election_id: eid,
                level: i32::from(node.level),
                idx: to_i64(node.index)?,
                hash: hash.to_vec(),
            });
            made.insert(node, hash);
        }
    }
    for chunk in entry_rows.chunks(CHUNK) {
        crate::on_backend!(conn, |c| diesel::insert_into(log_entries::table)
            .values(chunk)
            .execute(c))?;
    }
    for chunk in node_rows.chunks(CHUNK) {
        crate::on_backend!(conn, |c| diesel::insert_into(log_nodes::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(made)
}

/// Signs the new head, stores the checkpoint and the new size, and notes the head for
/// [`transaction`] to record once the transaction commits.
fn sign_head(
    conn: &mut DbConnection,
    election: &impl LogSource,
    tree: &CompactRange,
    signer: &LogKey,
) -> Result<StoredCheckpoint> {
    let election = &election.log_of();
    let eid = election.id.to_string();
    let new_size = tree.size();
    diesel::update(elections::table.find(&eid))
        .set(elections::log_size.eq(to_i64(new_size)?))
        .execute(conn)?;
    let checkpoint = Checkpoint {
        origin: election.origin.to_owned(),
        size: new_size,
        root: tree.root(),
    };
    let stored = StoredCheckpoint {
        size: new_size,
        root: checkpoint.root,
        note: signer.sign_checkpoint(&checkpoint),
        created_at: Utc::now().naive_utc(),
    };
    diesel::insert_into(checkpoints::table)
        .values((
            checkpoints::election_id.eq(&eid),
            checkpoints::size.eq(to_i64(new_size)?),
            checkpoints::root.eq(stored.root.to_vec()),
            checkpoints::note.eq(&stored.note),
            checkpoints::created_at.eq(stored.created_at),
        ))
        .execute(conn)?;
    let head = heads::Head {
        size: new_size,
        root: stored.root,
    };
    heads::note(signer.heads(), election.id, head);
    Ok(stored)
}

/// Inclusion proofs of several entries in the tree of `size`, using `known` nodes (from an
/// append) and fetching only the rest, in one query.
pub fn inclusion_proofs(
    conn: &mut DbConnection,
    election: &impl LogSource,
    size: u64,
    indexes: &[u64],
    known: &HashMap<NodeId, Hash>,
) -> Result<Vec<Vec<Hash>>> {
    let election = &election.log_of();
    let plans: Vec<Vec<Vec<NodeId>>> = indexes
        .iter()
        .map(|&i| {
            merkle::inclusion_plan(i, size)
                .map(|plan| {
                    plan.iter()
                        .map(|&(s, e)| merkle::range_nodes(s, e))
                        .collect()
                })
                .map_err(|e| Error::Internal(e.to_string()))
        })
        .collect::<Result<_>>()?;
    let missing: BTreeSet<NodeId> = plans
        .iter()
        .flatten()
        .flatten()
        .filter(|id| !known.contains_key(id))
        .copied()
        .collect();
    let missing: Vec<NodeId> = missing.into_iter().collect();
    let fetched = fetch_nodes(conn, &election.id.to_string(), &missing)?;
    let node = |id: &NodeId| known.get(id).or_else(|| fetched.get(id)).copied();
    plans
        .iter()
        .map(|plan| {
            plan.iter()
                .map(|ids| {
                    let hashes: Option<Vec<Hash>> = ids.iter().map(node).collect();
                    hashes
                        .map(|h| merkle::fold_range(&h))
                        .ok_or_else(|| Error::Internal("a proof node is missing".into()))
                })
                .collect()
        })
        .collect()
}

/// Which of `trackers` are already in the election's log.
pub fn trackers_in_log(
    conn: &mut DbConnection,
    election: ElectionId,
    trackers: &[String],
) -> Result<HashSet<String>> {
    let mut seen = HashSet::new();
    for chunk in trackers.chunks(CHUNK) {
        let found: Vec<Option<String>> = log_entries::table
            .filter(log_entries::election_id.eq(election.to_string()))
            .filter(log_entries::tracker.eq_any(chunk))
            .select(log_entries::tracker)
            .load(conn)?;
        seen.extend(found.into_iter().flatten());
    }
    Ok(seen)
}

/// The `challenge` entry of `election` whose tracker is `tracker`: (index, exact bytes).
pub fn challenge_entry(
    conn: &mut DbConnection,
    election: ElectionId,
    tracker: &str,
) -> Result<Option<(u64, Vec<u8>)>> {
    let row: Option<(i64, Vec<u8>)> = log_entries::table
        .filter(log_entries::election_id.eq(election.to_string()))
        .filter(log_entries::tracker.eq(tracker))
        .filter(log_entries::kind.eq(super::entry::Kind::Challenge.as_str()))
        .select((log_entries::idx, log_entries::body))
        .first(conn)
        .optional()?;
    row.map(|(i, body)| {
        let index = u64::try_from(i).map_err(|_| Error::Internal("negative log index".into()))?;
        Ok((index, body))
    })
    .transpose()
}

/// Where the ballot with this receipt is: (election, index).
pub fn find_receipt(conn: &mut DbConnection, receipt: &str) -> Result<Option<(ElectionId, u64)>> {
    let row: Option<(String, i64)> = log_entries::table
        .filter(log_entries::receipt.eq(receipt))
        .select((log_entries::election_id, log_entries::idx))
        .first(conn)
        .optional()?;
    row.map(|(e, i)| {
        Ok((
            ElectionId::parse(&e)?,
            u64::try_from(i).map_err(|_| Error::Internal("negative log index".into()))?,
        ))
    })
    .transpose()
}

/// The stored hashes of `ids`, all of which must exist.
fn fetch_nodes(
    conn: &mut DbConnection,
    eid: &str,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted: BTreeSet<NodeId> = ids.iter().copied().collect();
    let levels: BTreeSet<i32> = wanted.iter().map(|n| i32::from(n.level)).collect();
    let indexes: BTreeSet<i64> = wanted
        .iter()
        .map(|n| to_i64(n.index))
        .collect::<Result<_>>()?;
    // A superset (every wanted level × every wanted index) in one query; O(log² n) rows.
    let rows: Vec<(i32, i64, Vec<u8>)> = log_nodes::table
        .filter(log_nodes::election_id.eq(eid))
        .filter(log_nodes::level.eq_any(levels))
        .filter(log_nodes::idx.eq_any(indexes))
        .select((log_nodes::level, log_nodes::idx, log_nodes::hash))
        .load(conn)?;
    let mut found = HashMap::with_capacity(wanted.len());
    for (level, index, hash) in rows {
        let (Ok(level), Ok(index)) = (u8::try_from(level), u64::try_from(index)) else {
            continue;
        };
        let id = NodeId { level, index };
        if wanted.contains(&id) {
            found.insert(id, to_hash(hash)?);
        }
    }
    if found.len() != wanted.len() {
        return Err(Error::Internal(format!(
            "the log of election {eid} is missing {} tree node(s)",
            wanted.len() - found.len()
        )));
    }
    Ok(found)
}

/// Hashes of the given leaf ranges, fetched in one query.
fn resolve(conn: &mut DbConnection, eid: &str, plan: &[(u64, u64)]) -> Result<Vec<Hash>> {
    let per_range: Vec<Vec<NodeId>> = plan
        .iter()
        .map(|&(s, e)| merkle::range_nodes(s, e))
        .collect();
    let all: Vec<NodeId> = per_range.iter().flatten().copied().collect();
    let nodes = fetch_nodes(conn, eid, &all)?;
    Ok(per_range
        .iter()
        .map(|ids| merkle::fold_range(&ids.iter().map(|id| nodes[id]).collect::<Vec<_>>()))
        .collect())
}

fn check_size(election: &impl LogSource, size: u64) -> Result<()> {
    let election = &election.log_of();
    if size > election.log_size {
        return Err(Error::bad_input(
            ErrorCode::SizeBeyondLog,
            format!(
                "tree size {size} is beyond the log, which has {} entries",
                election.log_size
            ),
        ));
    }
    Ok(())
}

/// The root of the first `size` entries.
pub fn root_at(conn: &mut DbConnection, election: &impl LogSource, size: u64) -> Result<Hash> {
    let election = &election.log_of();
    check_size(election, size)?;
    if size == 0 {
        return Ok(merkle::empty_root());
    }
    Ok(resolve(conn, &election.id.to_string(), &[(0, size)])?[0])
}

/// The log up to and including its `close` entry, if it has one (what decryption shares are
/// bound to).
pub fn closed_prefix(
    conn: &mut DbConnection,
    election: &impl LogSource,
) -> Result<Option<super::entry::LogRef>> {
    let election = &election.log_of();
    let idx: Option<i64> = log_entries::table
        .filter(log_entries::election_id.eq(election.id.to_string()))
        .filter(log_entries::kind.eq(super::entry::Kind::Close.as_str()))
        .select(log_entries::idx)
        .first(conn)
        .optional()?;
    let Some(idx) = idx else {
        return Ok(None);
    };
    let size = u64::try_from(idx).map_err(|_| Error::Internal("negative log index".into()))? + 1;
    let root = root_at(conn, election, size)?;
    Ok(Some(super::entry::LogRef {
        size,
        root: base64::engine::general_purpose::STANDARD.encode(root),
    }))
}

/// The leaf hash of entry `index` (which must exist).
pub fn leaf_hash(conn: &mut DbConnection, election: &impl LogSource, index: u64) -> Result<Hash> {
    let election = &election.log_of();
    check_size(election, index.saturating_add(1))?;
    let id = NodeId { level: 0, index };
    Ok(fetch_nodes(conn, &election.id.to_string(), &[id])?[&id])
}

/// The inclusion proof of entry `index` in the tree of `size` entries.
pub fn inclusion_proof(
    conn: &mut DbConnection,
    election: &impl LogSource,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>> {
    let election = &election.log_of();
    check_size(election, size)?;
    let plan = merkle::inclusion_plan(index, size)
        .map_err(|e| Error::bad_input(ErrorCode::InvalidProofRequest, e.to_string()))?;
    resolve(conn, &election.id.to_string(), &plan)
}

/// The consistency proof between the trees of `from` and `to` entries.
pub fn consistency_proof(
    conn: &mut DbConnection,
    election: &impl LogSource,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>> {
    let election = &election.log_of();
    check_size(election, to)?;
    let plan = merkle::consistency_plan(from, to)
        .map_err(|e| Error::bad_input(ErrorCode::InvalidProofRequest, e.to_string()))?;
    resolve(conn, &election.id.to_string(), &plan)
}

/// Entries `[start, end)`, at most [`MAX_ENTRIES_PER_READ`] of them, in order.
pub fn entries(
    conn: &mut DbConnection,
    id: ElectionId,
    start: u64,
    end: u64,
) -> Result<Vec<StoredEntry>> {
    let rows: Vec<(i64, String, Vec<u8>)> = log_entries::table
        .filter(log_entries::election_id.eq(id.to_string()))
        .filter(log_entries::idx.ge(to_i64(start)?))
        .filter(log_entries::idx.lt(to_i64(end.min(start.saturating_add(MAX_ENTRIES_PER_READ)))?))
        .order(log_entries::idx)
        .select((log_entries::idx, log_entries::kind, log_entries::body))
        .load(conn)?;
    rows.into_iter()
        .map(|(idx, kind, bytes)| {
            Ok(StoredEntry {
                index: u64::try_from(idx)
                    .map_err(|_| Error::Internal("negative log index".into()))?,
                kind,
                bytes,
            })
        })
        .collect()
}

/// Every entry of the given types, in log order, read as format v1 entries.
pub fn entries_of_kind(
    conn: &mut DbConnection,
    id: ElectionId,
    kinds: &[super::entry::Kind],
) -> Result<Vec<super::entry::Body>> {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let stored: Vec<Vec<u8>> = log_entries::table
        .filter(log_entries::election_id.eq(id.to_string()))
        .filter(log_entries::kind.eq_any(names))
        .order(log_entries::idx)
        .select(log_entries::body)
        .load(conn)?;
    stored
        .iter()
        .map(|bytes| {
            super::entry::Entry::parse(bytes)
                .map(|e| e.body)
                .map_err(|e| Error::Internal(format!("unreadable log entry: {e}")))
        })
        .collect()
}

/// A row of `checkpoints`, as read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = checkpoints)]
struct CheckpointRow {
    size: i64,
    root: Vec<u8>,
    note: String,
    created_at: NaiveDateTime,
}

fn to_checkpoint(row: CheckpointRow) -> Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        size: u64::try_from(row.size).map_err(|_| Error::Internal("negative tree size".into()))?,
        root: to_hash(row.root)?,
        note: row.note,
        created_at: row.created_at,
    })
}

/// The newest signed checkpoint.
pub fn latest_checkpoint(conn: &mut DbConnection, id: ElectionId) -> Result<StoredCheckpoint> {
    let row: Option<CheckpointRow> = checkpoints::table
        .filter(checkpoints::election_id.eq(id.to_string()))
        .order(checkpoints::size.desc())
        .select(CheckpointRow::as_select())
        .first(conn)
        .optional()?;
    to_checkpoint(row.ok_or_else(|| Error::Internal(format!("election {id} has no checkpoint")))?)
}

/// Every stored checkpoint, oldest first.
pub fn all_checkpoints(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<StoredCheckpoint>> {
    let rows: Vec<CheckpointRow> = checkpoints::table
        .filter(checkpoints::election_id.eq(id.to_string()))
        .order(checkpoints::size)
        .select(CheckpointRow::as_select())
        .load(conn)?;
    rows.into_iter().map(to_checkpoint).collect()
}
