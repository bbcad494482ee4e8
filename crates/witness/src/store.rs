//! The witness's durable state, in one directory that one witness process holds at a time:
//!
//! ```text
//! DIR/witness.key         its Ed25519 seed (base64 after a header line), mode 0600
//! DIR/witness.toml        its name and the logs it witnesses
//! DIR/logs/<hex SHA-256 of the origin>
//!                         the latest checkpoint it cosigned of that log: the whole note,
//!                         the log's signature and its own cosignature
//! DIR/forks/<ns>-<hex>.json
//!                         evidence: each validly signed checkpoint it refused as a fork
//! DIR/lock                locked (flock) by the serving process
//! ```
//!
//! Every file is written to a temporary name, fsync'd, renamed into place and the directory
//! fsync'd, so a crash (kill -9, power loss) leaves the old state or the new, never a torn
//! one, and an answer is sent only after its state is on disk.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strikevote_core::note::{Checkpoint, Verifier};
use strikevote_core::witness::{WitnessKey, WitnessVerifier, WitnessedLog};

const KEY_FILE: &str = "witness.key";
const CONFIG_FILE: &str = "witness.toml";
const KEY_HEADER: &str =
    "strikevote-witness ed25519 key (seed, base64); keep secret, keep a backup";

/// Why the witness's directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A file holds something it should not.
    #[error("{path} is unusable: {reason}")]
    Unusable {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Another witness process serves from this directory.
    #[error(
        "another strikevote-witness is serving from {0}: one directory, one witness (its state must only move forward)"
    )]
    Busy(String),
}

fn io(path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn unusable(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Unusable {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// One log the witness witnesses, as configured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Origins starting with this are this log's (a service signs one log per election).
    pub origin_prefix: String,
    /// The log's Ed25519 public key, base64.
    pub public_key: String,
}

/// `witness.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The witness's name: the key name on its cosignatures.
    pub name: String,
    /// The logs it witnesses.
    #[serde(default, rename = "log")]
    pub logs: Vec<LogConfig>,
}

impl Config {
    /// The logs, checked.
    pub fn witnessed(&self, path: &Path) -> Result<Vec<WitnessedLog>, StoreError> {
        self.logs
            .iter()
            .map(|log| {
                let public_key = B64
                    .decode(&log.public_key)
                    .ok()
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                    .ok_or_else(|| {
                        unusable(
                            path,
                            format!("log key `{}` is not 32 bytes of base64", log.public_key),
                        )
                    })?;
                if log.origin_prefix.is_empty() {
                    return Err(unusable(path, "a log's origin_prefix is empty"));
                }
                Ok(WitnessedLog {
                    origin_prefix: log.origin_prefix.clone(),
                    public_key,
                })
            })
            .collect()
    }
}

/// A checkpoint the witness refused as a fork, kept as evidence (`GET /forks`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Evidence {
    /// The log's origin.
    pub origin: String,
    /// When it was refused (POSIX seconds).
    pub at: u64,
    /// Why.
    pub reason: String,
    /// The checkpoint the witness held then (with the log's signature).
    pub held: String,
    /// The refused request, whole: old size, consistency proof, signed checkpoint.
    pub refused: String,
}

/// The witness's directory.
#[derive(Clone, Debug)]
pub struct Dir {
    path: PathBuf,
}

/// Writes `bytes` to `path` atomically and durably (temporary file, fsync, rename, fsync dir).
fn write_durably(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io(&tmp, &e))?;
    file.write_all(bytes).map_err(|e| io(&tmp, &e))?;
    file.sync_all().map_err(|e| io(&tmp, &e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, &e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, &e))
}

fn make_dir(path: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io(path, &e))
}

/// Parses a log key given as a note verifier key (`<name>+<id>+<base64>`) or as 32 bytes of
/// base64; returns it as base64.
pub fn parse_log_key(text: &str) -> Result<String, String> {
    if let Ok(verifier) = Verifier::parse(text) {
        return Ok(B64.encode(verifier.public_key()));
    }
    match B64.decode(text.trim()).ok().map(<[u8; 32]>::try_from) {
        Some(Ok(raw)) => Ok(B64.encode(raw)),
        _ => Err(format!(
            "`{text}` is neither a log verifier key (<name>+<key id>+<key>) nor a 32-byte base64 key"
        )),
    }
}

