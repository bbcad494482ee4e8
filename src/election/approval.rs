//! The two-person rule: while a vote is open, an action that can change its outcome — closing
//! it before `closes_at`, reissuing a member's token, replacing every unused token — needs a
//! second admin when the election's definition keeps the rule on (the default).
//!
//! The rule is checked where the action happens, under the election's lock: an action by one
//! official ([`Who::Official`] with no approver) is refused with `approval_needed`, and the
//! admin pages and the API then record it as a pending action ([`request`]). A different admin
//! approves it ([`approve`]); the action then runs with both names, and its log `admin` entry
//! carries `by` and `approved_by`. An action whose result is a secret (a reissued token, a new
//! mailing) is not run by the approver, who would then see the secret: the approval is recorded
//! and the official who asked carries it out ([`take_approved`]), once, and alone sees it. Both
//! officials must have held their accounts before the vote opened: an account made during the
//! vote (a sock puppet) neither asks nor approves. The server's console (the CLI, run by whoever holds the
//! database URL and the signing key, who could write the database directly anyway) acts as
//! [`Who::Operator`], outside the rule; its entries name it alone.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{Election, ElectionId, State};
use crate::db::DbConnection;
use crate::db::schema::pending_actions;
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::Actor;

/// Who does an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who<'a> {
    /// An official (admin pages, API token), under the rule; with the approver once approved.
    Official {
        /// The official who asked for it.
        by: &'a str,
        /// The second official, once approved.
        approved_by: Option<&'a str>,
    },
    /// The server's console (the CLI, the schedule, the demo), outside the rule.
    Operator(&'a str),
}

impl<'a> Who<'a> {
    /// As the log names it.
    pub fn actor(self) -> Actor<'a> {
        match self {
            Who::Official { by, approved_by } => Actor { by, approved_by },
            Who::Operator(by) => Actor::from(by),
        }
    }
}

impl<'a> From<&'a str> for Who<'a> {
    /// A bare username is one official acting alone.
    fn from(by: &'a str) -> Self {
        Who::Official {
            by,
            approved_by: None,
        }
    }
}

impl<'a> From<&'a String> for Who<'a> {
    fn from(by: &'a String) -> Self {
        Who::from(by.as_str())
    }
}

/// An action the rule covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Close the vote before `closes_at`.
    Close,
    /// Revoke a member's token and issue a new one.
    Reissue {
        /// The member's id on the roster.
        member: String,
    },
    /// Revoke every unused token and issue new ones.
    ReissueAll,
    /// Create an admin account, with the password its asker chose (its argon2 hash waits,
    /// never the password).
    CreateAdmin {
        /// The new account's username.
        username: String,
        /// The argon2 hash of its password.
        password_hash: String,
    },
    /// Create an API token for the asker's own admin account.
    AdminApiToken {
        /// The token's name.
        name: String,
    },
    /// Replace, by letters, the links of these members (ids on the roster), whose email
    /// bounced after the mail server took it (the list the asker saw: a report read later
    /// adds nobody to it).
    BouncedLetters {
        /// Their member ids, sorted.
        members: Vec<String>,
    },
}

