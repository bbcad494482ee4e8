//! `strikevote-verify`: the auditor's verifier, built from the core crate alone (no web server,
//! database or async runtime), so it can be read and built in a fraction of the service's time.
//!
//! Usage: strikevote-verify BUNDLE_DIR --key KEY_OR_FINGERPRINT [--origin ORIGIN] [--tracker T]
//!        strikevote-verify BUNDLE_DIR --trust-bundle-key [--tracker T]
//!
//! Exit 0 with a report when the bundle verifies against the key given; exit 1 naming the
//! first failure (or when `--tracker` names no ballot or challenge of the log); exit 2 on a
//! usage error. `--tracker` says what the log holds for a tracker a member was shown: a ballot
//! (counted), or a ballot they checked instead of casting and the choice it held.

use std::process::ExitCode;

use strikevote_core::verify::{TrustAnchor, verify_dir};

const USAGE: &str = "usage: strikevote-verify BUNDLE_DIR --key KEY_OR_FINGERPRINT [--origin ORIGIN] [--tracker TRACKER]\n       strikevote-verify BUNDLE_DIR --trust-bundle-key [--tracker TRACKER]\n\nTRACKER: the 64 hex digits your ballot page showed; the verifier says whether the log holds it\nas a ballot or as a ballot you checked, and what the checked one held.\nKEY_OR_FINGERPRINT: the key fingerprint printed on the ballot notice and the certificate\n(then --origin HOST/elections/UUID, printed beside it), or the election's verifier key\n(ORIGIN+KEYID+KEY), or a file holding it. Never trust the key shipped inside a bundle.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut key, mut origin, mut trust_bundle_key) = (None, None, None, false);
    let mut tracker: Option<String> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => key = args.next(),
            "--origin" => origin = args.next(),
            "--tracker" => tracker = args.next(),
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
            match tracker {
                Some(t) => look_up(&report, &t),
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("error: verification failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the verified log holds for the tracker `wanted`.
fn look_up(report: &strikevote_core::verify::Report, wanted: &str) -> ExitCode {
    match report.tracker(wanted) {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
