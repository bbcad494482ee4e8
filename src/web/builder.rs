//! Creating an election without a text editor: a form whose answers are written as the same
//! definition file (TOML) an official could upload, then checked by the same validation
//! (`Definition::from_toml`). Presets name the usual rules; custom thresholds are percentages.
//! After an error every answer is shown again as typed, with every problem listed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::TimeZone;
use serde::Deserialize;

use super::admin::redirect;
use super::page::{csrf, csrf_ok, html};
use crate::election::definition::SmallLocals;
use crate::election::{self, Definition, DefinitionError};
use crate::http::auth::Official;
use crate::http::state::{AppState, with_conn};

/// The rule presets: form value, label, and the definition's rule lines.
pub const PRESETS: [(&str, &str); 5] = [
    (
        "iatse",
        "75% yes in each local, delegates decide (more than half of all delegates) — the 2021 IATSE rule",
    ),
    ("two_thirds", "Two-thirds of those voting yes or no"),
    ("majority", "Simple majority of those voting yes or no"),
    (
        "uk",
        "At least 50% turnout, and a simple majority (UK ballots)",
    ),
    ("custom", "Custom thresholds (below)"),
];

/// Everything the form holds, as typed (it comes back as typed after an error).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct BuilderForm {
    csrf: String,
    title: String,
    question: String,
    abstain: Option<String>,
    opens: String,
    closes: String,
    time_zone: String,
    preset: String,
    custom_rule: String,
    threshold: String,
    threshold_cmp: String,
    local_threshold: String,
    quorum: String,
    locals: String,
    teller_count: String,
    teller_threshold: String,
    teller_names: String,
    contact: String,
    es_title: String,
    es_question: String,
    label_yes: String,
    label_no: String,
    label_abstain: String,
    es_label_yes: String,
    es_label_no: String,
    es_label_abstain: String,
    /// The fewest ballots a decrypted total may cover (empty: the default).
    min_ballots: String,
    /// Checked: one admin may close early and reissue alone (the two-person rule off).
    one_admin: Option<String>,
    /// The witnesses, one per line: `name | verifier key | URL` (empty: none).
    witnesses: String,
    /// How many witnesses must cosign (empty: all but one, at least one).
    witness_quorum: String,
    /// When the outbox reminds members who have not voted, one date and time per line, in the
    /// election's time zone (empty: no reminders).
    reminders: String,
    /// `yes` once the official has read the definition's warnings and creates it anyway.
    accept_warnings: Option<String>,
}

