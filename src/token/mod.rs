//! Ballot tokens and receipts: the pure part (format, hashing, parsing) lives in the core crate;
//! issuing and reissuing them in the database is [`store`]; [`TokenStatus`] is how each is stored.

pub use strikevote_core::token::*;

pub mod store;

/// Where a ballot token is in its life (stored as `live`, `used` or `revoked`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum TokenStatus {
    /// Issued and not yet used.
    Live,
    /// Its ballot was cast.
    Used,
    /// Withdrawn by a reissue.
    Revoked,
}

crate::stored_as_word!(TokenStatus, "token status", {
    Live => "live",
    Used => "used",
    Revoked => "revoked",
});
