//! Issuing and reissuing tokens in the database.

use chrono::Utc;
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use std::collections::BTreeMap;

use super::PlainToken;
use crate::db::DbConnection;
use crate::db::schema::{members, tokens};
use crate::election::{self, Election, ElectionId, State};
use crate::error::{Error, ErrorCode, Result};
use crate::log::{self, LogKey, entry};

/// Rows written per INSERT.
const CHUNK: usize = 500;

/// Token status as stored.
pub const LIVE: &str = "live";
/// A token whose ballot was cast.
pub const USED: &str = "used";
/// A token withdrawn by a reissue.
pub const REVOKED: &str = "revoked";

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
    /// The token itself.
    pub token: PlainToken,
    /// The link the member opens, built from the election's public URL.
    pub ballot_url: String,
}

/// The mailing CSV of issued tokens (`member_id,local,name,email,token,ballot_url`), every
/// cell safe to open in a spreadsheet.
pub fn mailing_csv(issued: &[IssuedToken]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Internal(format!("cannot write the CSV: {e}"));
    w.write_record(["member_id", "local", "name", "email", "token", "ballot_url"])
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
            ]
            .map(|c| crate::text::spreadsheet_cell(c).into_owned()),
        )
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write the CSV: {e}")))
}

fn ensure_issuable(election: &Election) -> Result<()> {
    match election.state {
        State::Draft | State::Open => Ok(()),
        state => Err(Error::conflict(
            ErrorCode::ElectionClosed,
            format!("cannot issue tokens: election {} is {state}", election.id),
        )),
    }
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
        csv = mailing_csv(issued)?;
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
    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_issuable(&election)?;
        let eid = id.to_string();
        let holding = tokens::table
            .filter(tokens::member.eq(members::id))
            .filter(tokens::status.eq_any([LIVE, USED]));
        let needy: Vec<(String, String, String, String, String)> = members::table
            .filter(members::election_id.eq(&eid))
            .filter(not(exists(holding)))
            .select((
                members::id,
                members::member_id,
                members::local_code,
                members::name,
                members::email,
            ))
            .order((members::local_code, members::member_id))
            .load(conn)?;
        let now = Utc::now().naive_utc();
        let mut issued = Vec::with_capacity(needy.len());
        let mut rows = Vec::with_capacity(needy.len());
        for (row_id, member_id, local, name, email) in needy {
            let token = fresh_token()?;
            rows.push((
                tokens::hash.eq(token.hash().0.to_vec()),
                tokens::election_id.eq(eid.clone()),
                tokens::member.eq(row_id),
                tokens::status.eq(LIVE),
                tokens::issued_at.eq(now),
            ));
            issued.push(IssuedToken {
                member_id,
                local,
                name,
                email,
                ballot_url: election.ballot_url(&token),
                token,
            });
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
            log::store::append(
                conn,
                &election,
                &[
                    entry::admin(&id, "tokens_issue", actor),
                    entry::tokens_issued(&id, &per_local),
                ],
                signer,
            )?;
        }
        deliver(&issued)?;
        Ok(issued.len())
    })
}

/// Revokes a member's live token (if any) and issues a new one.
///
/// Refused when the member's token was already used: a member gets one ballot.
pub fn reissue(
    conn: &mut DbConnection,
    id: ElectionId,
    member_id: &str,
    signer: &LogKey,
    actor: &str,
) -> Result<IssuedToken> {
    crate::log::store::transaction(conn, |conn| {
        let election = election::lock(conn, id)?;
        ensure_issuable(&election)?;
        let eid = id.to_string();
        let member: Option<(String, String, String, String)> = members::table
            .filter(members::election_id.eq(&eid))
            .filter(members::member_id.eq(member_id))
            .select((
                members::id,
                members::local_code,
                members::name,
                members::email,
            ))
            .first(conn)
            .optional()?;
        let Some((row_id, local, name, email)) = member else {
            return Err(Error::not_found(
                ErrorCode::MemberNotFound,
                format!("member `{member_id}` is not on the roster of election {id}"),
            ));
        };
        let used: i64 = tokens::table
            .filter(tokens::member.eq(&row_id))
            .filter(tokens::status.eq(USED))
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
                .filter(tokens::member.eq(&row_id))
                .filter(tokens::status.eq(LIVE)),
        )
        .set(tokens::status.eq(REVOKED))
        .execute(conn)?;
        let token = fresh_token()?;
        diesel::insert_into(tokens::table)
            .values((
                tokens::hash.eq(token.hash().0.to_vec()),
                tokens::election_id.eq(&eid),
                tokens::member.eq(&row_id),
                tokens::status.eq(LIVE),
                tokens::issued_at.eq(Utc::now().naive_utc()),
            ))
            .execute(conn)?;
        log::store::append(
            conn,
            &election,
            &[
                entry::admin(&id, "token_reissue", actor),
                entry::token_reissued(&id, &local),
            ],
            signer,
        )?;
        Ok(IssuedToken {
            member_id: member_id.to_owned(),
            local,
            name,
            email,
            ballot_url: election.ballot_url(&token),
            token,
        })
    })
}

fn fresh_token() -> Result<PlainToken> {
    PlainToken::generate()
        .map_err(|e| Error::Internal(format!("the operating system's random source failed: {e}")))
}
