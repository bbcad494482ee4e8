//! The election definition: parsed from the official's TOML file, validated all at once, and
//! serialized with the same field names as the log's `election` entry. Pure: no I/O.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::text::fill;
use crate::words::Words;

mod witnesses;

pub use witnesses::{MAX_WITNESSES, Witness, Witnesses};

/// A ballot choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Authorize.
    Yes,
    /// Do not authorize.
    No,
    /// Counted for turnout, not for the percentage.
    Abstain,
}

impl Choice {
    /// Every choice an election may offer.
    pub const ALL: [Choice; 3] = [Choice::Yes, Choice::No, Choice::Abstain];

    /// Parses `yes`, `no` or `abstain` (exact, lowercase).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Width of a choice on the wire: forms and API clients send the name padded with spaces
    /// to this many characters (`"no     "`), so a request's length does not tell the choice.
    pub const WIRE_WIDTH: usize = 7;

    /// The name padded with spaces to [`Choice::WIRE_WIDTH`]: what the ballot form submits.
    pub fn padded(self) -> String {
        format!("{:<width$}", self.as_str(), width = Self::WIRE_WIDTH)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Yes => "yes",
            Choice::No => "no",
            Choice::Abstain => "abstain",
        }
    }
}

/// How the overall outcome is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The overall yes percentage decides.
    Popular,
    /// Each local casts all its delegates by its own percentage; delegates decide.
    Delegates,
}

/// How a share is compared with a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// share ≥ fraction (75% → 3/4 at_least).
    AtLeast,
    /// share > fraction (simple majority → 1/2 more_than).
    MoreThan,
}

/// A threshold: an exact fraction in (0, 1] and a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fraction {
    /// Numerator.
    pub num: u64,
    /// Denominator, never zero.
    pub den: u64,
    /// How a share is compared with `num/den`.
    pub cmp: Comparison,
}

impl Rule {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Popular => "popular",
            Rule::Delegates => "delegates",
        }
    }
}

impl Comparison {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::AtLeast => "at_least",
            Comparison::MoreThan => "more_than",
        }
    }
}

/// `3/4 at_least`.
impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.num, self.den, self.cmp.as_str())
    }
}

impl Fraction {
    /// The threshold in words, as results state it: `more than half`, `at least two-thirds`,
    /// `at least 75%`, `more than 66.67%` (a percentage with at most two decimals, truncated).
    pub fn in_words(&self) -> String {
        self.in_words_of(&Words::ENGLISH)
    }

    /// The threshold in the words of a language.
    pub fn in_words_of(&self, w: &Words) -> String {
        let named = match (self.num, self.den) {
            (n, d) if n * 2 == d => Some(w.half),
            (n, d) if n * 3 == d => Some(w.a_third),
            (n, d) if n * 3 == d * 2 => Some(w.two_thirds),
            _ => None,
        };
        if let Some(amount) = named {
            let template = match self.cmp {
                Comparison::AtLeast => w.at_least,
                Comparison::MoreThan => w.more_than,
            };
            return fill(template, &[("amount", amount)]);
        }
        let basis = u128::from(self.num) * 10_000 / u128::from(self.den);
        let (whole, cents) = (basis / 100, basis % 100);
        let percent = match cents {
            0 => format!("{whole}%"),
            c if c % 10 == 0 => format!("{whole}.{}%", c / 10),
            c => format!("{whole}.{c:02}%"),
        };
        let template = match self.cmp {
            Comparison::AtLeast => w.at_least_percent,
            Comparison::MoreThan => w.more_than_percent,
        };
        fill(template, &[("percent", &percent)])
    }

    /// Whether `part / whole` meets this threshold, in exact integer arithmetic.
    /// A share of nothing (`whole == 0`) never meets a threshold.
    pub fn is_met(&self, part: u64, whole: u64) -> bool {
        if whole == 0 {
            return false;
        }
        let lhs = u128::from(part) * u128::from(self.den);
        let rhs = u128::from(self.num) * u128::from(whole);
        match self.cmp {
            Comparison::AtLeast => lhs >= rhs,
            Comparison::MoreThan => lhs > rhs,
        }
    }
}

/// A local's code: 1–32 characters of letters, digits, `.`, `_` or `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalCode(String);

