//! A teller's state file and the secret shares tellers send each other, with `age`:
//! the file is encrypted with the teller's passphrase (scrypt), each share to its recipient's
//! X25519 key. Nothing here is stored or sent in plaintext.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strikevote_core::crypto::SecretShare;
use strikevote_core::crypto::ceremony::Teller;
use strikevote_core::crypto::identity::Identity;

use strikevote_core::ElectionId;

/// Why a teller's secrets cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The passphrase does not open the file (or the file is not a teller file).
    #[error("the passphrase does not open {0}, or it is not a teller state file")]
    WrongPassphrase(String),
    /// A share was not encrypted to this teller, or was altered.
    #[error("a secret share sent to this teller cannot be decrypted with its key: {0}")]
    Share(String),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Encryption failed (an OS random source failure).
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    /// A work factor below [`MIN_WORK_FACTOR`] was asked for outside a test build.
    #[error(
        "a work factor of {0} is too weak for a teller's state file: at least {MIN_WORK_FACTOR} \
         (scrypt N = 2^{MIN_WORK_FACTOR}), or leave it out to let age choose about a second's work"
    )]
    WeakWorkFactor(u8),
}

/// The lowest scrypt work factor (log₂ N) a state file may be written with: a stolen file's
/// passphrase then costs an attacker about as much per guess as age's own default.
pub const MIN_WORK_FACTOR: u8 = 18;

/// Checks a requested work factor. Only a test build (`weak_allowed`: the `failpoints`
/// feature, which the test suite builds with) may go below [`MIN_WORK_FACTOR`], so that the
/// tests' state files open in milliseconds.
pub fn check_work_factor(log_n: Option<u8>, weak_allowed: bool) -> Result<(), SecretsError> {
    match log_n {
        Some(n) if n < MIN_WORK_FACTOR && !weak_allowed => Err(SecretsError::WeakWorkFactor(n)),
        _ => Ok(()),
    }
}

/// Everything a teller keeps between commands.
#[derive(Serialize, Deserialize)]
pub struct TellerFile {
    /// The election's id.
    pub election: String,
    /// The teller's number (1-based, as on the invitation).
    pub teller: usize,
    /// The teller's age identity, which the other tellers encrypt shares to.
    identity: String,
    /// The seed of the teller's Ed25519 identity key, which signs its messages.
    signing: String,
    /// The other tellers' identity fingerprints, as they read them to this teller (by number).
    #[serde(default)]
    pub confirmed: BTreeMap<u32, String>,
    /// The log as this teller last checked it during the ceremony (its key, entry 0, a
    /// checkpoint): `teller decrypt` trusts only a log that extends it.
    #[serde(default)]
    pub pin: Option<Pin>,
    /// How many restarts of the key ceremony the log showed when `state` began: a restart
    /// after that voids it (`ceremony_restart`, docs/LOG_FORMAT.md).
    #[serde(default)]
    pub ceremony: usize,
    /// The ceremony state (and, once ready, the key share).
    pub state: Teller,
}

/// What a teller pinned of the election's log during the key ceremony.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The log's verifier key (`<origin>+<key id>+<key>`), never taken from a server later.
    pub vkey: String,
    /// Entry 0's leaf hash (hex): the definition the tellers made the key for.
    pub first_leaf: String,
    /// The size of the checkpoint the teller checked.
    pub size: u64,
    /// Its root, base64.
    pub root: String,
}

impl TellerFile {
    /// A new file for teller `teller` of `election`, with a fresh age identity and a fresh
    /// identity key.
    pub fn new(election: ElectionId, teller: usize, state: Teller) -> Self {
        let identity = age::x25519::Identity::generate();
        let mut seed = Zeroing(vec![0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed.0);
        let signing: [u8; 32] = seed.0.as_slice().try_into().unwrap_or([0; 32]);
        Self {
            election: election.to_string(),
            teller,
            identity: identity.to_string().expose_secret().to_owned(),
            signing: Identity::from_seed(&signing).seed_hex(),
            confirmed: BTreeMap::new(),
            pin: None,
            ceremony: 0,
            state,
        }
    }

    /// The teller's identity key, which signs its ceremony messages and decryption shares.
    pub fn signing_key(&self) -> Result<Identity, SecretsError> {
        Identity::from_seed_hex(&self.signing).ok_or_else(|| {
            SecretsError::Share("the state file's identity key is unreadable".into())
        })
    }

    /// The identity key's fingerprint, which the teller reads to the other tellers.
    pub fn fingerprint(&self) -> Result<String, SecretsError> {
        Ok(self.signing_key()?.fingerprint())
    }

    fn identity(&self) -> Result<age::x25519::Identity, SecretsError> {
        age::x25519::Identity::from_str(&self.identity)
            .map_err(|e| SecretsError::Share(format!("the state file's key is unreadable: {e}")))
    }

    /// The public key other tellers encrypt shares to (`age1…`).
    pub fn recipient(&self) -> Result<String, SecretsError> {
        Ok(self.identity()?.to_public().to_string())
    }

    /// Writes the file encrypted with `passphrase` (mode 0600, written whole then renamed).
    /// `work_factor` is scrypt's log₂ N; `None` lets age pick about one second's work.
    pub fn save(
        &self,
        path: &Path,
        passphrase: &str,
        work_factor: Option<u8>,
    ) -> Result<(), SecretsError> {
        let plain =
            Zeroing(serde_json::to_vec(self).map_err(|e| SecretsError::Encrypt(e.to_string()))?);
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
        if let Some(log_n) = work_factor {
            recipient.set_work_factor(log_n.clamp(1, 30));
        }
        let sealed =
            age::encrypt(&recipient, &plain.0).map_err(|e| SecretsError::Encrypt(e.to_string()))?;
        let file_error = |source| SecretsError::File {
            path: path.display().to_string(),
            source,
        };
        let partial = path.with_extension("partial");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial).map_err(file_error)?;
        file.write_all(&sealed).map_err(file_error)?;
        file.sync_all().map_err(file_error)?;
        std::fs::rename(&partial, path).map_err(file_error)
    }

