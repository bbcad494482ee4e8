//! Why a teller's step failed: a kind (what the server's HTTP status would be) and the
//! server's machine-readable code (`ceremony_refused`, `forked_log`, …), so that the service,
//! which runs the same code beside its database, answers with the same codes.

/// What kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The input was malformed.
    BadInput,
    /// No valid invitation code.
    Unauthorized,
    /// Something named does not exist.
    NotFound,
    /// The request conflicts with where the election stands, or the log breaks a rule.
    Conflict,
    /// Anything else: the server could not be reached, an answer was unreadable, a file.
    Internal,
}

/// A teller's step failed; nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What kind of failure.
    pub kind: Kind,
    /// The machine-readable code (the service's `error` codes).
    pub code: String,
    /// What happened, for the teller.
    pub message: String,
}

/// The codes this crate gives itself (the server may answer with any of its own).
pub mod code {
    /// The ceremony's rules refuse this step, or someone tampered with it.
    pub const CEREMONY_REFUSED: &str = "ceremony_refused";
    /// The log is not the one this teller pinned.
    pub const FORKED_LOG: &str = "forked_log";
    /// The teller's key share is not ready.
    pub const KEY_NOT_READY: &str = "key_not_ready";
    /// The vote has not closed (or closed early without the teller's confirmation).
    pub const ELECTION_NOT_OPEN: &str = "election_not_open";
    /// Too few ballots to open any total.
    pub const TOO_FEW_BALLOTS: &str = "too_few_ballots";
    /// A malformed input.
    pub const INVALID_BODY: &str = "invalid_body";
    /// No valid invitation code.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Anything else.
    pub const INTERNAL: &str = "internal";
}

impl Error {
    /// A conflict with code `code`.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    /// Malformed input with code `code`.
    pub fn bad_input(code: &str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadInput, code, message)
    }

    /// Anything else.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, code::INTERNAL, message)
    }

    /// An error of `kind` with `code`.
    pub fn new(kind: Kind, code: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A teller's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
