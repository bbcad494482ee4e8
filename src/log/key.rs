//! The signing key file: created on first use (mode 0600), never in the database or the logs.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::heads::{self, HeadStore};
use super::note::LogSigner;

const HEADER: &str = "strikevote ed25519 signing key (seed, base64); keep secret, keep a backup";

/// Why the signing key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the file failed.
    #[error("signing key file {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// No key file where one was expected, and creating one would orphan existing logs.
    #[error(
        "no signing key at {path}, but this database already holds elections signed with a key: \
         a new key would make their logs unverifiable, so none is created. Run the command with \
         the election's key (STRIKEVOTE_SIGNING_KEY_PATH, or signing_key_path in the config; by \
         default strikevote.key beside the SQLite database, or in the working directory for \
         PostgreSQL)"
    )]
    Missing {
        /// Where it was looked for.
        path: String,
    },
    /// The file exists but is not a key, or is readable by others.
    #[error("signing key file {path} is unusable: {reason}")]
    Unusable {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The service's signing key: the core's pure [`LogSigner`], and where the heads it signs are
/// recorded beside the key file ([`super::heads`]). It derefs to the signer.
#[derive(Debug)]
pub struct LogKey {
    signer: LogSigner,
    heads: HeadStore,
    path: PathBuf,
}

impl LogKey {
    /// Where the heads it signs are recorded.
    pub fn heads(&self) -> &HeadStore {
        &self.heads
    }

    /// The key file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::ops::Deref for LogKey {
    type Target = LogSigner;

    fn deref(&self) -> &LogSigner {
        &self.signer
    }
}

/// Loads the signing key at `path`, creating it (from the OS CSPRNG, mode 0600) if missing.
/// Two processes starting at once end up with the same key: creation is an atomic link.
/// Its signed heads are recorded in `heads_dir`, or beside the key (`<path>.heads/`).
pub fn load_or_create(path: &Path, heads_dir: Option<&Path>) -> Result<LogKey, KeyError> {
    load(path, heads_dir, true)
}

/// Loads the signing key at `path`; creates it only if `may_create` (a database without
/// elections: otherwise [`KeyError::Missing`], as a new key would orphan their logs).
pub fn load(path: &Path, heads_dir: Option<&Path>, may_create: bool) -> Result<LogKey, KeyError> {
    let shown = path.display().to_string();
    if !may_create && !path.exists() {
        return Err(KeyError::Missing { path: shown });
    }
    let io = |e: std::io::Error| KeyError::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    if !path.exists() {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Io {
            path: shown.clone(),
            reason: format!("the OS random source failed: {e}"),
        })?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Io {
            path: shown.clone(),
            reason: format!("the OS random source failed: {e}"),
        })?;
        let tmp = path.with_extension(format!("tmp.{}", hex::encode(nonce)));
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io)?;
            writeln!(file, "{HEADER}\n{}", B64.encode(seed)).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => tracing::info!(path = %shown, "created a new signing key"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    let unusable = |reason: String| KeyError::Unusable {
        path: shown.clone(),
        reason,
    };
    let mode = fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(unusable(format!(
            "it is readable by other users (mode {:o}); run chmod 600 on it",
            mode & 0o777
        )));
    }
    let text = fs::read_to_string(path).map_err(io)?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(unusable("it is not a strikevote signing key".into()));
    }
    let seed = lines
        .next()
        .and_then(|l| B64.decode(l.trim()).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| unusable("the key line is not 32 bytes of base64".into()))?;
    let heads_dir = heads_dir.map_or_else(|| heads::dir_for_key(path), Path::to_path_buf);
    let heads = HeadStore::open(&heads_dir).map_err(|e| unusable(e.to_string()))?;
    Ok(LogKey {
        signer: LogSigner::from_seed(&seed),
        heads,
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let first = load_or_create(&path, None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path, None).unwrap();
        assert_eq!(first.public_key(), again.public_key());
    }

    #[test]
    fn a_key_readable_by_others_or_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        load_or_create(&path, None).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, None).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        fs::write(&path, "hello").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_create(&path, None).is_err());
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path, None).map(|k| k.public_key())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }
}