impl Dir {
    /// The directory at `path` (not touched yet).
    pub fn at(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a new witness here: a fresh key from the OS CSPRNG and a configuration with no
    /// logs yet. Refuses if a key is already there (a witness's key is its identity).
    pub fn init(&self, name: &str) -> Result<WitnessVerifier, StoreError> {
        let key_path = self.path.join(KEY_FILE);
        if key_path.exists() {
            return Err(unusable(
                &key_path,
                "a witness key is already here; a witness keeps its key for ever",
            ));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| unusable(&key_path, e.to_string()))?;
        let key = WitnessKey::from_seed(name, &seed)
            .map_err(|e| unusable(&self.path.join(CONFIG_FILE), e.to_string()))?;
        make_dir(&self.path)?;
        make_dir(&self.path.join("logs"))?;
        make_dir(&self.path.join("forks"))?;
        let text = format!("{KEY_HEADER}\n{}\n", B64.encode(seed));
        write_durably(&key_path, text.as_bytes(), 0o600)?;
        self.write_config(&Config {
            name: name.to_owned(),
            logs: Vec::new(),
        })?;
        Ok(key.verifier())
    }

    /// Reads the configuration.
    pub fn config(&self) -> Result<Config, StoreError> {
        let path = self.path.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).map_err(|e| io(&path, &e))?;
        toml::from_str(&text).map_err(|e| unusable(&path, e.to_string()))
    }

    /// Writes the configuration.
    pub fn write_config(&self, config: &Config) -> Result<(), StoreError> {
        let path = self.path.join(CONFIG_FILE);
        let text = toml::to_string(config).map_err(|e| unusable(&path, e.to_string()))?;
        let text = format!(
            "# strikevote-witness: its name (on every cosignature) and the logs it witnesses.\n{text}"
        );
        write_durably(&path, text.as_bytes(), 0o644)
    }

    /// Reads the key (refusing a file others can read).
    pub fn key(&self, name: &str) -> Result<WitnessKey, StoreError> {
        let path = self.path.join(KEY_FILE);
        let meta = fs::metadata(&path).map_err(|e| io(&path, &e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(unusable(&path, "readable by others: chmod 600 it"));
        }
        let text = fs::read_to_string(&path).map_err(|e| io(&path, &e))?;
        let seed = text
            .lines()
            .nth(1)
            .and_then(|l| B64.decode(l.trim()).ok())
            .and_then(|s| <[u8; 32]>::try_from(s).ok())
            .ok_or_else(|| unusable(&path, "not a strikevote-witness key file"))?;
        WitnessKey::from_seed(name, &seed).map_err(|e| unusable(&path, e.to_string()))
    }

    /// Takes the directory for one serving process; held while the returned file lives.
    pub fn lock(&self) -> Result<File, StoreError> {
        let path = self.path.join("lock");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io(&path, &e))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(fs::TryLockError::WouldBlock) => {
                Err(StoreError::Busy(self.path.display().to_string()))
            }
            Err(fs::TryLockError::Error(e)) => Err(io(&path, &e)),
        }
    }

    fn log_file(&self, origin: &str) -> PathBuf {
        self.path
            .join("logs")
            .join(hex::encode(Sha256::digest(origin.as_bytes())))
    }

    /// The latest checkpoint cosigned of `origin`, and its whole note.
    pub fn latest(&self, origin: &str) -> Result<Option<(Checkpoint, String)>, StoreError> {
        let path = self.log_file(origin);
        let note = match fs::read_to_string(&path) {
            Ok(note) => note,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, &e)),
        };
        let checkpoint = Checkpoint::parse(&note).map_err(|e| unusable(&path, e.to_string()))?;
        if checkpoint.origin != origin {
            return Err(unusable(&path, "holds another log's checkpoint"));
        }
        Ok(Some((checkpoint, note)))
    }

    /// Records `note` as the latest cosigned checkpoint of `origin`, durably.
    pub fn store_latest(&self, origin: &str, note: &str) -> Result<(), StoreError> {
        write_durably(&self.log_file(origin), note.as_bytes(), 0o644)
    }

    /// Every log's latest cosigned checkpoint.
    pub fn all_latest(&self) -> Result<Vec<(Checkpoint, String)>, StoreError> {
        let dir = self.path.join("logs");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| io(&dir, &e))? {
            let path = entry.map_err(|e| io(&dir, &e))?.path();
            if path.extension().is_some() {
                continue; // a temporary file a crash left
            }
            let note = fs::read_to_string(&path).map_err(|e| io(&path, &e))?;
            let checkpoint =
                Checkpoint::parse(&note).map_err(|e| unusable(&path, e.to_string()))?;
            out.push((checkpoint, note));
        }
        out.sort_by(|a, b| a.0.origin.cmp(&b.0.origin));
        Ok(out)
    }

    /// Keeps evidence of a fork, durably.
    pub fn record_evidence(&self, evidence: &Evidence) -> Result<(), StoreError> {
        let bytes =
            serde_json::to_vec_pretty(evidence).map_err(|e| unusable(&self.path, e.to_string()))?;
        let digest = hex::encode(&Sha256::digest(&bytes)[..8]);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = self
            .path
            .join("forks")
            .join(format!("{nanos:020}-{digest}.json"));
        write_durably(&path, &bytes, 0o644)
    }

    /// All the evidence kept, oldest first.
    pub fn evidence(&self) -> Result<Vec<Evidence>, StoreError> {
        let dir = self.path.join("forks");
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(|e| io(&dir, &e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let bytes = fs::read(path).map_err(|e| io(path, &e))?;
                serde_json::from_slice(&bytes).map_err(|e| unusable(path, e.to_string()))
            })
            .collect()
    }
}
