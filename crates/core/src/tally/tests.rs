use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;
use crate::definition::{Comparison, Local, LocalCode};

fn frac(num: u64, den: u64, cmp: Comparison) -> Fraction {
    Fraction { num, den, cmp }
}

fn definition(rule: Rule, locals: &[(&str, u32)]) -> Definition {
    Definition {
        title: "T".into(),
        question: "Q".into(),
        choices: vec![Choice::Yes, Choice::No, Choice::Abstain],
        rule,
        threshold: frac(1, 2, Comparison::MoreThan),
        local_threshold: Some(frac(3, 4, Comparison::AtLeast)),
        quorum: None,
        locals: locals
            .iter()
            .map(|(c, d)| Local {
                code: LocalCode::parse(c).unwrap(),
                name: format!("Local {c}"),
                delegates: *d,
            })
            .collect(),
        opens_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        closes_at: chrono::DateTime::from_timestamp(1, 0).unwrap(),
        tellers: crate::definition::Tellers {
            count: 1,
            threshold: 1,
            names: Vec::new(),
        },
        contact: None,
        time_zone: "UTC".into(),
        translations: BTreeMap::new(),
        labels: BTreeMap::new(),
        two_person_rule: true,
        witnesses: None,
        reminders: Vec::new(),
        small_locals: crate::definition::SmallLocals {
            min_ballots: 1,
            code: LocalCode::parse("small").unwrap(),
            name: "Small locals".into(),
        },
    }
}

fn counts(yes: u64, no: u64, abstain: u64) -> ChoiceCounts {
    ChoiceCounts { yes, no, abstain }
}

fn run(d: &Definition, rows: &[(&str, u64, ChoiceCounts)]) -> Results {
    let eligible = rows.iter().map(|(c, e, _)| (c.to_string(), *e)).collect();
    let totals = rows.iter().map(|(c, _, b)| (c.to_string(), *b)).collect();
    let cast = rows
        .iter()
        .map(|(c, _, b)| (c.to_string(), b.cast()))
        .collect();
    tally(d, &eligible, &Units::of(d, &cast).unwrap(), &totals)
}

#[test]
fn exactly_75_percent_passes_at_least_three_quarters() {
    let d = definition(Rule::Delegates, &[("A", 10)]);
    let r = run(&d, &[("A", 100, counts(75, 25, 0))]);
    assert!(r.locals[0].passed);
    assert_eq!(r.locals[0].authorization.to_string(), "75.00%");
    assert_eq!(r.locals[0].delegates_yes, 10);
}

#[test]
fn a_hair_under_75_percent_fails_and_never_displays_as_75() {
    let d = definition(Rule::Delegates, &[("A", 10)]);
    let r = run(&d, &[("A", 10_000, counts(7499, 2501, 0))]);
    assert!(!r.locals[0].passed);
    assert_eq!(r.locals[0].authorization.to_string(), "74.99%");
    // 74.999…% is also a fail, and shows as 74.99%, not a rounded 75.00%.
    let r = run(&d, &[("A", 100_000, counts(74_999, 25_001, 0))]);
    assert!(!r.locals[0].passed);
    assert_eq!(r.locals[0].authorization.to_string(), "74.99%");
    assert_eq!(r.locals[0].delegates_no, 10);
}

#[test]
fn a_tie_fails_a_simple_majority() {
    let mut d = definition(Rule::Popular, &[("A", 0)]);
    d.local_threshold = Some(frac(1, 2, Comparison::MoreThan));
    let r = run(&d, &[("A", 100, counts(50, 50, 0))]);
    assert!(!r.locals[0].passed);
    assert!(!r.popular.passed);
    assert!(!r.passed);
}

#[test]
fn losing_the_popular_vote_can_win_on_delegates() {
    // IATSE 2021 ratification: 49.6% popular yes, yet 256–188 delegates.
    let mut d = definition(Rule::Delegates, &[("big", 188), ("s1", 128), ("s2", 128)]);
    d.local_threshold = Some(frac(1, 2, Comparison::MoreThan));
    let r = run(
        &d,
        &[
            ("big", 12_000, counts(3_000, 7_000, 0)),
            ("s1", 5_000, counts(2_480, 2_000, 0)),
            ("s2", 5_000, counts(2_480, 2_000, 0)),
        ],
    );
    assert_eq!(r.popular.counts.yes, 7_960);
    assert_eq!(r.popular.counts.no, 11_000);
    assert!(!r.popular.passed, "41.98% popular yes");
    assert_eq!((r.delegates.yes, r.delegates.no), (256, 188));
    assert!(r.delegates.passed);
    assert!(r.passed, "the delegate rule decides");
    let mut popular = d.clone();
    popular.rule = Rule::Popular;
    assert!(
        !run(
            &popular,
            &[
                ("big", 12_000, counts(3_000, 7_000, 0)),
                ("s1", 5_000, counts(2_480, 2_000, 0)),
                ("s2", 5_000, counts(2_480, 2_000, 0))
            ]
        )
        .passed
    );
}

