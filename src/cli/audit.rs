//! `strikevote audit export` and `strikevote audit verify`.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

use super::{connect, signer};
use crate::audit;
use crate::election::ElectionId;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
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
        /// A tracker a member was shown (64 hex digits): say whether the log holds it as a
        /// ballot (counted) or as a ballot the member checked, and what that one held.
        #[arg(long)]
        tracker: Option<String>,
    },
}

/// Runs one `audit` command.
pub(super) fn run(command: AuditCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        AuditCommand::Export { election, out } => {
            let id = ElectionId::parse(&election)?;
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            let exported = audit::export(&mut conn, id, &signer, &out)?;
            println!(
                "wrote {} entries to {} (log.jsonl, checkpoint, key.vkey)",
                exported.entries,
                out.display()
            );
            Ok(())
        }
        AuditCommand::Verify {
            dir,
            key,
            origin,
            trust_bundle_key,
            tracker,
        } => {
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
            println!("OK: signature, root, entry rules and cryptography verified");
            if let Some(tracker) = tracker {
                println!(
                    "{}",
                    report
                        .tracker(&tracker)
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                );
            }
            Ok(())
        }
    }
}
