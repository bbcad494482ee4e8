//! Issuing and reissuing tokens in the database.

use crate::election::approval::{self, Action, Who};
use chrono::{NaiveDateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use std::collections::{BTreeMap, HashSet};

use super::PlainToken;
use crate::db::DbConnection;
use crate::db::schema::{members, tokens};
use crate::election::{self, Election, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::log::entry::AdminAction;
use crate::log::{self, LogKey, entry};
use crate::roster::StoredMember;
use crate::token::TokenStatus;

/// Rows written per INSERT.
const CHUNK: usize = 500;

/// A token just issued, with what the mailing needs. The only place its plaintext exists.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The member's id in the union's roster.
    pub member_id: String,
    /// The member's local.
    pub local: String,
    /// The member's name.
    pub name: String,
    /// The member's email.
    pub email: String,
    /// The member's language (two letters) if the roster gave one.
    pub language: Option<String>,
    /// The member's postal address (lines joined by `\n`) if the roster gave one.
    pub address: Option<String>,
    /// The token itself.
    pub token: PlainToken,
    /// The link the member opens, built from the election's public URL.
    pub ballot_url: String,
}

/// The mailing CSV of issued tokens
/// (`member_id,local,name,email,token,ballot_url,key_fingerprint`), every cell safe to open in
/// a spreadsheet. `key_fingerprint` is the log key's, the same on every row, for the notice to
/// print: a member or auditor compares it with the audit page's and the certificate's.
pub fn mailing_csv(issued: &[IssuedToken], signer: &LogKey) -> Result<Vec<u8>> {
    let fingerprint = crate::log::note::fingerprint(&signer.public_key());
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Internal(format!("cannot write the CSV: {e}"));
    w.write_record([
        "member_id",
        "local",
        "name",
        "email",
        "token",
        "ballot_url",
        "key_fingerprint",
    ])
    .map_err(fail)?;
    for t in issued {
        w.write_record(
            [
                t.member_id.as_str(),
                &t.local,
                &t.name,
                &t.email,
                t.token.expose(),
                &t.ballot_url,
                &fingerprint,
            ]
            .map(|c| crate::text::spreadsheet_cell(c).into_owned()),
        )
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write the CSV: {e}")))
}

fn ensure_issuable(election: &Election) -> Result<()> {
    if crate::election::may(election, entry::AdminAction::TokensIssue) {
        return Ok(());
    }
    Err(Error::conflict(
        ErrorCode::ElectionClosed,
        format!(
            "cannot issue tokens: election {} is {}",
            election.id, election.state
        ),
    ))
}

/// Issues every missing token ([`issue_missing`]) and returns how many, with the mailing CSV
/// of them (the only copy: the tokens are stored hashed).
pub fn issue_mailing(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
    actor: &str,
) -> Result<(usize, Vec<u8>)> {
    let mut csv = Vec::new();
    let n = issue_missing(conn, id, signer, actor, &mut |issued| {
        csv = mailing_csv(issued, signer)?;
        Ok(())
    })?;
    Ok((n, csv))
}

/// Issues a token to every member who has neither a live nor a used one, in one transaction.
///
/// `deliver` receives the new tokens before the transaction commits (the CLI writes the CSV
/// there); if it fails, nothing is issued. Returns how many tokens were issued.
pub fn issue_missing(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
    actor: &str,
    deliver: &mut dyn FnMut(&[IssuedToken]) -> Result<()>,
) -> Result<usize> {
    issue_among(conn, id, (signer, actor), None, &mut |_, issued| {
        deliver(issued)
    })
}

/// As [`issue_missing`], for the members of `among` (rows of `members`) only when given: the
/// letters by post. `deliver` gets the election with the tokens (the letters name its dates).
pub fn issue_among(
    conn: &mut DbConnection,
    id: ElectionId,
    (signer, actor): (&LogKey, &str),
    among: Option<&HashSet<String>>,
    deliver: &mut dyn FnMut(&Election, &[IssuedToken]) -> Result<()>,
) -> Result<usize> {
    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_issuable(&election)?;
        issue_needy(
            conn,
            &election,
            (signer, actor.into(), AdminAction::TokensIssue),
            among,
            &mut |issued| deliver(&election, issued),
        )
    })
}