impl BuilderForm {
    /// The choices' own wordings as typed (English, then Spanish), by choice name.
    fn labels(&self) -> [(&'static str, &str, &str); 3] {
        [
            ("yes", &self.label_yes, &self.es_label_yes),
            ("no", &self.label_no, &self.es_label_no),
            ("abstain", &self.label_abstain, &self.es_label_abstain),
        ]
    }
}

#[derive(Template)]
#[template(path = "builder.html")]
struct BuilderPage {
    username: String,
    role: String,
    csrf: String,
    problems: Vec<String>,
    /// What the definition may get wrong, to confirm before it is created.
    warnings: Vec<String>,
    notice: Option<String>,
    f: BuilderForm,
    presets: &'static [(&'static str, &'static str)],
}

fn page(
    req: &HttpRequest,
    state: &AppState,
    who: &Official,
    f: BuilderForm,
    problems: Vec<String>,
) -> (BuilderPage, Option<actix_web::cookie::Cookie<'static>>) {
    let (csrf, cookie) = csrf(req, state);
    let page = BuilderPage {
        username: who.0.username.clone(),
        role: who.0.role.to_string(),
        csrf,
        problems,
        warnings: Vec::new(),
        notice: None,
        f,
        presets: &PRESETS,
    };
    (page, cookie)
}

/// `GET /admin/elections/new`: the empty form, with the usual answers filled in.
pub async fn builder_page(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
) -> HttpResponse {
    let f = BuilderForm {
        preset: "iatse".into(),
        time_zone: "UTC".into(),
        teller_count: "3".into(),
        teller_threshold: "2".into(),
        min_ballots: SmallLocals::DEFAULT_MIN.to_string(),
        threshold_cmp: "at_least".into(),
        custom_rule: "popular".into(),
        ..BuilderForm::default()
    };
    let (page, cookie) = page(&req, &state, &who, f, Vec::new());
    html(StatusCode::OK, &page, cookie)
}

/// `POST /admin/elections/new`: writes the definition, checks it, creates the election.
pub async fn build(
    req: HttpRequest,
    who: Official,
    state: web::Data<AppState>,
    form: web::Form<BuilderForm>,
) -> HttpResponse {
    let f = form.into_inner();
    if !csrf_ok(&req, &f.csrf) {
        let problems = vec!["This form has expired. Please try again.".to_owned()];
        let (page, cookie) = page(&req, &state, &who, f, problems);
        return html(StatusCode::FORBIDDEN, &page, cookie);
    }
    let definition = match definition_of(&f) {
        Ok(d) => d,
        Err(problems) => {
            let (page, cookie) = page(&req, &state, &who, f, problems);
            return html(StatusCode::BAD_REQUEST, &page, cookie);
        }
    };
    let warnings = definition.warnings(chrono::Utc::now());
    if !warnings.is_empty() && f.accept_warnings.as_deref() != Some("yes") {
        let (mut page, cookie) = page(&req, &state, &who, f, Vec::new());
        page.warnings = warnings;
        return html(StatusCode::OK, &page, cookie);
    }
    let (url, signer, by) = (
        state.public_url.clone(),
        state.signer.clone(),
        who.0.username.clone(),
    );
    match with_conn(&state, move |c| {
        election::create(c, &definition, &url, &signer, &by)
    })
    .await
    {
        Ok(id) => redirect(format!("/admin/elections/{id}")),
        Err(e) => {
            let (page, cookie) = page(&req, &state, &who, f, vec![e.to_string()]);
            html(e.status(), &page, cookie)
        }
    }
}

/// The definition the answers describe, or every problem with them — each named by the form's
/// own words: its field's label, and for a local the line it was typed on.
pub fn definition_of(f: &BuilderForm) -> Result<Definition, Vec<String>> {
    let mut problems = Vec::new();
    let (text, lines) = definition_text_and_lines(f, &mut problems);
    match Definition::from_toml(&text) {
        Ok(d) if problems.is_empty() => Ok(d),
        Ok(_) => Err(problems),
        Err(DefinitionError::Invalid(found)) => {
            problems.extend(
                found
                    .iter()
                    .map(|p| format!("{}: {}", in_the_form(&p.field, &lines), p.message)),
            );
            Err(problems)
        }
        Err(other) => {
            problems.push(other.to_string());
            Err(problems)
        }
    }
}

/// A definition field as the builder's form names it (`locals[1].delegates` → `Locals, line
/// 3, delegates`, where line 3 is where that local was typed).
fn in_the_form(field: &str, lines: &[usize]) -> String {
    if let Some((k, sub)) = field
        .strip_prefix("locals[")
        .and_then(|rest| rest.split_once(']'))
        && let Ok(k) = k.parse::<usize>()
    {
        let line = lines
            .get(k)
            .map_or(String::new(), |l| format!(", line {l}"));
        let part = sub.trim_start_matches('.');
        let part = if part.is_empty() {
            String::new()
        } else {
            format!(", {part}")
        };
        return format!("Locals{line}{part}");
    }
    if let Some(k) = field
        .strip_prefix("reminders[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|k| k.parse::<usize>().ok())
    {
        return format!("Reminders, reminder {}", k + 1);
    }
    let label = match field {
        "reminders" => "Reminders",
        "title" => "Title",
        "question" => "Question put to members",
        "time_zone" => "Time zone",
        "opens_at" => "Voting opens",
        "closes_at" => "Voting closes",
        "locals" => "Locals",
        "contact" => "Whom members should contact",
        "tellers.count" => "Number of tellers",
        "tellers.threshold" => "Tellers needed to decrypt the totals",
        "min_ballots_per_total" => "Fewest ballots a decrypted total may cover",
        "threshold" => "Custom: yes share needed",
        "local_threshold" => "Custom: yes share each local needs",
        "quorum" => "Custom: quorum",
        other => other,
    };
    label.to_owned()
}

/// The definition file the answers make (problems the file cannot express, such as a date
/// that does not exist in the time zone, go to `problems`).
pub fn definition_text(f: &BuilderForm, problems: &mut Vec<String>) -> String {
    definition_text_and_lines(f, problems).0
}

/// The definition file, and the line of the form's locals box each local came from.
fn definition_text_and_lines(f: &BuilderForm, problems: &mut Vec<String>) -> (String, Vec<usize>) {
    let mut t = toml::Table::new();
    t.insert("title".into(), f.title.trim().into());
    t.insert("question".into(), f.question.trim().into());
    let mut choices = vec!["yes", "no"];
    if f.abstain.is_some() {
        choices.push("abstain");
    }
    t.insert("choices".into(), choices.into());
    rule_lines(f, &mut t, problems);
    let zone = f.time_zone.trim();
    let zone = if zone.is_empty() { "UTC" } else { zone };
    t.insert("time_zone".into(), zone.into());
    for (key, field, label) in [
        ("opens_at", &f.opens, "Opens"),
        ("closes_at", &f.closes, "Closes"),
    ] {
        if let Some(at) = utc_of(field, zone, label, problems) {
            t.insert(key.into(), at.into());
        }
    }
    reminders_of(f, zone, &mut t, problems);
    let delegates_decide =
        f.preset == "iatse" || (f.preset == "custom" && f.custom_rule == "delegates");
    let (locals, lines) = locals_of(&f.locals, delegates_decide, problems);
    t.insert("locals".into(), toml::Value::Array(locals));
    let mut tellers = toml::Table::new();
    for (key, value, label) in [
        ("count", &f.teller_count, "Number of tellers"),
        (
            "threshold",
            &f.teller_threshold,
            "Tellers needed to decrypt",
        ),
    ] {
        match value.trim().parse::<i64>() {
            Ok(n) => {
                tellers.insert(key.into(), n.into());
            }
            Err(_) => problems.push(format!("{label}: a whole number, e.g. 3")),
        }
    }
    let names: Vec<&str> = f
        .teller_names
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !names.is_empty() {
        tellers.insert("names".into(), names.into());
    }
    t.insert("tellers".into(), tellers.into());
    safeguards(f, &mut t, problems);
    if !f.contact.trim().is_empty() {
        t.insert("contact".into(), f.contact.trim().into());
    }
    let (mut labels, mut es_labels) = (toml::Table::new(), toml::Table::new());
    for (choice, en, es) in f.labels() {
        if !en.trim().is_empty() {
            labels.insert(choice.into(), en.trim().into());
        }
        if !es.trim().is_empty() {
            es_labels.insert(choice.into(), es.trim().into());
        }
    }
    if !labels.is_empty() {
        t.insert("labels".into(), labels.into());
    }
    if !f.es_title.trim().is_empty() || !f.es_question.trim().is_empty() || !es_labels.is_empty() {
        let mut es = toml::Table::new();
        es.insert("title".into(), f.es_title.trim().into());
        es.insert("question".into(), f.es_question.trim().into());
        es.insert("labels".into(), es_labels.into());
        let mut translations = toml::Table::new();
        translations.insert("es".into(), es.into());
        t.insert("translations".into(), translations.into());
    }
    (toml::to_string(&t).unwrap_or_default(), lines)
}

fn fraction(num: i64, den: i64, cmp: &str) -> toml::Value {
    let mut f = toml::Table::new();
    f.insert("num".into(), num.into());
    f.insert("den".into(), den.into());
    f.insert("cmp".into(), cmp.into());
    f.into()
}

/// The safeguards typed: the two-person rule off if asked, and the fewest ballots a decrypted
/// total may cover (`small_locals`; the default when the field is empty).
fn safeguards(f: &BuilderForm, t: &mut toml::Table, problems: &mut Vec<String>) {
    if f.one_admin.is_some() {
        t.insert("two_person_rule".into(), false.into());
    }
    witnesses_of(f, t, problems);
    let typed = f.min_ballots.trim();
    if typed.is_empty() {
        return;
    }
    let Ok(n) = typed.parse::<i64>() else {
        problems.push("Fewest ballots a decrypted total may cover: a whole number, e.g. 5".into());
        return;
    };
    let mut small = toml::Table::new();
    small.insert("min_ballots".into(), n.into());
    t.insert("small_locals".into(), small.into());
}

/// The `[witnesses]` table the form's lines give (`name | key | URL`), if any; the quorum
/// defaults to all but one of them (at least one). The definition's own checks name what is
/// wrong with a key or an address.
fn witnesses_of(f: &BuilderForm, t: &mut toml::Table, problems: &mut Vec<String>) {
    let mut list = Vec::new();
    for (i, line) in f
        .witnesses
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [name, key, url] = parts[..] else {
            problems.push(format!(
                "Witnesses, line {}: write the witness's name, its key and its address, separated by |",
                i + 1
            ));
            continue;
        };
        let mut one = toml::Table::new();
        one.insert("name".into(), name.into());
        one.insert("key".into(), key.into());
        one.insert("url".into(), url.into());
        list.push(toml::Value::Table(one));
    }
    if list.is_empty() {
        return;
    }
    let typed = f.witness_quorum.trim();
    let quorum = if typed.is_empty() {
        (list.len() as i64 - 1).max(1)
    } else if let Ok(n) = typed.parse::<i64>() {
        n
    } else {
        problems.push("Witnesses needed: a whole number, e.g. 2".into());
        return;
    };
    let mut table = toml::Table::new();
    table.insert("quorum".into(), quorum.into());
    table.insert("list".into(), toml::Value::Array(list));
    t.insert("witnesses".into(), table.into());
}

/// The rule, threshold, local threshold and quorum of the chosen preset (or the custom ones).
fn rule_lines(f: &BuilderForm, t: &mut toml::Table, problems: &mut Vec<String>) {
    let (rule, threshold, local, quorum) = match f.preset.as_str() {
        "iatse" => (
            "delegates",
            fraction(1, 2, "more_than"),
            Some(fraction(3, 4, "at_least")),
            None,
        ),
        "two_thirds" => ("popular", fraction(2, 3, "at_least"), None, None),
        "majority" => ("popular", fraction(1, 2, "more_than"), None, None),
        "uk" => (
            "popular",
            fraction(1, 2, "more_than"),
            None,
            Some(fraction(1, 2, "at_least")),
        ),
        "custom" => {
            let rule = if f.custom_rule == "delegates" {
                "delegates"
            } else {
                "popular"
            };
            let cmp = if f.threshold_cmp == "more_than" {
                "more_than"
            } else {
                "at_least"
            };
            let threshold = percent(&f.threshold, "Threshold", problems)
                .map(|(n, d)| fraction(n, d, cmp))
                .unwrap_or_else(|| fraction(1, 2, cmp));
            let optional = |text: &str, label: &str, problems: &mut Vec<String>| {
                (!text.trim().is_empty())
                    .then(|| {
                        percent(text, label, problems).map(|(n, d)| fraction(n, d, "at_least"))
                    })
                    .flatten()
            };
            let local = optional(&f.local_threshold, "Threshold in each local", problems);
            let quorum = optional(&f.quorum, "Quorum", problems);
            (rule, threshold, local, quorum)
        }
        _ => {
            problems.push("Rule: choose one of the rules".into());
            ("popular", fraction(1, 2, "more_than"), None, None)
        }
    };
    t.insert("rule".into(), rule.into());
    t.insert("threshold".into(), threshold);
    if let Some(local) = local {
        t.insert("local_threshold".into(), local);
    }
    if let Some(quorum) = quorum {
        t.insert("quorum".into(), quorum);
    }
}

/// A percentage as typed (`75`, `66.67`, `50 %`) as a reduced fraction of 100.
fn percent(text: &str, label: &str, problems: &mut Vec<String>) -> Option<(i64, i64)> {
    let cleaned = text.trim().trim_end_matches('%').trim();
    let (whole, cents) = match cleaned.split_once('.') {
        Some((w, c)) if c.len() <= 2 && c.bytes().all(|b| b.is_ascii_digit()) => {
            (w, format!("{c:0<2}"))
        }
        Some(_) => ("", String::new()),
        None => (cleaned, "00".to_owned()),
    };
    let basis = whole
        .parse::<i64>()
        .ok()
        .zip(cents.parse::<i64>().ok())
        .and_then(|(w, c)| w.checked_mul(100)?.checked_add(c))
        .filter(|b| (1..=10_000).contains(b));
    let Some(num) = basis else {
        problems.push(format!(
            "{label}: a percentage from 0.01 to 100, at most two decimals (e.g. 75 or 66.67)"
        ));
        return None;
    };
    let g = gcd(num, 10_000);
    Some((num / g, 10_000 / g))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `2027-03-01T07:00` read in `zone`, as RFC 3339 UTC.
fn utc_of(text: &str, zone: &str, label: &str, problems: &mut Vec<String>) -> Option<String> {
    let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M") else {
        problems.push(format!("{label}: a date and time, e.g. 2027-03-01T07:00"));
        return None;
    };
    // An unknown zone is the definition's problem to name; read the time in UTC meanwhile.
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    match tz.from_local_datetime(&naive).earliest() {
        Some(at) => Some(
            at.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        None => {
            problems.push(format!(
                "{label}: {} does not exist in {zone} (the clocks skip it)",
                text.trim()
            ));
            None
        }
    }
}

/// The reminders, one date and time per line in the election's zone (none: no field).
fn reminders_of(f: &BuilderForm, zone: &str, t: &mut toml::Table, problems: &mut Vec<String>) {
    let reminders: Vec<toml::Value> = f
        .reminders
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .filter_map(|(k, line)| {
            let label = format!("Reminders, reminder {}", k + 1);
            utc_of(line, zone, &label, problems).map(toml::Value::from)
        })
        .collect();
    if !reminders.is_empty() {
        t.insert("reminders".into(), toml::Value::Array(reminders));
    }
}

/// Locals, one per line: `code, name, delegates` (the name may hold commas; delegates may be
/// left out under the popular rule). Returns them with the line (1-based) each was typed on.
/// Where delegates decide, the last part must be a whole number in digits: `fifty-six` is
/// refused by name, not folded into the local's name.
fn locals_of(
    text: &str,
    delegates_decide: bool,
    problems: &mut Vec<String>,
) -> (Vec<toml::Value>, Vec<usize>) {
    let (mut out, mut lines) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (code, rest) = line.split_once(',').unwrap_or((line, ""));
        let last = rest
            .rsplit_once(',')
            .map(|(name, n)| (name.trim(), n.trim()));
        let (name, delegates) = match last {
            Some((name, n)) if n.parse::<i64>().is_ok() => (name, n.parse::<i64>().unwrap_or(0)),
            Some((_, n)) if delegates_decide => {
                problems.push(format!(
                    "Locals, line {}, delegates: `{n}` is not a whole number; write it in \
                     digits, e.g. `600, Local 600, 56`",
                    i + 1
                ));
                continue;
            }
            _ => match rest.trim().parse::<i64>() {
                Ok(n) => ("", n),
                Err(_) => (rest.trim(), 0),
            },
        };
        if name.is_empty() {
            problems.push(format!(
                "Locals, line {}: write `code, name, delegates`, e.g. `600, Local 600, 76`",
                i + 1
            ));
            continue;
        }
        let mut local = toml::Table::new();
        local.insert("code".into(), code.trim().into());
        local.insert("name".into(), name.into());
        local.insert("delegates".into(), delegates.into());
        out.push(local.into());
        lines.push(i + 1);
    }
    (out, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iatse() -> BuilderForm {
        BuilderForm {
            title: "Strike authorization 2027".into(),
            question: "Do you authorize a strike?".into(),
            opens: "2027-03-01T07:00".into(),
            closes: "2027-03-04T19:00".into(),
            time_zone: "America/Los_Angeles".into(),
            preset: "iatse".into(),
            locals: "600, International Cinematographers Guild, 76\n\n871, Script Supervisors, Coordinators and Accountants, 24\n".into(),
            teller_count: "3".into(),
            teller_threshold: "2".into(),
            teller_names: "Ana\nBo\nCy\n".into(),
            ..BuilderForm::default()
        }
    }

    #[test]
    fn the_fewest_ballots_per_total_is_the_default_or_what_was_typed() {
        assert_eq!(definition_of(&iatse()).unwrap().small_locals.min_ballots, 5);
        let mut f = iatse();
        f.min_ballots = "8".into();
        assert_eq!(definition_of(&f).unwrap().small_locals.min_ballots, 8);
        f.min_ballots = "0".into();
        let problems = definition_of(&f).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p
                    .contains("small_locals.min_ballots: must be a whole number from 1 to 1000")),
            "{problems:?}"
        );
        f.min_ballots = "five".into();
        let problems = definition_of(&f).unwrap_err();
        assert!(
            problems.iter().any(|p| p.starts_with("Fewest ballots")),
            "{problems:?}"
        );
    }