impl LocalCode {
    /// Parses a local code.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("a local code may not be empty".into());
        }
        if s.chars().count() > 32 {
            return Err(format!(
                "local code `{}` is longer than 32 characters",
                crate::text::shown(s)
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(format!(
                "local code `{}` may contain only letters, digits, `.`, `_` and `-`",
                crate::text::shown(s)
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LocalCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<LocalCode> for String {
    fn from(c: LocalCode) -> String {
        c.0
    }
}

impl fmt::Display for LocalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A local (a bargaining unit) taking part in the election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Local {
    /// Its code, unique in the election.
    pub code: LocalCode,
    /// Its name.
    pub name: String,
    /// Delegate votes it carries (0 when the election has no delegates).
    pub delegates: u32,
}

/// A validated election definition. Field names and order are those of the log's `election`
/// entry, so what the official wrote is what the log freezes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// Short title.
    pub title: String,
    /// The question put to members.
    pub question: String,
    /// The choices offered, in the order written.
    pub choices: Vec<Choice>,
    /// The deciding rule.
    pub rule: Rule,
    /// The overall threshold.
    pub threshold: Fraction,
    /// The per-local threshold (required under the delegate rule).
    pub local_threshold: Option<Fraction>,
    /// Optional quorum: ballots cast / eligible.
    pub quorum: Option<Fraction>,
    /// The locals, in the order written.
    pub locals: Vec<Local>,
    /// How locals with too few ballots to open alone are counted: merged into one group.
    pub small_locals: SmallLocals,
    /// When voting opens.
    #[serde(with = "rfc3339_seconds")]
    pub opens_at: DateTime<Utc>,
    /// When voting closes.
    #[serde(with = "rfc3339_seconds")]
    pub closes_at: DateTime<Utc>,
    /// Who holds the election key between them, and how many of them it takes to decrypt.
    pub tellers: Tellers,
    /// Who members should contact (shown with every member error), if given.
    pub contact: Option<String>,
    /// The IANA time zone times are shown in (`UTC` unless given); they are stored in UTC.
    pub time_zone: String,
    /// The title and question in other languages, by language code (`es`, …); English (the
    /// fields above) is the default.
    pub translations: BTreeMap<String, Translation>,
    /// The ballot's own wording of some choices ("Yes, I authorize a strike"), in English;
    /// a choice without one is shown by the page's word for it ("Yes").
    pub labels: BTreeMap<Choice, String>,
    /// The two-person rule: while the vote is open, closing it before `closes_at`, reissuing a
    /// member's token and replacing every unused token each need a second admin's approval
    /// (the log's `admin` entry then names both). On unless the definition says
    /// `two_person_rule = false`; entry 0 carries the field only when it is off.
    #[serde(default = "rule_on", skip_serializing_if = "is_on")]
    pub two_person_rule: bool,
    /// The witnesses who must cosign every checkpoint before it is published; entry 0 carries
    /// the field only when the definition lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnesses: Option<Witnesses>,
    /// When the outbox reminds every member who has not voted (with a fresh ballot link),
    /// frozen with the definition so no one can remind or skip a member mid-vote: each strictly
    /// between `opens_at` and `closes_at`, in order, at most [`MAX_REMINDERS`]. Entry 0
    /// carries the field only when the definition sets some.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "rfc3339_list")]
    pub reminders: Vec<DateTime<Utc>>,
}

/// The most reminders a definition may set.
pub const MAX_REMINDERS: usize = 5;

fn rule_on() -> bool {
    true
}

fn is_on(on: &bool) -> bool {
    *on
}

/// Secrecy for small locals: a total over fewer than `min_ballots` ballots is never decrypted.
/// At close, every local with at least one ballot but fewer than `min_ballots` is merged into
/// the group named here, and the group is opened as one total (with more locals if it is still
/// short: [`crate::tally::units`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmallLocals {
    /// The fewest ballots a decrypted total may cover.
    pub min_ballots: u32,
    /// The group's code in the result (a local code no local of the election uses).
    pub code: LocalCode,
    /// The group's name on result pages.
    pub name: String,
}

impl SmallLocals {
    /// The minimum when the definition does not set one.
    pub const DEFAULT_MIN: u32 = 5;
    /// Below this minimum, `election check` and the builder warn.
    pub const ADVISED_MIN: u32 = 5;
    /// The largest minimum a definition may set.
    pub const MAX_MIN: u32 = 1000;
    /// The group's code when the definition does not name one.
    pub const DEFAULT_CODE: &str = "small-locals";
    /// The group's name when the definition does not name one.
    pub const DEFAULT_NAME: &str = Words::ENGLISH.small_locals;
}

/// The title and question in one more language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// The title.
    pub title: String,
    /// The question.
    pub question: String,
    /// The choices' labels in this language: exactly the choices the English `labels` word.
    pub labels: BTreeMap<Choice, String>,
}

/// The election's tellers: `count` people, any `threshold` of whom can decrypt the totals
/// after the vote closes (and fewer cannot decrypt anything).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tellers {
    /// Tellers in all.
    pub count: u32,
    /// Tellers needed to decrypt.
    pub threshold: u32,
    /// Their names, in teller order (empty when the definition gives none).
    pub names: Vec<String>,
}

impl Tellers {
    /// The most tellers an election may have.
    pub const MAX: u32 = 20;

    /// Teller `n`'s (1-based) name, or `teller n`.
    pub fn name(&self, n: u32) -> String {
        self.given_name(n)
            .map_or_else(|| format!("teller {n}"), str::to_owned)
    }

    /// Teller `n`'s (1-based) name, if the definition gives one.
    pub fn given_name(&self, n: u32) -> Option<&str> {
        usize::try_from(n)
            .ok()
            .and_then(|n| self.names.get(n.checked_sub(1)?))
            .map(String::as_str)
    }
}

/// The most locals an election may have: far above any real union, low enough to bound work.
pub const MAX_LOCALS: usize = 10_000;

/// One thing wrong with a definition file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where: a field name such as `threshold.den` or `locals[3].code`.
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a definition file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// Not valid TOML, or a field of the wrong type or an unknown field.
    #[error("the definition is not valid TOML: {0}")]
    Syntax(String),
    /// Valid TOML with one or more problems, all listed.
    #[error("the definition has {} problem(s):\n{}", .0.len(), list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    title: Option<String>,
    question: Option<String>,
    choices: Option<Vec<String>>,
    rule: Option<String>,
    threshold: Option<RawFraction>,
    local_threshold: Option<RawFraction>,
    quorum: Option<RawFraction>,
    opens_at: Option<toml::Value>,
    closes_at: Option<toml::Value>,
    locals: Option<Vec<RawLocal>>,
    tellers: Option<RawTellers>,
    contact: Option<String>,
    time_zone: Option<String>,
    translations: Option<BTreeMap<String, RawTranslation>>,
    labels: Option<BTreeMap<String, String>>,
    two_person_rule: Option<bool>,
    small_locals: Option<RawSmallLocals>,
    witnesses: Option<witnesses::RawWitnesses>,
    reminders: Option<Vec<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmallLocals {
    min_ballots: Option<i64>,
    code: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTranslation {
    title: Option<String>,
    question: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTellers {
    count: Option<i64>,
    threshold: Option<i64>,
    names: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFraction {
    num: Option<i64>,
    den: Option<i64>,
    cmp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    code: Option<String>,
    name: Option<String>,
    delegates: Option<i64>,
}

/// A number as the file would give it; one no file could give (over `i64::MAX`) reads as -1,
/// which every check refuses.
fn whole(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(-1)
}

impl From<&Fraction> for RawFraction {
    fn from(f: &Fraction) -> Self {
        RawFraction {
            num: Some(whole(f.num)),
            den: Some(whole(f.den)),
            cmp: Some(f.cmp.as_str().to_owned()),
        }
    }
}

fn raw_labels(labels: &BTreeMap<Choice, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(c, l)| (c.as_str().to_owned(), l.clone()))
        .collect()
}

/// A definition as a file would give it, to check it again ([`Definition::validate`]).
impl From<&Definition> for RawDefinition {
    fn from(d: &Definition) -> Self {
        let time = |t: &DateTime<Utc>| toml::Value::String(format_time(t));
        RawDefinition {
            title: Some(d.title.clone()),
            question: Some(d.question.clone()),
            choices: Some(d.choices.iter().map(|c| c.as_str().to_owned()).collect()),
            rule: Some(d.rule.as_str().to_owned()),
            threshold: Some(RawFraction::from(&d.threshold)),
            local_threshold: d.local_threshold.as_ref().map(RawFraction::from),
            quorum: d.quorum.as_ref().map(RawFraction::from),
            opens_at: Some(time(&d.opens_at)),
            closes_at: Some(time(&d.closes_at)),
            locals: Some(
                d.locals
                    .iter()
                    .map(|l| RawLocal {
                        code: Some(l.code.as_str().to_owned()),
                        name: Some(l.name.clone()),
                        delegates: Some(i64::from(l.delegates)),
                    })
                    .collect(),
            ),
            tellers: Some(RawTellers {
                count: Some(i64::from(d.tellers.count)),
                threshold: Some(i64::from(d.tellers.threshold)),
                names: Some(d.tellers.names.clone()),
            }),
            contact: d.contact.clone(),
            time_zone: Some(d.time_zone.clone()),
            translations: Some(
                d.translations
                    .iter()
                    .map(|(lang, t)| {
                        let raw = RawTranslation {
                            title: Some(t.title.clone()),
                            question: Some(t.question.clone()),
                            labels: Some(raw_labels(&t.labels)),
                        };
                        (lang.clone(), raw)
                    })
                    .collect(),
            ),
            labels: Some(raw_labels(&d.labels)),
            two_person_rule: Some(d.two_person_rule),
            small_locals: Some(RawSmallLocals {
                min_ballots: Some(i64::from(d.small_locals.min_ballots)),
                code: Some(d.small_locals.code.as_str().to_owned()),
                name: Some(d.small_locals.name.clone()),
            }),
            witnesses: d.witnesses.as_ref().map(witnesses::RawWitnesses::from),
            reminders: (!d.reminders.is_empty()).then(|| d.reminders.iter().map(time).collect()),
        }
    }
}

fn check_tellers(p: &mut Problems, raw: RawTellers) -> Option<Tellers> {
    let max = i64::from(Tellers::MAX);
    let count = p.required("tellers.count", raw.count).and_then(|c| {
        let ok = (1..=max).contains(&c);
        if !ok {
            p.add(
                "tellers.count",
                format!("must be a whole number from 1 to {max}"),
            );
        }
        u32::try_from(c).ok().filter(|_| ok)
    });
    let threshold = p
        .required("tellers.threshold", raw.threshold)
        .and_then(|t| {
            let ok = t >= 1 && count.is_none_or(|c| t <= i64::from(c));
            if !ok {
                p.add(
                    "tellers.threshold",
                    "must be at least 1 and at most the number of tellers",
                );
            }
            u32::try_from(t).ok().filter(|_| ok)
        });
    let names = raw.names.unwrap_or_default();
    let before = p.0.len();
    if let Some(count) = count
        && !names.is_empty()
        && names.len() != count as usize
    {
        p.add(
            "tellers.names",
            format!("lists {} names for {count} tellers", names.len()),
        );
    }
    let names: Vec<String> = names
        .into_iter()
        .enumerate()
        .filter_map(|(i, n)| text_field(p, &format!("tellers.names[{i}]"), n, 100))
        .collect();
    if p.0.len() != before {
        return None;
    }
    Some(Tellers {
        count: count?,
        threshold: threshold?,
        names,
    })
}

fn check_rule(p: &mut Problems, rule: &str) -> Option<Rule> {
    match rule {
        "popular" => Some(Rule::Popular),
        "delegates" => Some(Rule::Delegates),
        other => {
            p.add(
                "rule",
                format!("unknown rule `{other}`: use \"popular\" or \"delegates\""),
            );
            None
        }
    }
}

/// Collects problems while a definition is checked.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }

    fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.add(field, "is required");
        }
        value
    }
}