impl Action {
    /// The stored word (and the log's `admin` action, but for `letters_bounced`, which logs a
    /// `token_reissue` per member).
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Close => "close",
            Action::Reissue { .. } => "token_reissue",
            Action::ReissueAll => "tokens_reissue_all",
            Action::CreateAdmin { .. } => "account_create",
            Action::AdminApiToken { .. } => "api_token_create",
            Action::BouncedLetters { .. } => "letters_bounced",
        }
    }

    /// What it does, in words for the dashboard.
    pub fn describe(&self) -> String {
        match self {
            Action::Close => "close the vote now, before its closing time".to_owned(),
            Action::Reissue { member } => format!("reissue the token of member {member}"),
            Action::ReissueAll => "replace every unused token (a new mailing)".to_owned(),
            Action::CreateAdmin { username, .. } => {
                format!("create the admin account {username}")
            }
            Action::AdminApiToken { name } => {
                format!("create an API token named {name} for the asker's admin account")
            }
            Action::BouncedLetters { members } => format!(
                "print letters replacing the ballot links of {} whose email bounced after the \
                 mail server took it: {}",
                match members.len() {
                    1 => "1 member".to_owned(),
                    n => format!("{n} members"),
                },
                members.join(", ")
            ),
        }
    }

    /// What is done once it ran, in words (for an action that runs on approval).
    pub fn done(&self) -> String {
        match self {
            Action::CreateAdmin { username, .. } => {
                format!("the admin account {username} is created")
            }
            Action::Close => "the vote is closed".to_owned(),
            other => format!("done: {}", other.describe()),
        }
    }

    /// Whether it changes an official's account rather than one election: it is written into
    /// every running election's log, and its officials must have held their accounts before
    /// every open vote opened.
    pub fn is_account_change(&self) -> bool {
        matches!(
            self,
            Action::CreateAdmin { .. } | Action::AdminApiToken { .. }
        )
    }

    fn member(&self) -> Option<&str> {
        match self {
            Action::Reissue { member } => Some(member),
            _ => None,
        }
    }

    fn account(&self) -> Option<&str> {
        match self {
            Action::CreateAdmin { username, .. } => Some(username),
            _ => None,
        }
    }

    fn token_name(&self) -> Option<&str> {
        match self {
            Action::AdminApiToken { name } => Some(name),
            _ => None,
        }
    }

    fn members(&self) -> Option<&[String]> {
        match self {
            Action::BouncedLetters { members } => Some(members),
            _ => None,
        }
    }

    fn password_hash(&self) -> Option<&str> {
        match self {
            Action::CreateAdmin { password_hash, .. } => Some(password_hash),
            _ => None,
        }
    }

    fn from_row(row: &Row) -> Result<Self> {
        let action = match (row.action.as_str(), &row.member) {
            ("close", _) => Action::Close,
            ("token_reissue", Some(member)) => Action::Reissue {
                member: member.clone(),
            },
            ("tokens_reissue_all", _) => Action::ReissueAll,
            ("account_create", _) => match (&row.account, &row.password_hash) {
                (Some(username), Some(hash)) => Action::CreateAdmin {
                    username: username.clone(),
                    password_hash: hash.clone(),
                },
                _ => return Err(incomplete(&row.action)),
            },
            ("api_token_create", _) => match &row.token_name {
                Some(name) => Action::AdminApiToken { name: name.clone() },
                None => return Err(incomplete(&row.action)),
            },
            ("letters_bounced", _) => {
                match row
                    .members
                    .as_deref()
                    .map(serde_json::from_str::<Vec<String>>)
                {
                    Some(Ok(members)) => Action::BouncedLetters { members },
                    _ => return Err(incomplete(&row.action)),
                }
            }
            (other, _) => {
                return Err(Error::Internal(format!(
                    "a pending action of unknown kind `{other}`"
                )));
            }
        };
        Ok(action)
    }
}

fn incomplete(action: &str) -> Error {
    Error::Internal(format!("a pending `{action}` without what it creates"))
}

/// Whether `action` needs a second admin in `election` now.
pub fn needed(election: &Election, action: &Action) -> bool {
    election.definition.two_person_rule
        && election.state == State::Open
        && match action {
            Action::Close => Utc::now() < election.definition.closes_at,
            Action::Reissue { .. }
            | Action::ReissueAll
            | Action::CreateAdmin { .. }
            | Action::AdminApiToken { .. }
            | Action::BouncedLetters { .. } => true,
        }
}

/// Refuses `action` by `who` if it needs a second admin who has not approved it. Called by
/// the action itself, under the election's lock.
pub fn check(election: &Election, action: &Action, who: Who<'_>) -> Result<()> {
    match who {
        Who::Official {
            approved_by: None, ..
        } if needed(election, action) => Err(Error::conflict(
            ErrorCode::ApprovalNeeded,
            format!(
                "to {} while the vote is open, a second admin must approve (the two-person rule)",
                action.describe()
            ),
        )),
        _ => Ok(()),
    }
}

