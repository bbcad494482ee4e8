//! Settings: built-in defaults, then an optional TOML file, then `STRIKEVOTE_*` environment
//! variables, then command-line flags — each overriding the one before.
//!
//! [`SETTINGS`] is the one list of settings: it drives the environment variables read, the
//! check that refuses an unknown `STRIKEVOTE_*` variable, and the test that walks
//! docs/OPERATIONS.md, so a setting cannot be documented, read or checked alone.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::db::DatabaseUrl;
use strikevote_core::net::is_loopback_host;

/// The prefix of every environment variable strikevote reads.
pub const ENV_PREFIX: &str = "STRIKEVOTE_";

/// Every setting key (file key; the environment variable is `STRIKEVOTE_` + upper case).
pub const SETTINGS: [&str; 25] = [
    "database_url",
    "bind",
    "public_url",
    "signing_key_path",
    "heads_dir",
    "db_pool_size",
    "body_limit_bytes",
    "log_format",
    "batch_period_ms",
    "batch_max",
    "witness_wait_seconds",
    "upload_limit_bytes",
    "upload_max_rows",
    "trusted_proxies",
    "rate_limit_per_minute",
    "schedule_seconds",
    "metrics_bind",
    "metrics_token",
    "smtp_url",
    "mail_from",
    "mail_per_minute",
    "mail_lease_seconds",
    "union_name",
    "letter_paper",
    "teller_program",
];

/// `STRIKEVOTE_*` variables that are not settings but are still ours: the config file (read
/// by the command line) and the test suite's PostgreSQL server.
pub const OTHER_ENV: [&str; 2] = ["STRIKEVOTE_CONFIG", "STRIKEVOTE_TEST_POSTGRES_URL"];

/// The public base URL of a deployment: `https://HOST[:PORT]` (or `http://` for a trial on
/// this machine: localhost, 127.0.0.1, [::1]). Ballot links and each election's log origin are
/// built from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicUrl {
    https: bool,
    host: String,
}

impl PublicUrl {
    /// Parses `scheme://host[:port]` (a trailing `/` is allowed; no path, query or user).
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        Self::parse_named(raw, "public_url")
    }

    /// As [`PublicUrl::parse`], naming the setting or option it came from in a refusal.
    /// Plain `http://` is refused unless the host is this machine: members' tokens, officials'
    /// passwords and tellers' shares would cross the network unencrypted.
    pub fn parse_named(raw: &str, name: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        let bad = |why: &str| {
            anyhow::anyhow!(
                "{name} `{raw}` {why}: give the service's address, such as https://vote.example.org"
            )
        };
        let (https, rest) = if let Some(rest) = raw.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = raw.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad(
                "must start with https:// (or http:// for a local trial)",
            ));
        };
        let host = rest.strip_suffix('/').unwrap_or(rest);
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        if host.contains(['/', '?', '#', '@', '\\'])
            || host.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                "must be only a scheme and a host (no path, query or user)",
            ));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(bad("has a character a host name cannot have"));
        }
        if !https && !is_loopback_host(host) {
            return Err(bad(
                "is plain http:// to another machine, where tokens and passwords would cross the \
                 network unencrypted (http:// is only for a trial on this machine: localhost, \
                 127.0.0.1, [::1]); put TLS in front of the service (docs/OPERATIONS.md, Behind a \
                 reverse proxy) and give its https:// address",
            ));
        }
        Ok(Self {
            https,
            host: host.to_ascii_lowercase(),
        })
    }

    /// `host[:port]`, the first part of each log origin.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether members reach it over TLS.
    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host)
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).map_err(|e| e.to_string())
    }
}

impl From<PublicUrl> for String {
    fn from(u: PublicUrl) -> String {
        u.to_string()
    }
}