#[test]
fn abstentions_count_for_turnout_not_for_the_percentage() {
    let d = definition(Rule::Delegates, &[("A", 4)]);
    let r = run(&d, &[("A", 100, counts(30, 10, 40))]);
    assert_eq!(
        r.locals[0].turnout,
        Share {
            part: 80,
            whole: 100
        }
    );
    assert_eq!(
        r.locals[0].authorization,
        Share {
            part: 30,
            whole: 40
        }
    );
    assert!(r.locals[0].passed, "30 of 40 is 75%");
    assert_eq!(r.popular.turnout.to_string(), "80.00%");
}

#[test]
fn a_missed_quorum_fails_the_vote_whatever_the_count() {
    let mut d = definition(Rule::Popular, &[("A", 0)]);
    d.quorum = Some(frac(1, 2, Comparison::AtLeast));
    let r = run(&d, &[("A", 100, counts(49, 0, 0))]);
    assert!(r.popular.passed, "100% yes");
    assert!(!r.quorum_met, "49 of 100 cast");
    assert!(!r.passed);
    let r = run(&d, &[("A", 100, counts(40, 0, 10))]);
    assert!(r.quorum_met, "abstentions count toward quorum");
    assert!(r.passed);
}

#[test]
fn a_local_without_ballots_casts_its_delegates_no() {
    let d = definition(Rule::Delegates, &[("A", 3), ("B", 2)]);
    let r = run(
        &d,
        &[("A", 10, counts(10, 0, 0)), ("B", 10, counts(0, 0, 0))],
    );
    assert!(!r.locals[1].passed);
    assert_eq!(r.locals[1].authorization.to_string(), "—");
    assert_eq!((r.delegates.yes, r.delegates.no), (3, 2));
    assert!(r.delegates.passed);
}

/// The result entry's body, as opened by teller 1 (with no sums: these tests count plaintext).
fn body(r: &Results) -> crate::entry::ResultEntry {
    r.entry_body(vec![1], indexmap::IndexMap::new())
}

#[test]
fn the_result_entry_body_has_the_design_fields() {
    let d = definition(Rule::Delegates, &[("A", 3)]);
    let r = run(&d, &[("A", 10, counts(8, 1, 1))]);
    assert_eq!(
        serde_json::to_string(&body(&r)).unwrap(),
        r#"{"locals":{"A":{"eligible":10,"yes":8,"no":1,"abstain":1,"delegates_yes":3,"delegates_no":0,"passed":true}},"group":null,"popular":{"eligible":10,"yes":8,"no":1,"abstain":1,"quorum_met":true,"passed":true},"delegates":{"yes":3,"no":0,"passed":true},"outcome":"passed","tellers":[1],"sums":{}}"#
    );
}

/// Threshold check by floating-point division: a different road to the same answer. Exact for
/// the small numbers used here: IEEE division is correctly rounded, so equal ratios give equal
/// floats, and distinct ratios of numbers below 2^20 differ by far more than a rounding error.
fn naive_meets(f: &Fraction, part: u64, whole: u64) -> bool {
    if whole == 0 {
        return false;
    }
    let share = part as f64 / whole as f64;
    let bar = f.num as f64 / f.den as f64;
    match f.cmp {
        Comparison::AtLeast => share >= bar,
        Comparison::MoreThan => share > bar,
    }
}

fn arb_fraction() -> impl Strategy<Value = Fraction> {
    (1u64..50, 1u64..50, any::<bool>()).prop_map(|(a, b, more)| {
        let (num, den) = if a <= b { (a, b) } else { (b, a) };
        let cmp = if more && num < den {
            Comparison::MoreThan
        } else {
            Comparison::AtLeast
        };
        frac(num, den, cmp)
    })
}

