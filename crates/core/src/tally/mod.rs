//! The count: `(definition, eligible, ballots) -> Results`. Pure, exact integer arithmetic.
//!
//! Abstentions count for turnout, never for the percentage. A local with no yes/no ballots, or
//! a tie under `more_than`, does not meet its threshold. Results always carry the popular and
//! the delegate outcome side by side, plus the decision under the election's own rule.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::crypto::Ciphertext;
use crate::definition::{Choice, Definition, Fraction, Rule};
use crate::entry::Body;
use crate::text::fill;
use crate::words::Words;

pub mod opened;
pub mod units;

pub use units::Units;

/// Ballots of one local by choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChoiceCounts {
    /// Yes ballots.
    pub yes: u64,
    /// No ballots.
    pub no: u64,
    /// Abstentions.
    pub abstain: u64,
}

impl ChoiceCounts {
    /// Counts one ballot.
    pub fn add(&mut self, choice: Choice) {
        match choice {
            Choice::Yes => self.yes += 1,
            Choice::No => self.no += 1,
            Choice::Abstain => self.abstain += 1,
        }
    }

    /// The counts of `choices` (the definition's options) from one decrypted count per option.
    pub fn of_options(choices: &[Choice], counts: &[u64]) -> Self {
        let mut all = Self::default();
        for (choice, n) in choices.iter().zip(counts) {
            match choice {
                Choice::Yes => all.yes += n,
                Choice::No => all.no += n,
                Choice::Abstain => all.abstain += n,
            }
        }
        all
    }

    /// Ballots cast (abstentions included).
    pub fn cast(&self) -> u64 {
        self.yes + self.no + self.abstain
    }

    /// Adds `other`'s counts, choice by choice.
    pub fn add_all(&mut self, other: ChoiceCounts) {
        self.yes += other.yes;
        self.no += other.no;
        self.abstain += other.abstain;
    }

    /// yes / (yes + no).
    pub fn authorization(&self) -> Share {
        Share {
            part: self.yes,
            whole: self.yes + self.no,
        }
    }
}

/// An exact share `part / whole`, displayed as a percentage truncated to two decimals (so
/// 74.999% shows as 74.99% and never looks like a pass it is not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Share {
    /// Numerator.
    pub part: u64,
    /// Denominator (0: no share).
    pub whole: u64,
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.whole == 0 {
            return f.pad("—");
        }
        let basis = u128::from(self.part) * 10_000 / u128::from(self.whole);
        f.pad(&format!("{}.{:02}%", basis / 100, basis % 100))
    }
}

/// One local's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalResult {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Members eligible.
    pub eligible: u64,
    /// Ballots cast (public as they are cast).
    pub cast: u64,
    /// Ballots by choice; none when the local was counted in the group of small locals.
    pub counts: Option<ChoiceCounts>,
    /// The code of the group the local was counted in, if it had too few ballots to be
    /// opened alone.
    pub group: Option<String>,
    /// Ballots cast / eligible.
    pub turnout: Share,
    /// yes / (yes + no) of the total that decides for the local: its own, or its group's.
    pub authorization: Share,
    /// Whether the authorization share meets the local threshold (or, without one, the
    /// overall threshold).
    pub passed: bool,
    /// Delegates the local carries.
    pub delegates: u64,
    /// Delegates cast yes (all of them if it passed).
    pub delegates_yes: u64,
    /// Delegates cast no.
    pub delegates_no: u64,
}

impl LocalResult {
    /// Its yes, no and abstain counts as tables show them: numbers, or `—` for a local counted
    /// in the group (its ballots are only counted together with the group's).
    pub fn shown(&self) -> [String; 3] {
        match self.counts {
            Some(c) => [c.yes, c.no, c.abstain].map(|n| n.to_string()),
            None => ["—", "—", "—"].map(str::to_owned),
        }
    }
}

/// The small locals counted together (docs/LOG_FORMAT.md, "Small locals").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupResult {
    /// The group's code (the definition's `small_locals.code`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its locals' codes, in the definition's order.
    pub locals: Vec<String>,
    /// Members eligible in them.
    pub eligible: u64,
    /// Their ballots by choice, together.
    pub counts: ChoiceCounts,
    /// Ballots cast / eligible.
    pub turnout: Share,
    /// yes / (yes + no).
    pub authorization: Share,
    /// Whether the share meets the local threshold (or, without one, the overall one): under
    /// the delegate rule it decides for each of its locals.
    pub passed: bool,
}