/// The members of election `id` with neither a live nor a used token, by local and member id.
pub(crate) fn needy_members(conn: &mut DbConnection, id: ElectionId) -> Result<Vec<StoredMember>> {
    let holding = tokens::table
        .filter(tokens::member.eq(members::id))
        .filter(tokens::status.eq_any([TokenStatus::Live, TokenStatus::Used]));
    Ok(members::table
        .filter(members::election_id.eq(id.to_string()))
        .filter(not(exists(holding)))
        .select(StoredMember::as_select())
        .order((members::local_code, members::member_id))
        .load(conn)?)
}

/// The members of election `id` whose rows are `rows`, by local and member id.
pub(crate) fn members_among(
    conn: &mut DbConnection,
    id: ElectionId,
    rows: &HashSet<String>,
) -> Result<Vec<StoredMember>> {
    Ok(members::table
        .filter(members::election_id.eq(id.to_string()))
        .filter(members::id.eq_any(rows))
        .select(StoredMember::as_select())
        .order((members::local_code, members::member_id))
        .load(conn)?)
}

/// Revokes a live token whose message never reached its member (the SMTP server refused it,
/// or it was never handed over): nobody holds it, and the member may get a letter instead.
pub fn revoke_undelivered(conn: &mut DbConnection, token: &PlainToken) -> Result<()> {
    diesel::update(
        tokens::table
            .filter(tokens::hash.eq(token.hash().0.to_vec()))
            .filter(tokens::status.eq(TokenStatus::Live)),
    )
    .set(tokens::status.eq(TokenStatus::Revoked))
    .execute(conn)?;
    Ok(())
}

/// The mailing lost: revokes every live token of the election and issues every member who has
/// not voted a new one, in one transaction (the old tokens stop working the moment the new
/// ones exist). Returns how many were issued and their mailing CSV.
pub fn reissue_mailing<'a>(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
    who: impl Into<Who<'a>>,
) -> Result<(usize, Vec<u8>)> {
    let who = who.into();
    let mut csv = Vec::new();
    let n = crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_issuable(&election)?;
        approval::check(&election, &Action::ReissueAll, who)?;
        diesel::update(
            tokens::table
                .filter(tokens::election_id.eq(id.to_string()))
                .filter(tokens::status.eq(TokenStatus::Live)),
        )
        .set(tokens::status.eq(TokenStatus::Revoked))
        .execute(conn)?;
        let why = (signer, who.actor(), AdminAction::TokensReissueAll);
        issue_needy(conn, &election, why, None, &mut |issued| {
            csv = mailing_csv(issued, signer)?;
            Ok(())
        })
    })?;
    Ok((n, csv))
}

/// Inside the caller's transaction: a token for every member with neither a live nor a used
/// one (of `among`, when given: rows of `members`), logged as `(signer, actor, action)`'s
/// `admin` entry and a `tokens_issued` entry.
fn issue_needy(
    conn: &mut DbConnection,
    election: &Election,
    (signer, actor, action): (&LogKey, entry::Actor<'_>, AdminAction),
    among: Option<&HashSet<String>>,
    deliver: &mut dyn FnMut(&[IssuedToken]) -> Result<()>,
) -> Result<usize> {
    let id = election.id;
    let eid = id.to_string();
    let needy = needy_members(conn, id)?
        .into_iter()
        .filter(|m| among.is_none_or(|a| a.contains(&m.row_id)));
    let now = Utc::now().naive_utc();
    let mut issued = Vec::new();
    let mut rows = Vec::new();
    for member in needy {
        let token = fresh_token()?;
        rows.push(NewToken::live(&token, &eid, member.row_id.clone(), now));
        issued.push(IssuedToken::new(member, token, election));
    }
    for chunk in rows.chunks(CHUNK) {
        crate::on_backend!(conn, |c| diesel::insert_into(tokens::table)
            .values(chunk)
            .execute(c))?;
    }
    if !issued.is_empty() {
        let mut per_local: BTreeMap<String, u64> = BTreeMap::new();
        for t in &issued {
            *per_local.entry(t.local.clone()).or_default() += 1;
        }
        let entries = [
            entry::admin(&id, action, actor),
            entry::tokens_issued(&id, &per_local),
        ];
        log::store::append(conn, election, &entries, signer)?;
    }
    deliver(&issued)?;
    Ok(issued.len())
}

/// A new row of `tokens`: only the token's hash is stored.
#[derive(Insertable)]
#[diesel(table_name = tokens)]
struct NewToken<'a> {
    hash: Vec<u8>,
    election_id: &'a str,
    member: String,
    status: TokenStatus,
    issued_at: NaiveDateTime,
}

