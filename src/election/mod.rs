//! Elections: the definition (pure, in [`definition`]), the lifecycle state, and the store.

pub mod approval;
pub mod ceremony;
pub mod count;
pub mod decryption;
pub mod schedule;
pub use strikevote_core::definition;

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

pub use definition::{
    Choice, Comparison, Definition, DefinitionError, Fraction, Local, LocalCode, Problem, Rule,
};

use crate::db::DbConnection;
use crate::db::schema::{elections, locals, members, tokens};
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::{self, NewEntry};
use crate::log::store::StoredCheckpoint;
use crate::log::{self, LogKey};
use crate::settings::PublicUrl;
use crate::token::TokenStatus;
use strikevote_core::lifecycle::Phase;

pub use strikevote_core::ElectionId;

/// Where an election is in its life (stored as its word).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
    utoipa::ToSchema,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Being prepared: definition and roster may change.
    Draft,
    /// Voting.
    Open,
    /// Voting over; results may be read.
    Closed,
    /// The result entry is in the log.
    Certified,
}

crate::stored_as_word!(State, "election state", {
    Draft => "draft",
    Open => "open",
    Closed => "closed",
    Certified => "certified",
});

/// A change of state an official asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Draft → open.
    Open,
    /// Open → closed.
    Close,
    /// Closed → certified (the result entry).
    Certify,
}

impl Transition {
    /// Parses `open`, `close` or `certify`; anything else is refused.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(Self::Open),
            "close" => Ok(Self::Close),
            "certify" => Ok(Self::Certify),
            _ => Err(Error::bad_input(
                ErrorCode::InvalidAction,
                "the action is open, close or certify",
            )),
        }
    }

    /// The log's `admin` action for it.
    pub fn admin(self) -> entry::AdminAction {
        match self {
            Self::Open => entry::AdminAction::Open,
            Self::Close => entry::AdminAction::Close,
            Self::Certify => entry::AdminAction::Certify,
        }
    }

    /// Its name in forms and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Close => "close",
            Self::Certify => "certify",
        }
    }
}

/// An election as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Election {
    /// Its id.
    pub id: ElectionId,
    /// Where it is in its life.
    pub state: State,
    /// When it was created (UTC).
    pub created_at: NaiveDateTime,
    /// Its definition.
    pub definition: Definition,
    /// Its log's origin and checkpoint key name: `<public host>/elections/<uuid>`.
    pub origin: String,
    /// Entries in its log.
    pub log_size: u64,
    /// The public URL members reach it at; ballot links start with it.
    pub public_url: PublicUrl,
}

impl Election {
    /// The link a member opens to vote with `token` (printed on the mailing).
    pub fn ballot_url(&self, token: &crate::token::PlainToken) -> String {
        format!("{}/vote?token={}", self.public_url, token.expose())
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = elections)]
struct ElectionRow {
    id: String,
    definition: String,
    state: State,
    created_at: NaiveDateTime,
    origin: String,
    log_size: i64,
    public_url: String,
}

impl ElectionRow {
    fn into_election(self) -> Result<Election> {
        let id = Uuid::parse_str(&self.id)
            .map(ElectionId::from_uuid)
            .map_err(|e| Error::Internal(format!("stored election id is not a UUID: {e}")))?;
        let definition = serde_json::from_str(&self.definition).map_err(|e| {
            Error::Internal(format!("stored definition of {id} is unreadable: {e}"))
        })?;
        let public_url = if self.public_url.is_empty() {
            // Elections created before the URL was kept: the origin's host, over TLS unless
            // it is this machine.
            let host = self.origin.split('/').next().unwrap_or_default();
            let local = host.starts_with("localhost") || host.starts_with("127.");
            PublicUrl::parse(&format!(
                "{}://{host}",
                if local { "http" } else { "https" }
            ))
        } else {
            PublicUrl::parse(&self.public_url)
        }
        .map_err(|e| Error::Internal(format!("stored public URL of {id}: {e}")))?;
        Ok(Election {
            id,
            state: self.state,
            created_at: self.created_at,
            definition,
            public_url,
            origin: self.origin,
            log_size: u64::try_from(self.log_size)
                .map_err(|_| Error::Internal("negative log size".into()))?,
        })
    }
}