/// The overall popular vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PopularOutcome {
    /// Members eligible in all locals.
    pub eligible: u64,
    /// Ballots by choice in all locals.
    pub counts: ChoiceCounts,
    /// Ballots cast / eligible.
    pub turnout: Share,
    /// yes / (yes + no).
    pub authorization: Share,
    /// Whether the share meets the overall threshold.
    pub passed: bool,
}

/// The delegate vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DelegateOutcome {
    /// Delegates cast yes.
    pub yes: u64,
    /// Delegates cast no.
    pub no: u64,
    /// Whether yes delegates meet the overall threshold against all delegates.
    pub passed: bool,
}

/// The whole result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Results {
    /// Per local, in the definition's order.
    pub locals: Vec<LocalResult>,
    /// The small locals counted together, if any.
    pub group: Option<GroupResult>,
    /// The popular vote.
    pub popular: PopularOutcome,
    /// The delegate vote.
    pub delegates: DelegateOutcome,
    /// Whether the quorum (if any) is met.
    pub quorum_met: bool,
    /// The decision under the election's rule, quorum included.
    pub passed: bool,
}

/// What a log's entries add up to without opening a ballot: the latest `roster` entry of each
/// local, and per local the number of ballots and their option-by-option encrypted sums
/// (ElGamal is additive). The service and the offline verifier both count with it, so the two
/// cannot disagree about what an entry means; neither can read a count from it.
#[derive(Clone, Debug)]
pub struct LogCount {
    /// The election (ballots are bound to it and their local: [`crate::crypto::ballot`]).
    pub election: crate::ElectionId,
    /// Eligible members per local (the latest roster entry wins).
    pub eligible: BTreeMap<String, u64>,
    /// Ballots per local.
    pub ballots: BTreeMap<String, u64>,
    /// Per local, the sum of its ballots' ciphertexts, option by option, as sealed: under the
    /// local's context key (`opened::sums` gives them under the election key).
    pub sums: BTreeMap<String, Vec<Ciphertext>>,
}

impl LogCount {
    /// Nothing counted yet, for `election`.
    pub fn new(election: crate::ElectionId) -> Self {
        Self {
            election,
            eligible: BTreeMap::new(),
            ballots: BTreeMap::new(),
            sums: BTreeMap::new(),
        }
    }

    /// Counts every entry of `bodies` (of `election`) in order.
    pub fn of<'a>(election: crate::ElectionId, bodies: impl IntoIterator<Item = &'a Body>) -> Self {
        let mut count = Self::new(election);
        for body in bodies {
            count.add(body);
        }
        count
    }

    /// Counts one entry; types that carry no roster or ballot change nothing.
    pub fn add(&mut self, body: &Body) {
        match body {
            Body::Roster(r) => {
                self.eligible.insert(r.local.clone(), r.eligible);
            }
            Body::Ballot(b) => {
                *self.ballots.entry(b.local.clone()).or_default() += 1;
                let choices = b.ballot.choices_unchecked();
                let sum = self
                    .sums
                    .entry(b.local.clone())
                    .or_insert_with(|| vec![Ciphertext::zero(); choices.len()]);
                for (total, c) in sum.iter_mut().zip(choices) {
                    *total += *c;
                }
            }
            _ => {}
        }
    }

    /// Ballots counted in `local` so far.
    pub fn cast(&self, local: &str) -> u64 {
        self.ballots.get(local).copied().unwrap_or(0)
    }

    /// Ballots cast in each local (for turnout; it reveals no choice).
    pub fn turnout(&self) -> &BTreeMap<String, u64> {
        &self.ballots
    }
}