/// Every setting the service reads.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://FILE` (default `sqlite://strikevote.db`) or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// The address members and auditors reach (`https://vote.example.org`). Required to
    /// create an election or issue tokens; `serve` on a loopback address without it uses
    /// `http://localhost:PORT` (a trial on this machine).
    pub public_url: Option<PublicUrl>,
    /// Where the Ed25519 signing key lives (created on first use, mode 0600). The signed
    /// heads of every log are kept beside it, in `<signing_key_path>.heads/`.
    pub signing_key_path: PathBuf,
    /// Where the signed heads are recorded (default: beside the key, `<signing_key_path>.heads/`).
    /// Every instance signing with the key must share it (a ReadWriteMany volume with POSIX
    /// locks when the key is a read-only Kubernetes Secret).
    pub heads_dir: Option<PathBuf>,
    /// Database connections per process.
    pub db_pool_size: u32,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// `text` (default) or `json` log lines.
    pub log_format: String,
    /// Largest upload (roster CSV, definition) in bytes.
    pub upload_limit_bytes: usize,
    /// Most roster rows one upload through the web or the API may hold (the CLI has no limit).
    pub upload_max_rows: usize,
    /// How long the casting pool gathers ballots before committing them as one batch (ms).
    pub batch_period_ms: u64,
    /// The most ballots one batch commits.
    pub batch_max: usize,
    /// How long a recorded ballot waits for its election's witnesses to cosign before its
    /// member is told it is recorded but not yet confirmed (s).
    pub witness_wait_seconds: u64,
    /// Addresses of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Requests per minute one client address may make to the endpoints that take a token, a
    /// receipt, a password or an upload (0 turns the limit off).
    pub rate_limit_per_minute: u32,
    /// How often the server opens and closes votes whose time has come (s; 0: never, the
    /// officials do it by hand).
    pub schedule_seconds: u64,
    /// An internal address (`127.0.0.1:9464`, or a pod address only Prometheus can reach) that
    /// serves `/metrics` to anyone who reaches it; unset: no internal listener.
    pub metrics_bind: Option<String>,
    /// A secret that lets `/metrics` on the public port answer callers who send
    /// `Authorization: Bearer <metrics_token>`; unset: the public port does not serve metrics.
    pub metrics_token: Option<String>,
    /// The SMTP server the outbox sends through: `smtps://USER:PASSWORD@HOST[:PORT]` (TLS),
    /// `smtp://USER:PASSWORD@HOST[:PORT]?tls=required` (STARTTLS), or plain `smtp://HOST:PORT`
    /// only to this machine. Unset: nothing is sent by email.
    pub smtp_url: Option<String>,
    /// The `From` of every message: the union's name and address, `Local 871 Vote
    /// <vote@local871.example>`.
    pub mail_from: Option<String>,
    /// The most messages handed to the SMTP server per minute, by all instances together
    /// (the pace they share, [`crate::notices::pace`]).
    pub mail_per_minute: u32,
    /// How long a sender holds the messages it claimed before another may send them (s): after
    /// a crash, its messages wait this long. Longer than the slowest SMTP conversation.
    pub mail_lease_seconds: u64,
    /// The union's name as messages and letters give it; unset: the name in `mail_from`.
    pub union_name: Option<String>,
    /// The paper the letters PDF is laid out for: `letter` (US Letter, for a #10 window
    /// envelope) or `a4` (for a DL window envelope).
    pub letter_paper: Paper,
    /// The `strikevote-teller` release file whose SHA-256 the teller invitations print;
    /// unset: the one beside this program.
    pub teller_program: Option<PathBuf>,
}

/// The paper the letters and the tellers' sheets are laid out for (`letter_paper`); their
/// layout is the letters' (notices::letters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    /// US Letter, the address placed for a #10 window envelope.
    #[default]
    Letter,
    /// A4, the address placed for a DL window envelope (DIN 5008, form B).
    A4,
}

/// The signing key's file name when no path is given: beside the SQLite database, or in the
/// working directory for PostgreSQL.
pub const DEFAULT_KEY_FILE: &str = "strikevote.key";

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://strikevote.db".into(),
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            signing_key_path: PathBuf::from(DEFAULT_KEY_FILE),
            heads_dir: None,
            db_pool_size: 8,
            body_limit_bytes: 64 * 1024,
            log_format: "text".into(),
            upload_limit_bytes: 32 * 1024 * 1024,
            upload_max_rows: 200_000,
            batch_period_ms: 100,
            batch_max: 5000,
            witness_wait_seconds: 15,
            trusted_proxies: Vec::new(),
            rate_limit_per_minute: 600,
            schedule_seconds: 10,
            metrics_bind: None,
            metrics_token: None,
            smtp_url: None,
            mail_from: None,
            mail_per_minute: 600,
            mail_lease_seconds: 120,
            union_name: None,
            letter_paper: Paper::Letter,
            teller_program: None,
        }
    }
}