    /// Reads a file written by [`TellerFile::save`].
    pub fn load(path: &Path, passphrase: &str) -> Result<Self, SecretsError> {
        let sealed = std::fs::read(path).map_err(|source| SecretsError::File {
            path: path.display().to_string(),
            source,
        })?;
        let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
        let wrong = || SecretsError::WrongPassphrase(path.display().to_string());
        let plain = Zeroing(age::decrypt(&identity, &sealed).map_err(|_| wrong())?);
        serde_json::from_slice(&plain.0).map_err(|_| wrong())
    }

    /// Decrypts a share another teller encrypted to this one.
    pub fn open_share(&self, sealed: &[u8]) -> Result<SecretShare, SecretsError> {
        let plain = Zeroing(
            age::decrypt(&self.identity()?, sealed)
                .map_err(|e| SecretsError::Share(e.to_string()))?,
        );
        SecretShare::from_bytes(&plain.0)
            .ok_or_else(|| SecretsError::Share("not a key share".into()))
    }
}

/// Encrypts `share` to the teller whose public key is `recipient` (`age1…`).
pub fn seal_share(recipient: &str, share: &SecretShare) -> Result<Vec<u8>, SecretsError> {
    let recipient = age::x25519::Recipient::from_str(recipient)
        .map_err(|e| SecretsError::Encrypt(format!("not a teller key: {e}")))?;
    let plain = Zeroing(share.expose_scalar().to_bytes().to_vec());
    age::encrypt(&recipient, &plain.0).map_err(|e| SecretsError::Encrypt(e.to_string()))
}

/// Plaintext secret bytes, wiped when dropped.
struct Zeroing(Vec<u8>);

impl Drop for Zeroing {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::{MIN_WORK_FACTOR, SecretsError, check_work_factor};
    use rand::SeedableRng;
    use strikevote_core::crypto::TellerParams;
    use strikevote_core::crypto::ceremony::Teller;

    use super::*;

    fn file(teller: usize) -> TellerFile {
        let params = TellerParams::new(2, 2).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(teller as u64);
        let state = Teller::new(params, teller - 1, &mut rng).unwrap();
        let id = ElectionId::parse("0192c7a0-0000-4000-8000-000000000001").unwrap();
        TellerFile::new(id, teller, state)
    }

    #[test]
    fn the_state_file_opens_only_with_its_passphrase_and_holds_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("teller-1.state");
        let f = file(1);
        f.save(&path, "correct horse battery staple", Some(4))
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("age-encryption.org/v1"), "{text}");
        for secret in [
            "stage",
            "committing",
            "AGE-SECRET-KEY",
            &f.identity,
            &f.signing,
        ] {
            assert!(!text.contains(secret), "`{secret}` in the file");
        }
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&path).unwrap().permissions()
            ) & 0o777,
            0o600
        );
        let back = TellerFile::load(&path, "correct horse battery staple").unwrap();
        assert_eq!((back.teller, &back.election), (1, &f.election));
        assert_eq!(back.recipient().unwrap(), f.recipient().unwrap());
        let err = TellerFile::load(&path, "wrong horse").err().unwrap();
        assert!(
            err.to_string().contains("the passphrase does not open"),
            "{err}"
        );
    }

    #[test]
    fn a_share_opens_only_for_the_teller_it_was_sealed_to() {
        let (one, two) = (file(1), file(2));
        let share = SecretShare::generate(&mut rand::rngs::StdRng::seed_from_u64(5));
        let sealed = seal_share(&two.recipient().unwrap(), &share).unwrap();
        let opened = two.open_share(&sealed).unwrap();
        assert_eq!(opened.expose_scalar(), share.expose_scalar());
        assert!(one.open_share(&sealed).is_err());
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(two.open_share(&altered).is_err());
        assert!(seal_share("age1notakey", &share).is_err());
    }

    #[test]
    fn a_release_build_refuses_a_work_factor_below_the_floor() {
        assert!(matches!(
            check_work_factor(Some(2), false),
            Err(SecretsError::WeakWorkFactor(2))
        ));
        assert!(check_work_factor(Some(MIN_WORK_FACTOR - 1), false).is_err());
        assert!(check_work_factor(Some(MIN_WORK_FACTOR), false).is_ok());
        assert!(check_work_factor(None, false).is_ok());
        // The test build's state files may be weak (they hold test elections' keys only).
        assert!(check_work_factor(Some(2), true).is_ok());
    }
}
