//! The `result` entry as a typed body: what each local, the group of small locals, the whole
//! membership and the delegates decided, who decrypted, and the sums opened — field for field
//! as docs/LOG_FORMAT.md lists them, in that order, and nothing else.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::crypto::Ciphertext;

/// A `result` entry's fields (after `v`, `type`, `election`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultEntry {
    /// Each local, in the definition's order.
    pub locals: IndexMap<String, LocalOutcome>,
    /// The group of small locals counted together, if any.
    pub group: Option<GroupOutcome>,
    /// The whole membership.
    pub popular: PopularEntry,
    /// The delegates' vote.
    pub delegates: DelegatesEntry,
    /// The election's rule, quorum included.
    pub outcome: Outcome,
    /// The teller numbers whose shares were combined, in log order.
    pub tellers: Vec<u32>,
    /// The code of each total opened → one ciphertext per choice: its sum.
    pub sums: IndexMap<String, Vec<Ciphertext>>,
}

impl PartialEq for ResultEntry {
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_vec(self).ok() == serde_json::to_vec(other).ok()
    }
}

/// The counts of one opened total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counted {
    /// Yes ballots.
    pub yes: u64,
    /// No ballots.
    pub no: u64,
    /// Abstentions.
    pub abstain: u64,
}

/// A local's line: opened alone, or counted in the group of small locals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocalOutcome {
    /// Its own total was opened.
    Opened(OpenedLocal),
    /// It was counted in the group.
    Grouped(GroupedLocal),
}

/// A local whose own total was opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenedLocal {
    /// Members eligible.
    pub eligible: u64,
    /// Yes ballots.
    pub yes: u64,
    /// No ballots.
    pub no: u64,
    /// Abstentions.
    pub abstain: u64,
    /// Delegates cast yes.
    pub delegates_yes: u64,
    /// Delegates cast no.
    pub delegates_no: u64,
    /// Whether it passed its threshold.
    pub passed: bool,
}

/// A local counted in the group of small locals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupedLocal {
    /// Members eligible.
    pub eligible: u64,
    /// Its ballots (their choices are only in the group's total).
    pub cast: u64,
    /// The group's code.
    pub group: String,
    /// Delegates cast yes.
    pub delegates_yes: u64,
    /// Delegates cast no.
    pub delegates_no: u64,
    /// The group's decision.
    pub passed: bool,
}

/// The group of small locals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupOutcome {
    /// Its code.
    pub code: String,
    /// Its locals' codes, in the definition's order.
    pub locals: Vec<String>,
    /// Their eligible members.
    pub eligible: u64,
    /// Yes ballots.
    pub yes: u64,
    /// No ballots.
    pub no: u64,
    /// Abstentions.
    pub abstain: u64,
    /// Its yes share against the local threshold (or, without one, the overall threshold).
    pub passed: bool,
}

/// The whole membership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopularEntry {
    /// Members eligible.
    pub eligible: u64,
    /// Yes ballots.
    pub yes: u64,
    /// No ballots.
    pub no: u64,
    /// Abstentions.
    pub abstain: u64,
    /// Whether the quorum was met (always, without one).
    pub quorum_met: bool,
    /// The yes share against the threshold alone.
    pub passed: bool,
}

/// The delegates' vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegatesEntry {
    /// Delegates cast yes.
    pub yes: u64,
    /// Delegates cast no.
    pub no: u64,
    /// Yes delegates against the threshold alone.
    pub passed: bool,
}

/// The election's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The vote passed (its rule and the quorum).
    Passed,
    /// It failed.
    Failed,
}