/// Values given as command-line flags; `None` leaves the setting alone.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--bind`.
    pub bind: Option<String>,
    /// `--public-url`.
    pub public_url: Option<String>,
}

impl Settings {
    /// Loads settings from the layers described at the top of this module, reading the
    /// process environment.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        Self::load_from(config_file, overrides, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given (for tests).
    pub fn load_from(
        config_file: Option<&Path>,
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        let unknown: Vec<&str> = env
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !OTHER_ENV.contains(k) && !SETTINGS.iter().any(|s| env_name(s) == *k))
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "unknown environment variable(s) {}: the settings are {} (see docs/OPERATIONS.md)",
                unknown.join(", "),
                SETTINGS.map(env_name).join(", ")
            );
        }
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let key_given = env.iter().any(|(k, _)| *k == env_name("signing_key_path"))
            || config_file
                .is_some_and(|path| Figment::from(Toml::file(path)).contains("signing_key_path"));
        if let Some(path) = config_file {
            if !path.is_file() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        // Figment's own Env provider reads the process environment; giving it ours keeps one
        // source of truth (and lets tests pass an environment). Lists are comma-separated.
        for (key, value) in &env {
            let Some(name) = SETTINGS.iter().find(|s| env_name(s) == *key) else {
                continue;
            };
            let value: figment::value::Value = if *name == "trusted_proxies" {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .into()
            } else {
                value
                    .parse()
                    .unwrap_or_else(|e: std::convert::Infallible| match e {})
            };
            figment = figment.merge(Serialized::default(name, value));
        }
        let mut settings: Settings = figment.extract().map_err(|e| {
            let hint = if e.to_string().contains("public_host") {
                " (public_host was replaced by public_url, e.g. public_url = \"https://vote.example.org\")"
            } else {
                ""
            };
            anyhow::anyhow!("invalid settings: {e}{hint}")
        })?;
        if let Some(url) = &overrides.database_url {
            settings.database_url = url.clone();
        }
        if let Some(bind) = &overrides.bind {
            settings.bind = bind.clone();
        }
        if let Some(url) = &overrides.public_url {
            settings.public_url = Some(PublicUrl::parse(url)?);
        }
        if !key_given {
            settings.key_beside_database();
        }
        settings.validate()?;
        Ok(settings)
    }

    /// The key follows the database: beside the SQLite file (unless placed elsewhere), so a
    /// command run from another directory signs with the same key.
    fn key_beside_database(&mut self) {
        if let Ok(url) = DatabaseUrl::parse(&self.database_url)
            && let Some(file) = url.sqlite_file()
        {
            let dir = file.parent().unwrap_or(Path::new(""));
            self.signing_key_path = dir.join(DEFAULT_KEY_FILE);
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        DatabaseUrl::parse(&self.database_url)?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            anyhow::bail!("log_format must be `text` or `json`");
        }
        if self.body_limit_bytes < 1024 {
            anyhow::bail!("body_limit_bytes must be at least 1024");
        }
        if !(1..=10_000).contains(&self.batch_period_ms) {
            anyhow::bail!("batch_period_ms must be from 1 to 10000");
        }
        if !(1..=600).contains(&self.witness_wait_seconds) {
            anyhow::bail!("witness_wait_seconds must be from 1 to 600");
        }
        if self.batch_max == 0 {
            anyhow::bail!("batch_max must be at least 1");
        }
        if self.upload_max_rows == 0 {
            anyhow::bail!("upload_max_rows must be at least 1");
        }
        if !(1..=100_000).contains(&self.mail_per_minute) {
            anyhow::bail!("mail_per_minute must be from 1 to 100000");
        }
        if !(5..=3600).contains(&self.mail_lease_seconds) {
            anyhow::bail!("mail_lease_seconds must be from 5 to 3600");
        }
        if let Some(name) = &self.union_name
            && (name.trim().is_empty()
                || name.chars().count() > 120
                || strikevote_core::text::unsafe_character(name).is_some())
        {
            anyhow::bail!(
                "union_name must be one line of 1 to 120 characters, such as `IATSE Local 871`"
            );
        }
        self.mail()?;
        Ok(())
    }

    /// The outbox's SMTP server and sender, when `smtp_url` is set (then `mail_from` must be
    /// too); a clear refusal for a URL that would send tokens unencrypted across a network.
    pub fn mail(&self) -> anyhow::Result<Option<crate::notices::smtp::MailServer>> {
        let Some(url) = self.smtp_url.as_deref() else {
            return Ok(None);
        };
        crate::notices::smtp::MailServer::parse(crate::notices::smtp::MailSettings {
            url,
            from: self.mail_from.as_deref(),
            per_minute: self.mail_per_minute,
            lease_seconds: self.mail_lease_seconds,
            union_name: self.union_name.as_deref(),
        })
        .map(Some)
    }

    /// The union's name as letters give it: `union_name`, else the name in `mail_from`, else
    /// the public address's host.
    pub fn union(&self) -> String {
        let from_name = self
            .mail_from
            .as_deref()
            .and_then(|f| f.parse::<lettre::message::Mailbox>().ok())
            .and_then(|m| m.name);
        self.union_name
            .clone()
            .or(from_name)
            .or_else(|| self.public_url.as_ref().map(|u| u.host().to_owned()))
            .unwrap_or_default()
    }

    /// Where members' questions go when a definition names no contact: `mail_from`'s address.
    pub fn contact_fallback(&self) -> String {
        self.mail_from
            .as_deref()
            .and_then(|f| f.parse::<lettre::message::Mailbox>().ok())
            .map(|m| m.email.to_string())
            .unwrap_or_default()
    }

    /// The parsed database URL.
    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        Ok(DatabaseUrl::parse(&self.database_url)?)
    }

    /// The configured public URL, or a clear refusal naming what needs it.
    pub fn require_public_url(&self, what: &str) -> anyhow::Result<PublicUrl> {
        self.public_url.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "cannot {what} without the service's public address: members' ballot links and \
                 the log's signed origin are built from it and cannot change later. Set \
                 public_url in the config file, STRIKEVOTE_PUBLIC_URL, or pass \
                 --public-url https://vote.example.org"
            )
        })
    }

    /// The public URL a server uses: the configured one, else (only when it listens on a
    /// loopback address, a trial on this machine) `http://localhost:PORT`.
    pub fn serving_public_url(&self, port: u16) -> anyhow::Result<PublicUrl> {
        if let Some(url) = &self.public_url {
            return Ok(url.clone());
        }
        let host = self
            .bind
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']))
            .unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            PublicUrl::parse(&format!("http://localhost:{port}"))
        } else {
            Err(self
                .require_public_url(&format!("serve on {}", self.bind))
                .unwrap_err())
        }
    }
}

