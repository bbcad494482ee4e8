//! Running and keeping the service: `serve`, `migrate`, `settings`, `backup`.

use std::path::Path;

/// Prints a line for the operator while serving. A closed standard output (a supervisor that
/// stopped reading) must not turn into a panic in a running or stopping server.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// As [`say!`], on standard error.
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use crate::account;
use crate::db;
use crate::error::Error;
use crate::settings::Settings;
use crate::startup::Application;

pub(super) fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind.clone();
        let database = settings.database()?;
        let app = Application::build(settings)?;
        tracing::info!(%database, "database ready");
        if demo {
            let signer = app.state().signer.clone();
            let mut conn = app.state().pool.get().map_err(Error::from)?;
            let (id, sample) = crate::demo::seed(&mut conn, &app.state().public_url, &signer)?;
            say!("demo election {id} is open; try these ballot links:");
            for t in &sample {
                say!("  local {:<4} {}", t.local, t.ballot_url);
            }
            say!("turnout: strikevote turnout {id}   close: strikevote election close {id}");
            say!(
                "(cast at least 5 ballots before closing: no total of fewer than 5 ballots is \
                 ever decrypted, and locals with fewer are counted together)"
            );
            say!(
                "its three tellers' state files are in {}/ (INSECURE demo: passphrases in README.txt there)",
                crate::demo::TELLERS_DIR
            );
        }
        let has_admin = db::connect(&database, 1)
            .ok()
            .and_then(|pool| pool.get().ok())
            .and_then(|mut conn| account::any_admin(&mut conn).ok());
        if has_admin == Some(false) {
            say_err!(
                "No admin account yet. Create one with:\n  strikevote admin create --username NAME --database-url {database}"
            );
        }
        let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        say!(
            "strikevote listening on http://{host}:{} (database {database}); Ctrl-C or SIGTERM stops it",
            app.port()
        );
        app.run_until_stopped().await?;
        say!("strikevote stopped; the database is closed and checkpointed");
        Ok(())
    })
}

/// Applies pending migrations.
pub(super) fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database()?;
    let ran = db::migrate(&url)?;
    println!("{url}: {ran} migration(s) applied");
    Ok(())
}

/// Prints the settings in force.
pub(super) fn show_settings(settings: &Settings) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&settings.redacted())?);
    Ok(())
}

/// Writes a consistent copy of the database (SQLite) or prints the pg_dump command.
pub(super) fn backup(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let url = settings.database()?;
    match db::backup(&url, out)? {
        db::Backup::Written => {
            println!("wrote a consistent copy of {url} to {}", out.display())
        }
        db::Backup::UsePgDump(command) => {
            println!("PostgreSQL is backed up with its own tools; run:\n  {command}");
        }
    }
    eprintln!(
        "Back up the signing key ({}) and its heads directory ({}) too, separately.",
        settings.signing_key_path.display(),
        crate::log::heads::dir_for_key(&settings.signing_key_path).display()
    );
    Ok(())
}
