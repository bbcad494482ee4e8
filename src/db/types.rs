//! How domain types are stored: each enum kept in a TEXT column as one of a fixed set of
//! words, read back into the enum (an unknown word is an error, never a default).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// An enum stored as one of its words.
pub trait Word: Sized + Copy + 'static {
    /// What the type is called in an error about a stored value.
    const WHAT: &'static str;
    /// Every value.
    const ALL: &'static [Self];
    /// The stored word.
    fn word(self) -> &'static str;
    /// The value a stored word names, if any.
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.word() == word)
    }
}

/// Gives an enum its words: `as_str`, [`Word`], `Display`, and TEXT storage on every backend.
/// The enum itself derives `diesel::AsExpression` and `diesel::FromSqlRow` with
/// `#[diesel(sql_type = diesel::sql_types::Text)]`.
#[macro_export]
macro_rules! stored_as_word {
    ($t:ident, $what:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $t {
            /// Every value, in declaration order.
            pub const ALL: &'static [$t] = &[$($t::$variant),+];

            /// The stored (and shown) word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$variant => $word),+
                }
            }
        }

        impl $crate::db::types::Word for $t {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = $t::ALL;

            fn word(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $t
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                $crate::db::types::word_to_sql(*self, out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $t
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                $crate::db::types::word_from_sql::<Self, DB>(bytes)
            }
        }
    };
}

/// [`ToSql`] for a [`Word`].
pub fn word_to_sql<'b, W: Word, DB>(value: W, out: &mut Output<'b, '_, DB>) -> serialize::Result
where
    DB: Backend,
    str: ToSql<Text, DB>,
{
    <str as ToSql<Text, DB>>::to_sql(value.word(), out)
}

/// [`FromSql`] for a [`Word`].
pub fn word_from_sql<W: Word, DB>(bytes: DB::RawValue<'_>) -> deserialize::Result<W>
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    let word = <String as FromSql<Text, DB>>::from_sql(bytes)?;
    W::from_word(&word)
        .ok_or_else(|| format!("unknown {} `{word}` in the database", W::WHAT).into())
}
