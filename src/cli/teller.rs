//! `strikevote teller …`: a teller's part of the key ceremony, run on the teller's own
//! machine or, with `--database-url`, beside the server. Scriptable: with `--passphrase-file`
//! nothing is asked.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use strikevote_core::crypto::ceremony::Teller;

use super::{connect, signer};
use crate::election::{self, ElectionId};
use crate::settings::Settings;
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
        /// second. Lower it only for tests and demonstrations.
        #[arg(long, hide = true)]
        work_factor: Option<u8>,
        /// Reach the service over HTTPS (a teller on their own machine), e.g.
        /// https://vote.example.org; without it, the database in the settings is used.
        #[arg(long, requires = "invitation_file")]
        server: Option<String>,
        /// A file holding this teller's invitation code (with --server).
        #[arg(long, requires = "server")]
        invitation_file: Option<PathBuf>,
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
        } => {
            let id = ElectionId::parse(&election)?;
            let passphrase = passphrase(passphrase_file.as_deref(), !state.exists())?;
            let me = Me {
                id,
                teller,
                state,
                passphrase,
                work_factor,
            };
            let server = server
                .zip(invitation_file)
                .map(|(url, invitation_file)| Server {
                    url,
                    invitation_file,
                });
            setup(&me, server.as_ref(), settings)
        }
        TellerCommand::Decrypt {
            election,
            state,
            passphrase_file,
            server,
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
            decrypt(id, &file, server.as_deref(), settings)
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
    Ok(text)
}

fn setup(me: &Me, server: Option<&Server>, settings: &Settings) -> anyhow::Result<()> {
    match server {
        Some(server) => {
            let code = std::fs::read_to_string(&server.invitation_file).with_context(|| {
                format!(
                    "cannot read the invitation file {}",
                    server.invitation_file.display()
                )
            })?;
            let mut channel = Remote::new(&server.url, me.id, me.teller, &code);
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
            };
            take_part(me, &mut channel)
        }
    }
}

/// Where a teller on its own machine reaches the service.
struct Server {
    url: String,
    invitation_file: PathBuf,
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
    let mut save = |f: &TellerFile| {
        f.save(&me.state, &me.passphrase, me.work_factor)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))
    };
    let progress = match ceremony::take_part(channel, me.id, &mut file, &mut save) {
        Ok(p) => p,
        Err(e) => {
            // A new state file that never took part is no use to anyone: do not leave it.
            // (One whose key is logged is kept whatever happened next.)
            let published = channel.record().is_ok_and(|r| {
                r.teller_keys()
                    .get(&me.teller)
                    .is_some_and(|k| file.recipient().is_ok_and(|mine| mine == k.recipient))
            });
            if created && !published {
                let _ = std::fs::remove_file(&me.state);
            }
            return Err(e.into());
        }
    };
    println!("{}", progress.message);
    Ok(())
}

fn decrypt(
    id: ElectionId,
    file: &TellerFile,
    server: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let teller = u32::try_from(file.teller).unwrap_or(u32::MAX);
    let outcome = match server {
        Some(url) => decrypt::decrypt(&mut Remote::new(url, id, teller, ""), id, file)?,
        None => {
            let signer = signer(settings)?;
            let mut conn = connect(settings)?;
            let mut channel = decrypt::DirectTally {
                conn: &mut conn,
                signer: &signer,
                id,
            };
            decrypt::decrypt(&mut channel, id, file)?
        }
    };
    match outcome {
        decrypt::Outcome::Submitted { size, root, status } => {
            println!(
                "teller {teller}: the log checks out ({size} entries, root {root}); shares submitted"
            );
            println!("{status}");
        }
        decrypt::Outcome::NothingToDo(why) => println!("teller {teller}: {why}"),
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