/// An action waiting for a second admin.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Pending {
    /// Its id.
    pub id: String,
    /// The stored word: `close`, `token_reissue`, `tokens_reissue_all`, `account_create`,
    /// `api_token_create` or `letters_bounced`.
    pub action: String,
    /// The member, for a reissue.
    pub member: Option<String>,
    /// The members, for `letters_bounced`.
    pub members: Option<Vec<String>>,
    /// The new admin account's username, for `account_create`.
    pub account: Option<String>,
    /// The token's name, for `api_token_create`.
    pub token_name: Option<String>,
    /// What it does, in words.
    pub description: String,
    /// The admin who asked for it.
    pub requested_by: String,
    /// When (UTC).
    #[schema(value_type = String)]
    pub requested_at: NaiveDateTime,
    /// The second admin who approved it, for an action that waits, approved, for the admin
    /// who asked to carry it out.
    pub approved_by: Option<String>,
    /// What it does, as read from its row (with a new account's password hash, which is
    /// never shown).
    #[serde(skip)]
    #[schema(ignore)]
    what: Action,
}

impl Pending {
    /// The action it waits to do.
    pub fn action(&self) -> Result<Action> {
        Ok(self.what.clone())
    }
}

/// A row of `pending_actions`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = pending_actions)]
struct Row {
    id: String,
    election_id: String,
    action: String,
    member: Option<String>,
    requested_by: String,
    requested_at: NaiveDateTime,
    approved_by: Option<String>,
    approved_at: Option<NaiveDateTime>,
    account: Option<String>,
    password_hash: Option<String>,
    token_name: Option<String>,
    members: Option<String>,
}

fn pending(row: Row) -> Result<Pending> {
    let what = Action::from_row(&row)?;
    let members = match &what {
        Action::BouncedLetters { members } => Some(members.clone()),
        _ => None,
    };
    Ok(Pending {
        id: row.id,
        action: row.action,
        member: row.member,
        members,
        account: row.account,
        token_name: row.token_name,
        description: what.describe(),
        requested_by: row.requested_by,
        requested_at: row.requested_at,
        approved_by: row.approved_by,
        what,
    })
}

/// Whether the action, once approved, waits for the admin who asked: its result is a secret
/// only that admin may see.
pub fn yields_secret(action: &Action) -> bool {
    matches!(
        action,
        Action::Reissue { .. }
            | Action::ReissueAll
            | Action::AdminApiToken { .. }
            | Action::BouncedLetters { .. }
    )
}

/// Refuses an official for `action` in election `id` unless they held their account before
/// the vote opened — before every open vote opened, for an account change, which is written
/// into every running election's log.
fn eligible(
    conn: &mut DbConnection,
    id: ElectionId,
    action: &Action,
    username: &str,
) -> Result<()> {
    if !action.is_account_change() {
        return held_before_open(conn, id, username);
    }
    for election in super::list(conn)? {
        if election.state == State::Open {
            held_before_open(conn, election.id, username)?;
        }
    }
    Ok(())
}

/// Refuses an official whose account was made after the vote opened (or who has none): such an
/// account could be a second name of the official on the other side of the rule.
fn held_before_open(conn: &mut DbConnection, id: ElectionId, username: &str) -> Result<()> {
    use crate::db::schema::accounts;
    use crate::log::entry::{Body, Kind};
    let opened = crate::log::store::entries_of_kind(conn, id, &[Kind::Open])?
        .into_iter()
        .find_map(|b| match b {
            Body::Open(at) => Some(at.at.naive_utc()),
            _ => None,
        });
    let created: Option<NaiveDateTime> = accounts::table
        .filter(accounts::username.eq(username))
        .select(accounts::created_at)
        .first(conn)
        .optional()?;
    match (created, opened) {
        // The log's `open` has whole seconds: an account made in the second the vote opened
        // counts as made before it.
        (Some(created), Some(opened))
            if created.and_utc().timestamp() <= opened.and_utc().timestamp() =>
        {
            Ok(())
        }
        (Some(_), None) => Ok(()),
        _ => Err(Error::conflict(
            ErrorCode::NotEligibleApprover,
            format!(
                "the account `{username}` was made after this vote opened: under the two-person \
                 rule only admins who held their accounts before the vote opened may ask for or \
                 approve an action"
            ),
        )),
    }
}