/// Counts the vote: `totals` holds the choice counts of each total the tellers opened (a
/// local's code, or the group's) as `units` says they were formed.
pub fn tally(
    definition: &Definition,
    eligible: &BTreeMap<String, u64>,
    units: &Units,
    totals: &BTreeMap<String, ChoiceCounts>,
) -> Results {
    let local_threshold = definition.local_threshold.unwrap_or(definition.threshold);
    let group = group_result(definition, eligible, units, totals);
    let mut total = group.as_ref().map(|g| g.counts).unwrap_or_default();
    let locals: Vec<LocalResult> = definition
        .locals
        .iter()
        .map(|local| {
            let merged = group
                .as_ref()
                .filter(|g| g.locals.contains(&local.code.to_string()));
            let result = local_result(local, merged, eligible, units, totals, local_threshold);
            if let Some(counts) = result.counts {
                total.add_all(counts);
            }
            result
        })
        .collect();
    let total_eligible: u64 = locals.iter().map(|l| l.eligible).sum();
    let delegates_yes: u64 = locals.iter().map(|l| l.delegates_yes).sum();
    let delegates_all: u64 = locals.iter().map(|l| l.delegates).sum();
    let quorum_met = definition
        .quorum
        .is_none_or(|q: Fraction| q.is_met(total.cast(), total_eligible));
    let authorization = total.authorization();
    let popular = PopularOutcome {
        eligible: total_eligible,
        counts: total,
        turnout: Share {
            part: total.cast(),
            whole: total_eligible,
        },
        authorization,
        passed: definition
            .threshold
            .is_met(authorization.part, authorization.whole),
    };
    let delegates = DelegateOutcome {
        yes: delegates_yes,
        no: delegates_all - delegates_yes,
        passed: definition.threshold.is_met(delegates_yes, delegates_all),
    };
    let by_rule = match definition.rule {
        Rule::Popular => popular.passed,
        Rule::Delegates => delegates.passed,
    };
    Results {
        locals,
        group,
        passed: by_rule && quorum_met,
        popular,
        delegates,
        quorum_met,
    }
}

/// One local's result: its own counts, or (`merged`) its group's share deciding for it.
fn local_result(
    local: &crate::definition::Local,
    merged: Option<&GroupResult>,
    eligible: &BTreeMap<String, u64>,
    units: &Units,
    totals: &BTreeMap<String, ChoiceCounts>,
    local_threshold: Fraction,
) -> LocalResult {
    let code = local.code.as_str();
    let (counts, authorization, passed) = match merged {
        Some(g) => (None, g.authorization, g.passed),
        None => {
            let counts = totals.get(code).copied().unwrap_or_default();
            let share = counts.authorization();
            let passed = local_threshold.is_met(share.part, share.whole);
            (Some(counts), share, passed)
        }
    };
    let members = eligible.get(code).copied().unwrap_or(0);
    let cast = units.ballots.get(code).copied().unwrap_or(0);
    let delegates = u64::from(local.delegates);
    let won = if passed { delegates } else { 0 };
    LocalResult {
        code: code.to_owned(),
        name: local.name.clone(),
        eligible: members,
        cast,
        counts,
        group: merged.map(|g| g.code.clone()),
        turnout: Share {
            part: cast,
            whole: members,
        },
        authorization,
        passed,
        delegates,
        delegates_yes: won,
        delegates_no: delegates - won,
    }
}

/// The group of small locals, counted: its share against the local threshold (or, without
/// one, the overall threshold) decides for each of its locals.
fn group_result(
    definition: &Definition,
    eligible: &BTreeMap<String, u64>,
    units: &Units,
    totals: &BTreeMap<String, ChoiceCounts>,
) -> Option<GroupResult> {
    let g = units.group.as_ref()?;
    let local_threshold = definition.local_threshold.unwrap_or(definition.threshold);
    let counts = totals.get(&g.code).copied().unwrap_or_default();
    let members: u64 = g.locals.iter().filter_map(|l| eligible.get(l)).sum();
    let authorization = counts.authorization();
    Some(GroupResult {
        code: g.code.clone(),
        name: definition.small_locals.name.clone(),
        locals: g.locals.clone(),
        eligible: members,
        counts,
        turnout: Share {
            part: counts.cast(),
            whole: members,
        },
        authorization,
        passed: local_threshold.is_met(authorization.part, authorization.whole),
    })
}

/// The outcomes in the words the CLI and the verifier print them with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdicts {
    /// `PASSED` or `FAILED`: the decision under the election's rule, quorum included.
    pub decision: &'static str,
    /// `passes` or `fails`: the popular vote against the threshold.
    pub popular: &'static str,
    /// `passes` or `fails`: the delegate vote.
    pub delegates: &'static str,
    /// `met` or `missed`.
    pub quorum: &'static str,
}

/// A result explained the way officials and members read it: one sentence stating the
/// decision and why, and each threshold in words, to show beside the percentage it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// E.g. "FAILED: locals holding 56 of 156 delegates voted yes; more than half needed.
    /// Local 600: 71.42% yes, at least 75% needed."
    pub sentence: String,
    /// What each local's yes share must reach (its own threshold, or the overall one).
    pub local_needed: String,
    /// What the deciding vote (popular share, or delegates) must reach.
    pub overall_needed: String,
    /// The quorum in words, if there is one.
    pub quorum_needed: Option<String>,
    /// Whether the popular vote decides (otherwise the delegates do).
    pub popular_decides: bool,
}