    #[test]
    fn witnesses_are_typed_one_per_line_and_their_quorum_defaults_to_all_but_one() {
        let key = |seed: u8| {
            strikevote_core::witness::WitnessKey::from_seed(
                &format!("w{seed}.example.org"),
                &[seed; 32],
            )
            .unwrap()
            .verifier()
            .to_string()
        };
        assert!(definition_of(&iatse()).unwrap().witnesses.is_none());
        let mut f = iatse();
        f.witnesses = format!(
            "Caucus | {} | https://w1.example.org\n\nNeutral body | {} | https://w2.example.org/\nAuditors | {} | https://w3.example.org\n",
            key(1),
            key(2),
            key(3)
        );
        let d = definition_of(&f).unwrap();
        let w = d.witnesses.as_ref().unwrap();
        assert_eq!((w.quorum, w.list.len()), (2, 3));
        assert_eq!(w.list[1].name, "Neutral body");
        assert_eq!(w.list[1].url, "https://w2.example.org");
        assert!(
            d.warnings(d.opens_at - chrono::Duration::days(1))
                .is_empty()
        );
        f.witness_quorum = "3".into();
        let d = definition_of(&f).unwrap();
        assert!(
            d.warnings(d.opens_at - chrono::Duration::days(1))[0]
                .contains("witnesses.quorum is 3 of 3")
        );
        f.witness_quorum = "two".into();
        assert!(
            definition_of(&f)
                .unwrap_err()
                .iter()
                .any(|p| p.starts_with("Witnesses needed"))
        );
        f.witness_quorum.clear();
        f.witnesses = format!(
            "Caucus {}\nBad | not a key | http://w.example.org\n",
            key(1)
        );
        let problems = definition_of(&f).unwrap_err();
        assert!(
            problems[0].starts_with("Witnesses, line 1:"),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("witnesses.list[0].key")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("witnesses.list[0].url")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_iatse_preset_writes_the_2021_rule_in_the_election_zone() {
        let d = definition_of(&iatse()).unwrap();
        assert_eq!(d.rule, election::Rule::Delegates);
        assert_eq!(d.threshold.to_string(), "1/2 more_than");
        assert_eq!(d.local_threshold.unwrap().to_string(), "3/4 at_least");
        assert_eq!(
            election::definition::format_time(&d.opens_at),
            "2027-03-01T15:00:00Z"
        );
        assert_eq!(
            d.locals[1].name,
            "Script Supervisors, Coordinators and Accountants"
        );
        assert_eq!(d.locals[1].delegates, 24);
        assert_eq!(d.tellers.names, ["Ana", "Bo", "Cy"]);
    }

    #[test]
    fn reminders_are_typed_one_per_line_in_the_election_zone() {
        let mut f = iatse();
        f.reminders = "2027-03-02T17:00\n\n2027-03-03T17:00\n".into();
        let d = definition_of(&f).unwrap();
        let times: Vec<String> = d
            .reminders
            .iter()
            .map(election::definition::format_time)
            .collect();
        assert_eq!(times, ["2027-03-03T01:00:00Z", "2027-03-04T01:00:00Z"]);
        f.reminders = "2027-03-03T17:00\n2027-03-02T17:00\n2027-03-09T08:00\nnext week".into();
        let problems = definition_of(&f).unwrap_err();
        assert_eq!(
            problems,
            [
                "Reminders, reminder 4: a date and time, e.g. 2027-03-01T07:00",
                "Reminders, reminder 2: must come after the reminder before it",
                "Reminders, reminder 3: must fall while the vote is open (after opens_at, before closes_at)",
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn presets_and_custom_percentages_become_exact_fractions() {
        let mut f = iatse();
        f.preset = "uk".into();
        let d = definition_of(&f).unwrap();
        assert_eq!(
            (d.threshold.to_string(), d.quorum.unwrap().to_string()),
            ("1/2 more_than".to_owned(), "1/2 at_least".to_owned())
        );
        f.preset = "custom".into();
        f.threshold = "66.67".into();
        f.threshold_cmp = "at_least".into();
        f.quorum = "40 %".into();
        let d = definition_of(&f).unwrap();
        assert_eq!(d.threshold.to_string(), "6667/10000 at_least");
        assert_eq!(d.quorum.unwrap().to_string(), "2/5 at_least");
    }

    #[test]
    fn a_percentage_too_large_to_compute_is_refused_not_wrapped() {
        // 4611686018427387979 × 100 wraps to 7500 in 64 bits: a release build without overflow
        // checks read it as 75 % (a debug build panicked; found by the `forms` fuzz target).
        for typed in [
            "4611686018427387979",
            "-333333333333003000",
            "92233720368547758.07",
        ] {
            let mut f = iatse();
            f.preset = "custom".into();
            f.threshold = typed.into();
            let problems = definition_of(&f).unwrap_err();
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with("Threshold: a percentage")),
                "{typed}: {problems:?}"
            );
        }
    }

    #[test]
    fn a_problem_names_the_line_and_the_field_as_the_official_typed_them() {
        let mut f = iatse();
        // Line 2 is empty; line 3 is the second local, line 4 spells its delegates out, line
        // 5 has none.
        f.locals = "600, Cinematographers, 76\n\n871, Script Supervisors, 0\n700, Editors, fifty-six\n44, Property\n".into();
        let all = definition_of(&f).unwrap_err().join("\n");
        for expected in [
            "Locals, line 3, delegates: must be at least 1",
            "Locals, line 4, delegates: `fifty-six` is not a whole number; write it in digits",
            "Locals, line 5, delegates: must be at least 1",
        ] {
            assert!(all.contains(expected), "{expected} missing from:\n{all}");
        }
        assert!(
            !all.contains("locals[") && !all.contains("Editors, fifty-six"),
            "{all}"
        );
        // Under the popular rule a last part that is not a number belongs to the name.
        f.preset = "majority".into();
        f.locals = "600, Cinematographers, Local Six Hundred\n".into();
        let d = definition_of(&f).unwrap();
        assert_eq!(d.locals[0].name, "Cinematographers, Local Six Hundred");
        // A field outside the locals is named by its label.
        f.title = String::new();
        let all = definition_of(&f).unwrap_err().join("\n");
        assert!(all.contains("Title: "), "{all}");
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let mut f = iatse();
        f.closes = "2027-02-01T07:00".into();
        f.locals.push_str("999\n");
        f.preset = "custom".into();
        f.threshold = "120".into();
        f.teller_threshold = "two".into();
        f.time_zone = "Mars/Olympus".into();
        let problems = definition_of(&f).unwrap_err();
        let all = problems.join("\n");
        for expected in [
            "Threshold: a percentage",
            "Locals, line 4",
            "Tellers needed to decrypt: a whole number",
            "Time zone: `Mars/Olympus` is not a time zone name",
        ] {
            assert!(all.contains(expected), "{expected} missing from:\n{all}");
        }
    }
}
