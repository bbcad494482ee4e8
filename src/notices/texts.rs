//! The messages' words: the ballot notice, the reminder and the result notice, in every
//! language of the locale files, filled in one pass so that nothing a roster or definition
//! holds (a name such as `{link}`, a title with a line break) can become part of the template,
//! a header or markup. Messages are plain text: no HTML to inject into.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, header};

use super::outbox::Kind;
use crate::election::Election;
use crate::web::i18n::Lang;

/// A message's words, before it is addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    /// The subject line (one line, no control characters).
    pub subject: String,
    /// The body, plain text.
    pub body: String,
}

/// What a message says about its member and election.
pub struct Facts<'a> {
    /// The election.
    pub election: &'a Election,
    /// The union's name (the `From`'s name).
    pub union: &'a str,
    /// Where questions go when the definition names no contact (the `From` address).
    pub fallback_contact: &'a str,
    /// The member's name, or their member id when the roster has no name.
    pub name: &'a str,
    /// The ballot link (ballot notices and reminders).
    pub link: Option<&'a str>,
    /// The log key's fingerprint.
    pub fingerprint: &'a str,
}

/// The words of a `kind` message in `lang`.
pub fn compose(kind: Kind, lang: Lang, facts: &Facts<'_>) -> Letter {
    let t = lang.text();
    let (subject, body) = match kind {
        Kind::Ballot => (t.mail_ballot_subject, t.mail_ballot_body),
        Kind::Reminder => (t.mail_reminder_subject, t.mail_reminder_body),
        Kind::Result => (t.mail_result_subject, t.mail_result_body),
    };
    let values = values(lang, facts);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Letter {
        subject: one_line(&fill(subject, &values)),
        body: fill(body, &values),
    }
}

/// The words of a printed letter's body in `lang` (its subject is the ballot notice's).
pub fn letter_body(lang: Lang, facts: &Facts<'_>) -> String {
    let values = values(lang, facts);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fill(lang.text().letter_body, &values)
}

/// What the texts' `{placeholders}` stand for.
fn values(lang: Lang, facts: &Facts<'_>) -> [(&'static str, String); 13] {
    let d = &facts.election.definition;
    let (title, question) = d.texts(lang.code());
    let base = facts.election.public_url.to_string();
    let id = facts.election.id;
    let contact = d.contact.as_deref().unwrap_or(facts.fallback_contact);
    [
        ("union", facts.union.to_owned()),
        ("name", facts.name.to_owned()),
        ("title", title.to_owned()),
        ("question", question.to_owned()),
        ("link", facts.link.unwrap_or_default().to_owned()),
        ("opens", d.local_time(&d.opens_at)),
        ("closes", d.local_time(&d.closes_at)),
        ("fingerprint", facts.fingerprint.to_owned()),
        ("contact", contact.to_owned()),
        // In the member's language, whatever their browser says.
        (
            "result_link",
            format!("{base}/elections/{id}/result?lang={}", lang.code()),
        ),
        (
            "certificate_link",
            format!("{base}/elections/{id}/certificate.pdf?lang={}", lang.code()),
        ),
        ("vote_page", format!("{base}/vote")),
        ("audit_link", format!("{base}/elections/{id}/audit")),
    ]
}

pub use strikevote_core::text::fill;

/// Control characters (line breaks included) become spaces: a header stays one header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The message to `(name, address)` with `Message-ID` `id` (a report that it bounced names
/// it: [`super::bounces`]); `None` when the roster's address is not one an SMTP server takes
/// (the member needs a letter).
pub fn message(from: &Mailbox, to: (&str, &str), letter: &Letter, id: String) -> Option<Message> {
    let address = to.1.trim().parse().ok()?;
    let name = one_line(to.0.trim());
    let to = Mailbox::new((!name.is_empty()).then_some(name), address);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(letter.subject.clone())
        .message_id(Some(id))
        .header(ContentType::TEXT_PLAIN)
        .header(header::ContentTransferEncoding::QuotedPrintable)
        .body(letter.body.clone())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_never_read_as_template() {
        let values = [
            ("name", "{link}"),
            ("link", "https://vote.example.org/vote?token=T"),
        ];
        assert_eq!(
            fill("Dear {name}: {link} {unknown}", &values),
            "Dear {link}: https://vote.example.org/vote?token=T {unknown}"
        );
        assert_eq!(fill("{", &values), "{");
        assert_eq!(fill("a {name", &values), "a {name");
    }

    #[test]
    fn a_subject_never_spans_two_headers() {
        assert_eq!(
            one_line("Strike\r\nBcc: everyone@example.org"),
            "Strike  Bcc: everyone@example.org"
        );
    }
}