/// Records `action`, asked for by admin `by`, as waiting for a second admin — if it still
/// needs one (checked under the election's lock). The same action asked for twice is one
/// pending action.
pub fn request(
    conn: &mut DbConnection,
    id: ElectionId,
    action: &Action,
    by: &str,
) -> Result<Pending> {
    conn.transaction(|conn| {
        let election = super::lock(conn, id)?;
        eligible(conn, id, action, by)?;
        if !needed(&election, action) {
            return Err(Error::conflict(
                ErrorCode::ApprovalNeeded,
                "this action no longer needs a second admin: the vote is not open, or its \
                 closing time has passed; try it again",
            ));
        }
        // Asked for twice, it is one action (an API token: twice by the same admin, whose
        // account it is for).
        let same = list(conn, id)?.into_iter().find(|p| {
            p.action == action.as_str()
                && p.member.as_deref() == action.member()
                && p.account.as_deref() == action.account()
                && p.token_name.as_deref() == action.token_name()
                && p.members.as_deref() == action.members()
                && (action.token_name().is_none() || p.requested_by == by)
        });
        if let Some(same) = same {
            return Ok(same);
        }
        let row = Row {
            id: uuid::Uuid::new_v4().to_string(),
            election_id: id.to_string(),
            action: action.as_str().to_owned(),
            member: action.member().map(str::to_owned),
            requested_by: by.to_owned(),
            requested_at: Utc::now().naive_utc(),
            approved_by: None,
            approved_at: None,
            account: action.account().map(str::to_owned),
            password_hash: action.password_hash().map(str::to_owned),
            token_name: action.token_name().map(str::to_owned),
            members: action
                .members()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| Error::Internal(format!("a member list as JSON: {e}")))?,
        };
        diesel::insert_into(pending_actions::table)
            .values(&row)
            .execute(conn)?;
        tracing::info!(election = %id, action = action.as_str(), by, "action waits for a second admin");
        pending(row)
    })
}

/// For each election, how many actions wait for a second admin that `admin` could approve
/// (asked for by another admin, not yet approved).
pub fn waiting_for(
    conn: &mut DbConnection,
    admin: &str,
) -> Result<std::collections::BTreeMap<String, usize>> {
    let rows: Vec<String> = pending_actions::table
        .filter(pending_actions::requested_by.ne(admin))
        .filter(pending_actions::approved_by.is_null())
        .select(pending_actions::election_id)
        .load(conn)?;
    let mut counts = std::collections::BTreeMap::new();
    for election in rows {
        *counts.entry(election).or_insert(0) += 1;
    }
    Ok(counts)
}

