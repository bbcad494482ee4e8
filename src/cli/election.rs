//! `strikevote election …`: check, create, list, show, open, close, certify.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::{cli_actor, connect, signer};
use crate::election::{self, Definition, Election, ElectionId, Transition};
use crate::log::LogKey;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub(super) enum ElectionCommand {
    /// Check a definition file without creating anything.
    Check {
        /// The TOML definition.
        #[arg(long)]
        file: PathBuf,
    },
    /// Create an election from a TOML definition; prints its id.
    Create {
        /// The TOML definition.
        #[arg(long)]
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List elections.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open the vote: freezes definition and roster, logs `open`.
    Open {
        /// Election id.
        id: String,
    },
    /// Close the vote: logs `close`.
    Close {
        /// Election id.
        id: String,
    },
    /// Certify a closed vote whose tellers have decrypted the result (logs `certify`).
    Certify {
        /// Election id.
        id: String,
    },
    /// Show an election's definition, roster and token counts.
    Show {
        /// Election id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `election` command.
pub(super) fn run(command: ElectionCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ElectionCommand::Check { file } => check(&file),
        ElectionCommand::Create { file, json } => create(&file, json, settings),
        ElectionCommand::List { json } => list(json, settings),
        ElectionCommand::Show { id, json } => show(&id, json, settings),
        ElectionCommand::Open { id } => change(&id, Transition::Open, settings),
        ElectionCommand::Close { id } => change(&id, Transition::Close, settings),
        ElectionCommand::Certify { id } => change(&id, Transition::Certify, settings),
    }
}

fn check(file: &Path) -> anyhow::Result<()> {
    let definition = read_definition(file)?;
    println!(
        "{}: valid ({} locals, rule {})",
        file.display(),
        definition.locals.len(),
        definition.rule.as_str()
    );
    let small = &definition.small_locals;
    println!(
        "small locals: no total of fewer than {} ballots is decrypted; locals with fewer at close \
         are counted together as \"{}\" (see docs/ELECTION_DEFINITION.md)",
        small.min_ballots, small.name
    );
    if let Some(w) = &definition.witnesses {
        let names: Vec<String> = w
            .list
            .iter()
            .map(|one| format!("{} ({})", one.name, one.url))
            .collect();
        println!(
            "witnesses: {} of {} must cosign every checkpoint before it is relied on: {}",
            w.quorum,
            w.list.len(),
            names.join(", ")
        );
    }
    // Without a roster only the minimum itself can be judged; `roster import` names the
    // locals too small to be counted alone.
    let small =
        crate::tally::units::warnings(&definition, &Default::default(), &Default::default());
    for warning in definition
        .warnings(chrono::Utc::now())
        .into_iter()
        .chain(small)
    {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

fn create(file: &Path, json: bool, settings: &Settings) -> anyhow::Result<()> {
    let definition = read_definition(file)?;
    let public_url = settings.require_public_url("create an election")?;
    let signer = signer(settings)?;
    let mut conn = connect(settings)?;
    let id = election::create(&mut conn, &definition, &public_url, &signer, &cli_actor())?;
    let origin = election::origin(&public_url, id);
    let fingerprint = crate::log::note::fingerprint(&signer.public_key());
    let invitations = crate::teller::invitations::issue(&mut conn, id)?;
    if json {
        let codes: Vec<_> = invitations
            .iter()
            .map(|(t, code)| json!({ "teller": t, "name": definition.tellers.name(*t), "code": code }))
            .collect();
        println!(
            "{}",
            json!({ "id": id, "title": definition.title, "origin": origin,
                    "key_fingerprint": fingerprint, "teller_invitations": codes,
                    "teller_program_sha256": crate::teller::invitations::teller_program_sha256(settings.teller_program.as_deref()) })
        );
    } else {
        println!("{id}");
        eprintln!("log origin:      {origin}");
        eprintln!("key fingerprint: {fingerprint}");
        eprintln!("(print both on the ballot notices: auditors check the log against them)");
        for (t, code) in &invitations {
            eprintln!(
                "teller {t} ({}) invitation: {code}",
                definition.tellers.name(*t)
            );
        }
        eprintln!("(give each teller their number and code privately: see docs/TELLERS.md)");
        super::teller::program_line(settings);
    }
    Ok(())
}

fn list(json: bool, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let all = election::list(&mut conn)?;
    if json {
        let rows: Vec<_> = all
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "title": e.definition.title,
                    "state": e.state,
                    "created_at": e.created_at.and_utc().to_rfc3339(),
                    "opens_at": election::definition::format_time(&e.definition.opens_at),
                    "closes_at": election::definition::format_time(&e.definition.closes_at),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if all.is_empty() {
        println!("no elections yet: create one with `strikevote election create --file FILE`");
    } else {
        for e in &all {
            println!("{}  {:<9}  {}", e.id, e.state.as_str(), e.definition.title);
        }
    }
    Ok(())
}

fn show(id: &str, json: bool, settings: &Settings) -> anyhow::Result<()> {
    let id = ElectionId::parse(id)?;
    let signer = signer(settings)?;
    let mut conn = connect(settings)?;
    let election = election::find(&mut conn, id)?;
    let counts = election::local_counts(&mut conn, &election)?;
    let ceremony = election::ceremony::status(&mut conn, &election)?;
    if json {
        let value = election::summary_json(&election, &counts, &ceremony, &signer);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_election(&election, &counts, &signer);
        println!("  key ceremony: {ceremony}");
    }
    Ok(())
}

/// Opens, closes or certifies.
fn change(id: &str, action: Transition, settings: &Settings) -> anyhow::Result<()> {
    let id = ElectionId::parse(id)?;
    let signer = signer(settings)?;
    let mut conn = connect(settings)?;
    let actor = cli_actor();
    match action {
        Transition::Open | Transition::Close => {
            let who = election::approval::Who::Operator(&actor);
            let checkpoint = election::apply(&mut conn, id, action, &signer, who)?;
            let now = if action == Transition::Open {
                "open"
            } else {
                "closed"
            };
            println!("election {id} is {now} (log size {})", checkpoint.size);
        }
        Transition::Certify => {
            let (results, checkpoint) = election::count::certify(&mut conn, id, &signer, &actor)?;
            println!(
                "election {id} is certified: {} (the tellers' decrypted result; certification is entry {} of the log)",
                if results.passed { "PASSED" } else { "FAILED" },
                checkpoint.size - 1
            );
        }
    }
    Ok(())
}

fn read_definition(file: &Path) -> anyhow::Result<Definition> {
    let text = fs::read_to_string(file)
        .with_context(|| format!("cannot read the definition file {}", file.display()))?;
    Definition::from_toml(&text).with_context(|| format!("in {}", file.display()))
}

fn print_election(
    e: &Election,
    counts: &std::collections::BTreeMap<String, election::LocalCounts>,
    signer: &LogKey,
) {
    let d = &e.definition;
    println!("{}", d.title);
    println!("  id:         {}", e.id);
    println!("  state:      {}", e.state);
    println!("  public url: {}", e.public_url);
    println!("  log origin: {}", e.origin);
    println!(
        "  key fingerprint: {}",
        crate::log::note::fingerprint(&signer.public_key())
    );
    println!("  question:   {}", d.question);
    let choices: Vec<_> = d.choices.iter().map(|c| c.as_str()).collect();
    println!("  choices:    {}", choices.join(", "));
    println!("  rule:       {}", d.rule.as_str());
    println!("  threshold:  {}", d.threshold);
    if let Some(f) = &d.local_threshold {
        println!("  local threshold: {}", f);
    }
    if let Some(f) = &d.quorum {
        println!("  quorum:     {}", f);
    }
    println!(
        "  window:     {} → {}",
        election::definition::format_time(&d.opens_at),
        election::definition::format_time(&d.closes_at)
    );
    println!(
        "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9}  name",
        "local", "delegates", "eligible", "live", "used", "revoked"
    );
    let mut total = election::LocalCounts::default();
    for l in &d.locals {
        let c = counts.get(l.code.as_str()).cloned().unwrap_or_default();
        println!(
            "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
            l.code, l.delegates, c.eligible, c.tokens_live, c.tokens_used, c.tokens_revoked, l.name
        );
        total.eligible += c.eligible;
        total.tokens_live += c.tokens_live;
        total.tokens_used += c.tokens_used;
        total.tokens_revoked += c.tokens_revoked;
    }
    let delegates: u64 = d.locals.iter().map(|l| u64::from(l.delegates)).sum();
    println!(
        "  {:<12} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "total",
        delegates,
        total.eligible,
        total.tokens_live,
        total.tokens_used,
        total.tokens_revoked
    );
}
