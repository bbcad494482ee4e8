//! Who acts in a log, and the two-person rule: the officials' names on `admin` and `account`
//! entries. An approval names two different officials' accounts, neither made during the vote
//! (an account created after `open` could be a second name of the official on the other side
//! of the rule, so it neither asks for nor approves an action).

use std::collections::BTreeMap;

use super::{Failure, fail};
use crate::entry::{AccountAction, AccountChange, ActorKind, AdminAction};
use crate::lifecycle::Phase;

/// The officials' accounts as the log shows them.
#[derive(Debug, Default)]
pub(super) struct Officials {
    /// Accounts an `account` `create` entry made: whether after the vote opened.
    created: BTreeMap<String, bool>,
}

impl Officials {
    /// `by` and `approved_by` of an approved action: two different officials' accounts, neither
    /// created while the vote was open (or after).
    pub(super) fn approval(&self, by: &str, second: &str) -> Result<(), Failure> {
        let by_is = ActorKind::of(by).map_err(Failure)?;
        let second_is = ActorKind::of(second).map_err(Failure)?;
        if second == by {
            return fail("an official's action approved by the same official");
        }
        if by_is != ActorKind::Person || second_is != ActorKind::Person {
            return fail(
                "`approved_by` on an action of the server's console, schedule or outbox (or \
                 naming one): only two officials' accounts act under the two-person rule",
            );
        }
        if let Some(late) = [by, second]
            .into_iter()
            .find(|name| self.created.get(*name) == Some(&true))
        {
            return fail(format!(
                "`{late}` takes part in an approved action, but its account was created after \
                 the vote opened: under the two-person rule only officials who held their \
                 accounts before the vote opened ask for or approve an action"
            ));
        }
        Ok(())
    }

    /// An `account` entry read in `phase`, in an election whose definition keeps the
    /// two-person rule on (`rule`) or not.
    pub(super) fn account(
        &mut self,
        phase: Phase,
        rule: bool,
        change: &AccountChange,
    ) -> Result<(), Failure> {
        let by = ActorKind::of(&change.by).map_err(Failure)?;
        if matches!(by, ActorKind::Schedule | ActorKind::Mail) {
            return fail(format!(
                "an account change by `{}`: only officials and the console",
                change.by
            ));
        }
        if ActorKind::of(&change.account).map_err(Failure)? != ActorKind::Person {
            return fail(format!(
                "`account` names `{}`, not an official's account",
                change.account
            ));
        }
        let action = change.action;
        let own = change.by == change.account;
        if by == ActorKind::Person {
            if action == AccountAction::ApiTokenCreate && !own {
                return fail(format!(
                    "{} creates an API token for `{}`: an official creates API tokens only \
                     for their own account (only the console makes them for others)",
                    change.by, change.account
                ));
            }
            if action == AccountAction::Disable && own {
                return fail(format!(
                    "{} disables their own account: another admin, or the console, does",
                    change.by
                ));
            }
        }
        let covered = action.is_covered(change.role);
        match change.approved_by.as_deref() {
            Some(second) => {
                self.approval(&change.by, second)?;
                if !covered {
                    return fail(format!(
                        "`approved_by` on an account `{action}` for an account of role {}: the \
                         two-person rule covers only creating an admin account and creating \
                         an admin's API token",
                        change.role.as_str()
                    ));
                }
            }
            None if covered && rule && by == ActorKind::Person && phase == Phase::Open => {
                return fail(format!(
                    "{} does `{action}` for the admin account `{}` while the vote is open, \
                     with no `approved_by`: the two-person rule needs a second official's \
                     approval",
                    change.by, change.account
                ));
            }
            None => {}
        }
        if action == AccountAction::Create {
            if self.created.contains_key(&change.account) {
                return fail(format!(
                    "a second `create` of the account `{}`: an account is created once",
                    change.account
                ));
            }
            let during_vote = phase >= Phase::Open;
            self.created.insert(change.account.clone(), during_vote);
        }
        Ok(())
    }
}

/// Whether an `admin` entry's action is covered by the two-person rule while the vote is
/// open and must name its approver (closing early is checked against the closing time
/// separately).
pub(super) fn needs_approval(action: AdminAction) -> bool {
    matches!(
        action,
        AdminAction::TokenReissue | AdminAction::TokensReissueAll
    )
}