/// The environment variable of a setting.
pub fn env_name(setting: &str) -> String {
    format!("{ENV_PREFIX}{}", setting.to_ascii_uppercase())
}

/// Never prints the database password.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.redacted(), f)
    }
}

impl Settings {
    /// The settings in force as JSON, the database password hidden (for `strikevote settings`).
    pub fn redacted(&self) -> serde_json::Value {
        let database = DatabaseUrl::parse(&self.database_url)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| "<invalid>".into());
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["database_url"] = database.into();
        if self.metrics_token.is_some() {
            value["metrics_token"] = "<hidden>".into();
        }
        if let Ok(Some(mail)) = self.mail() {
            value["smtp_url"] = mail.server_shown().into();
        } else if self.smtp_url.is_some() {
            value["smtp_url"] = "<invalid>".into();
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_env(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        Settings::load_from(
            None,
            &Overrides::default(),
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn the_smtp_password_is_never_shown() {
        let settings = Settings {
            smtp_url: Some("smtps://u:hunter2@mail.example.org".into()),
            mail_from: Some("Vote <v@example.org>".into()),
            ..Settings::default()
        };
        let shown = settings.redacted().to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("smtps://u:<hidden>@mail.example.org"),
            "{shown}"
        );
    }

    #[test]
    fn environment_variables_are_read_case_as_documented() {
        let s = load_env(&[
            ("STRIKEVOTE_BIND", "127.0.0.1:18090"),
            ("STRIKEVOTE_DB_POOL_SIZE", "3"),
            ("STRIKEVOTE_PUBLIC_URL", "https://Vote.Example.org/"),
            ("STRIKEVOTE_TRUSTED_PROXIES", "10.0.0.1, ::1"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(s.bind, "127.0.0.1:18090");
        assert_eq!(s.db_pool_size, 3);
        assert_eq!(
            s.public_url.unwrap().to_string(),
            "https://vote.example.org"
        );
        assert_eq!(s.trusted_proxies.len(), 2);
    }

    #[test]
    fn the_key_follows_a_sqlite_database_unless_placed() {
        let at = |pairs: &[(&str, &str)]| load_env(pairs).unwrap().signing_key_path;
        assert_eq!(at(&[]), PathBuf::from("strikevote.key"));
        let db = (
            "STRIKEVOTE_DATABASE_URL",
            "sqlite:///srv/vote/strikevote.db",
        );
        assert_eq!(at(&[db]), PathBuf::from("/srv/vote/strikevote.key"));
        let placed = ("STRIKEVOTE_SIGNING_KEY_PATH", "/etc/strikevote/signing.key");
        assert_eq!(
            at(&[db, placed]),
            PathBuf::from("/etc/strikevote/signing.key")
        );
        let pg = ("STRIKEVOTE_DATABASE_URL", "postgres://vote@db/vote");
        assert_eq!(at(&[pg]), PathBuf::from("strikevote.key"));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "signing_key_path = \"/k/s.key\"\n").unwrap();
        let from_file = Settings::load_from(
            Some(file.path()),
            &Overrides {
                database_url: Some("sqlite:///srv/vote/strikevote.db".into()),
                ..Overrides::default()
            },
            Vec::new(),
        )
        .unwrap();
        assert_eq!(from_file.signing_key_path, PathBuf::from("/k/s.key"));
    }

    #[test]
    fn an_unknown_strikevote_variable_is_an_error_naming_it() {
        let err = load_env(&[("STRIKEVOTE_DATABSE_URL", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("STRIKEVOTE_DATABSE_URL"), "{err}");
        assert!(load_env(&[("STRIKEVOTE_CONFIG", "x")]).is_ok());
    }

    #[test]
    fn public_urls_are_a_scheme_and_a_host_only() {
        assert_eq!(
            PublicUrl::parse("http://localhost:8080").unwrap().host(),
            "localhost:8080"
        );
        for bad in [
            "vote.example.org",
            "https://",
            "https://vote.example.org/strike",
            "https://u@vote.example.org",
            "ftp://vote.example.org",
            "https://vote example.org",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_is_refused_to_another_machine() {
        for trial in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://127.0.0.1:9",
            "http://127.8.9.10",
            "http://[::1]:8080",
        ] {
            assert!(PublicUrl::parse(trial).is_ok(), "{trial}");
        }
        for remote in [
            "http://vote.example.org",
            "http://10.0.0.5:8080",
            "http://[2001:db8::1]:80",
            "http://localhost.example.org",
            "http://127.0.0.1.nip.io",
        ] {
            let err = PublicUrl::parse_named(remote, "--server")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "--server `{remote}` is plain http:// to another machine"
                )),
                "{err}"
            );
        }
        assert!(
            PublicUrl::parse("https://vote.example.org")
                .unwrap()
                .is_https()
        );
    }

    #[test]
    fn a_server_without_public_url_uses_localhost_only_on_loopback() {
        let mut s = Settings::default();
        assert_eq!(
            s.serving_public_url(8080).unwrap().to_string(),
            "http://localhost:8080"
        );
        s.bind = "0.0.0.0:8080".into();
        let err = s.serving_public_url(8080).unwrap_err().to_string();
        assert!(err.contains("public_url"), "{err}");
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
