//! The one domain error type.
//!
//! When to use what: library functions that can fail for a reason a user must see return
//! [`Error`] (its `code` is the machine-readable `error` of the JSON API, its message the
//! sentence shown to people); plain query helpers that only touch the database return diesel's
//! `QueryResult` and let `?` convert; the CLI wraps everything in `anyhow` to add context
//! before printing. No variant ever carries a token, a password or a choice.

use actix_web::http::StatusCode;

/// Declares [`ErrorCode`] from one table: variant, the wire name (`{"error": …}` of the API), and
/// the status a member's page answers with when it shows that error.
macro_rules! error_codes {
    ($($variant:ident => $name:literal, $page_status:ident;)*) => {
        /// Every machine-readable error code: the `error` of the API's JSON errors and the
        /// reason a member's page names. Adding one here is the only way to make one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $name]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The status of a member's page that shows this error.
            pub fn page_status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$page_status,)*
                }
            }
        }
    };
}

error_codes! {
    AccountNotFound => "account_not_found", NOT_FOUND;
    AlreadyApproved => "already_approved", CONFLICT;
    AlreadyCertified => "already_certified", CONFLICT;
    AlreadyDecrypted => "already_decrypted", CONFLICT;
    ApprovalNeeded => "approval_needed", CONFLICT;
    AwaitingTellers => "awaiting_tellers", CONFLICT;
    BadShare => "bad_share", BAD_REQUEST;
    BallotSeen => "ballot_seen", CONFLICT;
    ChoiceMissing => "choice_missing", BAD_REQUEST;
    CommonPassword => "common_password", BAD_REQUEST;
    DatabaseError => "database_error", SERVICE_UNAVAILABLE;
    ElectionClosed => "election_closed", CONFLICT;
    CeremonyRefused => "ceremony_refused", CONFLICT;
    ChallengeMismatch => "challenge_mismatch", BAD_REQUEST;
    ElectionNotDraft => "election_not_draft", CONFLICT;
    ElectionNotFound => "election_not_found", NOT_FOUND;
    ForkedLog => "forked_log", CONFLICT;
    ElectionNotOpen => "election_not_open", CONFLICT;
    Embargoed => "embargoed", CONFLICT;
    Forbidden => "forbidden", FORBIDDEN;
    FormExpired => "form_expired", FORBIDDEN;
    InternalError => "internal_error", SERVICE_UNAVAILABLE;
    InvalidAction => "invalid_action", BAD_REQUEST;
    InvalidBallot => "invalid_ballot", BAD_REQUEST;
    InvalidBody => "invalid_body", BAD_REQUEST;
    InvalidChoice => "invalid_choice", BAD_REQUEST;
    InvalidDefinition => "invalid_definition", BAD_REQUEST;
    InvalidElectionId => "invalid_election_id", BAD_REQUEST;
    InvalidForm => "invalid_form", BAD_REQUEST;
    KeyNotReady => "key_not_ready", CONFLICT;
    InvalidJson => "invalid_json", BAD_REQUEST;
    InvalidName => "invalid_name", BAD_REQUEST;
    InvalidPath => "invalid_path", BAD_REQUEST;
    InvalidProofRequest => "invalid_proof_request", BAD_REQUEST;
    InvalidQuery => "invalid_query", BAD_REQUEST;
    InvalidRange => "invalid_range", BAD_REQUEST;
    InvalidRole => "invalid_role", BAD_REQUEST;
    InvalidRoster => "invalid_roster", BAD_REQUEST;
    InvalidUsername => "invalid_username", BAD_REQUEST;
    LogBehindSignedHead => "log_behind_signed_head", SERVICE_UNAVAILABLE;
    MailNotConfigured => "mail_not_configured", CONFLICT;
    MemberNotFound => "member_not_found", NOT_FOUND;
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED;
    NotEligibleApprover => "not_eligible_approver", CONFLICT;
    NotFound => "not_found", NOT_FOUND;
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE;
    PendingNotFound => "pending_not_found", NOT_FOUND;
    ReceiptUnknown => "receipt_unknown", NOT_FOUND;
    RosterMissing => "roster_missing", CONFLICT;
    RosterTooLarge => "roster_too_large", BAD_REQUEST;
    SameOfficial => "same_official", CONFLICT;
    Server => "server", SERVICE_UNAVAILABLE;
    StorageFull => "storage_full", SERVICE_UNAVAILABLE;
    SizeBeyondLog => "size_beyond_log", BAD_REQUEST;
    TokenFormat => "token_format", BAD_REQUEST;
    TokenNameTaken => "token_name_taken", CONFLICT;
    TokenNotFound => "token_not_found", NOT_FOUND;
    TokenRevoked => "token_revoked", CONFLICT;
    TokenUnknown => "token_unknown", NOT_FOUND;
    TokenUsed => "token_used", CONFLICT;
    TooFewBallots => "too_few_ballots", CONFLICT;
    UnknownLocal => "unknown_local", BAD_REQUEST;
    InvalidBounce => "invalid_bounce", BAD_REQUEST;
    BounceNotOurs => "bounce_not_ours", BAD_REQUEST;
    NoBouncedLinks => "no_bounced_links", CONFLICT;
    WrongSigningKey => "wrong_signing_key", CONFLICT;
    TooManyRequests => "too_many_requests", TOO_MANY_REQUESTS;
    TooManyChallenges => "too_many_challenges", CONFLICT;
    Unauthorized => "unauthorized", UNAUTHORIZED;
    Unavailable => "unavailable", SERVICE_UNAVAILABLE;
    UnknownSealingCode => "unknown_sealing_code", BAD_REQUEST;
    UsernameTaken => "username_taken", CONFLICT;
    WeakPassword => "weak_password", BAD_REQUEST;
    WindowPassed => "window_passed", CONFLICT;
    WitnessesUnavailable => "witnesses_unavailable", SERVICE_UNAVAILABLE;
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing named does not exist.
    #[error("{message}")]
    NotFound {
        /// Machine-readable code, e.g. `election_not_found`.
        code: ErrorCode,
        /// Plain-language explanation.
        message: String,
    },
    /// The input was malformed or invalid; nothing changed.
    #[error("{message}")]
    BadInput {
        /// Machine-readable code, e.g. `invalid_definition`.
        code: ErrorCode,
        /// Plain-language explanation, listing every problem found.
        message: String,
    },
    /// The request is valid but conflicts with the current state; nothing changed.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code, e.g. `election_not_draft`.
        code: ErrorCode,
        /// Plain-language explanation.
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// No database connection could be had.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database's disk is full: the write was refused and rolled back.
    #[error(
        "the server's storage is full, so nothing was recorded: try again later (the operators have been alerted)"
    )]
    StorageFull,
    /// Not signed in (or a wrong password): 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but the role may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts: 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// The request body is larger than the configured limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The route exists but not for this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// The database's log does not extend the head this key already signed (a restored old
    /// backup): nothing is signed until an operator restores the right database. 503.
    #[error("{0}")]
    LogForked(String),
    /// Too few of the election's witnesses cosigned its checkpoint: nothing relies on it
    /// yet. 503.
    #[error("{0}")]
    Unwitnessed(String),
    /// Something else failed (I/O, encoding); the message is safe to show.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for a `BadInput`.
    pub fn bad_input(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::BadInput {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a `Conflict`.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a `NotFound`.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }

    /// Whether the database refused a write because its disk is full (SQLite: "database or
    /// disk is full"; PostgreSQL: SQLSTATE 53100 "could not extend file … No space left on
    /// device"). The transaction was rolled back.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Error::StorageFull => true,
            Error::Database(diesel::result::Error::DatabaseError(_, info)) => {
                let m = info.message();
                m.contains("database or disk is full")
                    || m.contains("No space left on device")
                    || m.contains("could not extend file")
            }
            _ => false,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotFound { code, .. }
            | Error::BadInput { code, .. }
            | Error::Conflict { code, .. } => *code,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::TooManyRequests(_) => ErrorCode::TooManyRequests,
            Error::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Error::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Error::StorageFull => ErrorCode::StorageFull,
            e @ Error::Database(_) if e.is_storage_full() => ErrorCode::StorageFull,
            Error::Database(_) => ErrorCode::DatabaseError,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::LogForked(_) => ErrorCode::LogBehindSignedHead,
            Error::Unwitnessed(_) => ErrorCode::WitnessesUnavailable,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::BadInput { .. } => StatusCode::BAD_REQUEST,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Unavailable(_)
            | Error::LogForked(_)
            | Error::StorageFull
            | Error::Unwitnessed(_) => StatusCode::SERVICE_UNAVAILABLE,
            e @ Error::Database(_) if e.is_storage_full() => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Unavailable(e.to_string())
    }
}

