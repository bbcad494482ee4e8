//! `strikevote notices`: send members their ballots or the result by email, and follow the
//! outbox. The server's sender sends; this command queues and watches.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::connect;
use crate::election::ElectionId;
use crate::notices::outbox::{self, Kind, State};
use crate::settings::Settings;

/// The outbox's commands.
#[derive(Debug, Subcommand)]
pub(super) enum NoticesCommand {
    /// Queue a message for every member who should get it and has an email address: `ballot`
    /// (each member's ballot link, made as it is sent) or `result` (after certification). A
    /// running server (`strikevote serve` with smtp_url set) sends them.
    Send {
        /// Election id.
        #[arg(long)]
        election: String,
        /// `ballot` or `result`.
        #[arg(long, default_value = "ballot")]
        kind: String,
        /// Wait, with a progress bar, until every message queued is sent or has failed.
        #[arg(long)]
        wait: bool,
    },
    /// Print letters by post: a ballot link for every member who needs a letter (no email
    /// address, or their ballot or reminder email bounced or failed) and has none, written as
    /// one PDF, one page each (mode 0600, the only copy of those links), for the mail house.
    Letters {
        /// Election id.
        #[arg(long)]
        election: String,
        /// Where to write the PDF (must not exist).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Only this local's members (a file per local for the mail house, and a smaller one
        /// to build); every local when left out.
        #[arg(long)]
        local: Option<String>,
    },
    /// Read delivery status notifications (bounces that arrived later by mail, RFC 3464: each
    /// FILE one message as received, e.g. saved from the From mailbox): each marks the message
    /// it names as bounced, so that its member gets a letter. A report that names no message
    /// of this election, or another recipient, is refused and changes nothing.
    Bounces {
        /// Election id.
        #[arg(long)]
        election: String,
        /// The reports, one message per file.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// How many messages are queued, sent, failed and skipped, and whose failed (they need a
    /// letter). Never who voted.
    Status {
        /// Election id.
        #[arg(long)]
        election: String,
    },
}

pub(super) fn run(command: NoticesCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        NoticesCommand::Send {
            election,
            kind,
            wait,
        } => {
            let id = ElectionId::parse(&election)?;
            let kind = crate::api::notices::kind_named(&kind)?;
            if settings.mail()?.is_none() {
                anyhow::bail!(
                    "no SMTP server is configured (smtp_url and mail_from, docs/OPERATIONS.md \
                     \"Email\"): nothing can be sent by email"
                );
            }
            let mut conn = connect(settings)?;
            let q = outbox::queue(&mut conn, id, kind, 0)?;
            println!(
                "{} {kind} message(s) queued; {} member(s) have no email address (they need a \
                 letter); {} already had it queued",
                q.queued, q.without_email, q.already
            );
            if q.holding_token > 0 {
                println!(
                    "{} member(s) left out: the vote is open and they hold a working link from the \
                     mailing file (replacing it is a reissue, which needs a second admin)",
                    q.holding_token
                );
            }
            if wait {
                watch(&mut conn, id, kind)?;
            }
            Ok(())
        }
        NoticesCommand::Letters {
            election,
            out,
            local,
        } => letters(settings, &election, &out, local.as_deref()),
        NoticesCommand::Bounces { election, files } => bounces(settings, &election, &files),
        NoticesCommand::Status { election } => {
            let id = ElectionId::parse(&election)?;
            let mut conn = connect(settings)?;
            crate::election::find(&mut conn, id)?;
            let progress = outbox::progress(&mut conn, id)?;
            for kind in Kind::ALL {
                if progress.total(*kind) == 0 {
                    continue;
                }
                let counts: Vec<String> = State::ALL
                    .iter()
                    .map(|s| format!("{} {s}", progress.of(*kind, *s)))
                    .collect();
                println!("{kind:<9} {}", counts.join(", "));
            }
            let failed = outbox::failed_members(&mut conn, id, Kind::Ballot)?;
            if !failed.is_empty() {
                println!("ballot notices that bounced or failed (send these members a letter):");
                for member in failed {
                    println!("  {member}");
                }
            }
            Ok(())
        }
    }
}

/// `notices bounces`: each report read and recorded on its own; a report refused is named
/// and the others still count. Fails when any was refused.
fn bounces(
    settings: &Settings,
    election: &str,
    files: &[std::path::PathBuf],
) -> anyhow::Result<()> {
    use crate::notices::bounces;
    let id = ElectionId::parse(election)?;
    let mut conn = connect(settings)?;
    crate::election::find(&mut conn, id)?;
    let (mut total, mut refused) = (bounces::Recorded::default(), Vec::new());
    for file in files {
        let done = std::fs::read(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
            .and_then(|raw| Ok(bounces::parse(&raw)?))
            .and_then(|report| Ok(bounces::record(&mut conn, id, &report)?));
        match done {
            Ok(r) => {
                total.bounced += r.bounced;
                total.already += r.already;
                total.not_failed += r.not_failed;
            }
            Err(e) => refused.push(format!("{}: {e}", file.display())),
        }
    }
    println!(
        "{} message(s) marked bounced (their members need a letter: notices letters), {} already \
         were, {} recipient(s) reported delayed or delivered; {} report(s) refused",
        total.bounced,
        total.already,
        total.not_failed,
        refused.len()
    );
    if !refused.is_empty() {
        anyhow::bail!(
            "{} of {} report(s) refused, nothing changed for them:\n{}",
            refused.len(),
            files.len(),
            refused.join("\n")
        );
    }
    Ok(())
}

/// `notices letters`: the letters' PDF written once to `out`, of one local or all.
fn letters(
    settings: &Settings,
    election: &str,
    out: &std::path::Path,
    local: Option<&str>,
) -> anyhow::Result<()> {
    let id = ElectionId::parse(election)?;
    let mut conn = connect(settings)?;
    let signer = super::signer(settings)?;
    let head = crate::notices::letters::Letterhead::of(settings, &signer);
    let actor = super::cli_actor();
    let n = super::roster::issue_into_file(out, &mut |write| {
        let who = crate::election::approval::Who::Operator(&actor);
        crate::notices::letters::issue_into(&mut conn, id, (&signer, who), (&head, local), write)
    })?;
    match n {
        0 => println!(
            "nobody needs a letter: every member without an email address holds a ballot \
             link and no email failed; nothing issued"
        ),
        n => println!("{n} letter(s) written to {}", out.display()),
    }
    Ok(())
}

/// A progress bar until no `kind` message is queued or being sent.
fn watch(conn: &mut crate::db::PooledConn, id: ElectionId, kind: Kind) -> anyhow::Result<()> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} messages {msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    loop {
        let p = outbox::progress(conn, id)?;
        let total = p.total(kind);
        bar.set_length(total);
        bar.set_position(total - p.pending(kind));
        let undelivered = p.of(kind, State::Bounced) + p.of(kind, State::Failed);
        bar.set_message(format!("({undelivered} bounced or failed)"));
        if p.pending(kind) == 0 {
            bar.finish();
            println!(
                "{} sent, {} bounced, {} failed, {} skipped (voted, or the vote closed first)",
                p.of(kind, State::Sent),
                p.of(kind, State::Bounced),
                p.of(kind, State::Failed),
                p.of(kind, State::Skipped)
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
