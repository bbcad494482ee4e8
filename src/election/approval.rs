//! The two-person rule: while a vote is open, an action that can change its outcome — closing
//! it before `closes_at`, reissuing a member's token, replacing every unused token — needs a
//! second admin when the election's definition keeps the rule on (the default).
//!
//! The rule is checked where the action happens, under the election's lock: an action by one
//! official ([`Who::Official`] with no approver) is refused with `approval_needed`, and the
//! admin pages and the API then record it as a pending action ([`request`]). A different admin
//! approves it ([`approve`]); the action then runs with both names, and its log `admin` entry
//! carries `by` and `approved_by`. The server's console (the CLI, run by whoever holds the
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
}

impl Action {
    /// The stored word (and the log's `admin` action).
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Close => "close",
            Action::Reissue { .. } => "token_reissue",
            Action::ReissueAll => "tokens_reissue_all",
        }
    }

    /// What it does, in words for the dashboard.
    pub fn describe(&self) -> String {
        match self {
            Action::Close => "close the vote now, before its closing time".to_owned(),
            Action::Reissue { member } => format!("reissue the token of member {member}"),
            Action::ReissueAll => "replace every unused token (a new mailing)".to_owned(),
        }
    }

    fn member(&self) -> Option<&str> {
        match self {
            Action::Reissue { member } => Some(member),
            _ => None,
        }
    }

    fn from_stored(action: &str, member: Option<String>) -> Result<Self> {
        match (action, member) {
            ("close", _) => Ok(Action::Close),
            ("token_reissue", Some(member)) => Ok(Action::Reissue { member }),
            ("tokens_reissue_all", _) => Ok(Action::ReissueAll),
            (other, _) => Err(Error::Internal(format!(
                "a pending action of unknown kind `{other}`"
            ))),
        }
    }
}

/// Whether `action` needs a second admin in `election` now.
pub fn needed(election: &Election, action: &Action) -> bool {
    election.definition.two_person_rule
        && election.state == State::Open
        && match action {
            Action::Close => Utc::now() < election.definition.closes_at,
            Action::Reissue { .. } | Action::ReissueAll => true,
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
    /// The stored word: `close`, `token_reissue` or `tokens_reissue_all`.
    pub action: String,
    /// The member, for a reissue.
    pub member: Option<String>,
    /// What it does, in words.
    pub description: String,
    /// The admin who asked for it.
    pub requested_by: String,
    /// When (UTC).
    #[schema(value_type = String)]
    pub requested_at: NaiveDateTime,
}

impl Pending {
    /// The action it waits to do.
    pub fn action(&self) -> Result<Action> {
        Action::from_stored(&self.action, self.member.clone())
    }
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    NaiveDateTime,
);

fn pending(row: Row) -> Result<Pending> {
    let (id, _, action, member, requested_by, requested_at) = row;
    let description = Action::from_stored(&action, member.clone())?.describe();
    Ok(Pending {
        id,
        action,
        member,
        description,
        requested_by,
        requested_at,
    })
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
        if !needed(&election, action) {
            return Err(Error::conflict(
                ErrorCode::ApprovalNeeded,
                "this action no longer needs a second admin: the vote is not open, or its \
                 closing time has passed; try it again",
            ));
        }
        let same = list(conn, id)?.into_iter().find(|p| {
            p.action == action.as_str() && p.member.as_deref() == action.member()
        });
        if let Some(same) = same {
            return Ok(same);
        }
        let row: Row = (
            uuid::Uuid::new_v4().to_string(),
            id.to_string(),
            action.as_str().to_owned(),
            action.member().map(str::to_owned),
            by.to_owned(),
            Utc::now().naive_utc(),
        );
        diesel::insert_into(pending_actions::table)
            .values((
                pending_actions::id.eq(&row.0),
                pending_actions::election_id.eq(&row.1),
                pending_actions::action.eq(&row.2),
                pending_actions::member.eq(&row.3),
                pending_actions::requested_by.eq(&row.4),
                pending_actions::requested_at.eq(row.5),
            ))
            .execute(conn)?;
        tracing::info!(election = %id, action = action.as_str(), by, "action waits for a second admin");
        pending(row)
    })
}

/// The actions waiting in election `id`, oldest first.
pub fn list(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<Pending>> {
    pending_actions::table
        .filter(pending_actions::election_id.eq(id.to_string()))
        .order((pending_actions::requested_at, pending_actions::id))
        .load::<Row>(conn)?
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

/// Takes pending action `pending_id` of election `id` for `approver`, who must not be the admin
/// who asked for it; it is no longer pending afterwards (whoever takes it first does it).
/// Returns it, and who does it: the asker, approved by `approver`.
pub fn approve(
    conn: &mut DbConnection,
    id: ElectionId,
    pending_id: &str,
    approver: &str,
) -> Result<Pending> {
    conn.transaction(|conn| {
        let found = find(conn, id, pending_id)?;
        if found.requested_by == approver {
            return Err(Error::conflict(
                ErrorCode::SameOfficial,
                format!(
                    "you asked for this ({}); a different admin must approve it",
                    found.description
                ),
            ));
        }
        take(conn, pending_id)?;
        tracing::info!(election = %id, action = %found.action, by = %found.requested_by,
            approved_by = approver, "a second admin approved an action");
        Ok(found)
    })
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
        .first::<Row>(conn)
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
