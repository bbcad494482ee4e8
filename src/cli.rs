//! The command line: `serve`, `migrate`, `election`, `roster`, `tokens`.
//!
//! Every command prints a plain message and exits non-zero on failure; none panics on bad input.

use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::account;
use crate::audit;
use crate::db::{self, PooledConn};
use crate::election::{self, Definition, Election, ElectionId};
use crate::error::Error;
use crate::log::{LogKey, key};
use crate::roster;
use crate::settings::{Overrides, Settings};
use crate::startup::Application;
use crate::tally;
use crate::token::store::{self as token_store, IssuedToken};

/// strikevote: a union's strike authorization vote, from roster to verifiable result.
#[derive(Debug, Parser)]
#[command(name = "strikevote", version, about)]
pub struct Cli {
    /// Settings file (TOML); environment variables STRIKEVOTE_* override it.
    #[arg(long, global = true, env = "STRIKEVOTE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database: sqlite://FILE (default sqlite://strikevote.db) or postgres://USER@HOST/DB.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// The address members and auditors reach, e.g. https://vote.example.org (fixed into each
    /// new election's ballot links and log origin).
    #[arg(long, global = true, value_name = "URL")]
    public_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web service.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
        /// Seed a sample election (four locals, 300 members, delegate rule), open it and
        /// print ballot links to try.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the settings in force (file, environment and flags applied; password hidden).
    Settings,
    /// Write a consistent copy of the running SQLite database (for PostgreSQL, print the
    /// pg_dump command). Back up the signing key and its `.heads` directory separately.
    Backup {
        /// The copy to write (must not exist yet; created mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Define and inspect elections.
    #[command(subcommand)]
    Election(ElectionCommand),
    /// Import the roster of eligible members.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Issue ballot tokens for mailing.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Ballots cast per local during the vote (never choices).
    Turnout {
        /// Election id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The results, per local and overall; refused until the vote closes.
    Results {
        /// Election id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Officials' accounts and API tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The log signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Export and verify audit bundles.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an account; asks for the password (or reads one line from standard input).
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// admin, observer or auditor.
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// List accounts.
    List,
    /// Create an API token for scripts (printed once) or revoke one.
    #[command(subcommand)]
    Token(ApiTokenCommand),
}

#[derive(Debug, Subcommand)]
enum ApiTokenCommand {
    /// Create a token; it is printed once and stored only hashed.
    Create {
        /// The account it acts as.
        #[arg(long)]
        username: String,
        /// A name to recognise it by.
        #[arg(long)]
        name: String,
    },
    /// Revoke a token.
    Revoke {
        /// The account.
        #[arg(long)]
        username: String,
        /// The token's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print the public key (base64), or with --election that election's verifier key.
    Show {
        /// Print this election's verifier key (name+keyid+base64).
        #[arg(long)]
        election: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Write an election's bundle (log.jsonl, checkpoint, key.vkey) into a directory.
    Export {
        /// Election id.
        #[arg(long)]
        election: String,
        /// The directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a bundle offline against a key you obtained elsewhere (the fingerprint on the
    /// ballot notice or certificate, or the published verifier key); needs no database.
    /// Exits non-zero on the first failure.
    Verify {
        /// The bundle directory.
        dir: PathBuf,
        /// The key to trust: a verifier key (`ORIGIN+KEYID+KEY`), a file holding one, or the
        /// key fingerprint printed on notices (then --origin is needed too).
        #[arg(long, value_name = "KEY_OR_FINGERPRINT")]
        key: Option<String>,
        /// The log origin (`HOST/elections/UUID`), printed beside the fingerprint.
        #[arg(long)]
        origin: Option<String>,
        /// Trust the key shipped inside the bundle (checks only that the bundle agrees with
        /// itself: anyone who altered it could have re-signed it).
        #[arg(long, conflicts_with = "key")]
        trust_bundle_key: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ElectionCommand {
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
    /// Certify a closed vote: recounts the log and appends the `result` entry.
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

#[derive(Debug, Subcommand)]
enum RosterCommand {
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
enum TokensCommand {
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

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let overrides = Overrides {
        database_url: cli.database_url.clone(),
        bind: match &cli.command {
            Command::Serve { bind, .. } => bind.clone(),
            _ => None,
        },
        public_url: cli.public_url.clone(),
    };
    let result = Settings::load(cli.config.as_deref(), &overrides).and_then(|settings| {
        init_tracing(&settings, serving);
        dispatch(cli.command, settings)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(settings: &Settings, serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (only possible in tests) is harmless, so its error is ignored.
    let _ = if settings.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn dispatch(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo, .. } => serve(settings, demo),
        Command::Migrate => {
            let url = settings.database()?;
            let ran = db::migrate(&url)?;
            println!("{url}: {ran} migration(s) applied");
            Ok(())
        }
        Command::Settings => {
            println!("{}", serde_json::to_string_pretty(&settings.redacted())?);
            Ok(())
        }
        Command::Backup { out } => {
            let url = settings.database()?;
            match db::backup(&url, &out)? {
                db::Backup::Written => {
                    println!("wrote a consistent copy of {url} to {}", out.display())
                }
                db::Backup::UsePgDump(command) => {
                    println!("PostgreSQL is backed up with its own tools; run:\n  {command}");
                }
            }
            eprintln!(
                "Back up the signing key ({}) and its heads directory ({}) too, separately.",
                settings.signing_key_path.display(),
                crate::log::heads::dir_for_key(&settings.signing_key_path).display()
            );
            Ok(())
        }
        Command::Election(ElectionCommand::Check { file }) => {
            let definition = read_definition(&file)?;
            println!(
                "{}: valid ({} locals, rule {})",
                file.display(),
                definition.locals.len(),
                definition.rule.as_str()
            );
            Ok(())
        }
        Command::Election(ElectionCommand::Create { file, json }) => {
            let definition = read_definition(&file)?;
            let public_url = settings.require_public_url("create an election")?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let id = election::create(&mut conn, &definition, &public_url, &signer, &cli_actor())?;
            let origin = election::origin(&public_url, id);
            let fingerprint = crate::log::note::fingerprint(&signer.public_key());
            if json {
                println!(
                    "{}",
                    json!({ "id": id, "title": definition.title, "origin": origin,
                            "key_fingerprint": fingerprint })
                );
            } else {
                println!("{id}");
                eprintln!("log origin:      {origin}");
                eprintln!("key fingerprint: {fingerprint}");
                eprintln!(
                    "(print both on the ballot notices: auditors check the log against them)"
                );
            }
            Ok(())
        }
        Command::Election(ElectionCommand::List { json }) => {
            let mut conn = connect(&settings)?;
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
                println!(
                    "no elections yet: create one with `strikevote election create --file FILE`"
                );
            } else {
                for e in &all {
                    println!("{}  {:<9}  {}", e.id, e.state.as_str(), e.definition.title);
                }
            }
            Ok(())
        }
        Command::Election(ElectionCommand::Show { id, json }) => {
            let id = ElectionId::parse(&id)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let election = election::find(&mut conn, id)?;
            let counts = election::local_counts(&mut conn, &election)?;
            if json {
                let value = crate::api::admin::election_json(&election, &counts, &signer);
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_election(&election, &counts, &signer);
            }
            Ok(())
        }
        Command::Election(ElectionCommand::Open { id }) => {
            let id = ElectionId::parse(&id)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let checkpoint = election::open(&mut conn, id, &signer, &cli_actor())?;
            println!("election {id} is open (log size {})", checkpoint.size);
            Ok(())
        }
        Command::Election(ElectionCommand::Close { id }) => {
            let id = ElectionId::parse(&id)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let checkpoint = election::close(&mut conn, id, &signer, &cli_actor())?;
            println!("election {id} is closed (log size {})", checkpoint.size);
            Ok(())
        }
        Command::Election(ElectionCommand::Certify { id }) => {
            let id = ElectionId::parse(&id)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let (results, checkpoint) =
                election::count::certify(&mut conn, id, &signer, &cli_actor())?;
            println!(
                "election {id} is certified: {} (result entry {} of the log)",
                if results.passed { "PASSED" } else { "FAILED" },
                checkpoint.size - 1
            );
            Ok(())
        }
        Command::Turnout { id, json } => {
            let id = ElectionId::parse(&id)?;
            let mut conn = connect(&settings)?;
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
        Command::Results { id, json } => {
            let id = ElectionId::parse(&id)?;
            let mut conn = connect(&settings)?;
            let results = election::count::results(&mut conn, id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                print_results(&results);
            }
            Ok(())
        }
        Command::Admin(AdminCommand::Create { username, role }) => {
            let role = account::Role::parse(&role)?;
            account::check_username(&username)?;
            let password = read_password()?;
            let mut conn = connect(&settings)?;
            let created = account::create(&mut conn, &username, &password, role)?;
            println!("created {} account `{}`", created.role, created.username);
            Ok(())
        }
        Command::Admin(AdminCommand::List) => {
            let mut conn = connect(&settings)?;
            for a in account::list(&mut conn)? {
                println!("{:<32} {}", a.username, a.role);
            }
            Ok(())
        }
        Command::Admin(AdminCommand::Token(ApiTokenCommand::Create { username, name })) => {
            let mut conn = connect(&settings)?;
            let token = account::create_api_token(&mut conn, &username, &name)?;
            println!("{token}");
            eprintln!(
                "This is the only time the token is shown. Send it as `Authorization: Bearer <token>`."
            );
            Ok(())
        }
        Command::Admin(AdminCommand::Token(ApiTokenCommand::Revoke { username, name })) => {
            let mut conn = connect(&settings)?;
            account::revoke_api_token(&mut conn, &username, &name)?;
            println!("revoked `{name}` of `{username}`");
            Ok(())
        }
        Command::Key(KeyCommand::Show { election }) => {
            let signer = signer(&settings)?;
            match election {
                None => println!("{}", B64.encode(signer.public_key())),
                Some(id) => {
                    let id = ElectionId::parse(&id)?;
                    let mut conn = connect(&settings)?;
                    let election = election::find(&mut conn, id)?;
                    println!("{}", signer.verifier(&election.origin));
                }
            }
            Ok(())
        }
        Command::Audit(AuditCommand::Export { election, out }) => {
            let id = ElectionId::parse(&election)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let exported = audit::export(&mut conn, id, &signer, &out)?;
            println!(
                "wrote {} entries to {} (log.jsonl, checkpoint, key.vkey)",
                exported.entries,
                out.display()
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify {
            dir,
            key,
            origin,
            trust_bundle_key,
        }) => {
            let trust = match (key, trust_bundle_key) {
                (Some(key), _) => audit::TrustAnchor::parse(&key, origin.as_deref())
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                (None, true) => {
                    eprintln!(
                        "WARNING: trusting the key inside the bundle. This only shows the bundle \
                         agrees with itself: whoever changed the log could have signed it with a \
                         new key. Verify with --key (the fingerprint from the ballot notice or \
                         certificate) to know it is the election's log."
                    );
                    audit::TrustAnchor::BundleKey
                }
                (None, false) => bail!(
                    "say which key to trust: --key KEY_OR_FINGERPRINT (the fingerprint printed on \
                     the ballot notice and the certificate, with --origin), or --trust-bundle-key \
                     to check only that the bundle agrees with itself"
                ),
            };
            let report = audit::verify_dir(&dir, &trust)
                .map_err(|e| anyhow::anyhow!("verification failed: {e}"))?;
            print!("{report}");
            println!("OK: signature, root and entry rules verified");
            Ok(())
        }
        Command::Roster(RosterCommand::Import { election, file }) => {
            let id = ElectionId::parse(&election)?;
            let bytes =
                fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
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
            Ok(())
        }
        Command::Tokens(TokensCommand::Issue { election, out }) => {
            let id = ElectionId::parse(&election)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            issue_tokens(&mut conn, id, &signer, &out)
        }
        Command::Tokens(TokensCommand::Reissue { election, member }) => {
            let id = ElectionId::parse(&election)?;
            let signer = signer(&settings)?;
            let mut conn = connect(&settings)?;
            let issued = token_store::reissue(&mut conn, id, &member, &signer, &cli_actor())?;
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

fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind.clone();
        let database = settings.database()?;
        let app = Application::build(settings)?;
        tracing::info!(%database, "database ready");
        if demo {
            let signer = app.state().signer.clone();
            let mut conn = app.state().pool.get().map_err(Error::from)?;
            let (id, sample) = crate::demo::seed(&mut conn, &app.state().public_url, &signer)?;
            println!("demo election {id} is open; try these ballot links:");
            for t in &sample {
                println!("  local {:<4} {}", t.local, t.ballot_url);
            }
            println!("turnout: strikevote turnout {id}   close: strikevote election close {id}");
        }
        let has_admin = db::connect(&database, 1)
            .ok()
            .and_then(|pool| pool.get().ok())
            .and_then(|mut conn| account::any_admin(&mut conn).ok());
        if has_admin == Some(false) {
            eprintln!(
                "No admin account yet. Create one with:\n  strikevote admin create --username NAME --database-url {database}"
            );
        }
        let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        println!(
            "strikevote listening on http://{host}:{} (database {database}); Ctrl-C or SIGTERM stops it",
            app.port()
        );
        app.run_until_stopped().await?;
        println!("strikevote stopped; the database is closed and checkpointed");
        Ok(())
    })
}

/// A new password: asked twice without echo on a terminal, else one line of standard input.
fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password (12 characters or more): ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    account::check_password(&password)?;
    Ok(password)
}

/// Who the log names for a CLI action: `cli:` and the operating-system user.
fn cli_actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    format!("cli:{user}")
}

fn signer(settings: &Settings) -> anyhow::Result<LogKey> {
    Ok(key::load_or_create(&settings.signing_key_path)?)
}

fn connect(settings: &Settings) -> anyhow::Result<PooledConn> {
    let url = settings.database()?;
    let pool = db::connect(&url, 1)?;
    Ok(pool.get().map_err(Error::from)?)
}

fn read_definition(file: &Path) -> anyhow::Result<Definition> {
    let text = fs::read_to_string(file)
        .with_context(|| format!("cannot read the definition file {}", file.display()))?;
    Definition::from_toml(&text).with_context(|| format!("in {}", file.display()))
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
    if out.exists() {
        bail!(
            "refusing to overwrite {}: it may hold tokens already mailed; choose another --out",
            out.display()
        );
    }
    let partial = out.with_extension("csv.partial");
    let result = token_store::issue_missing(conn, id, signer, &cli_actor(), &mut |issued| {
        write_token_csv(&partial, issued)
            .map_err(|e| Error::Internal(format!("cannot write {}: {e:#}", partial.display())))
    });
    match result {
        Ok(0) => {
            let _ = fs::remove_file(&partial);
            println!("every member already has a token; nothing issued");
            Ok(())
        }
        Ok(n) => {
            fs::rename(&partial, out).with_context(|| {
                format!(
                    "tokens were issued but {} could not be renamed to {}",
                    partial.display(),
                    out.display()
                )
            })?;
            println!("issued {n} token(s) to {}", out.display());
            eprintln!(
                "The file (mode 0600) is the only copy of these tokens: mail them, then delete it."
            );
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e.into())
        }
    }
}

fn write_token_csv(path: &Path, issued: &[IssuedToken]) -> anyhow::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&token_store::mailing_csv(issued)?)?;
    file.sync_all()?;
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
