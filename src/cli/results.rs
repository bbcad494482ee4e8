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
        let locals = t
            .locals
            .iter()
            .map(|(code, l)| (code.as_str(), l.cast, l.eligible));
        for (code, cast, eligible) in locals.chain([("total", t.cast, t.eligible)]) {
            let share = tally::Share {
                part: cast,
                whole: eligible,
            };
            println!("{code:<12} {cast:>9} {eligible:>9} {share:>8}");
        }
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
        let definition = election::find(&mut conn, id)?.definition;
        println!("{}\n", results.explain(&definition).sentence);
        print_results(&results);
        if let Some(note) = results.group_note(&definition) {
            println!("\n{note}");
        }
    }
    Ok(())
}

fn print_results(r: &tally::Results) {
    let w = r.code_width();
    println!(
        "{:<w$} eligible    cast  turnout     yes      no abstain    yes %   pass delegates",
        "local"
    );
    for l in r.rows() {
        let [yes, no, abstain] = l.shown();
        println!(
            "{:<w$} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>4}/{:<4}",
            l.code,
            l.eligible,
            l.cast,
            l.turnout,
            yes,
            no,
            abstain,
            l.authorization,
            if l.passed { "yes" } else { "no" },
            l.delegates_yes,
            l.delegates
        );
    }
    let v = r.verdicts();
    println!();
    println!(
        "popular vote:  {} yes — {}",
        r.popular.authorization, v.popular
    );
    println!(
        "delegate vote: {} yes, {} no — {}",
        r.delegates.yes, r.delegates.no, v.delegates
    );
    println!("quorum:        {}", v.quorum);
    println!("decision:      {}", v.decision);
}
