//! Identifiers.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

/// An election's UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ElectionId(Uuid);

/// In the service's OpenAPI document: a UUID string.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ElectionId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".into())))
            .description(Some("An election's id (a UUID)."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ElectionId {}

/// A string that is not an election id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an election id (a UUID such as 0192c7a0-…)")]
pub struct InvalidElectionId(pub String);

impl ElectionId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The id of a UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// Parses a UUID as typed by a person or found in a URL.
    pub fn parse(s: &str) -> Result<Self, InvalidElectionId> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| InvalidElectionId(s.to_owned()))
    }

    /// The UUID.
    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for ElectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}
