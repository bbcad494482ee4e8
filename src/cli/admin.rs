//! `strikevote admin …` (accounts and API tokens) and `strikevote key show`.

use std::io::IsTerminal;

use anyhow::bail;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;

use super::{connect, signer};
use crate::account;
use crate::election::{self, ElectionId};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub(super) enum AdminCommand {
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
    /// Disable an account: it cannot sign in, its sessions end, its API tokens stop working.
    Disable {
        /// The account.
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled account again.
    Enable {
        /// The account.
        #[arg(long)]
        username: String,
    },
    /// Create an API token for scripts (printed once) or revoke one.
    #[command(subcommand)]
    Token(ApiTokenCommand),
}

#[derive(Debug, Subcommand)]
pub(super) enum ApiTokenCommand {
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
pub(super) enum KeyCommand {
    /// Print the public key (base64), or with --election that election's verifier key.
    Show {
        /// Print this election's verifier key (name+keyid+base64).
        #[arg(long)]
        election: Option<String>,
    },
}

/// Runs one `admin` command.
pub(super) fn run(command: AdminCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create { username, role } => {
            let role = account::Role::parse(&role)?;
            account::check_username(&username)?;
            let password = read_password()?;
            let mut conn = connect(settings)?;
            let (actor, signer) = console(settings, &mut conn)?;
            let acting = console_acting(&actor, signer.as_ref());
            let created = account::create(&mut conn, (&username, &password, role), acting)?;
            println!("created {} account `{}`", created.role, created.username);
            Ok(())
        }
        AdminCommand::List => {
            let mut conn = connect(settings)?;
            for a in account::list(&mut conn)? {
                let state = if a.disabled { " (disabled)" } else { "" };
                println!("{:<32} {}{state}", a.account.username, a.account.role);
            }
            Ok(())
        }
        AdminCommand::Disable { username } => set_disabled(settings, &username, true),
        AdminCommand::Enable { username } => set_disabled(settings, &username, false),
        AdminCommand::Token(ApiTokenCommand::Create { username, name }) => {
            let mut conn = connect(settings)?;
            let (actor, signer) = console(settings, &mut conn)?;
            let acting = console_acting(&actor, signer.as_ref());
            let token = account::create_api_token(&mut conn, (&username, &name), acting)?;
            println!("{token}");
            eprintln!(
                "This is the only time the token is shown. Send it as `Authorization: Bearer <token>`."
            );
            Ok(())
        }
        AdminCommand::Token(ApiTokenCommand::Revoke { username, name }) => {
            let mut conn = connect(settings)?;
            let (actor, signer) = console(settings, &mut conn)?;
            let acting = console_acting(&actor, signer.as_ref());
            account::revoke_api_token(&mut conn, (&username, &name), acting)?;
            println!("revoked `{name}` of `{username}`");
            Ok(())
        }
    }
}

/// The console's name, and the signing key when an election is running (its log records
/// account changes; with none running, no key is opened or created).
fn console(
    settings: &Settings,
    conn: &mut crate::db::DbConnection,
) -> anyhow::Result<(String, Option<crate::log::LogKey>)> {
    let signer = if account::changes::running(conn)?.is_empty() {
        None
    } else {
        Some(super::signer(settings)?)
    };
    Ok((super::cli_actor(), signer))
}

fn console_acting<'a>(
    actor: &'a str,
    signer: Option<&'a crate::log::LogKey>,
) -> account::Acting<'a> {
    account::Acting {
        who: crate::election::approval::Who::Operator(actor),
        signer,
    }
}

/// Runs `admin disable` or `admin enable`.
fn set_disabled(settings: &Settings, username: &str, disable: bool) -> anyhow::Result<()> {
    let mut conn = connect(settings)?;
    let (actor, signer) = console(settings, &mut conn)?;
    let acting = console_acting(&actor, signer.as_ref());
    account::set_disabled(&mut conn, username, disable, acting)?;
    let done = if disable {
        "disabled (its sessions ended, its API tokens stopped working)"
    } else {
        "enabled"
    };
    println!("`{username}` {done}");
    Ok(())
}

/// Runs `key show`.
pub(super) fn run_key(command: KeyCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        KeyCommand::Show { election } => {
            let signer = signer(settings)?;
            match election {
                None => println!("{}", B64.encode(signer.public_key())),
                Some(id) => {
                    let id = ElectionId::parse(&id)?;
                    let mut conn = connect(settings)?;
                    let election = election::find(&mut conn, id)?;
                    println!("{}", signer.verifier(&election.origin));
                }
            }
            Ok(())
        }
    }
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
