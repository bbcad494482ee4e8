//! The one domain error type.
//!
//! When to use what: library functions that can fail for a reason a user must see return
//! [`Error`] (its `code` is the machine-readable `error` of the JSON API, its message the
//! sentence shown to people); plain query helpers that only touch the database return diesel's
//! `QueryResult` and let `?` convert; the CLI wraps everything in `anyhow` to add context
//! before printing. No variant ever carries a token, a password or a choice.

use actix_web::http::StatusCode;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing named does not exist.
    #[error("{message}")]
    NotFound {
        /// Machine-readable code, e.g. `election_not_found`.
        code: &'static str,
        /// Plain-language explanation.
        message: String,
    },
    /// The input was malformed or invalid; nothing changed.
    #[error("{message}")]
    BadInput {
        /// Machine-readable code, e.g. `invalid_definition`.
        code: &'static str,
        /// Plain-language explanation, listing every problem found.
        message: String,
    },
    /// The request is valid but conflicts with the current state; nothing changed.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code, e.g. `election_not_draft`.
        code: &'static str,
        /// Plain-language explanation.
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// No database connection could be had.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
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
    /// Something else failed (I/O, encoding); the message is safe to show.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for a `BadInput`.
    pub fn bad_input(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadInput {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a `Conflict`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a `NotFound`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { code, .. }
            | Error::BadInput { code, .. }
            | Error::Conflict { code, .. } => code,
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::TooManyRequests(_) => "too_many_requests",
            Error::PayloadTooLarge => "payload_too_large",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::Database(_) => "database_error",
            Error::Unavailable(_) => "unavailable",
            Error::LogForked(_) => "log_behind_signed_head",
            Error::Internal(_) => "internal_error",
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
            Error::Unavailable(_) | Error::LogForked(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        Error::bad_input("invalid_election_id", e.to_string())
    }
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
