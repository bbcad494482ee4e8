//! Settings: built-in defaults, then an optional TOML file, then `STRIKEVOTE_*` environment
//! variables, then command-line flags — each overriding the one before.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::db::DatabaseUrl;

/// Every setting the service reads.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://FILE` (default `sqlite://strikevote.db`) or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// The public host name (and port) members and auditors reach; part of each log's origin.
    pub public_host: String,
    /// Base URL of ballot links; defaults to `https://{public_host}` (`http://` for localhost).
    pub public_url: Option<String>,
    /// Where the Ed25519 signing key lives (created on first use, mode 0600).
    pub signing_key_path: PathBuf,
    /// Database connections per process.
    pub db_pool_size: u32,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// `text` (default) or `json` log lines.
    pub log_format: String,
    /// Largest upload (roster CSV, definition) in bytes.
    pub upload_limit_bytes: usize,
    /// How long the casting pool gathers ballots before committing them as one batch (ms).
    pub batch_period_ms: u64,
    /// The most ballots one batch commits.
    pub batch_max: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://strikevote.db".into(),
            bind: "127.0.0.1:8080".into(),
            public_host: "localhost:8080".into(),
            public_url: None,
            signing_key_path: PathBuf::from("strikevote.key"),
            db_pool_size: 8,
            body_limit_bytes: 64 * 1024,
            log_format: "text".into(),
            upload_limit_bytes: 32 * 1024 * 1024,
            batch_period_ms: 100,
            batch_max: 5000,
        }
    }
}

/// The environment variables read, without the `STRIKEVOTE_` prefix.
const ENV_KEYS: [&str; 11] = [
    "database_url",
    "bind",
    "public_host",
    "public_url",
    "signing_key_path",
    "db_pool_size",
    "body_limit_bytes",
    "log_format",
    "batch_period_ms",
    "batch_max",
    "upload_limit_bytes",
];

/// Values given as command-line flags; `None` leaves the setting alone.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--bind`.
    pub bind: Option<String>,
    /// `--public-host`.
    pub public_host: Option<String>,
}

impl Settings {
    /// Loads settings from the layers described at the top of this module.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            if !path.is_file() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::prefixed("STRIKEVOTE_").filter(|key| ENV_KEYS.contains(&key.as_str())));
        let mut settings: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        if let Some(url) = &overrides.database_url {
            settings.database_url = url.clone();
        }
        if let Some(bind) = &overrides.bind {
            settings.bind = bind.clone();
        }
        if let Some(host) = &overrides.public_host {
            settings.public_host = host.clone();
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        DatabaseUrl::parse(&self.database_url)?;
        if self.public_host.is_empty() || self.public_host.contains('/') {
            anyhow::bail!(
                "public_host `{}` must be a host name with an optional port, such as vote.example.org",
                self.public_host
            );
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            anyhow::bail!("log_format must be `text` or `json`");
        }
        if self.body_limit_bytes < 1024 {
            anyhow::bail!("body_limit_bytes must be at least 1024");
        }
        if !(1..=10_000).contains(&self.batch_period_ms) {
            anyhow::bail!("batch_period_ms must be from 1 to 10000");
        }
        if self.batch_max == 0 {
            anyhow::bail!("batch_max must be at least 1");
        }
        Ok(())
    }

    /// The parsed database URL.
    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        Ok(DatabaseUrl::parse(&self.database_url)?)
    }

    /// The base URL members open (no trailing slash).
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let host = self.public_host.split(':').next().unwrap_or_default();
                let scheme = if host == "localhost" || host.starts_with("127.") {
                    "http"
                } else {
                    "https"
                };
                format!("{scheme}://{}", self.public_host)
            }
        }
    }
}

/// Never prints the database password.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let database = DatabaseUrl::parse(&self.database_url)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| "<invalid>".into());
        f.debug_struct("Settings")
            .field("database_url", &database)
            .field("bind", &self.bind)
            .field("public_host", &self.public_host)
            .field("public_url", &self.public_url)
            .field("signing_key_path", &self.signing_key_path)
            .field("db_pool_size", &self.db_pool_size)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("log_format", &self.log_format)
            .field("batch_period_ms", &self.batch_period_ms)
            .field("batch_max", &self.batch_max)
            .field("upload_limit_bytes", &self.upload_limit_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_links_are_plain_http_and_others_https() {
        let mut s = Settings::default();
        assert_eq!(s.public_base_url(), "http://localhost:8080");
        s.public_host = "vote.example.org".into();
        assert_eq!(s.public_base_url(), "https://vote.example.org");
        s.public_url = Some("https://ballots.example.org/".into());
        assert_eq!(s.public_base_url(), "https://ballots.example.org");
    }

    #[test]
    fn debug_hides_the_database_password() {
        let s = Settings {
            database_url: "postgres://app:hunter2@db/sv".into(),
            ..Settings::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db"), "{shown}");
    }
}
