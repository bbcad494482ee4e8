//! The route table's shape: who may call an endpoint, an endpoint, a path with its endpoints.
//! The table itself and its registration are [`super::ROUTES`] and [`super::configure`]; what
//! reads the table (the OpenAPI document) takes it as an argument.

use actix_web::Route;
use actix_web::http::Method;

use crate::account::Role;

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Signed-in officials with one of these roles (pages: session cookie; API: bearer token).
    Roles(&'static [Role]),
    /// A teller of the election in the path, by its invitation code
    /// (`Authorization: Teller <code>`), checked by the handler against the teller number in
    /// the path.
    Teller,
}

/// One method on a path.
pub struct Endpoint {
    /// The HTTP method.
    pub method: Method,
    /// Who may call it.
    pub access: Access,
    /// The actix route (method guard + handler).
    pub route: fn() -> Route,
}

/// The largest body a short form or JSON request carries: a token, a receipt, a password, a
/// decision (a few hundred bytes in use; 4 KiB leaves room for every language's words).
pub const SMALL_BODY: usize = 4 * 1024;

/// How large a body a route reads, bounded before it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLimit {
    /// No body is read (only `GET`).
    None,
    /// A short form or JSON: at most [`SMALL_BODY`] bytes.
    Small,
    /// The deployment's `body_limit_bytes` (64 KiB by default): a definition from the builder,
    /// a teller's ceremony message.
    Standard,
    /// Read by the handler with its own bound, checked before the body is: an upload
    /// (`upload_limit_bytes`), or a decryption share (bounded by the election's size, after
    /// the sender is known).
    Streamed,
}

/// A path and its endpoints.
pub struct Resource {
    /// The path pattern, as actix matches it.
    pub path: &'static str,
    /// Its endpoints.
    pub endpoints: &'static [Endpoint],
    /// Whether it takes a token, a receipt, a password or an upload, and so is rate-limited
    /// per client address ([`crate::http::limit`]).
    pub limited: bool,
    /// How large a body it reads.
    pub body: BodyLimit,
}

/// Who may call `method` on the route of `table` whose pattern is `pattern`; `None` for no
/// such route.
pub fn access(table: &[Resource], method: &Method, pattern: &str) -> Option<Access> {
    table
        .iter()
        .find(|r| r.path == pattern)?
        .endpoints
        .iter()
        .find(|e| e.method == *method)
        .map(|e| e.access)
}