proptest! {
    #[test]
    fn the_tally_agrees_with_a_naive_recount(
        locals in proptest::collection::vec((0u32..50, 0u64..40), 1..8),
        ballots in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3), 0..300),
        threshold in arb_fraction(),
        local_threshold in arb_fraction(),
        quorum in proptest::option::of(arb_fraction()),
        delegates_rule in any::<bool>(),
        min in 1u32..8,
    ) {
        let codes: Vec<String> = (0..locals.len()).map(|i| format!("L{i}")).collect();
        let pairs: Vec<(&str, u32)> = codes.iter().zip(&locals).map(|(c, (d, _))| (c.as_str(), *d)).collect();
        let mut d = definition(if delegates_rule { Rule::Delegates } else { Rule::Popular }, &pairs);
        d.threshold = threshold;
        d.local_threshold = Some(local_threshold);
        d.quorum = quorum;
        d.small_locals.min_ballots = min;

        // Ballots, one by one, as the log would hold them; eligible at least the ballots cast.
        let cast: Vec<(String, Choice)> = ballots
            .iter()
            .map(|(i, c)| (codes[i.index(codes.len())].clone(), [Choice::Yes, Choice::No, Choice::Abstain][*c as usize]))
            .collect();
        let mut per_local: HashMap<&str, Vec<Choice>> = HashMap::new();
        for (l, c) in &cast {
            per_local.entry(l.as_str()).or_default().push(*c);
        }
        let mut eligible = BTreeMap::new();
        let mut plain = BTreeMap::new();
        for (i, code) in codes.iter().enumerate() {
            let mine = per_local.get(code.as_str()).cloned().unwrap_or_default();
            eligible.insert(code.clone(), mine.len() as u64 + locals[i].1);
            let mut c = ChoiceCounts::default();
            for choice in &mine {
                c.add(*choice);
            }
            plain.insert(code.clone(), c);
        }
        let cast_per_local: BTreeMap<String, u64> =
            plain.iter().map(|(k, c)| (k.clone(), c.cast())).collect();
        let units = match Units::of(&d, &cast_per_local) {
            Ok(units) => units,
            Err(_) => {
                // Refused only when the whole election has ballots, but fewer than the minimum.
                prop_assert!(!cast.is_empty() && (cast.len() as u64) < u64::from(min));
                return Ok(());
            }
        };
        // Every total opened covers at least the minimum; every local with too few ballots
        // is in the group, and no local is opened twice.
        let mut covered = Vec::new();
        for (code, members, n) in units.totals() {
            prop_assert!(n >= u64::from(min), "{} covers {} < {}", code, n, min);
            let sum: u64 = members.iter().map(|m| cast_per_local[*m]).sum();
            prop_assert_eq!(sum, n);
            covered.extend(members);
        }
        for (code, n) in &cast_per_local {
            let times = covered.iter().filter(|c| **c == code.as_str()).count();
            prop_assert_eq!(times, usize::from(*n > 0), "{} opened {} times", code, times);
            if (1..u64::from(min)).contains(n) {
                prop_assert!(units.group_of(code).is_some());
            }
        }
        // What the tellers open: each local alone, or the group's plain counts added up.
        let mut totals: BTreeMap<String, ChoiceCounts> = units.alone.iter().map(|c| (c.clone(), plain[c])).collect();
        let mut together = ChoiceCounts::default();
        for code in units.grouped() {
            together.yes += plain[code].yes;
            together.no += plain[code].no;
            together.abstain += plain[code].abstain;
        }
        if let Some(g) = &units.group {
            totals.insert(g.code.clone(), together);
        }
        let r = tally(&d, &eligible, &units, &totals);

        // The naive recount: walk the ballot list directly; a grouped local is decided by
        // its group's yes share.
        let (mut yes, mut no, mut all) = (0u64, 0u64, 0u64);
        let (mut dy, mut dall) = (0u64, 0u64);
        for (i, code) in codes.iter().enumerate() {
            let mine = per_local.get(code.as_str()).cloned().unwrap_or_default();
            let ly = mine.iter().filter(|c| **c == Choice::Yes).count() as u64;
            let ln = mine.iter().filter(|c| **c == Choice::No).count() as u64;
            let la = mine.len() as u64 - ly - ln;
            let local = &r.locals[i];
            let pass = if units.group_of(code).is_some() {
                prop_assert_eq!(local.counts, None);
                prop_assert_eq!(local.cast, mine.len() as u64);
                naive_meets(&local_threshold, together.yes, together.yes + together.no)
            } else {
                prop_assert_eq!(local.counts, Some(counts(ly, ln, la)));
                naive_meets(&local_threshold, ly, ly + ln)
            };
            prop_assert_eq!(local.passed, pass);
            prop_assert_eq!(local.delegates_yes, if pass { u64::from(locals[i].0) } else { 0 });
            prop_assert_eq!(local.delegates_yes + local.delegates_no, u64::from(locals[i].0));
            yes += ly;
            no += ln;
            all += mine.len() as u64;
            dall += u64::from(locals[i].0);
            if pass {
                dy += u64::from(locals[i].0);
            }
        }
        let total_eligible: u64 = eligible.values().sum();
        prop_assert_eq!(r.popular.counts.cast(), all);
        prop_assert_eq!(r.popular.passed, naive_meets(&threshold, yes, yes + no));
        prop_assert_eq!((r.delegates.yes, r.delegates.no), (dy, dall - dy));
        prop_assert_eq!(r.delegates.passed, naive_meets(&threshold, dy, dall));
        let quorum_met = quorum.is_none_or(|q| naive_meets(&q, all, total_eligible));
        prop_assert_eq!(r.quorum_met, quorum_met);
        let by_rule = if delegates_rule { r.delegates.passed } else { r.popular.passed };
        prop_assert_eq!(r.passed, by_rule && quorum_met);
        // The logged result states what counts the same again.
        let stated = opened::stated_counts(&body(&r)).unwrap();
        prop_assert_eq!(stated.results(&d), Some(r));
    }

    #[test]
    fn the_naive_comparison_agrees_with_cross_multiplication(f in arb_fraction(), part in 0u64..200, extra in 0u64..200) {
        prop_assert_eq!(naive_meets(&f, part, part + extra), f.is_met(part, part + extra));
    }
}