impl Definition {
    /// Parses and validates a TOML definition, reporting every problem at once.
    pub fn from_toml(text: &str) -> Result<Self, DefinitionError> {
        let raw: RawDefinition =
            toml::from_str(text).map_err(|e| DefinitionError::Syntax(e.to_string()))?;
        let mut p = Problems::default();
        let definition = Self::check(&mut p, raw);
        match definition {
            Some(d) if p.0.is_empty() => Ok(d),
            // Every missing field recorded a problem, so the list is never empty in practice;
            // it stays an error rather than a panic.
            _ if p.0.is_empty() => Err(DefinitionError::Invalid(vec![Problem {
                field: "definition".into(),
                message: "is incomplete".into(),
            }])),
            _ => Err(DefinitionError::Invalid(p.0)),
        }
    }

    /// Checks a definition read from elsewhere (a log's entry 0) by the same rules as a
    /// definition file: it must be one [`Definition::from_toml`] could have made, field for
    /// field — every problem `election check` would report is reported, and text that checking
    /// would change (untrimmed, say) is refused too.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        let mut p = Problems::default();
        let checked = Self::check(&mut p, RawDefinition::from(self));
        if !p.0.is_empty() {
            return Err(DefinitionError::Invalid(p.0));
        }
        if checked.as_ref() != Some(self) {
            p.add(
                "definition",
                "is not written as a checked definition file gives it (text with leading or \
                 trailing spaces, say)",
            );
            return Err(DefinitionError::Invalid(p.0));
        }
        Ok(())
    }

    /// What a valid definition may still get wrong, for the official to confirm before the
    /// election is created (`election check`, the builder): a single teller able to decrypt
    /// alone, a voting window already begun or over at `now`, a quorum of every member.
    pub fn warnings(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut out = Vec::new();
        if self.tellers.threshold == 1 {
            out.push(format!(
                "tellers.threshold is 1: any one of the {} teller(s) can decrypt alone, so one \
                 person could read any total the election opens. Two of three or three of five \
                 is usual.",
                self.tellers.count
            ));
        }
        if self.closes_at <= now {
            out.push(format!(
                "closes_at ({}) has passed: the election could never be opened.",
                format_time(&self.closes_at)
            ));
        } else if self.opens_at <= now {
            out.push(format!(
                "opens_at ({}) has passed: the vote opens as soon as it is opened, with less time \
                 for notices to reach members than planned.",
                format_time(&self.opens_at)
            ));
        }
        if let Some(q) = self.quorum
            && q.num == q.den
        {
            out.push(
                "The quorum is 100%: the vote fails if a single eligible member does not vote."
                    .to_owned(),
            );
        }
        out.extend(witnesses::warnings(self.witnesses.as_ref()));
        out
    }

    /// Checks every field (each problem is recorded), then builds the definition if all of
    /// the required ones are there.
    fn check(p: &mut Problems, raw: RawDefinition) -> Option<Self> {
        let title = p
            .required("title", raw.title)
            .and_then(|t| text_field(p, "title", t, 200));
        let question = p
            .required("question", raw.question)
            .and_then(|q| text_field(p, "question", q, 2000));
        let choices = p
            .required("choices", raw.choices)
            .and_then(|c| check_choices(p, c));
        let rule = p.required("rule", raw.rule).and_then(|r| check_rule(p, &r));
        let threshold = p
            .required("threshold", raw.threshold)
            .and_then(|f| check_fraction(p, "threshold", f));
        let local_threshold_given = raw.local_threshold.is_some();
        let local_threshold = raw
            .local_threshold
            .and_then(|f| check_fraction(p, "local_threshold", f));
        let quorum = raw.quorum.and_then(|f| check_fraction(p, "quorum", f));
        let (opens_at, closes_at) = check_window(p, raw.opens_at, raw.closes_at);
        if rule == Some(Rule::Delegates) && !local_threshold_given {
            p.add(
                "local_threshold",
                "is required under the delegates rule (e.g. { num = 3, den = 4, cmp = \"at_least\" })",
            );
        }
        let locals = p
            .required("locals", raw.locals)
            .and_then(|l| check_locals(p, l, rule));
        let tellers = p
            .required("tellers", raw.tellers)
            .and_then(|t| check_tellers(p, t));
        let small_locals = check_small_locals(p, raw.small_locals, locals.as_deref());
        let contact = raw.contact.and_then(|c| text_field(p, "contact", c, 300));
        let time_zone = check_time_zone(p, raw.time_zone);
        // Checked against every choice when `choices` itself is wrong, so that all problems
        // are still listed at once.
        let offered = choices.as_deref().unwrap_or(&Choice::ALL);
        let (labels, labels_ok) = check_labels(
            p,
            "labels",
            raw.labels.unwrap_or_default(),
            offered,
            "labels only a choice the ballot offers (see `choices`)",
        );
        // Translations word the choices the English labels validly word.
        let translations = check_translations(p, raw.translations.unwrap_or_default(), &labels);
        let labels = labels_ok.then_some(labels);
        let witnesses = witnesses::check(p, raw.witnesses);
        let reminders = check_reminders(p, raw.reminders, opens_at.zip(closes_at));
        Some(Definition {
            title: title?,
            question: question?,
            choices: choices?,
            rule: rule?,
            threshold: threshold?,
            local_threshold,
            quorum,
            locals: locals?,
            small_locals: small_locals?,
            opens_at: opens_at?,
            closes_at: closes_at?,
            tellers: tellers?,
            contact,
            time_zone: time_zone?,
            translations: translations?,
            labels: labels?,
            two_person_rule: raw.two_person_rule.unwrap_or(true),
            witnesses: witnesses?,
            reminders: reminders?,
        })
    }

    /// The rule, thresholds and quorum in words, as a certificate states them.
    pub fn rule_in_words(&self) -> String {
        self.rule_in_words_of(&Words::ENGLISH)
    }

    /// The rule, thresholds and quorum in the words of a language.
    pub fn rule_in_words_of(&self, w: &Words) -> String {
        let threshold = self.threshold.in_words_of(w);
        let mut words = match self.rule {
            Rule::Delegates => fill(
                w.rule_delegates,
                &[
                    ("threshold", &threshold),
                    (
                        "local_threshold",
                        &self
                            .local_threshold
                            .unwrap_or(self.threshold)
                            .in_words_of(w),
                    ),
                ],
            ),
            Rule::Popular => fill(w.rule_popular, &[("threshold", &threshold)]),
        };
        let mut add = |sentence: String| {
            words.push(' ');
            words.push_str(&sentence);
        };
        if let Some(q) = self.quorum {
            add(fill(w.rule_quorum, &[("quorum", &q.in_words_of(w))]));
        }
        if self.choices.contains(&Choice::Abstain) {
            add(w.rule_abstain.to_owned());
        }
        if self.small_locals.min_ballots > 1 {
            add(fill(
                w.rule_small_locals,
                &[
                    ("min", &self.small_locals.min_ballots.to_string()),
                    ("name", w.group_name(&self.small_locals.name)),
                ],
            ));
        }
        words
    }

    /// How the ballot words `choice` in `lang`: the translation's label, or the English one when
    /// `lang` has no translation; `None` when the definition does not word it (the page's own
    /// word for the choice is used).
    pub fn label(&self, lang: &str, choice: Choice) -> Option<&str> {
        match self.translations.get(lang) {
            Some(t) => t.labels.get(&choice),
            None => self.labels.get(&choice),
        }
        .map(String::as_str)
    }

    /// The title and question in `lang`, or the English ones.
    pub fn texts(&self, lang: &str) -> (&str, &str) {
        match self.translations.get(lang) {
            Some(t) => (&t.title, &t.question),
            None => (&self.title, &self.question),
        }
    }

    /// A time as officials and members read it: in the election's time zone, to the minute,
    /// with the zone's abbreviation (`2027-03-01 07:00 PST`).
    pub fn local_time(&self, at: &DateTime<Utc>) -> String {
        match self.time_zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            Err(_) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    /// The local with this code, if the election has it.
    pub fn local(&self, code: &str) -> Option<&Local> {
        self.locals.iter().find(|l| l.code.as_str() == code)
    }

    /// Whether members may abstain.
    pub fn allows(&self, choice: Choice) -> bool {
        self.choices.contains(&choice)
    }
}

