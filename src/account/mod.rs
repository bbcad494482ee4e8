//! Officials: accounts and roles, argon2id passwords, login throttling, server-side sessions
//! and API tokens. Secrets the client holds (session cookie, API token) are stored only as
//! SHA-256; passwords only as argon2id PHC strings.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::DbConnection;
use crate::db::schema::{account_events, accounts, api_tokens, sessions};
use crate::error::{Error, ErrorCode, Result};

pub mod changes;
pub mod gate;

pub use changes::{
    Acting, create, create_api_token, create_hashed, hash_new_password, revoke_api_token,
    set_disabled,
};

/// Consecutive failed logins before an account is locked.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a locked account stays locked.
pub const LOCK_MINUTES: i64 = 15;
/// How long a browser session lasts.
pub const SESSION_HOURS: i64 = 12;
/// How long a browser session lasts unused (a screen left signed in at a union hall).
pub const SESSION_IDLE_MINUTES: i64 = 30;
/// The one answer to every failed sign-in: an unknown username, a wrong password, a locked or
/// a disabled account look alike, so the page tells no one which usernames exist.
pub const FAILED_LOGIN: &str = "wrong username or password (after 5 wrong passwords an account \
     is locked for 15 minutes)";
/// API tokens start with this, so scanners and people recognise one.
pub const API_TOKEN_PREFIX: &str = "svapi_";

/// What an official may do (stored as its word).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, diesel::AsExpression, diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs elections.
    Admin,
    /// Reads turnout during the vote, results after, and every admin action.
    Observer,
    /// Reads the log, checkpoints and bundles.
    Auditor,
}

crate::stored_as_word!(Role, "role", {
    Admin => "admin",
    Observer => "observer",
    Auditor => "auditor",
});

impl Role {
    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::bad_input(
                    ErrorCode::InvalidRole,
                    format!("unknown role `{s}`: use admin, observer or auditor"),
                )
            })
    }
}

/// A signed-in official.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    /// Row id.
    #[serde(skip)]
    pub id: String,
    /// Login name, shown in the log next to every action it takes.
    pub username: String,
    /// Its role.
    pub role: Role,
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
    Ok(B64URL.encode(bytes))
}

/// Checks a username: 2–64 of lowercase letters, digits, `.`, `_`, `-`.
pub fn check_username(username: &str) -> Result<()> {
    let ok = (2..=64).contains(&username.len())
        && username.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if !ok {
        return Err(Error::bad_input(
            ErrorCode::InvalidUsername,
            "a username is 2 to 64 lowercase letters, digits, `.`, `_` or `-`",
        ));
    }
    let reserved = [
        (
            crate::log::entry::SCHEDULE,
            "the server opening and closing on time",
        ),
        (
            crate::log::entry::MAIL,
            "the server's outbox issuing tokens as it sends them",
        ),
    ];
    if let Some((name, what)) = reserved.iter().find(|(name, _)| *name == username) {
        return Err(Error::bad_input(
            ErrorCode::InvalidUsername,
            format!("`{name}` is how the log names {what}; choose another username"),
        ));
    }
    Ok(())
}

/// Checks a new password: at least 12 characters, at most 1024.
pub fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(12..=1024).contains(&n) {
        return Err(Error::bad_input(
            ErrorCode::WeakPassword,
            "a password needs at least 12 characters (a few unrelated words make a good one)",
        ));
    }
    if strikevote_core::password::is_common(password) {
        return Err(Error::bad_input(
            ErrorCode::CommonPassword,
            "that password is on lists of common passwords that attackers try first; choose \
             another (a few unrelated words make a good one)",
        ));
    }
    Ok(())
}

/// Failed logins one client address may make per window, across accounts and instances.
pub const MAX_FAILURES_PER_ADDRESS: i32 = 20;
/// The per-address window, in minutes.
pub const ADDRESS_WINDOW_MINUTES: i64 = 15;

/// Reserves one login attempt for `address` in the database; `false` when the address has used
/// up its window. One conditional UPDATE per attempt, so parallel requests on any number of
/// instances cannot exceed the limit. A successful login gives the attempt back.
pub fn reserve_address_attempt(conn: &mut DbConnection, address: &str) -> Result<bool> {
    use crate::db::schema::login_throttle as t;
    let now = Utc::now().naive_utc();
    let window_start = now - Duration::minutes(ADDRESS_WINDOW_MINUTES);
    crate::on_backend!(conn, |c| diesel::insert_into(t::table)
        .values((
            t::address.eq(address),
            t::failures.eq(0),
            t::window_start.eq(now)
        ))
        .on_conflict(t::address)
        .do_nothing()
        .execute(c))?;
    // A window that has passed starts again.
    diesel::update(
        t::table
            .find(address)
            .filter(t::window_start.le(window_start)),
    )
    .set((t::failures.eq(0), t::window_start.eq(now)))
    .execute(conn)?;
    let reserved = diesel::update(
        t::table
            .find(address)
            .filter(t::failures.lt(MAX_FAILURES_PER_ADDRESS)),
    )
    .set(t::failures.eq(t::failures + 1))
    .execute(conn)?;
    Ok(reserved == 1)
}

