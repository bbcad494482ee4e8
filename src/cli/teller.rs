//! `strikevote teller …`: a teller's part of the key ceremony, run on the teller's own
//! machine or, with `--database-url`, beside the server. Scriptable: with `--passphrase-file`
//! nothing is asked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use strikevote_core::crypto::ceremony::Teller;
use strikevote_core::crypto::identity as fingerprint;
use strikevote_core::note::fingerprint as fingerprint_of_key;

use super::{connect, signer};
use crate::election::{self, ElectionId};
use crate::settings::{PublicUrl, Settings};
use crate::teller::ceremony::{self, Channel};
use crate::teller::decrypt;
use crate::teller::invitations;
use crate::teller::remote::Remote;
use crate::teller::secrets::TellerFile;

#[derive(Debug, Subcommand)]
pub(super) enum TellerCommand {
    /// Do this teller's part of the key ceremony that can be done now. Run it again (every
    /// teller, in any order) until it says the election key is ready.
    Setup {
        /// Election id.
        #[arg(long)]
        election: String,
        /// This teller's number (1 to the number of tellers), as on the invitation.
        #[arg(long)]
        teller: u32,
        /// This teller's state file (created on the first run; keep it, and a copy, safe).
        #[arg(long)]
        state: PathBuf,
        /// A file holding the state file's passphrase (otherwise it is asked for).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// scrypt work factor (log₂ N) for a new state file; the default costs about a
        /// second. At least 18 (lower only in the test build).
        #[arg(long, hide = true)]
        work_factor: Option<u8>,
        /// Reach the service over HTTPS (a teller on their own machine), e.g.
        /// https://vote.example.org; without it, the database in the settings is used.
        #[arg(long)]
        server: Option<String>,
        /// A file holding this teller's invitation code (needed beside the server too).
        #[arg(long)]
        invitation_file: PathBuf,
        /// Another teller's fingerprint, as that teller read it to you by phone or in person:
        /// `--confirm 2=7K2M-9QXR-4HWD-B8NT` (repeat for each other teller; remembered in the
        /// state file). The ceremony goes past round 1 only once every other teller's is in.
        #[arg(long = "confirm", value_name = "TELLER=FINGERPRINT")]
        confirm: Vec<String>,
        /// The election's log key (from the notices or `election create`): its fingerprint or
        /// the whole verifier key. Without it the server's is pinned on first use and printed.
        #[arg(long)]
        log_key: Option<String>,
    },
    /// After the vote closes: check the election's log, then compute and submit this teller's
    /// decryption shares of each local's totals (never of a single ballot). Run once; when
    /// enough tellers have, the result is decrypted.
    Decrypt {
        /// Election id.
        #[arg(long)]
        election: String,
        /// This teller's state file from the key ceremony.
        #[arg(long)]
        state: PathBuf,
        /// A file holding the state file's passphrase (otherwise it is asked for).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Reach the service over HTTPS, e.g. https://vote.example.org; without it, the
        /// database in the settings is used.
        #[arg(long)]
        server: Option<String>,
        /// The election's log key from the notices (fingerprint or verifier key): it must be
        /// the one pinned at the key ceremony. A key the server offers is never used.
        #[arg(long)]
        log_key: Option<String>,
        /// Decrypt although the log shows the vote closed before its closing time: only if
        /// the officials told you of this early close.
        #[arg(long)]
        confirm_early_close: bool,
    },
    /// Issue (or issue again) every teller's invitation code and print them.
    Invite {
        /// Election id.
        #[arg(long)]
        election: String,
    },
}