/// Locals named one by one in a sentence before the rest are counted.
const LOCALS_NAMED: usize = 3;

impl Results {
    /// The result explained under `definition` (the one it was counted with), in English.
    pub fn explain(&self, definition: &Definition) -> Explanation {
        self.explain_in(definition, &Words::ENGLISH)
    }

    /// The result explained in the words of a language.
    pub fn explain_in(&self, definition: &Definition, w: &Words) -> Explanation {
        let local_threshold = definition.local_threshold.unwrap_or(definition.threshold);
        let overall_needed = definition.threshold.in_words_of(w);
        let local_needed = local_threshold.in_words_of(w);
        let mut reasons = Vec::new();
        if let Some(q) = definition.quorum.filter(|_| !self.quorum_met) {
            let p = &self.popular;
            reasons.push(fill(
                w.reason_quorum,
                &[
                    ("cast", &p.counts.cast().to_string()),
                    ("eligible", &p.eligible.to_string()),
                    ("turnout", &p.turnout.to_string()),
                    ("quorum", &q.in_words_of(w)),
                ],
            ));
        }
        let popular_decides = definition.rule == Rule::Popular;
        if popular_decides {
            reasons.push(fill(
                w.reason_popular,
                &[
                    ("share", &self.popular.authorization.to_string()),
                    ("needed", &overall_needed),
                ],
            ));
        } else {
            let all = self.delegates.yes + self.delegates.no;
            reasons.push(fill(
                w.reason_delegates,
                &[
                    ("yes", &self.delegates.yes.to_string()),
                    ("all", &all.to_string()),
                    ("needed", &overall_needed),
                ],
            ));
        }
        let verdict = if self.passed { w.passed } else { w.failed };
        let mut sentence = fill(
            w.decision,
            &[("verdict", verdict), ("reasons", &reasons.join("; "))],
        );
        if !popular_decides {
            let mentions = self.short_of_threshold(w, &local_needed);
            for m in mentions.iter().take(LOCALS_NAMED) {
                sentence.push(' ');
                sentence.push_str(m);
            }
            if mentions.len() > LOCALS_NAMED {
                let more = (mentions.len() - LOCALS_NAMED).to_string();
                sentence.push(' ');
                sentence.push_str(&fill(w.more_short, &[("count", &more)]));
            }
        }
        Explanation {
            sentence,
            local_needed,
            overall_needed,
            quorum_needed: definition.quorum.map(|q| q.in_words_of(w)),
            popular_decides,
        }
    }

    /// One sentence per local with delegates that fell short (a group of small locals once).
    fn short_of_threshold(&self, w: &Words, needed: &str) -> Vec<String> {
        let share_words = |share: Share| match share.whole {
            0 => w.no_ballots.to_owned(),
            _ => fill(w.share_yes, &[("share", &share.to_string())]),
        };
        let mut mentions: Vec<String> = Vec::new();
        for l in self.locals.iter().filter(|l| !l.passed && l.delegates > 0) {
            let words = match (&l.group, &self.group) {
                (Some(_), Some(g)) => fill(
                    w.short_group,
                    &[
                        ("name", w.group_name(&g.name)),
                        ("count", &g.locals.len().to_string()),
                        ("share", &share_words(g.authorization)),
                        ("needed", needed),
                    ],
                ),
                _ => fill(
                    w.short_local,
                    &[
                        ("name", &l.name),
                        ("share", &share_words(l.authorization)),
                        ("needed", needed),
                    ],
                ),
            };
            if !mentions.contains(&words) {
                mentions.push(words);
            }
        }
        mentions
    }

    /// The width of the widest code in [`Results::rows`] (at least 10): the code column of a
    /// plain-text table.
    pub fn code_width(&self) -> usize {
        let widest = self.locals.iter().map(|l| l.code.chars().count());
        let group = self.group.iter().map(|g| g.code.chars().count());
        widest.chain(group).max().unwrap_or(0).max(10)
    }

    /// The group in one sentence for the foot of a results table, if there is one (English).
    pub fn group_note(&self, definition: &Definition) -> Option<String> {
        self.group_note_in(definition, &Words::ENGLISH)
    }

    /// The group's sentence in the words of a language.
    pub fn group_note_in(&self, definition: &Definition, w: &Words) -> Option<String> {
        let g = self.group.as_ref()?;
        Some(fill(
            w.group_note,
            &[
                ("locals", &g.locals.join(", ")),
                ("min", &definition.small_locals.min_ballots.to_string()),
                ("name", w.group_name(&g.name)),
                ("code", &g.code),
            ],
        ))
    }

