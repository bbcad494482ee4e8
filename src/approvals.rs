//! Carrying out what the two-person rule approved, each step in one transaction: the approval
//! and the action it approves commit together or not at all, and an action whose result is a
//! secret (a reissued token, a new mailing) runs only for the official who asked for it, who
//! alone sees the secret ([`crate::election::approval`] says who may ask and approve).

use crate::account::{self, Role};
use crate::db::DbConnection;
use crate::election::approval::{self, Action, Pending, Who};
use crate::election::{self, ElectionId, Transition};
use crate::error::{Error, Result};
use crate::log::LogKey;
use crate::notices::letters::{self, Letterhead};
use crate::token::store::{self as token_store, IssuedToken};

/// Asks `username`'s password again before an approval, carrying one out, or an action from
/// the pages that changes the vote (open, close, certify, issuing or reissuing tokens): whoever
/// finds an official's screen unlocked (or steals a session) does not act with it. Wrong
/// passwords count toward the account's lock like failed sign-ins.
pub fn reconfirm(conn: &mut DbConnection, username: &str, password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::Unauthorized(
            "type your password again to confirm this action".into(),
        ));
    }
    crate::account::login(conn, username, password).map(|_| ())
}

/// What an approval did.
#[derive(Debug)]
pub enum Approved {
    /// The action ran (the vote closed), with both officials' names in the log.
    Done(Pending),
    /// The action waits, approved, for the official who asked to carry it out.
    Waiting(Pending),
}

/// `approver`, typing their password again, approves pending action `pending_id`; an action
/// without a secret result runs in the same transaction.
pub fn approve(
    conn: &mut DbConnection,
    (id, pending_id): (ElectionId, &str),
    (approver, password): (&str, &str),
    signer: &LogKey,
) -> Result<Approved> {
    reconfirm(conn, approver, password)?;
    crate::log::store::transaction(conn, |c| {
        let p = approval::approve(c, id, pending_id, approver)?;
        match p.action()? {
            Action::Close => {
                let who = Who::Official {
                    by: &p.requested_by,
                    approved_by: Some(approver),
                };
                election::apply(c, id, Transition::Close, signer, who)?;
                Ok(Approved::Done(p))
            }
            Action::CreateAdmin {
                username,
                password_hash,
            } => {
                let who = Who::Official {
                    by: &p.requested_by,
                    approved_by: Some(approver),
                };
                let acting = account::Acting::new(who, signer);
                account::create_hashed(c, (&username, &password_hash, Role::Admin), acting)?;
                Ok(Approved::Done(p))
            }
            Action::Reissue { .. }
            | Action::ReissueAll
            | Action::AdminApiToken { .. }
            | Action::BouncedLetters { .. } => Ok(Approved::Waiting(p)),
        }
    })
}

/// What carrying out an approved action gave: the secret, for the official who asked.
#[derive(Debug)]
pub enum CarriedOut {
    /// One member's new token.
    Reissued(IssuedToken),
    /// How many tokens were replaced, and the new mailing's CSV.
    Mailing(usize, Vec<u8>),
    /// The asker's new API token: its name and the token.
    ApiToken(String, String),
    /// How many bounced links letters replaced, and the letters (one PDF; empty when every
    /// member has voted or been reissued a token since).
    Letters(usize, Vec<u8>),
}

/// `requester`, typing their password again, carries out the approved action `pending_id`
/// they asked for (`head` heads letters).
pub fn carry_out(
    conn: &mut DbConnection,
    (id, pending_id): (ElectionId, &str),
    (requester, password): (&str, &str),
    (signer, head): (&LogKey, &Letterhead),
) -> Result<CarriedOut> {
    reconfirm(conn, requester, password)?;
    crate::log::store::transaction(conn, |c| {
        let p = approval::take_approved(c, id, pending_id, requester)?;
        let second = p.approved_by.clone().unwrap_or_default();
        let who = Who::Official {
            by: requester,
            approved_by: Some(&second),
        };
        match p.action()? {
            Action::Reissue { member } => {
                token_store::reissue(c, id, &member, signer, who).map(CarriedOut::Reissued)
            }
            Action::ReissueAll => token_store::reissue_mailing(c, id, signer, who)
                .map(|(n, csv)| CarriedOut::Mailing(n, csv)),
            Action::AdminApiToken { name } => {
                let acting = account::Acting::new(who, signer);
                account::create_api_token(c, (requester, &name), acting)
                    .map(|token| CarriedOut::ApiToken(name, token))
            }
            Action::BouncedLetters { members } => {
                letters::replace_bounced(c, id, &members, (signer, who), head)
                    .map(|(n, pdf)| CarriedOut::Letters(n, pdf))
            }
            Action::Close | Action::CreateAdmin { .. } => Err(Error::Internal(
                "an action without a secret waited for its asker after approval".into(),
            )),
        }
    })
}