/// Runs one `teller` command.
pub(super) fn run(command: TellerCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        TellerCommand::Setup {
            election,
            teller,
            state,
            passphrase_file,
            work_factor,
            server,
            invitation_file,
            confirm,
            log_key,
        } => {
            let id = ElectionId::parse(&election)?;
            crate::teller::secrets::check_work_factor(work_factor, cfg!(feature = "failpoints"))?;
            let confirmed = confirmations(&confirm, teller)?;
            let invitation = std::fs::read_to_string(&invitation_file).with_context(|| {
                format!(
                    "cannot read the invitation file {}",
                    invitation_file.display()
                )
            })?;
            let passphrase = passphrase(passphrase_file.as_deref(), !state.exists())?;
            let me = Me {
                id,
                teller,
                state,
                passphrase,
                work_factor,
                invitation,
                confirmed,
                log_key,
            };
            setup(&me, server.as_deref(), settings)
        }
        TellerCommand::Decrypt {
            election,
            state,
            passphrase_file,
            server,
            log_key,
            confirm_early_close,
        } => {
            let id = ElectionId::parse(&election)?;
            if !state.exists() {
                bail!("there is no state file {}", state.display());
            }
            let passphrase = passphrase(passphrase_file.as_deref(), false)?;
            let file = TellerFile::load(&state, &passphrase)?;
            if file.election != id.to_string() {
                bail!(
                    "{} is a state file for election {}, not {id}",
                    state.display(),
                    file.election
                );
            }
            let options = decrypt::Options {
                log_key,
                early_close_confirmed: confirm_early_close,
                now: None,
            };
            decrypt(id, &file, server.as_deref(), &options, settings)
        }
        TellerCommand::Invite { election } => invite(&election, settings),
    }
}

/// Who is running the command, and where its secrets are.
struct Me {
    id: ElectionId,
    teller: u32,
    state: PathBuf,
    passphrase: String,
    work_factor: Option<u8>,
    invitation: String,
    /// Fingerprints the other tellers read out, given this time.
    confirmed: BTreeMap<u32, String>,
    log_key: Option<String>,
}

/// Reads `--confirm N=FINGERPRINT` arguments.
fn confirmations(given: &[String], me: u32) -> anyhow::Result<BTreeMap<u32, String>> {
    let mut confirmed = BTreeMap::new();
    for text in given {
        let Some((teller, fp)) = text.split_once('=') else {
            bail!("--confirm takes TELLER=FINGERPRINT, e.g. --confirm 2=7K2M-9QXR-4HWD-B8NT");
        };
        let teller: u32 = teller
            .trim()
            .parse()
            .with_context(|| format!("`{teller}` in --confirm is not a teller number"))?;
        if teller == me {
            bail!("--confirm is for the other tellers' fingerprints, not your own");
        }
        let fp = fingerprint::parse_fingerprint(fp).with_context(|| {
            format!(
                "`{fp}` is not a fingerprint: it is 16 letters and digits like 7K2M-9QXR-4HWD-B8NT"
            )
        })?;
        confirmed.insert(teller, fp);
    }
    Ok(confirmed)
}

fn passphrase(file: Option<&Path>, new: bool) -> anyhow::Result<String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
        None => {
            let first = rpassword::prompt_password("State file passphrase: ")?;
            if new && rpassword::prompt_password("The same passphrase again: ")? != first {
                bail!("the two passphrases differ");
            }
            first
        }
    };
    let text = text.trim_end_matches(['\r', '\n']).to_owned();
    if text.chars().count() < 12 {
        bail!("the passphrase must be at least 12 characters");
    }
    // A new state file's passphrase is held to the officials' rules: whoever copies the file
    // tries the common passwords first.
    if new && let Err(e) = crate::account::check_password(&text) {
        bail!(
            "the passphrase is too weak: {}",
            e.to_string().replace("password", "passphrase")
        );
    }
    Ok(text)
}

fn setup(me: &Me, server: Option<&str>, settings: &Settings) -> anyhow::Result<()> {
    match server {
        Some(url) => {
            let url = PublicUrl::parse_named(url, "--server")?.to_string();
            let mut channel = Remote::new(&url, me.id, me.teller, &me.invitation);
            take_part(me, &mut channel)
        }
        None => {
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            let mut channel = ceremony::Direct {
                conn: &mut conn,
                signer: &signer,
                id: me.id,
                teller: me.teller,
                invitation: me.invitation.trim().to_owned(),
            };
            take_part(me, &mut channel)
        }
    }
}