fn text_field(p: &mut Problems, field: &str, value: String, max: usize) -> Option<String> {
    let value = value.trim().to_owned();
    // Only the question may run over several lines; nothing may carry terminal escapes,
    // carriage returns or bidirectional overrides (printed by the CLI, shown on ballots).
    let unsafe_char = if field == "question" || field.ends_with(".question") {
        crate::text::unsafe_character(&value.replace('\n', " "))
    } else {
        crate::text::unsafe_character(&value)
    };
    if value.is_empty() {
        p.add(field, "may not be empty");
        None
    } else if value.chars().count() > max {
        p.add(field, format!("is longer than {max} characters"));
        None
    } else if let Some(why) = unsafe_char {
        p.add(field, why);
        None
    } else {
        Some(value)
    }
}

fn check_time_zone(p: &mut Problems, raw: Option<String>) -> Option<String> {
    let Some(name) = raw else {
        return Some("UTC".to_owned());
    };
    let name = name.trim().to_owned();
    match name.parse::<chrono_tz::Tz>() {
        Ok(_) => Some(name),
        Err(_) => {
            p.add(
                "time_zone",
                format!(
                    "`{}` is not a time zone name: use one like \"America/Los_Angeles\", \"Europe/London\" or \"UTC\"",
                    crate::text::shown(&name)
                ),
            );
            None
        }
    }
}

/// The most languages a definition may translate its texts into.
const MAX_TRANSLATIONS: usize = 20;

/// The most characters in a choice's label.
const MAX_LABEL: usize = 100;

/// Checks `field`'s labels: each for a choice the ballot offers, each a short safe text.
/// Gives the valid ones and whether all were.
fn check_labels(
    p: &mut Problems,
    field: &str,
    raw: BTreeMap<String, String>,
    choices: &[Choice],
    refused: &str,
) -> (BTreeMap<Choice, String>, bool) {
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, label) in raw {
        let at = format!("{field}.{}", crate::text::shown(&name));
        match Choice::parse(&name).filter(|c| choices.contains(c)) {
            Some(choice) => match text_field(p, &at, label, MAX_LABEL) {
                Some(label) => {
                    out.insert(choice, label);
                }
                None => ok = false,
            },
            None => {
                p.add(&at, refused);
                ok = false;
            }
        }
    }
    (out, ok)
}