impl log::store::LogSource for Election {
    fn log_of(&self) -> log::store::LogOf<'_> {
        log::store::LogOf {
            id: self.id,
            origin: &self.origin,
            log_size: self.log_size,
        }
    }
}

/// The origin of an election's log: `<public host>/elections/<uuid>`.
pub fn origin(public_url: &PublicUrl, id: ElectionId) -> String {
    format!("{}/elections/{id}", public_url.host())
}

/// Stores a new election in the draft state, with its definition as log entry 0, and
/// returns its id. The log's origin and the ballot links are fixed here from `public_url`.
pub fn create(
    conn: &mut DbConnection,
    definition: &Definition,
    public_url: &PublicUrl,
    signer: &LogKey,
    actor: &str,
) -> Result<ElectionId> {
    let id = ElectionId::new_random();
    let json = serde_json::to_string(definition)
        .map_err(|e| Error::Internal(format!("cannot encode the definition: {e}")))?;
    let now = Utc::now().naive_utc();
    crate::log::store::transaction(conn, |conn| {
        diesel::insert_into(elections::table)
            .values((
                elections::id.eq(id.to_string()),
                elections::title.eq(&definition.title),
                elections::definition.eq(&json),
                elections::state.eq(State::Draft),
                elections::created_at.eq(now),
                elections::lock_version.eq(0_i64),
                elections::origin.eq(origin(public_url, id)),
                elections::log_size.eq(0_i64),
                elections::public_url.eq(public_url.to_string()),
            ))
            .execute(conn)?;
        let rows: Vec<_> = definition
            .locals
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    locals::election_id.eq(id.to_string()),
                    locals::code.eq(l.code.as_str()),
                    locals::name.eq(&l.name),
                    locals::delegates.eq(i32::try_from(l.delegates).unwrap_or(i32::MAX)),
                    locals::position.eq(i32::try_from(i).unwrap_or(i32::MAX)),
                )
            })
            .collect();
        for chunk in rows.chunks(500) {
            crate::on_backend!(conn, |c| diesel::insert_into(locals::table)
                .values(chunk)
                .execute(c))?;
        }
        let election = lock(conn, id)?;
        log::store::append(
            conn,
            &election,
            &[
                entry::election(&id, definition),
                entry::admin(&id, entry::AdminAction::Create, actor),
            ],
            signer,
        )?;
        Ok::<_, Error>(())
    })?;
    Ok(id)
}

/// Opens, closes or certifies, as an official asked; returns the checkpoint that covers it.
///
/// Opening freezes the definition and roster and appends `open`; refused unless the election
/// is a draft with a roster whose window has not ended. Closing appends `close`; refused unless
/// the vote is open. Certifying is [`count::certify`].
pub fn apply<'a>(
    conn: &mut DbConnection,
    id: ElectionId,
    action: Transition,
    signer: &LogKey,
    who: impl Into<approval::Who<'a>>,
) -> Result<StoredCheckpoint> {
    let who = who.into();
    if action == Transition::Certify {
        return Ok(count::certify(conn, id, signer, who.actor().by)?.1);
    }
    crate::log::store::transaction(conn, |conn| {
        let election = lock(conn, id)?;
        let (state, made) = if action == Transition::Open {
            openable(conn, &election)?;
            (
                State::Open,
                entry::open(&id, Utc::now(), crate::sealing_code::sealing_code_sha256()),
            )
        } else {
            let close = entry::AdminAction::Close;
            require(&election, close, ErrorCode::ElectionNotOpen, "closed")?;
            approval::check(&election, &approval::Action::Close, who)?;
            (State::Closed, entry::close(&id, Utc::now()))
        };
        enter(
            conn,
            &election,
            state,
            (who.actor(), action.admin()),
            Some(made),
            signer,
        )
    })
}

