//! `strikevote-verify`: the auditor's verifier, built from the core crate alone (no web server,
//! database or async runtime), so it can be read and built in a fraction of the service's time.
//!
//! Usage: strikevote-verify BUNDLE_DIR --key KEY_OR_FINGERPRINT [--origin ORIGIN]
//!        strikevote-verify BUNDLE_DIR --trust-bundle-key
//!
//! Exit 0 with a report when the bundle verifies against the key given; exit 1 naming the
//! first failure; exit 2 on a usage error.

use std::process::ExitCode;

use strikevote_core::verify::{TrustAnchor, verify_dir};

const USAGE: &str = "usage: strikevote-verify BUNDLE_DIR --key KEY_OR_FINGERPRINT [--origin ORIGIN]\n       strikevote-verify BUNDLE_DIR --trust-bundle-key\n\nKEY_OR_FINGERPRINT: the key fingerprint printed on the ballot notice and the certificate\n(then --origin HOST/elections/UUID, printed beside it), or the election's verifier key\n(ORIGIN+KEYID+KEY), or a file holding it. Never trust the key shipped inside a bundle.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut key, mut origin, mut trust_bundle_key) = (None, None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => key = args.next(),
            "--origin" => origin = args.next(),
            "--trust-bundle-key" => trust_bundle_key = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if dir.is_none() && !other.starts_with("--") => dir = Some(other.to_owned()),
            other => {
                eprintln!("error: unexpected argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("error: name the bundle directory\n{USAGE}");
        return ExitCode::from(2);
    };
    let trust = match (key, trust_bundle_key) {
        (Some(_), true) => {
            eprintln!("error: --key and --trust-bundle-key exclude each other\n{USAGE}");
            return ExitCode::from(2);
        }
        (Some(key), false) => match TrustAnchor::parse(&key, origin.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        (None, true) => {
            eprintln!(
                "WARNING: trusting the key inside the bundle. This only shows the bundle agrees \
                 with itself: whoever changed the log could have signed it with a new key."
            );
            TrustAnchor::BundleKey
        }
        (None, false) => {
            eprintln!("error: say which key to trust\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match verify_dir(std::path::Path::new(&dir), &trust) {
        Ok(report) => {
            print!("{report}");
            println!("OK: signature, root, entry rules and cryptography verified");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: verification failed: {e}");
            ExitCode::FAILURE
        }
    }
}