/// The actions waiting in election `id`, oldest first; a reissue's description names the
/// member as the roster does (name and local), so the second admin sees whose token it is.
pub fn list(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<Pending>> {
    let mut all = list_rows(conn, id)?;
    for p in &mut all {
        let Some(member) = p.member.clone() else {
            continue;
        };
        let found: Option<(String, String)> = crate::db::schema::members::table
            .filter(crate::db::schema::members::election_id.eq(id.to_string()))
            .filter(crate::db::schema::members::member_id.eq(&member))
            .select((
                crate::db::schema::members::name,
                crate::db::schema::members::local_code,
            ))
            .first(conn)
            .optional()?;
        if let Some((name, local)) = found {
            let who = if name.trim().is_empty() {
                format!("local {local}")
            } else {
                format!("{name}, local {local}")
            };
            p.description = format!("{} ({who})", p.description);
        }
    }
    Ok(all)
}

fn list_rows(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<Pending>> {
    pending_actions::table
        .filter(pending_actions::election_id.eq(id.to_string()))
        .order((pending_actions::requested_at, pending_actions::id))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(pending)
        .collect()
}

fn not_pending() -> Error {
    Error::not_found(
        ErrorCode::PendingNotFound,
        "no such action is waiting: it was approved or cancelled already",
    )
}

/// Approves pending action `pending_id` of election `id` as `approver`, who must not be the
/// admin who asked for it, and both must have held their accounts before the vote opened. An
/// action without a secret result is taken (no longer pending: the caller runs it in the same
/// transaction); one with a secret result is marked approved and waits for the admin who asked
/// ([`take_approved`]). Returns it, with `approved_by` set.
pub fn approve(
    conn: &mut DbConnection,
    id: ElectionId,
    pending_id: &str,
    approver: &str,
) -> Result<Pending> {
    conn.transaction(|conn| {
        let mut found = find(conn, id, pending_id)?;
        if let Some(second) = &found.approved_by {
            return Err(Error::conflict(
                ErrorCode::AlreadyApproved,
                format!(
                    "{second} approved this already ({}); {} carries it out",
                    found.description, found.requested_by
                ),
            ));
        }
        if found.requested_by == approver {
            return Err(Error::conflict(
                ErrorCode::SameOfficial,
                format!(
                    "you asked for this ({}); a different admin must approve it",
                    found.description
                ),
            ));
        }
        let action = found.action()?;
        eligible(conn, id, &action, approver)?;
        eligible(conn, id, &action, &found.requested_by)?;
        if yields_secret(&found.action()?) {
            diesel::update(pending_actions::table.find(pending_id))
                .set((
                    pending_actions::approved_by.eq(approver),
                    pending_actions::approved_at.eq(Utc::now().naive_utc()),
                ))
                .execute(conn)?;
        } else {
            take(conn, pending_id)?;
        }
        tracing::info!(election = %id, action = %found.action, by = %found.requested_by,
            approved_by = approver, "a second admin approved an action");
        found.approved_by = Some(approver.to_owned());
        Ok(found)
    })
}

/// Takes approved action `pending_id` for `requester`, the admin who asked for it and the only
/// one who may carry it out (and see its secret). The caller runs it in the same transaction.
pub fn take_approved(
    conn: &mut DbConnection,
    id: ElectionId,
    pending_id: &str,
    requester: &str,
) -> Result<Pending> {
    let found = find(conn, id, pending_id)?;
    if found.requested_by != requester || found.approved_by.is_none() {
        return Err(Error::Forbidden(format!(
            "only {} carries this out, once a second admin has approved it ({})",
            found.requested_by, found.description
        )));
    }
    take(conn, pending_id)?;
    Ok(found)
}

/// Cancels pending action `pending_id` (any admin may).
pub fn cancel(
    conn: &mut DbConnection,
    id: ElectionId,
    pending_id: &str,
    by: &str,
) -> Result<Pending> {
    conn.transaction(|conn| {
        let found = find(conn, id, pending_id)?;
        take(conn, pending_id)?;
        tracing::info!(election = %id, action = %found.action, by, "a pending action was cancelled");
        Ok(found)
    })
}

fn find(conn: &mut DbConnection, id: ElectionId, pending_id: &str) -> Result<Pending> {
    let row: Option<Row> = pending_actions::table
        .filter(pending_actions::id.eq(pending_id))
        .filter(pending_actions::election_id.eq(id.to_string()))
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    pending(row.ok_or_else(not_pending)?)
}

fn take(conn: &mut DbConnection, pending_id: &str) -> Result<()> {
    let taken = diesel::delete(pending_actions::table.find(pending_id)).execute(conn)?;
    if taken == 0 {
        return Err(not_pending());
    }
    Ok(())
}