/// Refuses to open a locked election that is not a draft, has no roster, or whose voting
/// window has already ended.
fn openable(conn: &mut DbConnection, election: &Election) -> Result<()> {
    let id = election.id;
    require(
        election,
        entry::AdminAction::Open,
        ErrorCode::ElectionNotDraft,
        "opened",
    )?;
    let members: i64 = members::table
        .filter(members::election_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    if members == 0 {
        return Err(Error::conflict(
            ErrorCode::RosterMissing,
            format!("election {id} cannot be opened: import its roster first"),
        ));
    }
    let ceremony = ceremony::record(conn, election)?;
    if !ceremony.is_complete() {
        let count = election.definition.tellers.count;
        return Err(Error::conflict(
            ErrorCode::KeyNotReady,
            format!(
                "election {id} cannot be opened: its election key is not ready ({} of {count} \
                 tellers have finished the key ceremony; each teller runs `strikevote teller \
                 setup`, see docs/TELLERS.md)",
                ceremony.ready().len()
            ),
        ));
    }
    if Utc::now() >= election.definition.closes_at {
        return Err(Error::conflict(
            ErrorCode::WindowPassed,
            format!(
                "election {id} cannot be opened: its voting window ended at {}",
                definition::format_time(&election.definition.closes_at)
            ),
        ));
    }
    Ok(())
}

/// Refuses unless the election is in `state` (the action would leave it `done`).
/// Refuses an official's `action` (`done`: its past participle, for the message) unless the
/// core's lifecycle allows it where the election is.
fn require(
    election: &Election,
    action: entry::AdminAction,
    code: ErrorCode,
    done: &str,
) -> Result<()> {
    if !may(election, action) {
        return Err(Error::conflict(
            code,
            format!(
                "election {} cannot be {done}: it is {}",
                election.id, election.state
            ),
        ));
    }
    Ok(())
}

impl State {
    /// Where the log's lifecycle stands ([`Phase`]). A closed election whose result is logged
    /// is the core's `counted`; it is told apart only where certifying asks
    /// ([`count::certify`]), so `closed` maps to `closed` here.
    pub fn phase(self) -> Phase {
        match self {
            State::Draft => Phase::Draft,
            State::Open => Phase::Open,
            State::Closed => Phase::Closed,
            State::Certified => Phase::Certified,
        }
    }
}

/// Whether an official may take `action` in `election` now: the one lifecycle of the core
/// ([`strikevote_core::lifecycle`]), by which the verifier and the tellers read the log, decides
/// for the service too.
pub fn may(election: &Election, action: entry::AdminAction) -> bool {
    let body = entry::Body::Admin(entry::Admin {
        action,
        by: String::new(),
        approved_by: None,
    });
    election.state.phase().after(&body).is_ok()
}

/// Moves a locked election to `state` and logs, in one append, the official's action
/// (`(who, action)`) and the entry that the change makes.
pub(crate) fn enter(
    conn: &mut DbConnection,
    election: &Election,
    state: State,
    (actor, action): (entry::Actor<'_>, entry::AdminAction),
    made: Option<NewEntry>,
    signer: &LogKey,
) -> Result<StoredCheckpoint> {
    diesel::update(elections::table.find(election.id.to_string()))
        .set(elections::state.eq(state))
        .execute(conn)?;
    let mut entries = vec![entry::admin(&election.id, action, actor)];
    entries.extend(made);
    Ok(log::store::append(conn, election, &entries, signer)?.checkpoint)
}

/// An election as the API and `election show --json` show it.
pub fn summary_json(
    e: &Election,
    counts: &BTreeMap<String, LocalCounts>,
    ceremony: &ceremony::Status,
    signer: &crate::log::LogKey,
) -> Summary {
    Summary {
        id: e.id,
        state: e.state,
        created_at: e.created_at.and_utc().to_rfc3339(),
        origin: e.origin.clone(),
        public_url: e.public_url.to_string(),
        key_fingerprint: crate::log::note::fingerprint(&signer.public_key()),
        log_size: e.log_size,
        definition: e.definition.clone(),
        locals: counts.clone(),
        key_ceremony: *ceremony,
    }
}

/// An election as officials see it (`GET /api/v1/elections/{id}`, `strikevote election show`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Its id.
    pub id: ElectionId,
    /// Its state.
    pub state: State,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// The log's origin line.
    pub origin: String,
    /// The address members vote at.
    pub public_url: String,
    /// The signing key's fingerprint.
    pub key_fingerprint: String,
    /// Entries in the log.
    pub log_size: u64,
    /// The definition as frozen in entry 0 (docs/ELECTION_DEFINITION.md).
    #[schema(value_type = Object)]
    pub definition: Definition,
    /// Roster and token counts per local code.
    pub locals: BTreeMap<String, LocalCounts>,
    /// Where the tellers' key ceremony stands.
    pub key_ceremony: ceremony::Status,
}

/// How many elections the database holds.
pub fn count_all(conn: &mut DbConnection) -> Result<i64> {
    Ok(elections::table.count().get_result(conn)?)
}

/// Every election, newest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Election>> {
    elections::table
        .select(ElectionRow::as_select())
        .order((elections::created_at.desc(), elections::id))
        .load::<ElectionRow>(conn)?
        .into_iter()
        .map(ElectionRow::into_election)
        .collect()
}

