//! Reaching members: by email — the outbox ([`outbox`]: one row per message, durable, claimed
//! with a lease), the sender ([`sender`]: makes each ballot token as it hands the message to
//! the SMTP server, never storing it), the SMTP server ([`smtp`]) — and by post ([`letters`]:
//! one PDF of letters for members without email or whose email failed); the words are
//! [`texts`]; the pace every instance keeps together is [`pace`]; reports of messages that
//! bounced after the SMTP server took them are [`bounces`].

pub mod bounces;
pub mod letters;
pub mod outbox;
pub mod pace;
pub mod sender;
pub mod smtp;
pub mod texts;
