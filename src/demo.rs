//! `strikevote serve --demo`: a sample election, open, with a few ballot links to try.

use std::fmt::Write as _;

use chrono::{Duration, SecondsFormat, Utc};

use crate::db::DbConnection;
use crate::election::{self, Definition, ElectionId};
use crate::error::{Error, Result};
use crate::log::LogKey;
use crate::roster;
use crate::token::store::{self as token_store, IssuedToken};

/// Locals of the demo: (code, name, delegates, members).
const LOCALS: [(&str, &str, u32, usize); 4] = [
    ("600", "Cinematographers", 76, 140),
    ("700", "Editors", 56, 90),
    ("871", "Script Supervisors", 24, 50),
    ("80", "Grips", 20, 20),
];

/// Where the demo keeps its tellers' state files — INSECURE by design: the passphrases are
/// written beside them, so the demo can decrypt its own totals.
pub const TELLERS_DIR: &str = "demo-tellers";

fn keep_demo_tellers(tellers: &[(crate::teller::secrets::TellerFile, String)]) -> Result<()> {
    let dir = std::path::Path::new(TELLERS_DIR);
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("{TELLERS_DIR}: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let mut readme = String::from(
        "INSECURE DEMO: these teller state files and their passphrases sit side by side, so the\n\
         demo can decrypt its own totals. A real election's tellers each keep their own file and\n\
         passphrase on their own machine (docs/TELLERS.md).\n\n",
    );
    for (t, invitation) in tellers {
        let passphrase = format!("insecure demo passphrase {}", t.teller);
        let path = dir.join(format!("teller-{}.state", t.teller));
        t.save(&path, &passphrase, Some(4)).map_err(|e| fail(&e))?;
        let code = dir.join(format!("invitation-{}.txt", t.teller));
        std::fs::write(&code, format!("{invitation}\n")).map_err(|e| fail(&e))?;
        readme.push_str(&format!("{}: {passphrase}\n", path.display()));
    }
    readme.push_str(
        "\nTo see the result: cast at least 5 ballots (no total of fewer than 5 ballots is ever\n\
         decrypted; locals with fewer are counted together), close the vote\n\
         (`strikevote election close ID`), then, for two of\n\
         the tellers N, write the passphrase into a file and run\n  \
         strikevote teller decrypt --election ID --state demo-tellers/teller-N.state \\\n      \
         --passphrase-file FILE --confirm-early-close\n\
         (--confirm-early-close: the demo's vote is closed before its closing time, which a\n\
         teller decrypts only when the officials say so.) Each teller's invitation code is in\n\
         demo-tellers/invitation-N.txt.\n",
    );
    std::fs::write(dir.join("README.txt"), readme).map_err(|e| fail(&e))
}

/// Creates, fills and opens the demo election; returns its id and a few issued tokens.
pub fn seed(
    conn: &mut DbConnection,
    public_url: &crate::settings::PublicUrl,
    signer: &LogKey,
) -> Result<(ElectionId, Vec<IssuedToken>)> {
    let now = Utc::now();
    let mut toml = format!(
        "title = \"Demo strike authorization\"\n\
         question = \"Do you authorize a strike if the producers do not reach an agreement?\"\n\
         choices = [\"yes\", \"no\", \"abstain\"]\nrule = \"delegates\"\n\
         threshold = {{ num = 1, den = 2, cmp = \"more_than\" }}\n\
         local_threshold = {{ num = 3, den = 4, cmp = \"at_least\" }}\n\
         quorum = {{ num = 1, den = 2, cmp = \"at_least\" }}\n\
         opens_at = \"{}\"\ncloses_at = \"{}\"\n\
         tellers = {{ count = 3, threshold = 2, names = [\"Demo teller 1\", \"Demo teller 2\", \"Demo teller 3\"] }}\n",
        (now - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
        (now + Duration::days(7)).to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    let mut csv = String::from("member_id,local,name,email\n");
    let mut n = 0;
    for (code, name, delegates, members) in LOCALS {
        let _ = write!(
            toml,
            "\n[[locals]]\ncode = \"{code}\"\nname = \"{name}\"\ndelegates = {delegates}\n"
        );
        for _ in 0..members {
            n += 1;
            let _ = writeln!(csv, "D{n:04},{code},Demo Member {n},member{n}@example.org");
        }
    }
    let definition = Definition::from_toml(&toml)
        .map_err(|e| Error::Internal(format!("demo definition: {e}")))?;
    let id = election::create(conn, &definition, public_url, signer, "demo")?;
    roster::import(conn, id, csv.as_bytes(), signer, "demo", None, &|_, _| {})?;
    let mut sample = Vec::new();
    token_store::issue_missing(conn, id, signer, "demo", &mut |issued| {
        // One or two per local; the rest are not kept anywhere (a demo has no mailing).
        let mut seen = std::collections::HashMap::new();
        for t in issued {
            let count = seen.entry(t.local.clone()).or_insert(0);
            if *count < 2 {
                *count += 1;
                sample.push(t.clone());
            }
        }
        Ok(())
    })?;
    // The demo's three tellers run the key ceremony here, in memory (INSECURE: one process
    // plays every teller; a real election's tellers each run `strikevote teller setup`).
    let tellers = crate::teller::ceremony::run_all(conn, signer, id)?;
    keep_demo_tellers(&tellers)?;
    let who = election::approval::Who::Operator("demo");
    election::apply(conn, id, election::Transition::Open, signer, who)?;
    Ok((id, sample))
}