/// The election with this id.
pub fn find(conn: &mut DbConnection, id: ElectionId) -> Result<Election> {
    elections::table
        .find(id.to_string())
        .select(ElectionRow::as_select())
        .first::<ElectionRow>(conn)
        .optional()?
        .ok_or_else(|| not_found(id))?
        .into_election()
}

/// Takes the election's write lock for the rest of the transaction, then reads it.
///
/// Must be the first statement of a writing transaction: on PostgreSQL the UPDATE holds the
/// election's row lock until commit, so writers from any process or instance serialize; on
/// SQLite a write as the first statement takes the database write lock up front, so the busy
/// timeout applies instead of a snapshot conflict later.
pub fn lock(conn: &mut DbConnection, id: ElectionId) -> Result<Election> {
    let updated = diesel::update(elections::table.find(id.to_string()))
        .set(elections::lock_version.eq(elections::lock_version + 1))
        .execute(conn)?;
    if updated == 0 {
        return Err(not_found(id));
    }
    find(conn, id)
}

/// Refuses unless the election is still a draft (definition and roster may change).
pub fn ensure_draft(election: &Election, action: &str) -> Result<()> {
    if may(election, entry::AdminAction::RosterImport) {
        Ok(())
    } else {
        Err(Error::conflict(
            ErrorCode::ElectionNotDraft,
            format!(
                "cannot {action}: election {} is {}, and its definition and roster are frozen once the vote opens",
                election.id, election.state
            ),
        ))
    }
}

fn not_found(id: ElectionId) -> Error {
    Error::not_found(
        ErrorCode::ElectionNotFound,
        format!("there is no election with id {id}"),
    )
}

/// Roster and token counts of one local, as shown to officials before and during the vote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LocalCounts {
    /// Members on the roster.
    pub eligible: i64,
    /// Tokens issued and not yet used or revoked.
    pub tokens_live: i64,
    /// Tokens redeemed (ballots cast).
    pub tokens_used: i64,
    /// Tokens revoked by reissue.
    pub tokens_revoked: i64,
}

/// Per-local roster and token counts, keyed by local code, for every local of the election.
pub fn local_counts(
    conn: &mut DbConnection,
    election: &Election,
) -> Result<BTreeMap<String, LocalCounts>> {
    let mut counts: BTreeMap<String, LocalCounts> = election
        .definition
        .locals
        .iter()
        .map(|l| (l.code.to_string(), LocalCounts::default()))
        .collect();
    let eid = election.id.to_string();
    let eligible: Vec<(String, i64)> = members::table
        .filter(members::election_id.eq(&eid))
        .group_by(members::local_code)
        .select((members::local_code, count_star()))
        .load(conn)?;
    for (code, n) in eligible {
        counts.entry(code).or_default().eligible = n;
    }
    let by_status: Vec<(String, TokenStatus, i64)> = tokens::table
        .inner_join(members::table)
        .filter(tokens::election_id.eq(&eid))
        .group_by((members::local_code, tokens::status))
        .select((members::local_code, tokens::status, count_star()))
        .load(conn)?;
    for (code, status, n) in by_status {
        let entry = counts.entry(code).or_default();
        match status {
            TokenStatus::Live => entry.tokens_live = n,
            TokenStatus::Used => entry.tokens_used = n,
            TokenStatus::Revoked => entry.tokens_revoked = n,
        }
    }
    Ok(counts)
}
