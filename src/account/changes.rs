//! Changes to officials' accounts and API tokens, in the audit trail and in the public log of
//! every running election (an `account` entry: who, what, when — never a secret), and under
//! the two-person rule while a vote is open: a new admin account, or an API token that acts
//! as an admin, needs a second admin ([`crate::election::approval`]). A change from the
//! server's console ([`Who::Operator`]) is outside the rule, and logged as the console's.

use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use super::{API_TOKEN_PREFIX, Account, Role, account_id, hash_password, random_secret, record};
use crate::db::DbConnection;
use crate::db::schema::{accounts, api_tokens, elections, sessions};
use crate::election::approval::Who;
use crate::election::{ElectionId, State};
use crate::error::{Error, ErrorCode, Result};
use crate::log::LogKey;
use crate::log::entry::{self, AccountAction, OfficialRole};

/// Who makes a change, and the key that signs the running elections' logs (`None` only when
/// no election is running: the console before the first election).
#[derive(Clone, Copy, Debug)]
pub struct Acting<'a> {
    /// The official (approved or not) or the console.
    pub who: Who<'a>,
    /// The deployment's signing key.
    pub signer: Option<&'a LogKey>,
}

impl<'a> Acting<'a> {
    /// An official or the console, signing with `signer`.
    pub fn new(who: impl Into<Who<'a>>, signer: &'a LogKey) -> Self {
        Acting {
            who: who.into(),
            signer: Some(signer),
        }
    }

    fn by(&self) -> &'a str {
        self.who.actor().by
    }
}

impl From<Role> for OfficialRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => OfficialRole::Admin,
            Role::Observer => OfficialRole::Observer,
            Role::Auditor => OfficialRole::Auditor,
        }
    }
}

/// The elections whose logs take account changes: created and not yet certified, by id (the
/// order their locks are taken in).
pub fn running(conn: &mut DbConnection) -> Result<Vec<ElectionId>> {
    let ids: Vec<String> = elections::table
        .filter(elections::state.ne(State::Certified))
        .order(elections::id)
        .select(elections::id)
        .load(conn)?;
    ids.iter().map(|id| Ok(ElectionId::parse(id)?)).collect()
}