impl From<strikevote_core::id::InvalidElectionId> for Error {
    fn from(e: strikevote_core::id::InvalidElectionId) -> Self {
        Error::bad_input(ErrorCode::InvalidElectionId, e.to_string())
    }
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failpoint at one step of a write (feature `failpoints`, tests only): configured as
/// `return(ELECTION_ID)` with the `fail` crate, the step fails for that election alone, as a
/// database error would, so tests running in parallel do not disturb each other. Without the
/// feature it is nothing at all.
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str, election: &impl std::fmt::Display) -> Result<()> {
    match fail::eval(name, |arg| arg) {
        Some(Some(target)) if target == election.to_string() => {
            Err(Error::Unavailable(format!("injected failure at {name}")))
        }
        _ => Ok(()),
    }
}

/// A failpoint (see the `failpoints` feature): nothing in this build.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str, _election: &impl std::fmt::Display) -> Result<()> {
    Ok(())
}

/// A teller crate's error as the service's: its code kept when the service knows it.
impl From<strikevote_teller::Error> for Error {
    fn from(e: strikevote_teller::Error) -> Self {
        use strikevote_teller::Kind;
        let code = ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == e.code);
        match (e.kind, code) {
            (Kind::Unauthorized, _) => Error::Unauthorized(e.message),
            (Kind::BadInput, Some(code)) => Error::BadInput {
                code,
                message: e.message,
            },
            (Kind::NotFound, Some(code)) => Error::NotFound {
                code,
                message: e.message,
            },
            (Kind::Conflict, Some(code)) => Error::Conflict {
                code,
                message: e.message,
            },
            _ => Error::Internal(e.message),
        }
    }
}

/// The service's error as the teller crate's (its passes run here through the database).
impl From<Error> for strikevote_teller::Error {
    fn from(e: Error) -> Self {
        use strikevote_teller::Kind;
        let kind = match e.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Kind::Unauthorized,
            StatusCode::BAD_REQUEST => Kind::BadInput,
            StatusCode::NOT_FOUND => Kind::NotFound,
            StatusCode::CONFLICT => Kind::Conflict,
            _ => Kind::Internal,
        };
        strikevote_teller::Error::new(kind, e.code().as_str(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_one_distinct_snake_case_name() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        let before = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), before, "two codes share a name");
        assert_eq!(
            serde_json::to_string(&ErrorCode::TokenUsed).unwrap(),
            "\"token_used\""
        );
    }
}
