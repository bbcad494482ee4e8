//! A real SMTP server (aiosmtpd, tests/api/helpers/smtp_sink.py) that keeps every message it
//! accepts as a file, refuses `bounce…@` with 550 and `busy…@` with 451.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{TestDb, venv_tool};

/// A running SMTP server.
pub struct SmtpSink {
    child: Child,
    /// Where the accepted messages are (`NNNNNN.eml`).
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// One accepted message, its body decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The raw message as the server received it.
    pub raw: String,
    /// The `To` header.
    pub to: String,
    /// The `Subject` header (RFC 2047 words left as sent).
    pub subject: String,
    /// The body, quoted-printable decoded.
    pub body: String,
}

impl SmtpSink {
    /// Starts one for the test.
    pub fn start(db: &TestDb) -> Self {
        let dir = db.path("smtp-sink");
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/helpers/smtp_sink.py"
        );
        let mut child = Command::new(venv_tool("python"))
            .arg(script)
            .arg(&dir)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Self { child, dir, port }
    }

    /// The settings that send through it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "STRIKEVOTE_SMTP_URL",
                format!("smtp://127.0.0.1:{}", self.port),
            ),
            (
                "STRIKEVOTE_MAIL_FROM",
                "Local 871 Vote <vote@local871.example>".to_owned(),
            ),
            ("STRIKEVOTE_MAIL_PER_MINUTE", "6000".to_owned()),
        ]
    }

    /// [`SmtpSink::env`] with `changed` settings in place of (or beside) its own.
    pub fn env_with(&self, changed: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut env = self.env();
        env.retain(|(k, _)| !changed.iter().any(|(c, _)| c == k));
        env.extend(changed.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    }

    /// Every message accepted so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| Mail::parse(&String::from_utf8(std::fs::read(p).unwrap()).unwrap()))
            .collect()
    }

    /// Waits until `n` messages were accepted (at most 60 s), and returns them.
    pub fn wait_for(&self, n: usize) -> Vec<Mail> {
        let started = Instant::now();
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} of {n} messages arrived",
                mails.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mail {
    fn parse(raw: &str) -> Self {
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .or_else(|| raw.split_once("\n\n"))
            .expect("a message has headers and a body");
        // Unfold continued header lines.
        let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            raw: raw.to_owned(),
            to: header("To"),
            subject: header("Subject"),
            body: quoted_printable(body),
        }
    }

    /// The path of the ballot link the body gives (its host is the election's public URL).
    pub fn link_path(&self) -> Option<String> {
        let at = self.body.find(super::PUBLIC_URL)?;
        let rest = &self.body[at + super::PUBLIC_URL.len()..];
        let path: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        Some(path)
    }

    /// The token in the ballot link.
    pub fn token(&self) -> Option<String> {
        let at = self.body.find("token=")?;
        Some(
            self.body[at + 6..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect(),
        )
    }
}

/// RFC 2045 quoted-printable, decoded (soft line breaks removed, `=XX` bytes restored).
fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap().replace("\r\n", "\n")
}

/// A delivery status notification as Postfix writes one (tests/fixtures/dsn-postfix.eml), saying
/// delivery to `recipient` of the message `message_id` ended with `action`.
pub fn dsn(recipient: &str, action: &str, message_id: &str) -> String {
    include_str!("../../fixtures/dsn-postfix.eml")
        .replace("{recipient}", recipient)
        .replace("{action}", action)
        .replace("{message_id}", message_id)
}

/// The `Message-ID` a sent message carries.
pub fn message_id_of(mail: &Mail) -> String {
    mail.raw
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("a Message-ID")
        .trim()
        .to_owned()
}

/// Posts one report to the election's bounces; the status and the answer.
pub async fn report_bounce(
    app: &super::TestApp,
    admin: &str,
    id: &str,
    report: &str,
) -> (u16, serde_json::Value) {
    let res = app
        .client
        .post(format!("{}/api/v1/elections/{id}/bounces", app.address))
        .bearer_auth(admin)
        .header("content-type", "message/rfc822")
        .body(report.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}
