//! `strikevote-teller`: a teller's key ceremony and decryption against the election's server
//! over HTTPS. Scriptable: with `--passphrase-file` nothing is asked. The service's own
//! `strikevote teller …` takes the same arguments ([`SetupArgs`], [`DecryptArgs`]) and runs
//! the same steps, through its database when given no `--server`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use strikevote_core::ElectionId;
use strikevote_core::crypto::ceremony::Teller;
use strikevote_core::crypto::identity as fingerprint;
use strikevote_core::note::fingerprint as fingerprint_of_key;

use crate::ceremony::{self, Channel};
use crate::decrypt;
use crate::remote::Remote;
use crate::secrets::TellerFile;

/// A teller's own tool for a strikevote election (docs/TELLERS.md).
#[derive(Debug, Parser)]
#[command(name = "strikevote-teller", version, about)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The teller's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Do this teller's part of the key ceremony that can be done now. Run it again (every
    /// teller, in any order) until it says the election key is ready.
    Setup {
        /// What the setup needs.
        #[command(flatten)]
        args: SetupArgs,
        /// The election's server, e.g. https://vote.example.org (as on the invitation).
        #[arg(long)]
        server: String,
    },
    /// After the vote closes: check the election's log, then compute and submit this teller's
    /// decryption shares of each local's totals (never of a single ballot).
    Decrypt {
        /// What the decryption needs.
        #[command(flatten)]
        args: DecryptArgs,
        /// The election's server, e.g. https://vote.example.org.
        #[arg(long)]
        server: String,
    },
}

/// What `setup` needs, wherever it runs.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Election id.
    #[arg(long)]
    pub election: String,
    /// This teller's number (1 to the number of tellers), as on the invitation.
    #[arg(long)]
    pub teller: u32,
    /// This teller's state file (created on the first run; keep it, and a copy, safe).
    #[arg(long)]
    pub state: PathBuf,
    /// A file holding the state file's passphrase (otherwise it is asked for).
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// scrypt work factor (log₂ N) for a new state file; the default costs about a second. At
    /// least 18 (lower only in the test build).
    #[arg(long, hide = true)]
    pub work_factor: Option<u8>,
    /// A file holding this teller's invitation code.
    #[arg(long)]
    pub invitation_file: PathBuf,
    /// Another teller's fingerprint, as that teller read it to you by phone or in person:
    /// `--confirm 2=7K2M-9QXR-4HWD-B8NT` (repeat for each other teller; remembered in the
    /// state file). The ceremony goes past round 1 only once every other teller's is in.
    #[arg(long = "confirm", value_name = "TELLER=FINGERPRINT")]
    pub confirm: Vec<String>,
    /// The election's log key (from the notices or the invitation): its fingerprint or the
    /// whole verifier key. Without it the server's is pinned on first use and printed.
    #[arg(long)]
    pub log_key: Option<String>,
}

/// What `decrypt` needs, wherever it runs.
#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// Election id.
    #[arg(long)]
    pub election: String,
    /// This teller's state file from the key ceremony.
    #[arg(long)]
    pub state: PathBuf,
    /// A file holding the state file's passphrase (otherwise it is asked for).
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// The election's log key from the notices (fingerprint or verifier key): it must be the
    /// one pinned at the key ceremony. A key the server offers is never used.
    #[arg(long)]
    pub log_key: Option<String>,
    /// Decrypt although the log shows the vote closed before its closing time: only if the
    /// officials told you of this early close.
    #[arg(long)]
    pub confirm_early_close: bool,
}

/// Runs one command of `strikevote-teller`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Setup { args, server } => {
            let url = server_url(&server)?;
            let me = Me::from_args(&args, cfg!(feature = "weak-work-factor"))?;
            take_part(
                &me,
                &mut Remote::new(&url, me.id, me.teller, &me.invitation),
            )
        }
        Command::Decrypt { args, server } => {
            let url = server_url(&server)?;
            let (id, file, options) = open_for_decrypt(&args)?;
            let teller = u32::try_from(file.teller).unwrap_or(u32::MAX);
            decrypt_with(&mut Remote::new(&url, id, teller, ""), id, &file, &options)
        }
    }
}