#[test]
fn thresholds_read_in_words() {
    assert_eq!(
        frac(1, 2, Comparison::MoreThan).in_words(),
        "more than half"
    );
    assert_eq!(
        frac(2, 3, Comparison::AtLeast).in_words(),
        "at least two-thirds"
    );
    assert_eq!(frac(3, 4, Comparison::AtLeast).in_words(), "at least 75%");
    assert_eq!(
        frac(1, 3, Comparison::MoreThan).in_words(),
        "more than a third"
    );
    assert_eq!(frac(11, 20, Comparison::AtLeast).in_words(), "at least 55%");
    assert_eq!(frac(5, 8, Comparison::AtLeast).in_words(), "at least 62.5%");
    assert_eq!(
        frac(5, 7, Comparison::MoreThan).in_words(),
        "more than 71.42%"
    );
}

#[test]
fn the_decision_sentence_says_what_decided_and_which_locals_fell_short() {
    // The 2021 shape: delegates decide; 600 misses its 75% at 71.42%.
    let d = definition(Rule::Delegates, &[("600", 56), ("700", 100)]);
    let r = run(
        &d,
        &[("600", 20, counts(5, 2, 0)), ("700", 10, counts(8, 2, 1))],
    );
    let e = r.explain(&d);
    assert_eq!(
        e.sentence,
        "PASSED: locals holding 100 of 156 delegates voted yes; more than half needed. \
         Local 600: 71.42% yes, at least 75% needed."
    );
    assert_eq!(
        (e.local_needed.as_str(), e.overall_needed.as_str()),
        ("at least 75%", "more than half")
    );
    assert!(!e.popular_decides && e.quorum_needed.is_none());
    let r = run(
        &d,
        &[("600", 20, counts(8, 2, 0)), ("700", 10, counts(1, 0, 0))],
    );
    assert!(
        r.explain(&d)
            .sentence
            .starts_with("PASSED: locals holding 156 of 156")
    );
    let r = run(
        &d,
        &[("600", 20, counts(0, 0, 3)), ("700", 10, counts(1, 2, 0))],
    );
    assert_eq!(
        r.explain(&d).sentence,
        "FAILED: locals holding 0 of 156 delegates voted yes; more than half needed. \
         Local 600: no yes or no ballots, at least 75% needed. \
         Local 700: 33.33% yes, at least 75% needed."
    );

    // Popular rule with a quorum that is missed: both reasons, quorum first.
    let mut d = definition(Rule::Popular, &[("600", 0)]);
    d.quorum = Some(frac(1, 2, Comparison::AtLeast));
    let r = run(&d, &[("600", 20, counts(6, 3, 0))]);
    let e = r.explain(&d);
    assert_eq!(
        e.sentence,
        "FAILED: 9 of 20 eligible members voted (45.00%); a quorum of at least half is needed; \
         66.66% of the yes and no ballots were yes; more than half needed."
    );
    assert!(e.popular_decides);
    assert_eq!(e.quorum_needed.as_deref(), Some("at least half"));
}