fn take_part(me: &Me, channel: &mut dyn Channel) -> anyhow::Result<()> {
    let params = channel.params()?;
    if me.teller == 0 || me.teller as usize > params.count {
        bail!(
            "teller {} does not exist: election {} has {} tellers",
            me.teller,
            me.id,
            params.count
        );
    }
    let created = !me.state.exists();
    let mut file = if !created {
        let file = TellerFile::load(&me.state, &me.passphrase)?;
        if file.election != me.id.to_string() || file.teller != me.teller as usize {
            bail!(
                "{} is teller {}'s state for election {}, not teller {}'s for {}",
                me.state.display(),
                file.teller,
                file.election,
                me.teller,
                me.id
            );
        }
        file
    } else {
        let state = Teller::new(params, me.teller as usize - 1, &mut rand::rngs::OsRng)?;
        let file = TellerFile::new(me.id, me.teller as usize, state);
        file.save(&me.state, &me.passphrase, me.work_factor)?;
        file
    };
    println!(
        "teller {}: your fingerprint is {} — read it to the other tellers (by phone or in \
         person), and note theirs",
        me.teller,
        file.fingerprint()?
    );
    if !me.confirmed.is_empty() {
        file.confirmed.extend(me.confirmed.clone());
        file.save(&me.state, &me.passphrase, me.work_factor)?;
    }
    let mut save = |f: &TellerFile| {
        f.save(&me.state, &me.passphrase, me.work_factor)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))
    };
    let had_pin = file.pin.is_some();
    let log_key = me.log_key.as_deref();
    let progress = match ceremony::take_part(channel, me.id, &mut file, log_key, &mut save) {
        Ok(p) => p,
        Err(e) => {
            // A new state file that never took part is no use to anyone: do not leave it.
            // (One whose key is logged is kept whatever happened next.)
            let published = channel.record().is_ok_and(|r| {
                r.teller_keys().get(&me.teller).is_some_and(|k| {
                    file.signing_key()
                        .is_ok_and(|mine| mine.public_hex() == k.identity)
                })
            });
            if created && !published {
                let _ = std::fs::remove_file(&me.state);
            }
            return Err(e.into());
        }
    };
    if let (false, Some(pin)) = (had_pin, &file.pin) {
        println!(
            "teller {}: pinned the election's log key {} (compare it with the notices), its \
             definition and checkpoint {} ({})",
            me.teller,
            key_fingerprint(&pin.vkey),
            pin.size,
            pin.root
        );
    }
    println!("{}", progress.message);
    Ok(())
}

fn key_fingerprint(vkey: &str) -> String {
    strikevote_core::note::Verifier::parse(vkey)
        .map(|v| fingerprint_of_key(&v.public_key()))
        .unwrap_or_default()
}

fn decrypt(
    id: ElectionId,
    file: &TellerFile,
    server: Option<&str>,
    options: &decrypt::Options,
    settings: &Settings,
) -> anyhow::Result<()> {
    let teller = u32::try_from(file.teller).unwrap_or(u32::MAX);
    match server {
        Some(url) => {
            let url = PublicUrl::parse_named(url, "--server")?.to_string();
            decrypt_with(&mut Remote::new(&url, id, teller, ""), id, file, options)
        }
        None => {
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            let mut channel = decrypt::DirectTally {
                conn: &mut conn,
                signer: &signer,
                id,
            };
            decrypt_with(&mut channel, id, file, options)
        }
    }
}

/// Checks, says what was checked, and only then sends the shares.
fn decrypt_with(
    channel: &mut dyn decrypt::TallyChannel,
    id: ElectionId,
    file: &TellerFile,
    options: &decrypt::Options,
) -> anyhow::Result<()> {
    let teller = file.teller;
    match decrypt::prepare(channel, id, file, options)? {
        decrypt::Prepared::Ready(ready) => {
            println!("teller {teller}: {ready}");
            let status = channel.submit(&ready.share)?;
            println!("teller {teller}: shares submitted");
            println!("{status}");
        }
        decrypt::Prepared::NothingToDo(why) => println!("teller {teller}: {why}"),
    }
    Ok(())
}

/// Issues fresh invitation codes for every teller (earlier ones stop working) and prints them.
fn invite(id: &str, settings: &Settings) -> anyhow::Result<()> {
    let id = ElectionId::parse(id)?;
    let mut conn = connect(settings)?;
    let election = election::find(&mut conn, id)?;
    for (teller, code) in invitations::issue(&mut conn, id)? {
        let name = election.definition.tellers.name(teller);
        println!("teller {teller} ({name}): {code}");
    }
    eprintln!("(give each teller their number and code privately; issuing again replaces them)");
    Ok(())
}