impl<'a> NewToken<'a> {
    fn live(token: &PlainToken, election_id: &'a str, member: String, at: NaiveDateTime) -> Self {
        Self {
            hash: token.hash().0.to_vec(),
            election_id,
            member,
            status: TokenStatus::Live,
            issued_at: at,
        }
    }
}

impl IssuedToken {
    fn new(member: StoredMember, token: PlainToken, election: &Election) -> Self {
        Self {
            member_id: member.member_id,
            local: member.local,
            name: member.name,
            email: member.email,
            language: member.language,
            address: member.address,
            ballot_url: election.ballot_url(&token),
            token,
        }
    }
}

/// Revokes a member's live token (if any) and issues a new one.
///
/// Refused when the member's token was already used: a member gets one ballot.
pub fn reissue<'a>(
    conn: &mut DbConnection,
    id: ElectionId,
    member_id: &str,
    signer: &LogKey,
    who: impl Into<Who<'a>>,
) -> Result<IssuedToken> {
    let who = who.into();
    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_issuable(&election)?;
        let action = Action::Reissue {
            member: member_id.to_owned(),
        };
        approval::check(&election, &action, who)?;
        let eid = id.to_string();
        let member = crate::roster::member(conn, id, member_id)?;
        let used: i64 = tokens::table
            .filter(tokens::member.eq(&member.row_id))
            .filter(tokens::status.eq(TokenStatus::Used))
            .count()
            .get_result(conn)?;
        if used > 0 {
            return Err(Error::conflict(
                ErrorCode::TokenUsed,
                format!(
                    "member `{member_id}` has already cast a ballot; a new token cannot be issued"
                ),
            ));
        }
        diesel::update(
            tokens::table
                .filter(tokens::member.eq(&member.row_id))
                .filter(tokens::status.eq(TokenStatus::Live)),
        )
        .set(tokens::status.eq(TokenStatus::Revoked))
        .execute(conn)?;
        let token = fresh_token()?;
        let now = Utc::now().naive_utc();
        diesel::insert_into(tokens::table)
            .values(NewToken::live(&token, &eid, member.row_id.clone(), now))
            .execute(conn)?;
        let entries = [
            entry::admin(&id, AdminAction::TokenReissue, who.actor()),
            entry::token_reissued(&id, &member.local),
        ];
        log::store::append(conn, &election, &entries, signer)?;
        Ok(IssuedToken::new(member, token, &election))
    })
}

fn fresh_token() -> Result<PlainToken> {
    PlainToken::generate()
        .map_err(|e| Error::Internal(format!("the operating system's random source failed: {e}")))
}

/// What the outbox asks of [`mint_for_messages`]: a message and the member it goes to.
#[derive(Clone, Debug)]
pub struct MessageTo {
    /// The outbox row's id.
    pub message: String,
    /// The member's row id (`members.id`).
    pub member: String,
}

