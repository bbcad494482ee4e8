//! Which totals the tellers open: never one over fewer ballots than the definition's
//! `small_locals.min_ballots`.
//!
//! From the number of ballots each local holds at close (public: every ballot entry names its
//! local), in the definition's order of locals:
//!
//! 1. a local without ballots opens nothing (its counts are 0);
//! 2. every local with at least one ballot but fewer than the minimum goes into the group;
//! 3. while the group holds fewer ballots than the minimum, the local with the fewest ballots
//!    of those left (the first of them in the definition's order, on a tie) joins it; if none is
//!    left, the whole election holds fewer ballots than the minimum and nothing can be opened;
//! 4. every other local with ballots is opened alone.
//!
//! Step 3 matters: opening every other local and the group would show a short group's total
//! by subtraction from the overall one. Every opened total covers at least the minimum, and
//! so does any sum of them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::crypto::tally::TallyError;
use crate::definition::Definition;

/// The group of locals counted together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Its code (the definition's `small_locals.code`).
    pub code: String,
    /// Its locals, in the definition's order.
    pub locals: Vec<String>,
    /// Ballots in all of them.
    pub ballots: u64,
}

/// The totals to open, and the ballots each local holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Units {
    /// Ballots per local (every local of the definition, 0 included).
    pub ballots: BTreeMap<String, u64>,
    /// Locals opened alone, in the definition's order.
    pub alone: Vec<String>,
    /// The group, if any local had too few ballots to be opened alone.
    pub group: Option<Group>,
    /// The fewest ballots an opened total may cover.
    pub min_ballots: u32,
}

impl Units {
    /// The totals to open for `ballots` (per local code; a missing local has none). Refused
    /// ([`TallyError::TooFewBallots`]) if the whole election has at least one ballot but fewer
    /// than the minimum.
    pub fn of(
        definition: &Definition,
        ballots: &BTreeMap<String, u64>,
    ) -> Result<Self, TallyError> {
        let min = u64::from(definition.small_locals.min_ballots);
        let cast: Vec<(&str, u64)> = definition
            .locals
            .iter()
            .map(|l| {
                let code = l.code.as_str();
                (code, ballots.get(code).copied().unwrap_or(0))
            })
            .collect();
        // A set: an election may have thousands of locals.
        let mut grouped: BTreeSet<&str> = cast
            .iter()
            .filter(|(_, n)| (1..min).contains(n))
            .map(|(code, _)| *code)
            .collect();
        let mut in_group: u64 = cast
            .iter()
            .filter(|(code, _)| grouped.contains(code))
            .map(|(_, n)| n)
            .sum();
        // Every local left has at least `min` ballots, so one more always suffices.
        while !grouped.is_empty() && in_group < min {
            let next = cast
                .iter()
                .filter(|(code, n)| *n > 0 && !grouped.contains(code))
                .min_by_key(|(_, n)| *n);
            let Some((code, n)) = next else {
                return Err(TallyError::TooFewBallots {
                    ballots: in_group,
                    min: definition.small_locals.min_ballots,
                });
            };
            grouped.insert(code);
            in_group += n;
        }
        let group = (!grouped.is_empty()).then(|| Group {
            code: definition.small_locals.code.as_str().to_owned(),
            locals: cast
                .iter()
                .filter(|(code, _)| grouped.contains(code))
                .map(|(code, _)| (*code).to_owned())
                .collect(),
            ballots: in_group,
        });
        Ok(Self {
            alone: cast
                .iter()
                .filter(|(code, n)| *n > 0 && !grouped.contains(code))
                .map(|(code, _)| (*code).to_owned())
                .collect(),
            ballots: cast.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
            group,
            min_ballots: definition.small_locals.min_ballots,
        })
    }

    /// Every total to open, in order (the locals alone, then the group): its code, the locals
    /// it covers and their ballots.
    pub fn totals(&self) -> Vec<(&str, Vec<&str>, u64)> {
        let alone = self.alone.iter().map(|code| {
            let n = self.ballots.get(code).copied().unwrap_or(0);
            (code.as_str(), vec![code.as_str()], n)
        });
        let group = self.group.iter().map(|g| {
            let locals = g.locals.iter().map(String::as_str).collect();
            (g.code.as_str(), locals, g.ballots)
        });
        alone.chain(group).collect()
    }

    /// The group `local` was counted in, if it was merged.
    pub fn group_of(&self, local: &str) -> Option<&Group> {
        self.group
            .as_ref()
            .filter(|g| g.locals.iter().any(|l| l == local))
    }

    /// The group's locals (none without a group), in the definition's order.
    pub fn grouped(&self) -> &[String] {
        self.group.as_ref().map_or(&[], |g| g.locals.as_slice())
    }

    /// Refuses if a total would cover fewer ballots than the minimum (what a teller checks
    /// before computing any share, whatever it was asked).
    pub fn check(&self) -> Result<(), TallyError> {
        for (_, _, n) in self.totals() {
            if n < u64::from(self.min_ballots) {
                return Err(TallyError::TooFewBallots {
                    ballots: n,
                    min: self.min_ballots,
                });
            }
        }
        Ok(())
    }
}

/// What officials are told about small locals, from the members eligible per local and the
/// ballots cast so far (empty before the vote): locals that can never be opened alone, locals
/// that would be merged if the vote closed now, and an election too small to decrypt at all.
pub fn warnings(
    definition: &Definition,
    eligible: &BTreeMap<String, u64>,
    cast: &BTreeMap<String, u64>,
) -> Vec<String> {
    let small = &definition.small_locals;
    let min = u64::from(small.min_ballots);
    let mut out = Vec::new();
    let everyone: u64 = eligible.values().sum();
    if everyone > 0 && everyone < min {
        out.push(format!(
            "Only {everyone} members are eligible in the whole election, fewer than the {min} \
             ballots any decrypted total must cover: no result can ever be decrypted. Create the \
             election again with a lower small_locals.min_ballots or more locals."
        ));
        return out;
    }
    let codes = |pick: &dyn Fn(&str) -> bool| -> Vec<&str> {
        definition
            .locals
            .iter()
            .map(|l| l.code.as_str())
            .filter(|c| pick(c))
            .collect()
    };
    let n = |map: &BTreeMap<String, u64>, code: &str| map.get(code).copied().unwrap_or(0);
    let never = codes(&|c| (1..min).contains(&n(eligible, c)));
    if !never.is_empty() {
        out.push(format!(
            "Locals {} have fewer than {min} eligible members: their totals are never decrypted \
             alone. At close they are counted together as \"{}\" with every other local under \
             {min} ballots (and, if those hold fewer than {min} together, with the smallest other \
             local); under the delegate rule that group's yes share decides for each of them.",
            never.join(", "),
            small.name
        ));
    }
    let now = codes(&|c| !never.contains(&c) && (1..min).contains(&n(cast, c)));
    if !now.is_empty() {
        out.push(format!(
            "If the vote closed now, locals {} (fewer than {min} ballots each so far) would be \
             counted together as \"{}\" too.",
            now.join(", "),
            small.name
        ));
    }
    if small.min_ballots < crate::definition::SmallLocals::ADVISED_MIN {
        out.push(format!(
            "This election decrypts totals of as few as {min} ballot(s) \
             (small_locals.min_ballots = {min}): in a local with that few, the result shows how \
             its members voted. At least {} is advised.",
            crate::definition::SmallLocals::ADVISED_MIN
        ));
    }
    out
}