    /// The outcomes in words.
    pub fn verdicts(&self) -> Verdicts {
        let passes = |p: bool| if p { "passes" } else { "fails" };
        Verdicts {
            decision: if self.passed { "PASSED" } else { "FAILED" },
            popular: passes(self.popular.passed),
            delegates: passes(self.delegates.passed),
            quorum: if self.quorum_met { "met" } else { "missed" },
        }
    }

    /// The results as a table: one row per local, in the definition's order (a local counted
    /// in the group has no choice counts), then the group's row if there is one (its code, its
    /// name; `delegates` those of its locals), then a `total` row (all locals; `passed` is the
    /// decision, the delegates all the locals carry). The CSV download and the CLI print
    /// exactly these rows.
    pub fn rows(&self) -> Vec<LocalResult> {
        let p = &self.popular;
        let group = self.group.as_ref().map(|g| {
            let members = || self.locals.iter().filter(|l| g.locals.contains(&l.code));
            LocalResult {
                code: g.code.clone(),
                name: g.name.clone(),
                eligible: g.eligible,
                cast: g.counts.cast(),
                counts: Some(g.counts),
                group: None,
                turnout: g.turnout,
                authorization: g.authorization,
                passed: g.passed,
                delegates: members().map(|l| l.delegates).sum(),
                delegates_yes: members().map(|l| l.delegates_yes).sum(),
                delegates_no: members().map(|l| l.delegates_no).sum(),
            }
        });
        let total = LocalResult {
            code: "total".to_owned(),
            name: String::new(),
            eligible: p.eligible,
            cast: p.counts.cast(),
            counts: Some(p.counts),
            group: None,
            turnout: p.turnout,
            authorization: p.authorization,
            passed: self.passed,
            delegates: self.delegates.yes + self.delegates.no,
            delegates_yes: self.delegates.yes,
            delegates_no: self.delegates.no,
        };
        self.locals
            .iter()
            .cloned()
            .chain(group)
            .chain([total])
            .collect()
    }

    /// The body of the log's `result` entry (docs/LOG_FORMAT.md): `locals` (code → eligible,
    /// yes, no, abstain — or, for a local counted in the group, cast and the group's code —
    /// then delegates_yes, delegates_no, passed), `group`, `popular`, `delegates`, `outcome`,
    /// then the `tellers` whose shares opened it and the `sums` opened.
    pub fn entry_body(
        &self,
        tellers: Vec<u32>,
        sums: indexmap::IndexMap<String, Vec<Ciphertext>>,
    ) -> crate::entry::ResultEntry {
        use crate::entry::{
            DelegatesEntry, GroupOutcome, GroupedLocal, LocalOutcome, OpenedLocal, Outcome,
            PopularEntry, ResultEntry,
        };
        let locals = self
            .locals
            .iter()
            .map(|l| {
                let line = match (&l.counts, &l.group) {
                    (Some(c), _) => LocalOutcome::Opened(OpenedLocal {
                        eligible: l.eligible,
                        yes: c.yes,
                        no: c.no,
                        abstain: c.abstain,
                        delegates_yes: l.delegates_yes,
                        delegates_no: l.delegates_no,
                        passed: l.passed,
                    }),
                    (None, group) => LocalOutcome::Grouped(GroupedLocal {
                        eligible: l.eligible,
                        cast: l.cast,
                        group: group.clone().unwrap_or_default(),
                        delegates_yes: l.delegates_yes,
                        delegates_no: l.delegates_no,
                        passed: l.passed,
                    }),
                };
                (l.code.clone(), line)
            })
            .collect();
        let group = self.group.as_ref().map(|g| GroupOutcome {
            code: g.code.clone(),
            locals: g.locals.clone(),
            eligible: g.eligible,
            yes: g.counts.yes,
            no: g.counts.no,
            abstain: g.counts.abstain,
            passed: g.passed,
        });
        ResultEntry {
            locals,
            group,
            popular: PopularEntry {
                eligible: self.popular.eligible,
                yes: self.popular.counts.yes,
                no: self.popular.counts.no,
                abstain: self.popular.counts.abstain,
                quorum_met: self.quorum_met,
                passed: self.popular.passed,
            },
            delegates: DelegatesEntry {
                yes: self.delegates.yes,
                no: self.delegates.no,
                passed: self.delegates.passed,
            },
            outcome: if self.passed {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            tellers,
            sums,
        }
    }
}

#[cfg(test)]
mod tests;