fn check_translations(
    p: &mut Problems,
    raw: BTreeMap<String, RawTranslation>,
    english_labels: &BTreeMap<Choice, String>,
) -> Option<BTreeMap<String, Translation>> {
    if raw.len() > MAX_TRANSLATIONS {
        p.add(
            "translations",
            format!("more than {MAX_TRANSLATIONS} languages"),
        );
        return None;
    }
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (lang, t) in raw {
        let field = format!("translations.{}", crate::text::shown(&lang));
        if lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
            p.add(&field, "a language is a two-letter code such as \"es\"");
            ok = false;
            continue;
        }
        if lang == "en" {
            p.add(&field, "English is the title and question themselves");
            ok = false;
            continue;
        }
        let title = p
            .required(&format!("{field}.title"), t.title)
            .and_then(|v| text_field(p, &format!("{field}.title"), v, 200));
        let question = p
            .required(&format!("{field}.question"), t.question)
            .and_then(|v| text_field(p, &format!("{field}.question"), v, 2000));
        let choices: Vec<Choice> = english_labels.keys().copied().collect();
        let (labels, labels_ok) = check_labels(
            p,
            &format!("{field}.labels"),
            t.labels.unwrap_or_default(),
            &choices,
            "has no English wording: give `labels` for this choice first",
        );
        if let Some(missing) = choices.iter().find(|c| !labels.contains_key(c)) {
            p.add(
                format!("{field}.labels.{}", missing.as_str()),
                format!(
                    "is required: `labels.{}` words this choice in English",
                    missing.as_str()
                ),
            );
            ok = false;
        }
        match (title, question, labels_ok.then_some(labels)) {
            (Some(title), Some(question), Some(labels)) => {
                out.insert(
                    lang,
                    Translation {
                        title,
                        question,
                        labels,
                    },
                );
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn check_choices(p: &mut Problems, raw: Vec<String>) -> Option<Vec<Choice>> {
    let mut choices = Vec::new();
    let mut ok = true;
    for (i, name) in raw.iter().enumerate() {
        match Choice::parse(name) {
            Some(c) if choices.contains(&c) => {
                p.add(format!("choices[{i}]"), format!("`{name}` is listed twice"));
                ok = false;
            }
            Some(c) => choices.push(c),
            None => {
                p.add(
                    format!("choices[{i}]"),
                    format!("unknown choice `{name}`: choices are \"yes\", \"no\" and \"abstain\""),
                );
                ok = false;
            }
        }
    }
    if !choices.contains(&Choice::Yes) || !choices.contains(&Choice::No) {
        p.add("choices", "must include both \"yes\" and \"no\"");
        ok = false;
    }
    ok.then_some(choices)
}

fn check_fraction(p: &mut Problems, field: &str, raw: RawFraction) -> Option<Fraction> {
    let before = p.0.len();
    let num = p.required(&format!("{field}.num"), raw.num);
    let den = p.required(&format!("{field}.den"), raw.den);
    let cmp = p
        .required(&format!("{field}.cmp"), raw.cmp)
        .and_then(|c| match c.as_str() {
            "at_least" => Some(Comparison::AtLeast),
            "more_than" => Some(Comparison::MoreThan),
            other => {
                p.add(
                    format!("{field}.cmp"),
                    format!("unknown comparison `{other}`: use \"at_least\" or \"more_than\""),
                );
                None
            }
        });
    if let (Some(num), Some(den)) = (num, den) {
        if den <= 0 {
            p.add(format!("{field}.den"), "must be a positive whole number");
        } else if num <= 0 || num > den {
            p.add(
                field,
                format!("{num}/{den} is outside (0, 1]: a threshold is more than 0 and at most 1"),
            );
        } else if num == den && cmp == Some(Comparison::MoreThan) {
            p.add(
                field,
                "more_than 1 can never be met: use at_least for unanimity",
            );
        }
    }
    let (Some(num), Some(den), Some(cmp)) = (num, den, cmp) else {
        return None;
    };
    if p.0.len() != before {
        return None;
    }
    // Both are positive here, so the conversions cannot fail.
    Some(Fraction {
        num: u64::try_from(num).ok()?,
        den: u64::try_from(den).ok()?,
        cmp,
    })
}

fn check_time(p: &mut Problems, field: &str, value: toml::Value) -> Option<DateTime<Utc>> {
    let text = match value {
        toml::Value::String(s) => s,
        toml::Value::Datetime(d) => d.to_string(),
        _ => {
            p.add(
                field,
                "must be an RFC 3339 time such as \"2026-10-01T07:00:00Z\"",
            );
            return None;
        }
    };
    match DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            p.add(
                field,
                format!(
                    "`{text}` is not an RFC 3339 time with an offset, such as \"2026-10-01T07:00:00Z\""
                ),
            );
            None
        }
    }
}

/// `opens_at` and `closes_at`, the vote closing after it opens.
fn check_window(
    p: &mut Problems,
    opens_at: Option<toml::Value>,
    closes_at: Option<toml::Value>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let opens_at = p
        .required("opens_at", opens_at)
        .and_then(|v| check_time(p, "opens_at", v));
    let closes_at = p
        .required("closes_at", closes_at)
        .and_then(|v| check_time(p, "closes_at", v));
    if let (Some(open), Some(close)) = (opens_at, closes_at)
        && close <= open
    {
        p.add("closes_at", "the vote must close after it opens");
    }
    (opens_at, closes_at)
}

/// Reminder times: each strictly inside the voting window, in order, at most
/// [`MAX_REMINDERS`].
fn check_reminders(
    p: &mut Problems,
    raw: Option<Vec<toml::Value>>,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<Vec<DateTime<Utc>>> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_REMINDERS {
        p.add(
            "reminders",
            format!("at most {MAX_REMINDERS} reminders (members tire of more)"),
        );
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut ok = true;
    for (k, value) in raw.into_iter().enumerate() {
        let field = format!("reminders[{k}]");
        let Some(at) = check_time(p, &field, value) else {
            ok = false;
            continue;
        };
        if let Some((opens, closes)) = window
            && (at <= opens || at >= closes)
        {
            p.add(
                &field,
                "must fall while the vote is open (after opens_at, before closes_at)",
            );
            ok = false;
        }
        if out.last().is_some_and(|before| at <= *before) {
            p.add(&field, "must come after the reminder before it");
            ok = false;
        }
        out.push(at);
    }
    ok.then_some(out)
}

fn check_small_locals(
    p: &mut Problems,
    raw: Option<RawSmallLocals>,
    locals: Option<&[Local]>,
) -> Option<SmallLocals> {
    let raw = raw.unwrap_or(RawSmallLocals {
        min_ballots: None,
        code: None,
        name: None,
    });
    let max = i64::from(SmallLocals::MAX_MIN);
    let min_ballots = match raw.min_ballots {
        None => Some(SmallLocals::DEFAULT_MIN),
        Some(n) if (1..=max).contains(&n) => u32::try_from(n).ok(),
        Some(_) => {
            p.add(
                "small_locals.min_ballots",
                format!("must be a whole number from 1 to {max}"),
            );
            None
        }
    };
    let code = raw.code.map_or_else(
        || LocalCode::parse(SmallLocals::DEFAULT_CODE).ok(),
        |c| match LocalCode::parse(c.trim()) {
            Ok(code) => Some(code),
            Err(e) => {
                p.add("small_locals.code", e);
                None
            }
        },
    );
    if let (Some(code), Some(locals)) = (&code, locals)
        && locals.iter().any(|l| &l.code == code)
    {
        p.add(
            "small_locals.code",
            format!("`{code}` is a local's code too: give the group of small locals another one (e.g. code = \"small-locals-group\")"),
        );
    }
    let name = match raw.name {
        None => Some(SmallLocals::DEFAULT_NAME.to_owned()),
        Some(n) => text_field(p, "small_locals.name", n, 200),
    };
    Some(SmallLocals {
        min_ballots: min_ballots?,
        code: code?,
        name: name?,
    })
}

fn check_locals(p: &mut Problems, raw: Vec<RawLocal>, rule: Option<Rule>) -> Option<Vec<Local>> {
    if raw.is_empty() {
        p.add("locals", "at least one local is required");
        return None;
    }
    if raw.len() > MAX_LOCALS {
        p.add("locals", format!("more than {MAX_LOCALS} locals"));
        return None;
    }
    let before = p.0.len();
    let mut seen = HashSet::new();
    let mut locals = Vec::with_capacity(raw.len());
    for (i, l) in raw.into_iter().enumerate() {
        let at = format!("locals[{i}]");
        let code = p.required(&format!("{at}.code"), l.code).and_then(|c| {
            match LocalCode::parse(c.trim()) {
                Ok(code) => Some(code),
                Err(e) => {
                    p.add(format!("{at}.code"), e);
                    None
                }
            }
        });
        if let Some(code) = &code
            && !seen.insert(code.clone())
        {
            p.add(
                format!("{at}.code"),
                format!("local code `{code}` is used twice"),
            );
        }
        let name = p
            .required(&format!("{at}.name"), l.name)
            .and_then(|n| text_field(p, &format!("{at}.name"), n, 200));
        let delegates = check_delegates(p, &at, l.delegates, rule);
        if let (Some(code), Some(name), Some(delegates)) = (code, name, delegates) {
            locals.push(Local {
                code,
                name,
                delegates,
            });
        }
    }
    (p.0.len() == before).then_some(locals)
}

/// A local's delegates: required and positive under the delegates rule, else 0 if not given.
fn check_delegates(
    p: &mut Problems,
    at: &str,
    given: Option<i64>,
    rule: Option<Rule>,
) -> Option<u32> {
    match (given, rule) {
        (None, Some(Rule::Delegates)) => {
            p.add(
                format!("{at}.delegates"),
                "is required under the delegates rule",
            );
            None
        }
        (None, _) => Some(0),
        (Some(d), Some(Rule::Delegates)) if d <= 0 => {
            p.add(
                format!("{at}.delegates"),
                "must be at least 1 under the delegates rule",
            );
            None
        }
        (Some(d), _) => match u32::try_from(d) {
            Ok(d) if d <= 1_000_000 => Some(d),
            _ => {
                p.add(
                    format!("{at}.delegates"),
                    "must be a whole number from 0 to 1000000",
                );
                None
            }
        },
    }
}

/// RFC 3339 in UTC with whole seconds and a `Z`, the one form the log uses.
/// A list of times, each as [`rfc3339_seconds`] writes it.
pub mod rfc3339_list {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `["2026-10-02T07:00:00Z", …]`.
    pub fn serialize<S: Serializer>(list: &[DateTime<Utc>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(super::format_time))
    }

    /// Reads a list of RFC 3339 times.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DateTime<Utc>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

pub mod rfc3339_seconds {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `2026-10-01T07:00:00Z`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(t))
    }

    /// Reads any RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Formats a time the way the log writes it: RFC 3339, UTC, whole seconds, `Z`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../../../docs/examples/election.toml");

    #[test]
    fn the_documented_example_is_valid() {
        let d = Definition::from_toml(EXAMPLE).unwrap();
        assert_eq!(d.rule, Rule::Delegates);
        assert_eq!(d.locals.len(), 3);
        assert_eq!(d.locals[0].delegates, 76);
        assert_eq!(
            d.local_threshold,
            Some(Fraction {
                num: 3,
                den: 4,
                cmp: Comparison::AtLeast
            })
        );
        assert_eq!(format_time(&d.opens_at), "2027-03-01T07:00:00Z");
    }

    #[test]
    fn small_locals_default_to_five_ballots_and_are_checked() {
        let d = Definition::from_toml(EXAMPLE).unwrap();
        assert_eq!(d.small_locals.min_ballots, SmallLocals::DEFAULT_MIN);
        assert_eq!(d.small_locals.code.as_str(), SmallLocals::DEFAULT_CODE);
        let section = "[small_locals]\nmin_ballots = 5\ncode = \"small-locals\"\nname = \"Small locals together\"\n";
        assert!(EXAMPLE.contains(section));
        let without = EXAMPLE.replace(section, "");
        assert_eq!(Definition::from_toml(&without).unwrap(), d);
        let set = EXAMPLE.replace(
            section,
            "[small_locals]\nmin_ballots = 12\ncode = \"small\"\nname = \"Small shops\"\n",
        );
        let d = Definition::from_toml(&set).unwrap();
        assert_eq!(
            (d.small_locals.min_ballots, d.small_locals.code.as_str()),
            (12, "small")
        );
        assert_eq!(d.small_locals.name, "Small shops");
        let code = &d.locals[1].code;
        let bad = EXAMPLE.replace(
            section,
            &format!("[small_locals]\nmin_ballots = 0\ncode = \"{code}\"\nname = \" \"\n"),
        );
        let Err(DefinitionError::Invalid(problems)) = Definition::from_toml(&bad) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "small_locals.min_ballots",
                "small_locals.code",
                "small_locals.name"
            ],
            "{problems:?}"
        );
        assert!(problems[1].message.contains("is a local's code too"));
    }

    #[test]
    fn times_read_in_the_elections_zone_and_texts_in_its_languages() {
        let d = Definition::from_toml(EXAMPLE).unwrap();
        assert_eq!(d.local_time(&d.opens_at), "2027-02-28 23:00 PST");
        assert_eq!(d.texts("es").0, "Autorización de huelga 2027");
        assert_eq!(d.texts("fr").0, "Strike authorization 2027");
        let bad = EXAMPLE
            .replace("America/Los_Angeles", "Pacific Time")
            .replace("[translations.es", "[translations.spanish")
            .replace("contact = \"", "contact = \"\u{202e}");
        let Err(DefinitionError::Invalid(problems)) = Definition::from_toml(&bad) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["contact", "time_zone", "translations.spanish"],
            "{problems:?}"
        );
        assert!(
            problems[1]
                .message
                .contains("`Pacific Time` is not a time zone name")
        );
        let missing = EXAMPLE.replace("question = \"¿Autoriza", "# question = \"¿Autoriza");
        let Err(DefinitionError::Invalid(problems)) = Definition::from_toml(&missing) else {
            panic!("accepted");
        };
        assert_eq!(problems[0].field, "translations.es.question");
    }

    #[test]
    fn choice_labels_are_given_per_language_for_offered_choices() {
        let d = Definition::from_toml(EXAMPLE).unwrap();
        assert_eq!(
            d.label("en", Choice::Yes),
            Some("Yes, I authorize a strike")
        );
        assert_eq!(d.label("es", Choice::No), Some("No, no autorizo la huelga"));
        // A language without a translation reads the English wording, like the title.
        assert_eq!(
            d.label("fr", Choice::Yes),
            Some("Yes, I authorize a strike")
        );
        assert_eq!(d.label("en", Choice::Abstain), None);

        let bad = EXAMPLE
            .replace(
                "no = \"No, I do not",
                "abstain = \"I abstain\"\nmaybe = \"Perhaps\"\nno = \"No, I do not",
            )
            .replace(
                "no = \"No, no autorizo la huelga\"",
                "abstain = \"Me abstengo\"",
            );
        let Err(DefinitionError::Invalid(problems)) = Definition::from_toml(&bad) else {
            panic!("accepted");
        };
        let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "labels.abstain: labels only a choice the ballot offers (see `choices`)",
                "labels.maybe: labels only a choice the ballot offers (see `choices`)",
                "translations.es.labels.abstain: has no English wording: give `labels` for this choice first",
                "translations.es.labels.no: is required: `labels.no` words this choice in English",
            ],
        );
    }

    #[test]
    fn json_uses_the_log_field_names() {
        let d = Definition::from_toml(EXAMPLE).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert!(
            json.starts_with(r#"{"title":"Strike authorization 2027","question":"#),
            "{json}"
        );
        assert!(json.contains(r#""choices":["yes","no"],"rule":"delegates","threshold":{"num":1,"den":2,"cmp":"more_than"},"local_threshold":{"num":3,"den":4,"cmp":"at_least"}"#), "{json}");
        assert!(json.contains(r#""locals":[{"code":"600","name":"International Cinematographers Guild","delegates":76}"#), "{json}");
        assert!(
            json.ends_with(
                r#""opens_at":"2027-03-01T07:00:00Z","closes_at":"2027-03-04T07:00:00Z","tellers":{"count":3,"threshold":2,"names":["Ana Ruiz","Bo Chen","Cy Diaz"]},"contact":"Election committee: elections@example.org, (555) 010-0100","time_zone":"America/Los_Angeles","translations":{"es":{"title":"Autorización de huelga 2027","question":"¿Autoriza usted una huelga si los productores no llegan a un acuerdo?","labels":{"yes":"Sí, autorizo la huelga","no":"No, no autorizo la huelga"}}},"labels":{"yes":"Yes, I authorize a strike","no":"No, I do not authorize a strike"}}"#
            ),
            "{json}"
        );
        let back: Definition = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            title = "T"
            question = "Q"
            choices = ["yes", "no", "maybe"]
            rule = "delegates"
            threshold = { num = 0, den = 2, cmp = "at_least" }
            local_threshold = { num = 2, den = 2, cmp = "more_than" }
            opens_at = "2026-10-04T07:00:00Z"
            closes_at = "2026-10-04T07:00:00Z"
            tellers = { count = 2, threshold = 3, names = ["Ana"] }
            [[locals]]
            code = "A"
            name = "a"
            [[locals]]
            code = "A"
            name = "b"
            delegates = 2
        "#;
        let DefinitionError::Invalid(problems) = Definition::from_toml(text).unwrap_err() else {
            panic!("expected a list of problems");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "choices[2]",
                "threshold",
                "local_threshold",
                "closes_at",
                "locals[0].delegates",
                "locals[1].code",
                "tellers.threshold",
                "tellers.names",
            ]
        );
    }

    #[test]
    fn reminders_fall_inside_the_window_in_order_and_are_frozen() {
        let with = |line: &str| {
            EXAMPLE.replacen(
                "closes_at = \"2027-03-04T07:00:00Z\"\n",
                &format!("closes_at = \"2027-03-04T07:00:00Z\"\n{line}\n"),
                1,
            )
        };
        let d = Definition::from_toml(&with(
            r#"reminders = ["2027-03-02T17:00:00Z", "2027-03-03T17:00:00-08:00"]"#,
        ))
        .unwrap();
        assert_eq!(d.reminders.len(), 2);
        let json = serde_json::to_string(&d).unwrap();
        assert!(
            json.ends_with(r#","reminders":["2027-03-02T17:00:00Z","2027-03-04T01:00:00Z"]}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Definition>(&json).unwrap(), d);
        d.validate().unwrap();
        // None set: entry 0 has no field.
        let none = Definition::from_toml(EXAMPLE).unwrap();
        assert!(!serde_json::to_string(&none).unwrap().contains("reminders"));
        let refused = |line: &str| -> Vec<String> {
            match Definition::from_toml(&with(line)).unwrap_err() {
                DefinitionError::Invalid(problems) => {
                    problems.iter().map(|p| p.to_string()).collect()
                }
                other => panic!("{other}"),
            }
        };
        let outside = refused(r#"reminders = ["2027-03-01T07:00:00Z", "2027-03-05T00:00:00Z"]"#);
        assert_eq!(outside.len(), 2, "{outside:?}");
        assert!(outside[0].starts_with("reminders[0]: must fall while the vote is open"));
        assert!(outside[1].starts_with("reminders[1]: must fall while the vote is open"));
        let backwards = refused(r#"reminders = ["2027-03-03T00:00:00Z", "2027-03-02T00:00:00Z"]"#);
        assert_eq!(
            backwards,
            ["reminders[1]: must come after the reminder before it"]
        );
        let many = refused(&format!(
            "reminders = [{}]",
            (1..=6)
                .map(|h| format!("\"2027-03-02T0{h}:00:00Z\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        assert!(many[0].starts_with("reminders: at most 5"), "{many:?}");
        let bad = refused(r#"reminders = ["tomorrow"]"#);
        assert!(
            bad[0].starts_with("reminders[0]: `tomorrow` is not an RFC 3339 time"),
            "{bad:?}"
        );
    }

    #[test]
    fn witnesses_are_checked_and_frozen_with_the_definition() {
        let good = test_witnesses(3, 2);
        let key = |i: usize| good.list[i].key.clone();
        let with = |table: &str| format!("{EXAMPLE}\n{table}");
        let text = with(&format!(
            r#"[witnesses]
            quorum = 2
            [[witnesses.list]]
            name = "Rank-and-file caucus"
            key = "{}"
            url = "https://w1.example.org/witness/"
            [[witnesses.list]]
            name = "Neutral body"
            key = "{}"
            url = "http://127.0.0.1:7380"
            "#,
            key(0),
            key(1)
        ));
        let d = Definition::from_toml(&text).unwrap();
        let w = d.witnesses.as_ref().unwrap();
        assert_eq!((w.quorum(), w.list.len()), (2, 2));
        // The trailing `/` is dropped: `<url>/add-checkpoint` is where checkpoints go.
        assert_eq!(w.list[0].url, "https://w1.example.org/witness");
        assert_eq!(w.verifiers()[1].name(), "w2.example.org");
        assert_eq!(d.validate(), Ok(()));
        // Entry 0 carries them; without them, entry 0 has no such field.
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["witnesses"]["list"][1]["name"], "Neutral body");
        let plain = Definition::from_toml(EXAMPLE).unwrap();
        assert!(
            serde_json::to_value(&plain)
                .unwrap()
                .get("witnesses")
                .is_none()
        );

        let bad = with(&format!(
            r#"[witnesses]
            quorum = 4
            [[witnesses.list]]
            name = "A"
            key = "{}"
            url = "http://witness.example.org"
            [[witnesses.list]]
            name = "B"
            key = "{}"
            url = "https://b.example.org"
            [[witnesses.list]]
            name = ""
            key = "{}"
            url = "https://c.example.org"
            "#,
            key(0),
            key(0),
            plain_log_key()
        ));
        let DefinitionError::Invalid(problems) = Definition::from_toml(&bad).unwrap_err() else {
            panic!("expected a list of problems");
        };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "witnesses.list[1].key",
                "witnesses.list[0].url",
                "witnesses.list[2].name",
                "witnesses.list[2].key",
                "witnesses.quorum",
            ],
            "{problems:?}"
        );
        assert!(problems[0].message.contains("again"));
        let none = with("[witnesses]\nquorum = 1\nlist = []\n");
        assert!(Definition::from_toml(&none).is_err());
        let unknown = with("[witnesses]\nquorum = 1\nlist = []\nextra = 1\n");
        assert!(matches!(
            Definition::from_toml(&unknown),
            Err(DefinitionError::Syntax(_))
        ));
    }

    /// A log's (type 0x01) verifier key: not a witness key.
    fn plain_log_key() -> String {
        crate::note::LogSigner::from_seed(&[1; 32])
            .verifier("w.example.org")
            .to_string()
    }

    #[test]
    fn popular_rule_needs_no_delegates_or_local_threshold() {
        let text = r#"
            title = "Ratification"
            question = "Ratify?"
            choices = ["yes", "no", "abstain"]
            rule = "popular"
            threshold = { num = 1, den = 2, cmp = "more_than" }
            opens_at = 2026-10-01T07:00:00Z
            closes_at = "2026-10-04T09:00:00+02:00"
            tellers = { count = 1, threshold = 1 }
            [[locals]]
            code = "80"
            name = "Grips"
        "#;
        let d = Definition::from_toml(text).unwrap();
        assert_eq!(d.tellers.name(1), "teller 1");
        assert_eq!(d.locals[0].delegates, 0);
        assert!(d.allows(Choice::Abstain));
        assert_eq!(format_time(&d.closes_at), "2026-10-04T07:00:00Z");
    }

    #[test]
    fn unknown_fields_and_bad_toml_are_syntax_errors() {
        let err = Definition::from_toml("title = \"x\"\ncolour = \"red\"").unwrap_err();
        assert!(
            matches!(err, DefinitionError::Syntax(ref m) if m.contains("colour")),
            "{err}"
        );
        assert!(matches!(
            Definition::from_toml("title = "),
            Err(DefinitionError::Syntax(_))
        ));
    }

    #[test]
    fn thresholds_compare_exactly() {
        let three_quarters = Fraction {
            num: 3,
            den: 4,
            cmp: Comparison::AtLeast,
        };
        assert!(three_quarters.is_met(75, 100));
        assert!(!three_quarters.is_met(7499, 10000));
        let majority = Fraction {
            num: 1,
            den: 2,
            cmp: Comparison::MoreThan,
        };
        assert!(!majority.is_met(50, 100));
        assert!(majority.is_met(51, 101));
        assert!(!majority.is_met(0, 0));
        assert!(three_quarters.is_met(u64::MAX, u64::MAX));
    }

    fn arb_fraction() -> impl Strategy<Value = Fraction> {
        (1u64..1000, 1u64..1000, any::<bool>()).prop_map(|(a, b, more)| {
            let (num, den) = if a <= b { (a, b) } else { (b, a) };
            let cmp = if more && num < den {
                Comparison::MoreThan
            } else {
                Comparison::AtLeast
            };
            Fraction { num, den, cmp }
        })
    }

    fn arb_definition() -> impl Strategy<Value = Definition> {
        (
            "[A-Za-z][A-Za-z0-9 ,'\"é]{0,40}",
            "[A-Za-z][A-Za-z0-9 ?]{0,80}",
            any::<bool>(),
            any::<bool>(),
            arb_fraction(),
            arb_fraction(),
            proptest::option::of(arb_fraction()),
            proptest::collection::btree_set("[A-Za-z0-9._-]{1,8}", 1..20),
            0i64..2_000_000_000,
            1i64..10_000_000,
            (1u32..6, 0u32..6, any::<bool>()),
        )
            .prop_map(
                |(
                    title,
                    question,
                    abstain,
                    delegates,
                    threshold,
                    lt,
                    quorum,
                    codes,
                    open,
                    len,
                    t,
                )| {
                    let (count, extra, named) = t;
                    let tellers = Tellers {
                        count,
                        threshold: 1 + extra % count,
                        names: if named {
                            (1..=count).map(|n| format!("Teller {n}")).collect()
                        } else {
                            Vec::new()
                        },
                    };
                    let mut choices = vec![Choice::Yes, Choice::No];
                    if abstain {
                        choices.push(Choice::Abstain);
                    }
                    let rule = if delegates {
                        Rule::Delegates
                    } else {
                        Rule::Popular
                    };
                    let locals = codes
                        .into_iter()
                        .enumerate()
                        .map(|(i, code)| Local {
                            code: LocalCode::parse(&code).unwrap(),
                            name: format!("Local {code}"),
                            delegates: if delegates { 1 + i as u32 } else { 0 },
                        })
                        .collect();
                    let opens_at = DateTime::from_timestamp(open, 0).unwrap();
                    Definition {
                        title: title.trim().to_owned(),
                        question: question.trim().to_owned(),
                        choices,
                        rule,
                        threshold,
                        local_threshold: if delegates { Some(lt) } else { None },
                        quorum,
                        locals,
                        small_locals: SmallLocals {
                            min_ballots: 1 + (len % 20) as u32,
                            code: LocalCode::parse(if abstain { "merged" } else { "small-locals" })
                                .unwrap(),
                            name: if delegates {
                                "Small locals"
                            } else {
                                SmallLocals::DEFAULT_NAME
                            }
                            .to_owned(),
                        },
                        opens_at,
                        closes_at: opens_at + chrono::Duration::seconds(len),
                        tellers,
                        contact: delegates.then(|| "Election committee: 555-0100".to_owned()),
                        time_zone: if abstain { "America/New_York" } else { "UTC" }.to_owned(),
                        translations: if abstain {
                            BTreeMap::from([(
                                "es".to_owned(),
                                Translation {
                                    title: "Votación".to_owned(),
                                    question: "¿Huelga?".to_owned(),
                                    labels: BTreeMap::from([(
                                        Choice::Yes,
                                        "Sí, autorizo la huelga".to_owned(),
                                    )]),
                                },
                            )])
                        } else {
                            BTreeMap::new()
                        },
                        labels: if abstain {
                            BTreeMap::from([(Choice::Yes, "Yes, I authorize a strike".to_owned())])
                        } else {
                            BTreeMap::new()
                        },
                        two_person_rule: !delegates,
                        witnesses: delegates.then(|| test_witnesses(2, 1)),
                        reminders: if abstain && len >= 2 {
                            vec![opens_at + chrono::Duration::seconds(len / 2)]
                        } else {
                            Vec::new()
                        },
                    }
                },
            )
    }

    fn to_toml(d: &Definition) -> String {
        // The JSON form has the file's field names; TOML has no null, so drop the nulls.
        let mut value = serde_json::to_value(d).unwrap();
        value.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        toml::to_string(&value).unwrap()
    }

    /// `count` witnesses (keys from fixed seeds), `quorum` of them needed.
    fn test_witnesses(count: u8, quorum: u32) -> Witnesses {
        Witnesses {
            quorum,
            list: (1..=count)
                .map(|i| Witness {
                    name: format!("Witness {i}"),
                    key: crate::witness::WitnessKey::from_seed(
                        &format!("w{i}.example.org"),
                        &[i; 32],
                    )
                    .unwrap()
                    .verifier()
                    .to_string(),
                    url: format!("https://w{i}.example.org/witness"),
                })
                .collect(),
        }
    }

    #[test]
    fn a_single_teller_a_past_window_and_a_full_quorum_are_warned_about() {
        let mut d = Definition::from_toml(EXAMPLE).unwrap();
        let before = d.opens_at - chrono::Duration::days(1);
        assert!(
            d.warnings(before)[0].starts_with("No witnesses: whoever runs the server"),
            "{:?}",
            d.warnings(before)
        );
        d.witnesses = Some(test_witnesses(2, 2));
        assert!(d.warnings(before)[0].contains("witnesses.quorum is 2 of 2"));
        d.witnesses = Some(test_witnesses(3, 2));
        assert_eq!(
            d.warnings(before),
            Vec::<String>::new(),
            "the example with two of three witnesses is sound"
        );
        let mut risky = d.clone();
        risky.tellers.threshold = 1;
        risky.quorum = Some(Fraction {
            num: 4,
            den: 4,
            cmp: Comparison::AtLeast,
        });
        let said = risky.warnings(before).join("\n");
        assert!(said.contains("tellers.threshold is 1"), "{said}");
        assert!(said.contains("The quorum is 100%"), "{said}");
        assert!(
            d.warnings(d.opens_at)[0].contains("opens_at (2027-03-01T07:00:00Z) has passed"),
            "{:?}",
            d.warnings(d.opens_at)
        );
        assert!(
            d.warnings(d.closes_at)[0].contains("has passed: the election could never be opened")
        );
    }

    proptest! {
        #[test]
        fn a_valid_definition_survives_the_file_format(d in arb_definition()) {
            let parsed = Definition::from_toml(&to_toml(&d));
            prop_assert_eq!(parsed, Ok(d.clone()));
            prop_assert_eq!(d.validate(), Ok(()));
        }

        #[test]
        fn a_definition_no_file_could_give_is_refused(d in arb_definition(), pad in 1usize..3) {
            // Read from a log, a definition is checked by the same rules as a file, and text
            // the file check would have trimmed is refused rather than trimmed.
            let mut untrimmed = d.clone();
            untrimmed.title = format!("{}{}", " ".repeat(pad), d.title);
            prop_assert!(untrimmed.validate().is_err());
            let mut names = d.clone();
            names.tellers.names = vec!["Ana".into(); d.tellers.count as usize + 1];
            match names.validate() {
                Err(DefinitionError::Invalid(problems)) => {
                    prop_assert!(problems.iter().any(|p| p.field == "tellers.names"), "{:?}", problems);
                }
                other => prop_assert!(false, "accepted too many teller names: {:?}", other),
            }
        }

        #[test]
        fn a_broken_fraction_is_always_named(d in arb_definition(), num in -5i64..5, den in -5i64..1) {
            let mut value: toml::Table = toml::from_str(&to_toml(&d)).unwrap();
            let mut bad = toml::Table::new();
            bad.insert("num".into(), num.into());
            bad.insert("den".into(), den.into());
            bad.insert("cmp".into(), "at_least".into());
            value.insert("quorum".into(), bad.into());
            match Definition::from_toml(&toml::to_string(&value).unwrap()) {
                Err(DefinitionError::Invalid(problems)) => {
                    prop_assert!(problems.iter().any(|p| p.field.starts_with("quorum")), "{:?}", problems);
                }
                other => prop_assert!(false, "accepted a denominator of {}: {:?}", den, other),
            }
        }

        #[test]
        fn a_duplicated_local_is_always_named(d in arb_definition()) {
            let mut d = d;
            let copy = d.locals[0].clone();
            d.locals.push(copy);
            let at = format!("locals[{}].code", d.locals.len() - 1);
            match Definition::from_toml(&to_toml(&d)) {
                Err(DefinitionError::Invalid(problems)) => {
                    prop_assert!(problems.iter().any(|p| p.field == at), "{:?}", problems);
                }
                other => prop_assert!(false, "accepted a duplicate local: {:?}", other),
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = Definition::from_toml(&text);
        }

        #[test]
        fn at_least_is_met_exactly_at_the_fraction(f in arb_fraction(), k in 1u64..1000) {
            let at = Fraction { cmp: Comparison::AtLeast, ..f };
            let over = Fraction { cmp: Comparison::MoreThan, ..f };
            prop_assert!(at.is_met(f.num * k, f.den * k));
            prop_assert!(!over.is_met(f.num * k, f.den * k));
            prop_assert!(over.is_met(f.num * k + 1, f.den * k) || f.num == f.den);
        }
    }
}
