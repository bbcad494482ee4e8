//! `strikevote teller …`: a teller's part of the key ceremony, run on the teller's own
//! machine or, with `--database-url`, beside the server. Scriptable: with `--passphrase-file`
//! nothing is asked.

use clap::Subcommand;
use strikevote_teller::cli::{
    DecryptArgs, Me, SetupArgs, decrypt_with, open_for_decrypt, take_part,
};

use super::{connect, signer};
use crate::election::{self, ElectionId};
use crate::settings::{PublicUrl, Settings};
use crate::teller::remote::Remote;
use crate::teller::{ceremony, decrypt, invitations};

#[derive(Debug, Subcommand)]
pub(super) enum TellerCommand {
    /// Do this teller's part of the key ceremony that can be done now. Run it again (every
    /// teller, in any order) until it says the election key is ready. A teller on their own
    /// machine runs `strikevote-teller setup` (the same steps, nothing else to install).
    Setup {
        /// What the setup needs.
        #[command(flatten)]
        args: SetupArgs,
        /// Reach the service over HTTPS (a teller on their own machine), e.g.
        /// https://vote.example.org; without it, the database in the settings is used (the
        /// invitation code is needed beside the server too).
        #[arg(long)]
        server: Option<String>,
    },
    /// After the vote closes: check the election's log, then compute and submit this teller's
    /// decryption shares of each local's totals (never of a single ballot). Run once; when
    /// enough tellers have, the result is decrypted.
    Decrypt {
        /// What the decryption needs.
        #[command(flatten)]
        args: DecryptArgs,
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
        /// Only this teller's code: to hand their seat to someone else (the other tellers'
        /// codes stay as they are).
        #[arg(long)]
        teller: Option<u32>,
        /// With --teller, for a teller who has already published their key: restart the key
        /// ceremony to give their seat to someone else (logged; what the tellers published is
        /// void, and every teller runs setup again).
        #[arg(long, requires = "teller")]
        restart: bool,
        /// Also write every teller's printable sheet to this PDF (mode 0600, one page per
        /// teller; the file must not exist) instead of printing the codes.
        #[arg(long)]
        pdf: Option<std::path::PathBuf>,
    },
}

/// Runs one `teller` command.
pub(super) fn run(command: TellerCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        TellerCommand::Setup { args, server } => {
            let me = Me::from_args(&args, cfg!(feature = "failpoints"))?;
            match server {
                Some(url) => {
                    let url = PublicUrl::parse_named(&url, "--server")?.to_string();
                    take_part(
                        &me,
                        &mut Remote::new(&url, me.id, me.teller, &me.invitation),
                    )
                }
                None => {
                    let signer = signer(settings)?;
                    let mut conn = connect(settings)?;
                    let mut channel = ceremony::Direct {
                        conn: &mut conn,
                        signer: &signer,
                        id: me.id,
                        teller: me.teller,
                        invitation: me.invitation.clone(),
                    };
                    take_part(&me, &mut channel)
                }
            }
        }
        TellerCommand::Decrypt { args, server } => {
            let (id, file, options) = open_for_decrypt(&args)?;
            let teller = u32::try_from(file.teller).unwrap_or(u32::MAX);
            match server {
                Some(url) => {
                    let url = PublicUrl::parse_named(&url, "--server")?.to_string();
                    decrypt_with(&mut Remote::new(&url, id, teller, ""), id, &file, &options)
                }
                None => {
                    let signer = signer(settings)?;
                    let mut conn = connect(settings)?;
                    let mut channel = decrypt::DirectTally {
                        conn: &mut conn,
                        signer: &signer,
                        id,
                    };
                    decrypt_with(&mut channel, id, &file, &options)
                }
            }
        }
        TellerCommand::Invite {
            election,
            teller,
            restart,
            pdf,
        } => invite(&election, (teller, restart), pdf.as_deref(), settings),
    }
}

/// Issues fresh invitation codes for every teller (earlier ones stop working) and prints them,
/// or writes them as printable sheets to `pdf`.
fn invite(
    id: &str,
    (only, restart): (Option<u32>, bool),
    pdf: Option<&std::path::Path>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let id = ElectionId::parse(id)?;
    if let Some(path) = pdf
        && path.exists()
    {
        anyhow::bail!(
            "refusing to overwrite {}: choose another --pdf",
            path.display()
        );
    }
    let mut conn = connect(settings)?;
    let (codes, restarted) = match only {
        None => (invitations::issue(&mut conn, id)?, false),
        Some(t) => {
            let (signer, by) = (signer(settings)?, super::cli_actor());
            let r = invitations::replace(&mut conn, &signer, (id, t), &by, restart)?;
            (vec![(t, r.code)], r.restarted)
        }
    };
    let election = election::find(&mut conn, id)?;
    if let Some(path) = pdf {
        let fingerprint = strikevote_core::note::fingerprint(&signer(settings)?.public_key());
        let program_sha256 = invitations::teller_program_sha256(settings.teller_program.as_deref());
        let sheet = crate::teller::sheets::Sheet {
            election: &election,
            fingerprint: &fingerprint,
            program_sha256: program_sha256.as_deref(),
            paper: settings.letter_paper,
        };
        let bytes = crate::teller::sheets::pdf(&sheet, &codes)?;
        super::roster::write_private(path, &bytes)?;
        println!(
            "{} teller invitation(s) written to {}: give each teller their page, privately",
            codes.len(),
            path.display()
        );
        return Ok(());
    }
    for (teller, code) in codes {
        let name = election.definition.tellers.name(teller);
        println!("teller {teller} ({name}): {code}");
    }
    match only {
        None => eprintln!(
            "(give each teller their number and code privately; issuing again replaces them)"
        ),
        Some(t) => eprintln!(
            "(teller {t}'s earlier code no longer works; the other tellers' codes are unchanged)"
        ),
    }
    if restarted {
        eprintln!(
            "The key ceremony restarted: what the tellers published before is void. Tell every \
             other teller to run their same setup command again (keeping their state file) and \
             to confirm the new teller's fingerprint by phone."
        );
    }
    program_line(settings);
    Ok(())
}

/// Says which `strikevote-teller` tellers must run: the SHA-256 of the one beside this program.
pub(super) fn program_line(settings: &Settings) {
    match invitations::teller_program_sha256(settings.teller_program.as_deref()) {
        Some(sha) => eprintln!(
            "(tellers run strikevote-teller, whose SHA-256 must be {sha}: docs/TELLERS.md)"
        ),
        None => eprintln!(
            "(no strikevote-teller is installed beside this program: tellers get it from the \
             project's releases; docs/TELLERS.md)"
        ),
    }
}
