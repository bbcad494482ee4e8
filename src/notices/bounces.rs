//! Bounces that arrive later: a mail server that accepted a message and could not deliver it
//! mails a delivery status notification (RFC 3464: a `multipart/report` with a
//! `message/delivery-status` part) to the From address, often minutes or days later. Officials
//! hand such reports to the service (`strikevote notices bounces`, or
//! `POST /api/v1/elections/{id}/bounces`), which marks the message `bounced`: it is counted
//! with the other undelivered messages, listed by member id, and its member gets a letter.
//!
//! A report is untrusted input: anyone who can mail the union can write one. It names our
//! message by the `Message-ID` the outbox gave it (`<strikevote.ROW@domain>`, in the report's
//! copy of the original headers), and its failed recipient must be the address that message
//! went to; anything else is refused and changes nothing. What a report can do is bounded:
//! it marks one sent message of this election as bounced. Replacing the link that message
//! carried — which may be working, if the report is forged — happens only when the letters are
//! printed, and while the vote is open under the two-person rule only with a second admin's
//! approval (a reissue).

use diesel::prelude::*;
use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::outbox::{Kind, State};
use crate::db::DbConnection;
use crate::db::schema::{members, outbox};
use crate::election::ElectionId;
use crate::error::{Error, ErrorCode, Result};

/// The `Message-ID` the outbox gives outbox row `row`, at the From address's `domain`.
pub fn message_id(row: &str, domain: &str) -> String {
    format!("<strikevote.{row}@{domain}>")
}

/// The outbox row a `Message-ID` of ours names.
fn row_of(message_id: &str) -> Option<&str> {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _domain) = id.split_once('@')?;
    let row = local.strip_prefix("strikevote.")?;
    uuid::Uuid::parse_str(row).ok().map(|_| row)
}

/// What a delivery status notification says, as far as the outbox cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The original message's `Message-ID`, from the report's copy of its headers.
    pub message_id: Option<String>,
    /// The recipients whose delivery failed for good (`Action: failed`), lower-cased, each
    /// with its status code (`5.1.1`).
    pub failed: Vec<(String, String)>,
    /// Recipients reported with another action (`delayed`, `delivered`, `relayed`,
    /// `expanded`): nothing to do.
    pub other: usize,
}

/// Reads a delivery status notification (the whole message, as received).
pub fn parse(raw: &[u8]) -> Result<Report> {
    let not_one = |why: &str| {
        Error::bad_input(
            ErrorCode::InvalidBounce,
            format!("not a delivery status notification (RFC 3464): {why}"),
        )
    };
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| not_one("no message headers"))?;
    let mut report = Report::default();
    let mut statuses = 0;
    for part in &message.parts {
        let Some(ctype) = part.content_type() else {
            continue;
        };
        let kind = (
            ctype.ctype().to_ascii_lowercase(),
            ctype.subtype().map(str::to_ascii_lowercase),
        );
        match (kind.0.as_str(), kind.1.as_deref(), &part.body) {
            ("message", Some("delivery-status"), body) => {
                statuses += 1;
                let bytes = match body {
                    PartType::Text(t) => t.as_bytes(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref(),
                    _ => part.contents(),
                };
                read_status(bytes, &mut report);
            }
            ("message", Some("rfc822" | "global"), PartType::Message(original)) => {
                report.message_id = report
                    .message_id
                    .or_else(|| original.message_id().map(str::to_owned));
            }
            ("text", Some("rfc822-headers"), PartType::Text(headers)) => {
                let parsed = MessageParser::default().parse_headers(headers.as_bytes());
                report.message_id = report
                    .message_id
                    .or_else(|| parsed.and_then(|h| h.message_id().map(str::to_owned)));
            }
            _ => {}
        }
    }
    if statuses == 0 {
        return Err(not_one("it has no message/delivery-status part"));
    }
    Ok(report)
}

/// The per-recipient fields of a `message/delivery-status` body: blocks of header lines,
/// separated by blank lines (the first block is about the message).
fn read_status(body: &[u8], report: &mut Report) {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    for block in text.split("\n\n") {
        let block = format!("{block}\n\n");
        let Some(fields) = MessageParser::default().parse_headers(block.as_bytes()) else {
            continue;
        };
        let field = |name: &str| {
            fields
                .header_raw(name)
                .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        let Some(recipient) = field("Final-Recipient").or_else(|| field("Original-Recipient"))
        else {
            continue;
        };
        // `rfc822; someone@example.org`
        let address = recipient
            .split_once(';')
            .map_or(recipient.as_str(), |(_, a)| a)
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase();
        let action = field("Action").unwrap_or_default().to_ascii_lowercase();
        if action == "failed" {
            let status = field("Status").unwrap_or_default();
            report.failed.push((address, status));
        } else {
            report.other += 1;
        }
    }
}

/// What recording one report did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Messages marked bounced now.
    pub bounced: u64,
    /// Messages the report names that were already marked bounced.
    pub already: u64,
    /// Recipients reported delayed, delivered or relayed: nothing done.
    pub not_failed: u64,
}

