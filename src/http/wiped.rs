//! Request bodies that carry a member's token or plain choice: read into a buffer the server
//! owns alone, parsed, and then overwritten with zeros — the received bytes of the HTTP layer
//! included, since the buffer is that very memory when nothing else shares it (else a copy is
//! made and wiped, and the shared original is left to be reused). The parsed values wipe
//! themselves too ([`Wipe`]). What stays out of reach is the kernel's socket buffer and the
//! TLS terminator in front; docs/OPERATIONS.md says so.

use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

/// What an extractor returns: a future on the request's thread.
type LocalBoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T>>>;

use crate::error::{Error, ErrorCode};

/// Something that holds a secret to overwrite once used.
pub trait Wipe {
    /// Overwrites the secrets it holds.
    fn wipe(&mut self);
}

/// A JSON body, its bytes wiped once parsed; the value is wiped when dropped.
pub struct WipedJson<T: Wipe>(pub T);

/// A form body (`application/x-www-form-urlencoded`), its bytes wiped once parsed; the value
/// is wiped when dropped.
pub struct WipedForm<T: Wipe>(pub T);

impl<T: Wipe> Drop for WipedJson<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

impl<T: Wipe> Drop for WipedForm<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

macro_rules! deref_to_value {
    ($wrapper:ident) => {
        impl<T: Wipe> std::ops::Deref for $wrapper<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T: Wipe> std::ops::DerefMut for $wrapper<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    };
}

deref_to_value!(WipedJson);
deref_to_value!(WipedForm);

/// The body as memory this request owns alone.
fn owned(body: Bytes) -> BytesMut {
    body.try_into_mut().unwrap_or_else(|shared| {
        let copy = BytesMut::from(&shared[..]);
        drop(shared);
        copy
    })
}

fn content_type_is(req: &HttpRequest, wanted: &str) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted))
}

/// Reads the body (bounded by the route's `PayloadConfig`), parses it with `parse`, wipes it.
fn read<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    (kind, code): (&'static str, ErrorCode),
    parse: fn(&[u8]) -> Result<T, String>,
) -> LocalBoxFuture<Result<T, actix_web::Error>> {
    let body = Bytes::from_request(req, payload);
    let req = req.clone();
    Box::pin(async move {
        let refuse = |e: Error| crate::http::extractor_error(&req, e);
        if !content_type_is(&req, kind) {
            return Err(refuse(Error::bad_input(
                code,
                format!("the body must be {kind}"),
            )));
        }
        let mut body = owned(body.await.map_err(|_| refuse(Error::PayloadTooLarge))?);
        let parsed = parse(&body);
        body.as_mut().zeroize();
        parsed.map_err(|why| refuse(Error::bad_input(code, why)))
    })
}

impl<T: DeserializeOwned + Wipe + 'static> FromRequest for WipedJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = read(
            req,
            payload,
            ("application/json", ErrorCode::InvalidJson),
            |b| serde_json::from_slice::<T>(b).map_err(|e| e.to_string()),
        );
        Box::pin(async move { parsed.await.map(WipedJson) })
    }
}

impl<T: DeserializeOwned + Wipe + 'static> FromRequest for WipedForm<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = read(
            req,
            payload,
            ("application/x-www-form-urlencoded", ErrorCode::InvalidForm),
            |b| serde_urlencoded::from_bytes::<T>(b).map_err(|e| e.to_string()),
        );
        Box::pin(async move { parsed.await.map(WipedForm) })
    }
}

impl Wipe for String {
    fn wipe(&mut self) {
        self.zeroize();
    }
}

impl<T: Wipe> Wipe for Option<T> {
    fn wipe(&mut self) {
        if let Some(v) = self {
            v.wipe();
        }
    }
}
