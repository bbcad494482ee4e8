//! The command line: `serve`, `migrate`, `settings`, `backup`, `election`, `roster`, `tokens`,
//! `turnout`, `results`, `admin`, `key`, `audit` — one module per group of commands.
//!
//! Every command prints a plain message and exits non-zero on failure; none panics on bad input.

mod admin;
mod audit;
mod election;
mod notices;
mod ops;
mod results;
mod roster;
mod teller;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::db::{self, PooledConn};
use crate::error::Error;
use crate::log::LogKey;
use crate::settings::{Overrides, Settings};

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
    Election(election::ElectionCommand),
    /// Import the roster of eligible members.
    #[command(subcommand)]
    Roster(roster::RosterCommand),
    /// Issue ballot tokens for mailing.
    #[command(subcommand)]
    Tokens(roster::TokensCommand),
    /// Send members their ballots or the result by email, and follow the outbox.
    #[command(subcommand)]
    Notices(notices::NoticesCommand),
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
    Admin(admin::AdminCommand),
    /// The log signing key.
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Export and verify audit bundles.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// A teller's part: the key ceremony before the vote.
    #[command(subcommand)]
    Teller(teller::TellerCommand),
    /// Run a witness for election logs (as the `strikevote-witness` binary does): it cosigns a
    /// checkpoint only when it extends the last one it cosigned. Needs no database.
    Witness(strikevote_witness::cli::WitnessArgs),
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    strikevote_witness::no_core_dumps();
    let serving = matches!(cli.command, Command::Serve { .. });
    if !serving {
        quiet_on_closed_output();
    }
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

/// Rust ignores SIGPIPE, so printing into a closed pipe (`strikevote election list | head -1`)
/// would panic ("failed printing to stdout"). A command ends the way other command-line tools
/// do instead: quietly, by the signal. The server keeps ignoring it (its sockets and database
/// connections report a closed peer as an error on their own).
fn quiet_on_closed_output() {
    #[cfg(unix)]
    // SAFETY: called once, before any thread is started, to restore the signal's default
    // action; no handler of ours is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
        Command::Serve { demo, .. } => ops::serve(settings, demo),
        Command::Migrate => ops::migrate(&settings),
        Command::Settings => ops::show_settings(&settings),
        Command::Backup { out } => ops::backup(&settings, &out),
        Command::Election(c) => election::run(c, &settings),
        Command::Roster(c) => roster::run_roster(c, &settings),
        Command::Tokens(c) => roster::run_tokens(c, &settings),
        Command::Notices(c) => notices::run(c, &settings),
        Command::Turnout { id, json } => results::turnout(&settings, &id, json),
        Command::Results { id, json } => results::results(&settings, &id, json),
        Command::Admin(c) => admin::run(c, &settings),
        Command::Key(c) => admin::run_key(c, &settings),
        Command::Audit(c) => audit::run(c, &settings),
        Command::Teller(c) => teller::run(c, &settings),
        Command::Witness(args) => strikevote_witness::cli::run(args).map_err(anyhow::Error::msg),
    }
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

/// The election key for the settings' database: never a new one beside a database that
/// already holds elections, and only the one that signed them
/// ([`crate::log::store::signing_key`]).
fn signer(settings: &Settings) -> anyhow::Result<LogKey> {
    let mut conn = connect(settings)?;
    Ok(crate::log::signing::signing_key(
        &mut conn,
        &settings.signing_key_path,
        settings.heads_dir.as_deref(),
    )?)
}

fn connect(settings: &Settings) -> anyhow::Result<PooledConn> {
    let url = settings.database()?;
    let pool = db::connect(&url, 1)?;
    Ok(pool.get().map_err(Error::from)?)
}