/// The server's address: `https://HOST[:PORT]`, or `http://` only to this machine (a trial).
pub fn server_url(given: &str) -> anyhow::Result<String> {
    let url = given.trim().trim_end_matches('/');
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => bail!("--server `{url}` must start with https:// (e.g. https://vote.example.org)"),
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        bail!("--server `{url}` must be the server's address alone: https://HOST[:PORT]");
    }
    if !https && !strikevote_core::net::is_loopback_host(rest) {
        bail!(
            "--server `{url}` would carry your invitation code and the ceremony unencrypted: \
             use https:// (plain http:// is only for a trial on this machine)"
        );
    }
    Ok(url.to_owned())
}

/// Who is running `setup`, and where their secrets are.
pub struct Me {
    /// The election.
    pub id: ElectionId,
    /// The teller's number.
    pub teller: u32,
    /// The state file.
    pub state: PathBuf,
    passphrase: String,
    work_factor: Option<u8>,
    /// The invitation code.
    pub invitation: String,
    /// Fingerprints the other tellers read out, given this time.
    confirmed: BTreeMap<u32, String>,
    log_key: Option<String>,
}

impl Me {
    /// Reads the arguments, the invitation file and the passphrase (asked for, twice for a
    /// new state file, unless a file gives it). `weak_allowed`: a test build may ask for a
    /// weak work factor.
    pub fn from_args(args: &SetupArgs, weak_allowed: bool) -> anyhow::Result<Self> {
        let id = ElectionId::parse(&args.election)?;
        crate::secrets::check_work_factor(args.work_factor, weak_allowed)?;
        let confirmed = confirmations(&args.confirm, args.teller)?;
        let invitation = std::fs::read_to_string(&args.invitation_file).with_context(|| {
            format!(
                "cannot read the invitation file {}",
                args.invitation_file.display()
            )
        })?;
        let passphrase = passphrase(args.passphrase_file.as_deref(), !args.state.exists())?;
        Ok(Self {
            id,
            teller: args.teller,
            state: args.state.clone(),
            passphrase,
            work_factor: args.work_factor,
            invitation: invitation.trim().to_owned(),
            confirmed,
            log_key: args.log_key.clone(),
        })
    }
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

/// The state file's passphrase, from `file` or asked for; a new one is held to the officials'
/// password rule ([`strikevote_core::password`]): whoever copies the file tries the common
/// ones first.
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
    let min = strikevote_core::password::MIN_CHARS;
    if text.chars().count() < min {
        bail!("the passphrase must be at least {min} characters");
    }
    if new && strikevote_core::password::is_common(&text) {
        bail!(
            "the passphrase is too weak: that passphrase is on lists of common passphrases that \
             attackers try first; choose another (a few unrelated words make a good one)"
        );
    }
    Ok(text)
}

/// One `setup` pass through `channel`: the state file opened (or made), the ceremony moved on
/// as far as it can go now, and where it stands printed.
pub fn take_part(me: &Me, channel: &mut dyn Channel) -> anyhow::Result<()> {
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
        let mut file = TellerFile::new(me.id, me.teller as usize, state);
        // A teller who joins after a restart of the ceremony begins in the ceremony that stands.
        file.ceremony = channel.record()?.restarts().len();
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
            .map_err(|e| crate::Error::internal(e.to_string()))
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

/// Opens the state file for `decrypt`: the election, the file and what the teller allows.
pub fn open_for_decrypt(
    args: &DecryptArgs,
) -> anyhow::Result<(ElectionId, TellerFile, decrypt::Options)> {
    let id = ElectionId::parse(&args.election)?;
    if !args.state.exists() {
        bail!("there is no state file {}", args.state.display());
    }
    let passphrase = passphrase(args.passphrase_file.as_deref(), false)?;
    let file = TellerFile::load(&args.state, &passphrase)?;
    if file.election != id.to_string() {
        bail!(
            "{} is a state file for election {}, not {id}",
            args.state.display(),
            file.election
        );
    }
    let options = decrypt::Options {
        log_key: args.log_key.clone(),
        early_close_confirmed: args.confirm_early_close,
        now: None,
    };
    Ok((id, file, options))
}

/// Checks, says what was checked, and only then sends the shares.
pub fn decrypt_with(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_reached_over_https_or_on_this_machine_only() {
        assert_eq!(
            server_url("https://vote.example.org/").unwrap(),
            "https://vote.example.org"
        );
        assert!(server_url("http://127.0.0.1:8080").is_ok());
        assert!(server_url("http://localhost:8080").is_ok());
        for bad in [
            "http://vote.example.org",
            "vote.example.org",
            "https://vote.example.org/elections",
            "https://user@vote.example.org",
            "https://",
        ] {
            assert!(server_url(bad).is_err(), "{bad}");
        }
    }
}
