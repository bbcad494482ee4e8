//! `strikevote turnout` and `strikevote results`.

use super::connect;
use crate::election::{self, ElectionId};
use crate::settings::Settings;
use crate::tally;

/// Ballots cast per local (never choices).
pub(super) fn turnout(settings: &Settings, id: &str, json: bool) -> anyhow::Result<()> {
    let id = ElectionId::parse(id)?;
    let mut conn = connect(settings)?;
    let t = election::count::turnout(&mut conn, id)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&t)?);
    } else {
        println!(
            "{:<12} {:>9} {:>9} {:>8}",
            "local", "cast", "eligible", "turnout"
        );
        for (code, l) in &t.locals {
            let share = tally::Share {
                part: l.cast,
                whole: l.eligible,
            };
            println!("{code:<12} {:>9} {:>9} {share:>8}", l.cast, l.eligible);
        }
        let share = tally::Share {
            part: t.cast,
            whole: t.eligible,
        };
        println!("{:<12} {:>9} {:>9} {share:>8}", "total", t.cast, t.eligible);
    }
    Ok(())
}

/// The results, refused until the vote closes.
pub(super) fn results(settings: &Settings, id: &str, json: bool) -> anyhow::Result<()> {
    let id = ElectionId::parse(id)?;
    let mut conn = connect(settings)?;
    let results = election::count::results(&mut conn, id)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_results(&results);
    }
    Ok(())
}

fn print_results(r: &tally::Results) {
    println!(
        "{:<10} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>9}",
        "local",
        "eligible",
        "cast",
        "turnout",
        "yes",
        "no",
        "abstain",
        "yes %",
        "pass",
        "delegates"
    );
    for l in &r.locals {
        println!(
            "{:<10} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>4}/{:<4}",
            l.code,
            l.eligible,
            l.counts.cast(),
            l.turnout,
            l.counts.yes,
            l.counts.no,
            l.counts.abstain,
            l.authorization,
            if l.passed { "yes" } else { "no" },
            l.delegates_yes,
            l.delegates
        );
    }
    let p = &r.popular;
    println!(
        "{:<10} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>4}/{:<4}",
        "total",
        p.eligible,
        p.counts.cast(),
        p.turnout,
        p.counts.yes,
        p.counts.no,
        p.counts.abstain,
        p.authorization,
        if p.passed { "yes" } else { "no" },
        r.delegates.yes,
        r.delegates.yes + r.delegates.no
    );
    println!();
    println!(
        "popular vote:  {} yes — {}",
        p.authorization,
        if p.passed { "passes" } else { "fails" }
    );
    println!(
        "delegate vote: {} yes, {} no — {}",
        r.delegates.yes,
        r.delegates.no,
        if r.delegates.passed {
            "passes"
        } else {
            "fails"
        }
    );
    println!(
        "quorum:        {}",
        if r.quorum_met { "met" } else { "missed" }
    );
    println!(
        "decision:      {}",
        if r.passed { "PASSED" } else { "FAILED" }
    );
}
