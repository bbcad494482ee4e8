//! Per-address rate limits on the endpoints that take a token, a receipt, a password or an
//! upload (actix-governor's token bucket: `rate_limit_per_minute` requests at once, refilled
//! evenly over the minute). Guessing a 140-bit token is hopeless anyway; the limit keeps a flood
//! of guesses from slowing everyone else down. Refusals are 429 with `Retry-After`.

use std::net::IpAddr;
use std::sync::Arc;

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, HttpResponseBuilder};

/// Keys requests by client address (the peer, or what a trusted proxy forwarded), IPv6 by /64.
#[derive(Clone, Debug)]
pub struct ClientKey {
    trusted: Arc<Vec<IpAddr>>,
    /// Answer refusals as an HTML page (member and officials' pages) rather than JSON.
    html: bool,
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        let ip = super::client_address_among(req.request(), &self.trusted)
            .ok_or_else(|| SimpleKeyExtractionError::new("no client address"))?;
        Ok(match ip {
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
            v4 => v4,
        })
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        mut response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1);
        if self.html {
            response.content_type(ContentType::html()).body(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>Too many requests</title></head><body><main><h1>Too many requests</h1>\
                 <p>Too many requests came from your address. Please wait {wait} seconds and \
                 try again.</p></main></body></html>"
            ))
        } else {
            response.content_type(ContentType::json()).body(
                serde_json::json!({
                    "error": "too_many_requests",
                    "message": format!("too many requests from your address; retry in {wait} s"),
                })
                .to_string(),
            )
        }
    }
}

/// One limiter: its state is shared by every worker (and every route given it).
pub type Limit = GovernorConfig<ClientKey, NoOpMiddleware>;

/// The limiters of one server: one for pages (HTML refusals), one for the API (JSON).
/// Built once, before the workers, so the counts are per process, not per worker.
#[derive(Clone, Default)]
pub struct Limits {
    pages: Option<Limit>,
    api: Option<Limit>,
}

impl Limits {
    /// `per_minute` requests per client address (0: no limits).
    pub fn new(per_minute: u32, trusted: &[IpAddr]) -> Self {
        let make = |html| {
            (per_minute > 0)
                .then(|| {
                    GovernorConfigBuilder::default()
                        .requests_per_minute(u64::from(per_minute))
                        .burst_size(per_minute)
                        .key_extractor(ClientKey {
                            trusted: Arc::new(trusted.to_vec()),
                            html,
                        })
                        .finish()
                })
                .flatten()
        };
        Self {
            pages: make(true),
            api: make(false),
        }
    }

    /// The middleware for a route under `path`, if limits are on.
    pub fn for_path(&self, path: &str) -> Option<Governor<ClientKey, NoOpMiddleware>> {
        let config = if path.starts_with("/api/") {
            self.api.as_ref()
        } else {
            self.pages.as_ref()
        };
        config.map(Governor::new)
    }
}
