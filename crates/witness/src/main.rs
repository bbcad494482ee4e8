//! `strikevote-witness`: run a witness for strikevote election logs (see docs/OPERATIONS.md,
//! "Witnesses"). The same commands are `strikevote witness …` in the service's binary.

use std::process::ExitCode;

use clap::Parser;
use strikevote_witness::cli::{WitnessArgs, run};

#[derive(Parser)]
#[command(
    name = "strikevote-witness",
    version,
    about = "A witness for strikevote election logs: cosigns a log's checkpoint only when it extends the last one it cosigned (C2SP tlog-witness)"
)]
struct Cli {
    #[command(flatten)]
    args: WitnessArgs,
}

fn main() -> ExitCode {
    strikevote_witness::no_core_dumps();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