/// The open election whose two-person rule an official's change must wait for, if any (the
/// oldest): a pending change waits on its dashboard.
pub fn gating_election(conn: &mut DbConnection) -> Result<Option<ElectionId>> {
    let open: Vec<ElectionId> = elections::table
        .filter(elections::state.eq(State::Open))
        .order((elections::created_at, elections::id))
        .select(elections::id)
        .load::<String>(conn)?
        .iter()
        .map(|id| Ok(ElectionId::parse(id)?))
        .collect::<Result<_>>()?;
    for id in open {
        if crate::election::find(conn, id)?.definition.two_person_rule {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Refuses an official's unapproved change the rule covers while a vote is open.
fn check_rule(
    conn: &mut DbConnection,
    (action, role): (AccountAction, Role),
    who: Who<'_>,
) -> Result<()> {
    let alone = matches!(
        who,
        Who::Official {
            approved_by: None,
            ..
        }
    );
    if alone && action.is_covered(role.into()) && gating_election(conn)?.is_some() {
        let what = match action {
            AccountAction::Create => "create an admin account",
            _ => "create an API token for an admin",
        };
        return Err(Error::conflict(
            ErrorCode::ApprovalNeeded,
            format!(
                "to {what} while a vote is open, a second admin must approve (the two-person \
                 rule)"
            ),
        ));
    }
    Ok(())
}

/// Writes the change into the log of every running election, each under its lock, in the
/// transaction of the change itself.
fn log_change(
    conn: &mut DbConnection,
    change: (AccountAction, &str, Role),
    acting: Acting<'_>,
) -> Result<()> {
    let (action, username, role) = change;
    let ids = running(conn)?;
    if ids.is_empty() {
        return Ok(());
    }
    let signer = acting.signer.ok_or_else(|| {
        Error::Internal("an account change while elections run, with no signing key".into())
    })?;
    let now = Utc::now();
    for id in ids {
        let election = crate::election::lock(conn, id)?;
        let e = entry::account(
            &id,
            (action, username, role.into()),
            now,
            acting.who.actor(),
        );
        crate::log::store::append(conn, &election, &[e], signer)?;
    }
    Ok(())
}

/// Creates an account with `password`. An official's new admin account waits for a second
/// admin while a vote is open (`approval_needed`).
pub fn create(
    conn: &mut DbConnection,
    (username, password, role): (&str, &str, Role),
    acting: Acting<'_>,
) -> Result<Account> {
    super::check_username(username)?;
    super::check_password(password)?;
    check_rule(conn, (AccountAction::Create, role), acting.who)?;
    let hash = hash_password(password)?;
    create_hashed(conn, (username, &hash, role), acting)
}

/// Checks a new account's username and password and returns the password's argon2 hash (for
/// a new admin account that waits for a second admin).
pub fn hash_new_password(username: &str, password: &str) -> Result<String> {
    super::check_username(username)?;
    super::check_password(password)?;
    hash_password(password)
}

/// Creates an account whose password's argon2 hash is `hash` (an approved new admin, whose
/// asker chose the password).
pub fn create_hashed(
    conn: &mut DbConnection,
    (username, hash, role): (&str, &str, Role),
    acting: Acting<'_>,
) -> Result<Account> {
    super::check_username(username)?;
    check_rule(conn, (AccountAction::Create, role), acting.who)?;
    crate::log::store::transaction(conn, |conn| {
        let exists: i64 = accounts::table
            .filter(accounts::username.eq(username))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Err(Error::conflict(
                ErrorCode::UsernameTaken,
                format!("there is already an account named `{username}`"),
            ));
        }
        let id = Uuid::now_v7().to_string();
        diesel::insert_into(accounts::table)
            .values((
                accounts::id.eq(&id),
                accounts::username.eq(username),
                accounts::password_hash.eq(hash),
                accounts::role.eq(role),
                accounts::created_at.eq(Utc::now().naive_utc()),
                accounts::failed_logins.eq(0),
            ))
            .execute(conn)?;
        record(
            conn,
            acting.by(),
            "account_create",
            &format!("{username} ({role})"),
        )?;
        log_change(conn, (AccountAction::Create, username, role), acting)?;
        Ok(Account {
            id,
            username: username.to_owned(),
            role,
        })
    })
}

/// The role of `username`'s account.
fn role_of(conn: &mut DbConnection, username: &str) -> Result<Role> {
    let role: Option<Role> = accounts::table
        .filter(accounts::username.eq(username))
        .select(accounts::role)
        .first(conn)
        .optional()?;
    role.ok_or_else(|| {
        Error::not_found(
            ErrorCode::AccountNotFound,
            format!("there is no account `{username}`"),
        )
    })
}

/// Disables (`true`) or enables an account. A disabled account cannot sign in, its sessions
/// end at once and its API tokens stop working until it is enabled again. No one disables
/// their own account (another admin, or the console, does).
pub fn set_disabled(
    conn: &mut DbConnection,
    username: &str,
    disabled: bool,
    acting: Acting<'_>,
) -> Result<()> {
    if disabled && acting.by() == username {
        return Err(Error::bad_input(
            ErrorCode::InvalidAction,
            "you cannot disable your own account: another admin, or the console, can",
        ));
    }
    let id = account_id(conn, username)?;
    let role = role_of(conn, username)?;
    let now = Utc::now().naive_utc();
    crate::log::store::transaction(conn, |c| {
        diesel::update(accounts::table.find(&id))
            .set(accounts::disabled_at.eq(disabled.then_some(now)))
            .execute(c)?;
        if disabled {
            diesel::delete(sessions::table.filter(sessions::account_id.eq(&id))).execute(c)?;
        }
        let (action, word) = if disabled {
            (AccountAction::Disable, "account_disable")
        } else {
            (AccountAction::Enable, "account_enable")
        };
        record(c, acting.by(), word, username)?;
        log_change(c, (action, username, role), acting)
    })
}

/// Creates an API token named `name` for `username`; returns it (the only time it exists in
/// plaintext). An official creates tokens only for their own account, and an admin's token
/// waits for a second admin while a vote is open (`approval_needed`).
pub fn create_api_token(
    conn: &mut DbConnection,
    (username, name): (&str, &str),
    acting: Acting<'_>,
) -> Result<String> {
    let name = check_token_name(name)?;
    let actor = acting.by();
    // An API token acts as its account: an official who could make one for another admin
    // could ask for an action as that admin and approve it as themself. Only the console
    // (`cli:…`, which holds the database anyway) makes tokens for others.
    if actor != username && !matches!(acting.who, Who::Operator(_)) {
        return Err(Error::Forbidden(format!(
            "you may create API tokens only for your own account ({actor}); `{username}` \
                 signs in and creates their own"
        )));
    }
    let id = account_id(conn, username)?;
    let role = role_of(conn, username)?;
    check_rule(conn, (AccountAction::ApiTokenCreate, role), acting.who)?;
    crate::log::store::transaction(conn, |conn| {
        let taken: i64 = api_tokens::table
            .filter(api_tokens::account_id.eq(&id))
            .filter(api_tokens::name.eq(name))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(Error::conflict(
                ErrorCode::TokenNameTaken,
                format!("`{username}` already has a token named `{name}`"),
            ));
        }
        let token = format!("{API_TOKEN_PREFIX}{}", random_secret()?);
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::hash.eq(super::sha256(&token)),
                api_tokens::account_id.eq(&id),
                api_tokens::name.eq(name),
                api_tokens::created_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        record(
            conn,
            actor,
            "api_token_create",
            &format!("{username}/{name}"),
        )?;
        log_change(
            conn,
            (AccountAction::ApiTokenCreate, username, role),
            acting,
        )?;
        Ok(token)
    })
}

/// A token name, trimmed: 1 to 100 characters, none invisible or a control character.
pub fn check_token_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::bad_input(
            ErrorCode::InvalidName,
            "a token name is 1 to 100 characters",
        ));
    }
    if let Some(why) = crate::text::unsafe_character(name) {
        return Err(Error::bad_input(
            ErrorCode::InvalidName,
            format!("the token name {why}"),
        ));
    }
    Ok(name)
}

/// Revokes `username`'s token named `name`.
pub fn revoke_api_token(
    conn: &mut DbConnection,
    (username, name): (&str, &str),
    acting: Acting<'_>,
) -> Result<()> {
    let id = account_id(conn, username)?;
    let role = role_of(conn, username)?;
    let name = name.trim();
    crate::log::store::transaction(conn, |conn| {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::account_id.eq(&id))
                .filter(api_tokens::name.eq(name))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(Some(Utc::now().naive_utc())))
        .execute(conn)?;
        if n == 0 {
            return Err(Error::not_found(
                ErrorCode::TokenNotFound,
                format!("`{username}` has no live token named `{name}`"),
            ));
        }
        record(
            conn,
            acting.by(),
            "api_token_revoke",
            &format!("{username}/{name}"),
        )?;
        log_change(
            conn,
            (AccountAction::ApiTokenRevoke, username, role),
            acting,
        )
    })
}
