//! The words a result is stated in, one set per language: each a template whose `{name}`s
//! [`crate::text::fill`] replaces. English is [`Words::ENGLISH`]; the service's other languages
//! come from its locale files (`[words]`), checked there to use the same placeholders.

/// A language's words for thresholds, the decision sentence and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    /// A threshold of one half, after a comparison (`half`).
    pub half: &'static str,
    /// One third (`a third`).
    pub a_third: &'static str,
    /// Two thirds (`two-thirds`).
    pub two_thirds: &'static str,
    /// `at least {amount}`: a named fraction, reached or passed.
    pub at_least: &'static str,
    /// `more than {amount}`: a named fraction, passed.
    pub more_than: &'static str,
    /// `at least {percent}` (`{percent}` is `75%`).
    pub at_least_percent: &'static str,
    /// `more than {percent}`.
    pub more_than_percent: &'static str,
    /// The decision, passed (`PASSED`).
    pub passed: &'static str,
    /// The decision, failed (`FAILED`).
    pub failed: &'static str,
    /// `{verdict}: {reasons}.` — the reasons joined by `; `.
    pub decision: &'static str,
    /// Why the quorum was missed: `{cast}`, `{eligible}`, `{turnout}`, `{quorum}`.
    pub reason_quorum: &'static str,
    /// The popular vote: `{share}` yes, `{needed}`.
    pub reason_popular: &'static str,
    /// The delegate vote: `{yes}` of `{all}` delegates, `{needed}`.
    pub reason_delegates: &'static str,
    /// A local with no yes or no ballots.
    pub no_ballots: &'static str,
    /// A local's yes share: `{share} yes`.
    pub share_yes: &'static str,
    /// A group short of its threshold: `{name}`, `{count}` locals, `{share}`, `{needed}`.
    pub short_group: &'static str,
    /// A local short of its threshold: `{name}`, `{share}`, `{needed}`.
    pub short_local: &'static str,
    /// The locals short of it beyond those named: `{count}`.
    pub more_short: &'static str,
    /// The group of small locals at the foot of a table: `{locals}`, `{min}`, `{name}`,
    /// `{code}`.
    pub group_note: &'static str,
    /// The delegates rule: `{threshold}`, `{local_threshold}`.
    pub rule_delegates: &'static str,
    /// The popular rule: `{threshold}`.
    pub rule_popular: &'static str,
    /// The quorum: `{quorum}`.
    pub rule_quorum: &'static str,
    /// How abstentions count.
    pub rule_abstain: &'static str,
    /// The group of small locals: `{min}`, `{name}`.
    pub rule_small_locals: &'static str,
    /// The group's name when the definition leaves it at its default (`Small locals
    /// together`): a name the officials chose is theirs and stays as they wrote it.
    pub small_locals: &'static str,
}

impl Words {
    /// English, as the verifier, the CLI and the officials' pages state results.
    pub const ENGLISH: Words = Words {
        half: "half",
        a_third: "a third",
        two_thirds: "two-thirds",
        at_least: "at least {amount}",
        more_than: "more than {amount}",
        at_least_percent: "at least {percent}",
        more_than_percent: "more than {percent}",
        passed: "PASSED",
        failed: "FAILED",
        decision: "{verdict}: {reasons}.",
        reason_quorum: "{cast} of {eligible} eligible members voted ({turnout}); a quorum of {quorum} is needed",
        reason_popular: "{share} of the yes and no ballots were yes; {needed} needed",
        reason_delegates: "locals holding {yes} of {all} delegates voted yes; {needed} needed",
        no_ballots: "no yes or no ballots",
        share_yes: "{share} yes",
        short_group: "{name} ({count} locals counted together): {share}, {needed} needed.",
        short_local: "{name}: {share}, {needed} needed.",
        more_short: "{count} more locals did not reach it.",
        group_note: "Locals {locals} had too few ballots to be counted alone (no total under {min} ballots is ever decrypted) and were counted together as {name} ({code}); that total's yes share decides for each of them.",
        rule_delegates: "Delegates decide: yes needs {threshold} of all delegates. A local's delegates all count yes if {local_threshold} of its yes and no ballots are yes, and all no otherwise.",
        rule_popular: "The members' vote decides: yes needs {threshold} of the yes and no ballots of all locals together.",
        rule_quorum: "Quorum: {quorum} of eligible members must vote.",
        rule_abstain: "Abstentions count for turnout, not for the yes share.",
        rule_small_locals: "No total of fewer than {min} ballots is decrypted: locals with fewer are counted together as \"{name}\", whose yes share decides for each of them.",
        small_locals: "Small locals together",
    };

    /// The group of small locals' name as this language reads it.
    pub fn group_name<'a>(&'a self, name: &'a str) -> &'a str {
        if name == Words::ENGLISH.small_locals {
            self.small_locals
        } else {
            name
        }
    }
}