/// Gives back an attempt reserved for `address` (the login succeeded).
pub fn release_address_attempt(conn: &mut DbConnection, address: &str) -> Result<()> {
    use crate::db::schema::login_throttle as t;
    diesel::update(t::table.find(address).filter(t::failures.gt(0)))
        .set(t::failures.eq(t::failures - 1))
        .execute(conn)?;
    Ok(())
}

fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("cannot hash the password: {e}")))
}

/// One line of the accounts audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = account_events)]
pub struct AccountEvent {
    /// When (UTC).
    pub at: chrono::NaiveDateTime,
    /// Who: an official's username, or `cli:<system user>`.
    pub actor: String,
    /// `account_create`, `account_disable`, `account_enable`, `api_token_create` or
    /// `api_token_revoke`.
    pub action: String,
    /// Whose account or which token (`username` or `username/token name`).
    pub subject: String,
}

fn record(conn: &mut DbConnection, actor: &str, action: &str, subject: &str) -> Result<()> {
    diesel::insert_into(account_events::table)
        .values((
            account_events::id.eq(Uuid::now_v7().to_string()),
            account_events::at.eq(Utc::now().naive_utc()),
            account_events::actor.eq(actor),
            account_events::action.eq(action),
            account_events::subject.eq(subject),
        ))
        .execute(conn)?;
    Ok(())
}

/// The latest `limit` lines of the accounts audit trail, newest first.
pub fn events(conn: &mut DbConnection, limit: i64) -> Result<Vec<AccountEvent>> {
    account_events::table
        .order(account_events::id.desc())
        .limit(limit)
        .select(AccountEvent::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// An account as the accounts page and `admin list` show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The account.
    pub account: Account,
    /// Whether an admin disabled it.
    pub disabled: bool,
}

/// Every account, by username.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Listed>> {
    let rows: Vec<(Account, Option<NaiveDateTime>)> = accounts::table
        .order(accounts::username)
        .select((Account::as_select(), accounts::disabled_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(account, disabled)| Listed {
            account,
            disabled: disabled.is_some(),
        })
        .collect())
}

/// Whether any admin exists (the first start asks for one).
pub fn any_admin(conn: &mut DbConnection) -> Result<bool> {
    let n: i64 = accounts::table
        .filter(accounts::role.eq(Role::Admin))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

fn invalid_login() -> Error {
    Error::Unauthorized(FAILED_LOGIN.into())
}

/// Why a sign-in failed. The sign-in page answers every one with [`FAILED_LOGIN`]; the logs
/// and the `strikevote_logins_total` metric tell them apart for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginFailure {
    /// No account has that username.
    UnknownUser,
    /// The password was checked and is wrong.
    WrongPassword,
    /// The account's tries are used up: no password was checked.
    Locked,
    /// An admin disabled the account: no password was checked.
    Disabled,
}

impl LoginFailure {
    /// Its word in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
        }
    }
}

/// Checks a password, for someone already signed in who confirms an action: as
/// [`check_login`], with a locked account said to be locked.
pub fn login(conn: &mut DbConnection, username: &str, password: &str) -> Result<Account> {
    match check_login(conn, username, password)? {
        Ok(account) => Ok(account),
        Err(LoginFailure::Locked) => Err(Error::TooManyRequests(format!(
            "too many failed logins: this account is locked for up to {LOCK_MINUTES} minutes"
        ))),
        Err(_) => Err(invalid_login()),
    }
}

