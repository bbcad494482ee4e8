//! The witness's command line, shared by `strikevote-witness` and `strikevote witness`.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{App, HttpServer};
use clap::{Args, Subcommand};

use crate::{Dir, LogConfig, Witness, server, store};

/// `--dir` and a command.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness's directory: its key, its configuration and its state.
    #[arg(
        long,
        env = "STRIKEVOTE_WITNESS_DIR",
        default_value = "strikevote-witness"
    )]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Makes a new witness: a fresh key and an empty list of logs; prints its verifier key.
    Init {
        /// Its name, on every cosignature: a schema-less URL such as witness.caucus.example.org.
        #[arg(long)]
        name: String,
    },
    /// Witnesses a service's election logs: every origin starting with the prefix, signed by the key.
    AddLog {
        /// The origins' beginning, e.g. vote.example.org/elections/ (the service's public host).
        #[arg(long)]
        origin_prefix: String,
        /// The service's log key: a verifier key from an election's audit page, or 32 bytes of base64.
        #[arg(long)]
        log_key: String,
    },
    /// Prints the verifier key, the logs witnessed, the checkpoints held and the forks refused.
    Show,
    /// Serves the tlog-witness protocol.
    Serve {
        /// Address to listen on.
        #[arg(
            long,
            env = "STRIKEVOTE_WITNESS_BIND",
            default_value = "127.0.0.1:7380"
        )]
        bind: String,
    },
}

/// Runs a witness command; the error is a message for the person at the terminal.
pub fn run(cli: WitnessArgs) -> Result<(), String> {
    let dir = Dir::at(&cli.dir);
    match cli.command {
        Command::Init { name } => {
            let verifier = dir.init(&name).map_err(|e| e.to_string())?;
            println!("witness created in {}", cli.dir.display());
            println!("its verifier key (give it to the officials who list this witness):");
            println!("{verifier}");
            Ok(())
        }
        Command::AddLog {
            origin_prefix,
            log_key,
        } => {
            let public_key = store::parse_log_key(&log_key)?;
            let _lock = dir.lock().map_err(|e| e.to_string())?;
            let mut config = dir.config().map_err(|e| e.to_string())?;
            let log = LogConfig {
                origin_prefix,
                public_key,
            };
            if config.logs.contains(&log) {
                return Err("this witness already witnesses that log".into());
            }
            config.logs.push(log);
            dir.write_config(&config).map_err(|e| e.to_string())?;
            println!("now witnessing {} log(s)", config.logs.len());
            Ok(())
        }
        Command::Show => show(&dir),
        Command::Serve { bind } => serve(&cli.dir, &bind),
    }
}

fn show(dir: &Dir) -> Result<(), String> {
    let config = dir.config().map_err(|e| e.to_string())?;
    let key = dir.key(&config.name).map_err(|e| e.to_string())?;
    println!("verifier key: {}", key.verifier());
    for log in &config.logs {
        println!(
            "witnesses:    {}* signed by {}",
            log.origin_prefix, log.public_key
        );
    }
    for (checkpoint, _) in dir.all_latest().map_err(|e| e.to_string())? {
        println!(
            "holds:        {} at size {}",
            checkpoint.origin, checkpoint.size
        );
    }
    let forks = dir.evidence().map_err(|e| e.to_string())?;
    println!("forks refused: {}", forks.len());
    for evidence in forks {
        println!(
            "  {} at {}: {}",
            evidence.origin, evidence.at, evidence.reason
        );
    }
    Ok(())
}

fn serve(path: &std::path::Path, bind: &str) -> Result<(), String> {
    let witness = Arc::new(Witness::open(path).map_err(|e| e.to_string())?);
    if witness.log_count() == 0 {
        return Err(
            "this witness witnesses no log yet: run `strikevote-witness add-log` first".into(),
        );
    }
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let server = HttpServer::new({
            let witness = witness.clone();
            move || App::new().configure(server::configure(witness.clone()))
        })
        .workers(2)
        .bind(bind)
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        tracing::info!(bind, key = %witness.verifier(), "witness serving");
        server.run().await.map_err(|e| e.to_string())
    })
}