/// Marks the message `report` names as bounced, if it is a message of election `id` the SMTP
/// server accepted and the report's failed recipient is the address it went to. Anything else
/// is refused (`bounce_not_ours`) and changes nothing.
pub fn record(conn: &mut DbConnection, id: ElectionId, report: &Report) -> Result<Recorded> {
    let refuse = |why: String| Error::bad_input(ErrorCode::BounceNotOurs, why);
    let mut done = Recorded {
        not_failed: report.other as u64,
        ..Recorded::default()
    };
    if report.failed.is_empty() {
        return Ok(done);
    }
    let Some(row) = report.message_id.as_deref().and_then(row_of) else {
        return Err(refuse(
            "the report carries no copy of the original message's headers with a Message-ID \
             this server gave (<strikevote.…@…>): nothing to match it to"
                .into(),
        ));
    };
    conn.transaction(|conn| {
        let found: Option<(Kind, State, String)> = outbox::table
            .inner_join(members::table.on(members::id.eq(outbox::member)))
            .filter(outbox::id.eq(row))
            .filter(outbox::election_id.eq(id.to_string()))
            .select((outbox::kind, outbox::state, members::email))
            .first(conn)
            .optional()?;
        let Some((kind, state, email)) = found else {
            return Err(refuse(format!(
                "the report is about message {row}, which election {id} did not send"
            )));
        };
        let email = email.trim().to_lowercase();
        if let Some((other, _)) = report.failed.iter().find(|(a, _)| *a != email) {
            return Err(refuse(format!(
                "the report says delivery to {} failed, but message {row} went to another \
                 address",
                crate::text::shown(other)
            )));
        }
        match state {
            State::Bounced => done.already += 1,
            State::Sent => {
                diesel::update(
                    outbox::table
                        .filter(outbox::id.eq(row))
                        .filter(outbox::state.eq(State::Sent)),
                )
                .set(outbox::state.eq(State::Bounced))
                .execute(conn)?;
                done.bounced += 1;
            }
            other => {
                return Err(refuse(format!(
                    "the report is about message {row} ({kind}), which the mail server never \
                     accepted (it is {other})"
                )));
            }
        }
        Ok(done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as Postfix writes one (tests/fixtures/dsn-postfix.eml: a human part, the
    /// status with a folded recipient line, the original headers).
    pub(crate) fn postfix_report(recipient: &str, action: &str, message_id: &str) -> String {
        include_str!("../../tests/fixtures/dsn-postfix.eml")
            .replace("{recipient}", recipient)
            .replace("{action}", action)
            .replace("{message_id}", message_id)
    }

    #[test]
    fn a_report_gives_its_failed_recipient_and_the_original_message_id() {
        let row = "0192c7a0-5b1e-7c3d-9e8f-0a1b2c3d4e5f";
        let id = message_id(row, "union.example.org");
        let report = parse(postfix_report("M1@Example.org", "failed", &id).as_bytes()).unwrap();
        assert_eq!(
            report.failed,
            [("m1@example.org".to_owned(), "5.1.1".to_owned())]
        );
        assert_eq!(report.message_id.as_deref(), Some(&id[1..id.len() - 1]));
        assert_eq!(row_of(report.message_id.as_deref().unwrap()), Some(row));
        let delayed = parse(postfix_report("m1@example.org", "delayed", &id).as_bytes()).unwrap();
        assert!(delayed.failed.is_empty());
        assert_eq!(delayed.other, 1);
    }

    #[test]
    fn a_message_that_is_no_report_or_names_no_message_of_ours_is_refused() {
        let err = parse(b"From: someone@example.org\r\nSubject: hi\r\n\r\nhello\r\n").unwrap_err();
        assert!(
            err.to_string().contains("no message/delivery-status part"),
            "{err}"
        );
        assert!(parse(b"").is_err());
        assert_eq!(row_of("<1234@example.org>"), None);
        assert_eq!(row_of("<strikevote.not-a-uuid@example.org>"), None);
    }
}
