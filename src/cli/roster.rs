//! `strikevote roster import` and `strikevote tokens …`.

use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{cli_actor, connect, signer};
use crate::db::PooledConn;
use crate::election::ElectionId;
use crate::error::Error;
use crate::log::LogKey;
use crate::roster;
use crate::settings::Settings;
use crate::token::store as token_store;

#[derive(Debug, Subcommand)]
pub(super) enum RosterCommand {
    /// Replace an election's roster with a CSV file (member_id,local,name,email).
    Import {
        /// Election id.
        #[arg(long)]
        election: String,
        /// The roster CSV.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum TokensCommand {
    /// Issue a token to every member without one; writes the mailing CSV (mode 0600).
    Issue {
        /// Election id.
        #[arg(long)]
        election: String,
        /// Where to write the CSV; must not exist yet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a member's token and print a new one.
    Reissue {
        /// Election id.
        #[arg(long)]
        election: String,
        /// The member's id on the roster.
        #[arg(long)]
        member: String,
    },
}

/// Runs `roster import`.
pub(super) fn run_roster(command: RosterCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        RosterCommand::Import { election, file } => {
            let id = ElectionId::parse(&election)?;
            let bytes =
                fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            let bar = progress_bar();
            let summary = roster::import(
                &mut conn,
                id,
                &bytes,
                &signer,
                &cli_actor(),
                None,
                &|done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                },
            );
            bar.finish_and_clear();
            let summary = summary?;
            println!(
                "roster imported: {} members ({} added, {} updated, {} removed)",
                summary.members, summary.added, summary.updated, summary.removed
            );
            let definition = crate::election::find(&mut conn, id)?.definition;
            let turnout = crate::election::count::turnout(&mut conn, id)?;
            let eligible = turnout
                .locals
                .iter()
                .map(|(code, l)| (code.clone(), l.eligible))
                .collect();
            let none = Default::default();
            for warning in crate::tally::units::warnings(&definition, &eligible, &none) {
                eprintln!("warning: {warning}");
            }
            Ok(())
        }
    }
}

/// Runs one `tokens` command.
pub(super) fn run_tokens(command: TokensCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        TokensCommand::Issue { election, out } => {
            let id = ElectionId::parse(&election)?;
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            issue_tokens(&mut conn, id, &signer, &out)
        }
        TokensCommand::Reissue { election, member } => {
            let id = ElectionId::parse(&election)?;
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            let actor = cli_actor();
            let who = crate::election::approval::Who::Operator(&actor);
            let issued = token_store::reissue(&mut conn, id, &member, &signer, who)?;
            println!("member:     {}", issued.member_id);
            println!("local:      {}", issued.local);
            println!("token:      {}", issued.token.expose());
            println!("ballot url: {}", issued.ballot_url);
            eprintln!(
                "The member's previous token is revoked. This is the only time the new token is shown."
            );
            Ok(())
        }
    }
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} members {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// Writes the mailing CSV next to `out`, commits the tokens, then moves the CSV into place, so
/// a failure on either side leaves neither live tokens nobody has nor a CSV of dead ones.
fn issue_tokens(
    conn: &mut PooledConn,
    id: ElectionId,
    signer: &LogKey,
    out: &Path,
) -> anyhow::Result<()> {
    let issued = issue_into_file(out, &mut |write| {
        token_store::issue_missing(conn, id, signer, &cli_actor(), &mut |issued| {
            write(&token_store::mailing_csv(issued, signer)?)
        })
    })?;
    match issued {
        0 => println!("every member already has a token; nothing issued"),
        n => println!("issued {n} token(s) to {}", out.display()),
    }
    Ok(())
}

/// Where an issuance hands the file's bytes, before its tokens commit.
pub(super) type Writer<'a> = dyn FnMut(&[u8]) -> crate::error::Result<()> + 'a;
/// An issuance: given a [`Writer`], issues and returns how many tokens.
pub(super) type Issuing<'a> = dyn FnMut(&mut Writer<'_>) -> crate::error::Result<usize> + 'a;

/// Runs `issue` (which hands what it issued, as the file's bytes, to the writer it is given
/// before its tokens commit): the bytes go to a private file (mode 0600) beside `out`, moved
/// into place once the tokens are committed — a failure on either side leaves neither live
/// tokens nobody has nor a file of dead ones. Returns how many tokens were issued (0: no file).
pub(super) fn issue_into_file(out: &Path, issue: &mut Issuing<'_>) -> anyhow::Result<usize> {
    if out.exists() {
        bail!(
            "refusing to overwrite {}: it may hold tokens already mailed; choose another --out",
            out.display()
        );
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let result = issue(&mut |bytes| {
        write_private(&partial, bytes)
            .map_err(|e| Error::Internal(format!("cannot write {}: {e:#}", partial.display())))
    });
    match result {
        Ok(0) => {
            let _ = fs::remove_file(&partial);
            Ok(0)
        }
        Ok(n) => {
            fs::rename(&partial, out).with_context(|| {
                format!(
                    "tokens were issued but {} could not be renamed to {}",
                    partial.display(),
                    out.display()
                )
            })?;
            eprintln!(
                "The file (mode 0600) is the only copy of these tokens: mail them, then delete it."
            );
            Ok(n)
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e.into())
        }
    }
}

/// Writes `bytes` to a new file only its owner can read (mode 0600), synced.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
