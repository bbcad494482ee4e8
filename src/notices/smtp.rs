//! The SMTP server the outbox sends through (`smtp_url`, `mail_from`), checked when the
//! settings load: a URL that would carry ballot links across a network unencrypted is refused.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::SmtpTransport;

/// How long one SMTP conversation may take before it counts as a transient failure.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The configured SMTP server and sender.
#[derive(Clone)]
pub struct MailServer {
    url: String,
    shown: String,
    /// The `From` of every message.
    pub from: Mailbox,
    /// The union's name as the messages give it (`union_name`, else the `From`'s name, else
    /// its address).
    pub union: String,
    /// The most messages per minute this instance hands over.
    pub per_minute: u32,
    /// How long a claim lasts.
    pub lease: Duration,
}

/// How a message fared with the SMTP server.
#[derive(Debug, PartialEq, Eq)]
pub enum Handed {
    /// Accepted (a 2xx reply to the message's data).
    Accepted,
    /// Refused for good (a 5xx reply): the address is wrong or the mailbox does not exist.
    Refused(String),
    /// Not now (a 4xx reply, or the server could not be reached): try again later.
    NotNow(String),
}

/// The settings a mail server is read from (`smtp_url`, `mail_from`, `mail_per_minute`,
/// `mail_lease_seconds`).
pub struct MailSettings<'a> {
    /// `smtp_url`.
    pub url: &'a str,
    /// `mail_from`.
    pub from: Option<&'a str>,
    /// `mail_per_minute`.
    pub per_minute: u32,
    /// `mail_lease_seconds`.
    pub lease_seconds: u64,
    /// `union_name`.
    pub union_name: Option<&'a str>,
}

impl MailServer {
    /// Checks the settings of a configured server.
    pub fn parse(settings: MailSettings<'_>) -> anyhow::Result<Self> {
        let url = settings.url.trim();
        let bad = |why: &str| anyhow::anyhow!("smtp_url {why} (see docs/OPERATIONS.md, Email)");
        let (tls, rest) = if let Some(rest) = url.strip_prefix("smtps://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("smtp://") {
            (false, rest)
        } else {
            return Err(bad("must start with smtps:// or smtp://"));
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let host_port = host_port.split('/').next().unwrap_or_default();
        if host_port.is_empty() {
            return Err(bad("has no host"));
        }
        let starttls = query.split('&').any(|p| p == "tls=required");
        if !tls && !starttls && !strikevote_core::net::is_loopback_host(host_port) {
            return Err(bad(
                "would send ballot links and the SMTP password across the network unencrypted: \
                 use smtps://HOST (TLS) or smtp://HOST?tls=required (STARTTLS); plain smtp:// \
                 is only for a relay on this machine",
            ));
        }
        SmtpTransport::from_url(url).map_err(|e| bad(&format!("is not usable: {e}")))?;
        let from = settings
            .from
            .ok_or_else(|| anyhow::anyhow!("smtp_url is set but mail_from is not: give the union's name and address, such as `Local 871 Vote <vote@local871.example>`"))?;
        let from: Mailbox = from.parse().map_err(|e| {
            anyhow::anyhow!(
                "mail_from `{}` is not a mailbox ({e}): write `Name <address@example.org>`",
                crate::text::shown(from)
            )
        })?;
        let scheme = if tls { "smtps" } else { "smtp" };
        let who = user.map(|u| u.split(':').next().unwrap_or_default());
        let shown = match who {
            Some(name) => format!("{scheme}://{name}:<hidden>@{host_port}"),
            None => format!("{scheme}://{host_port}"),
        };
        let shown = if query.is_empty() {
            shown
        } else {
            format!("{shown}?{query}")
        };
        let union = match (settings.union_name, &from.name) {
            (Some(name), _) => name.to_owned(),
            (None, Some(name)) => name.clone(),
            (None, None) => from.email.to_string(),
        };
        Ok(Self {
            url: url.to_owned(),
            shown,
            from,
            union,
            per_minute: settings.per_minute,
            lease: Duration::from_secs(settings.lease_seconds),
        })
    }

    /// The URL with any password hidden (for `strikevote settings` and the dashboard).
    pub fn server_shown(&self) -> String {
        self.shown.clone()
    }

    /// A transport to the server (a small pool of connections, reused between messages).
    pub fn transport(&self) -> anyhow::Result<SmtpTransport> {
        Ok(SmtpTransport::from_url(&self.url)?
            .timeout(Some(TIMEOUT))
            .build())
    }
}

/// Hands one message to the server and says how it fared.
pub fn hand_over(transport: &SmtpTransport, message: &lettre::Message) -> Handed {
    use lettre::Transport;
    match transport.send(message) {
        Ok(_) => Handed::Accepted,
        Err(e) => {
            // The server's reply, never the message: lettre's error names the code and text.
            let said: String = e.to_string().chars().take(300).collect();
            if e.is_permanent() {
                Handed::Refused(said)
            } else {
                Handed::NotNow(said)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(url: &str) -> anyhow::Result<MailServer> {
        MailServer::parse(MailSettings {
            url,
            from: Some("Local 871 Vote <vote@local871.example>"),
            per_minute: 600,
            lease_seconds: 120,
            union_name: None,
        })
    }

    #[test]
    fn plain_smtp_is_only_for_a_relay_on_this_machine() {
        let refused = with("smtp://user:secret@mail.example.org:25")
            .err()
            .unwrap();
        assert!(refused.to_string().contains("unencrypted"), "{refused}");
        assert!(!refused.to_string().contains("secret"), "{refused}");
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://localhost:25",
            "smtps://user:secret@mail.example.org",
            "smtp://user:secret@mail.example.org:587?tls=required",
        ] {
            assert!(with(url).is_ok(), "{url}");
        }
        assert!(with("http://mail.example.org").is_err());
    }

    #[test]
    fn the_password_is_never_shown() {
        let server = with("smtps://vote%40local871.example:hunter2@mail.example.org").unwrap();
        let shown = server.server_shown();
        assert_eq!(
            shown,
            "smtps://vote%40local871.example:<hidden>@mail.example.org"
        );
    }

    #[test]
    fn a_server_needs_a_sender() {
        let refused = MailServer::parse(MailSettings {
            url: "smtps://mail.example.org",
            from: None,
            per_minute: 600,
            lease_seconds: 120,
            union_name: None,
        })
        .err()
        .unwrap();
        assert!(refused.to_string().contains("mail_from"), "{refused}");
    }
}