/// The outbox's tokens for a batch of messages, made at the moment they are sent: in one
/// transaction under the election's lock, each member who has not voted gets a new live token
/// (a live one they held dies: it is replaced), logged as the outbox's (`by: "mail"`)
/// `tokens_issue` for members who had none and `tokens_reissue` for those whose token was
/// replaced, each with its `tokens_issued` count. A member who has voted gets none (`None`).
/// The tokens exist in plain text only in what this returns.
pub fn mint_for_messages(
    conn: &mut DbConnection,
    id: ElectionId,
    signer: &LogKey,
    messages: &[MessageTo],
) -> Result<Vec<(String, Option<IssuedToken>)>> {
    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_issuable(&election)?;
        let eid = id.to_string();
        let (status, members) = holdings(conn, &eid, messages)?;
        let now = Utc::now().naive_utc();
        let (mut issued, mut replaced) = (BTreeMap::new(), BTreeMap::new());
        let (mut rows, mut to_revoke) = (Vec::new(), Vec::new());
        let mut out = Vec::with_capacity(messages.len());
        let mut minted = std::collections::BTreeSet::new();
        for m in messages {
            let Some(member) = members.get(&m.member) else {
                return Err(Error::Internal(format!(
                    "message {} is for a member not in election {id}'s roster",
                    m.message
                )));
            };
            let voted = status.get(&m.member) == Some(&TokenStatus::Used);
            if voted || !minted.insert(m.member.clone()) {
                out.push((m.message.clone(), None));
                continue;
            }
            let counts = if status.get(&m.member) == Some(&TokenStatus::Live) {
                to_revoke.push(m.member.as_str());
                &mut replaced
            } else {
                &mut issued
            };
            *counts.entry(member.local.clone()).or_insert(0u64) += 1;
            let token = fresh_token()?;
            rows.push(NewToken::live(&token, &eid, m.member.clone(), now));
            out.push((
                m.message.clone(),
                Some(IssuedToken::new(member.clone(), token, &election)),
            ));
        }
        for chunk in to_revoke.chunks(CHUNK) {
            diesel::update(
                tokens::table
                    .filter(tokens::election_id.eq(&eid))
                    .filter(tokens::member.eq_any(chunk))
                    .filter(tokens::status.eq(TokenStatus::Live)),
            )
            .set(tokens::status.eq(TokenStatus::Revoked))
            .execute(conn)?;
        }
        for chunk in rows.chunks(CHUNK) {
            crate::on_backend!(conn, |c| diesel::insert_into(tokens::table)
                .values(chunk)
                .execute(c))?;
        }
        let mut entries = Vec::new();
        for (action, counts) in [
            (AdminAction::TokensIssue, &issued),
            (AdminAction::TokensReissue, &replaced),
        ] {
            if !counts.is_empty() {
                entries.push(entry::admin(&id, action, entry::MAIL));
                entries.push(entry::tokens_issued(&id, counts));
            }
        }
        if !entries.is_empty() {
            log::store::append(conn, &election, &entries, signer)?;
        }
        Ok(out)
    })
}

/// The live or used token status of each member the messages go to, and the members.
#[allow(clippy::type_complexity)]
fn holdings(
    conn: &mut DbConnection,
    eid: &str,
    messages: &[MessageTo],
) -> Result<(
    BTreeMap<String, TokenStatus>,
    BTreeMap<String, StoredMember>,
)> {
    let wanted: Vec<&str> = messages.iter().map(|m| m.member.as_str()).collect();
    let held: Vec<(String, TokenStatus)> = tokens::table
        .filter(tokens::election_id.eq(eid))
        .filter(tokens::member.eq_any(&wanted))
        .filter(tokens::status.eq_any([TokenStatus::Live, TokenStatus::Used]))
        .select((tokens::member, tokens::status))
        .load(conn)?;
    let members = members::table
        .filter(members::election_id.eq(eid))
        .filter(members::id.eq_any(&wanted))
        .select(StoredMember::as_select())
        .load(conn)?
        .into_iter()
        .map(|m: StoredMember| (m.row_id.clone(), m))
        .collect();
    Ok((held.into_iter().collect(), members))
}
