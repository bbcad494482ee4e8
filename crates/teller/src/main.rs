//! `strikevote-teller`: a teller's own tool — the key ceremony and the decryption of the
//! totals, against the election's server over HTTPS (docs/TELLERS.md).

use clap::Parser;

fn main() {
    let args = strikevote_teller::cli::Args::parse();
    if let Err(e) = strikevote_teller::cli::run(args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