/// Checks a password. Five failures in a row lock the account for 15 minutes; an unknown
/// username, a locked and a disabled account cost the same time as a known one.
///
/// Each attempt first reserves one of the account's five tries with one conditional UPDATE
/// (`failed_logins < 5`, not locked), and only then checks the password: however many
/// attempts run at once, on however many servers, at most five passwords are checked before
/// the lock. A success gives the tries back.
pub fn check_login(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
) -> Result<std::result::Result<Account, LoginFailure>> {
    let row: Option<(Account, String, Option<NaiveDateTime>)> = accounts::table
        .filter(accounts::username.eq(username))
        .select((
            Account::as_select(),
            accounts::password_hash,
            accounts::disabled_at,
        ))
        .first(conn)
        .optional()?;
    // Spend the same effort as a real check, so timing does not tell the cases apart.
    let spend = || {
        let _ = hash_password(password);
    };
    let Some((account, stored, disabled)) = row else {
        spend();
        return Ok(Err(LoginFailure::UnknownUser));
    };
    if disabled.is_some() {
        spend();
        return Ok(Err(LoginFailure::Disabled));
    }
    let now = Utc::now().naive_utc();
    let reserved = diesel::update(
        accounts::table
            .find(&account.id)
            .filter(accounts::failed_logins.lt(MAX_FAILED_LOGINS))
            .filter(
                accounts::locked_until
                    .is_null()
                    .or(accounts::locked_until.le(now)),
            ),
    )
    .set(accounts::failed_logins.eq(accounts::failed_logins + 1))
    .execute(conn)?;
    if reserved == 0 {
        // Every try is used (or in flight): make sure a lock stands, whatever interrupted the
        // attempts that used them.
        lock_if_exhausted(conn, &account.id, now)?;
        spend();
        return Ok(Err(LoginFailure::Locked));
    }
    let good = PasswordHash::new(&stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    if !good {
        lock_if_exhausted(conn, &account.id, now)?;
        return Ok(Err(LoginFailure::WrongPassword));
    }
    diesel::update(accounts::table.find(&account.id))
        .set((
            accounts::failed_logins.eq(0),
            accounts::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(Ok(account))
}

/// Locks the account for [`LOCK_MINUTES`] once its tries are used up.
fn lock_if_exhausted(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<()> {
    diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::failed_logins.ge(MAX_FAILED_LOGINS))
            .filter(
                accounts::locked_until
                    .is_null()
                    .or(accounts::locked_until.le(now)),
            ),
    )
    .set((
        accounts::failed_logins.eq(0),
        accounts::locked_until.eq(Some(now + Duration::minutes(LOCK_MINUTES))),
    ))
    .execute(conn)?;
    Ok(())
}

/// Starts a session; returns the cookie's secret (stored only hashed).
pub fn start_session(conn: &mut DbConnection, account: &Account) -> Result<String> {
    let secret = random_secret()?;
    let now = Utc::now().naive_utc();
    diesel::insert_into(sessions::table)
        .values((
            sessions::hash.eq(sha256(&secret)),
            sessions::account_id.eq(&account.id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(now + Duration::hours(SESSION_HOURS)),
            sessions::last_seen_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(secret)
}

/// The account of a live session: younger than [`SESSION_HOURS`], used in the last
/// [`SESSION_IDLE_MINUTES`], of an account not disabled. Its use is recorded (at most once a
/// minute, so a page's requests do not each write).
pub fn session_account(conn: &mut DbConnection, secret: &str) -> Result<Option<Account>> {
    let now = Utc::now().naive_utc();
    let hash = sha256(secret);
    let found = sessions::table
        .inner_join(accounts::table)
        .filter(sessions::hash.eq(&hash))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now - Duration::minutes(SESSION_IDLE_MINUTES)))
        .filter(accounts::disabled_at.is_null())
        .select(Account::as_select())
        .first(conn)
        .optional()?;
    if found.is_some() {
        diesel::update(
            sessions::table
                .filter(sessions::hash.eq(&hash))
                .filter(sessions::last_seen_at.lt(now - Duration::minutes(1))),
        )
        .set(sessions::last_seen_at.eq(Some(now)))
        .execute(conn)?;
    }
    Ok(found)
}

/// Ends a session.
pub fn end_session(conn: &mut DbConnection, secret: &str) -> Result<()> {
    diesel::delete(sessions::table.filter(sessions::hash.eq(sha256(secret)))).execute(conn)?;
    Ok(())
}

fn account_id(conn: &mut DbConnection, username: &str) -> Result<String> {
    let id: Option<String> = accounts::table
        .filter(accounts::username.eq(username))
        .select(accounts::id)
        .first(conn)
        .optional()?;
    id.ok_or_else(|| {
        Error::not_found(
            ErrorCode::AccountNotFound,
            format!("there is no account `{username}`"),
        )
    })
}

/// The account of a live API token.
pub fn api_token_account(conn: &mut DbConnection, token: &str) -> Result<Option<Account>> {
    if !token.starts_with(API_TOKEN_PREFIX) || token.len() > 100 {
        return Ok(None);
    }
    Ok(api_tokens::table
        .inner_join(accounts::table)
        .filter(api_tokens::hash.eq(sha256(token)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(accounts::disabled_at.is_null())
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}