#[test]
fn small_locals_are_merged_and_a_short_group_takes_the_smallest_other_local() {
    let mut d = definition(
        Rule::Delegates,
        &[("A", 1), ("B", 1), ("C", 1), ("D", 1), ("E", 1)],
    );
    d.small_locals.min_ballots = 5;
    let cast = |n: [u64; 5]| -> BTreeMap<String, u64> {
        ["A", "B", "C", "D", "E"]
            .iter()
            .zip(n)
            .map(|(c, n)| (c.to_string(), n))
            .collect()
    };
    // B and D hold 2 + 3: enough together; E has none and opens nothing.
    let u = Units::of(&d, &cast([9, 2, 7, 3, 0])).unwrap();
    assert_eq!(u.alone, ["A", "C"]);
    assert_eq!(u.grouped(), ["B", "D"]);
    assert_eq!(u.group.as_ref().unwrap().ballots, 5);
    // B alone is short: the smallest other local (C, 6, before A's 9 and D's 6 by order) joins.
    let u = Units::of(&d, &cast([9, 1, 6, 6, 0])).unwrap();
    assert_eq!(u.grouped(), ["B", "C"]);
    assert_eq!(u.alone, ["A", "D"]);
    // Nobody short: no group.
    let u = Units::of(&d, &cast([5, 5, 0, 0, 0])).unwrap();
    assert!(u.group.is_none());
    // Four ballots in the whole election: nothing can be opened.
    assert_eq!(
        Units::of(&d, &cast([1, 1, 1, 1, 0])),
        Err(crate::crypto::tally::TallyError::TooFewBallots { ballots: 4, min: 5 })
    );
    // No ballots at all: nothing to open, nothing refused.
    assert!(Units::of(&d, &cast([0; 5])).unwrap().totals().is_empty());
}

#[test]
fn a_merged_local_is_decided_by_its_groups_share_and_the_sentence_names_the_group() {
    let mut d = definition(Rule::Delegates, &[("600", 50), ("700", 40), ("871", 10)]);
    d.small_locals.min_ballots = 5;
    let units = Units::of(
        &d,
        &BTreeMap::from([
            ("600".to_owned(), 20),
            ("700".to_owned(), 3),
            ("871".to_owned(), 2),
        ]),
    )
    .unwrap();
    let eligible = BTreeMap::from([
        ("600".to_owned(), 40),
        ("700".to_owned(), 4),
        ("871".to_owned(), 2),
    ]);
    let totals = BTreeMap::from([
        ("600".to_owned(), counts(16, 4, 0)),
        ("small".to_owned(), counts(2, 3, 0)),
    ]);
    let r = tally(&d, &eligible, &units, &totals);
    assert_eq!(r.locals[1].counts, None);
    assert_eq!(r.locals[1].group.as_deref(), Some("small"));
    assert_eq!((r.locals[1].cast, r.locals[2].cast), (3, 2));
    assert!(!r.locals[1].passed && !r.locals[2].passed);
    assert_eq!(r.locals[2].authorization.to_string(), "40.00%");
    let g = r.group.as_ref().unwrap();
    assert_eq!((g.eligible, g.counts), (6, counts(2, 3, 0)));
    assert_eq!((r.popular.counts.yes, r.popular.counts.no), (18, 7));
    assert_eq!((r.delegates.yes, r.delegates.no), (50, 50));
    assert_eq!(
        r.explain(&d).sentence,
        "FAILED: locals holding 50 of 100 delegates voted yes; more than half needed. \
         Small locals (2 locals counted together): 40.00% yes, at least 75% needed."
    );
    let rows = r.rows();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        (
            rows[3].code.as_str(),
            rows[3].delegates,
            rows[3].delegates_no
        ),
        ("small", 50, 50)
    );
    assert_eq!(
        serde_json::to_string(&body(&r).locals["871"]).unwrap(),
        r#"{"eligible":2,"cast":2,"group":"small","delegates_yes":0,"delegates_no":10,"passed":false}"#
    );
    assert_eq!(
        serde_json::to_string(&body(&r).group).unwrap(),
        r#"{"code":"small","locals":["700","871"],"eligible":6,"yes":2,"no":3,"abstain":0,"passed":false}"#
    );
}
