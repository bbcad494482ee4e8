//! The route table: every route, who may call it, and how it is registered. Access is
//! enforced from this table by a middleware on each protected route
//! ([`crate::http::auth::require`]), handlers of protected routes take the
//! [`crate::http::auth::Official`] extractor besides, and the route × role test walks this same
//! table, so a new route cannot go unchecked.

use actix_web::http::Method;
use actix_web::{Route, web};

use crate::account::Role;
use crate::api;
use crate::http::health;
use crate::web::{accounts, admin, auth, builder, certificate, member, public, result};

pub mod table;

pub use table::{Access, BodyLimit, Endpoint, Resource};

const ADMIN: Access = Access::Roles(&[Role::Admin]);
const OFFICIALS: Access = Access::Roles(&[Role::Admin, Role::Observer]);
const ANY_ROLE: Access = Access::Roles(&[Role::Admin, Role::Observer, Role::Auditor]);
const PUBLIC: Access = Access::Public;
const TELLER: Access = Access::Teller;

/// The route with its access check attached: the check runs on the route actix actually
/// matched (after percent-decoding), never on the raw path.
/// `api` says how the caller authenticates (bearer token, or the page's session cookie) and
/// comes from the registered pattern, not from however the request spelled the path.
fn guarded(route: Route, access: Access, api: bool) -> Route {
    match access {
        Access::Public | Access::Teller => route,
        Access::Roles(roles) => route.wrap(actix_web::middleware::from_fn(
            move |req, next: actix_web::middleware::Next<actix_web::body::BoxBody>| {
                crate::http::auth::require(roles, api, req, next)
            },
        )),
    }
}

macro_rules! get {
    ($access:expr, $handler:path) => {
        Endpoint {
            method: Method::GET,
            access: $access,
            route: || web::get().to($handler),
        }
    };
}
macro_rules! post {
    ($access:expr, $handler:path) => {
        Endpoint {
            method: Method::POST,
            access: $access,
            route: || web::post().to($handler),
        }
    };
}

/// The OpenAPI document of [`ROUTES`], built once.
static OPENAPI: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| api::openapi::build(ROUTES));

/// Every route of the service.
pub static ROUTES: &[Resource] = &[
    // Probes.
    Resource {
        path: "/healthz",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, health::healthz)],
    },
    Resource {
        path: "/readyz",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, health::readyz)],
    },
    // Prometheus: on the public port only with the metrics token (checked by the handler,
    // like the teller routes), open on the internal metrics listener.
    Resource {
        path: "/metrics",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, health::metrics)],
    },
    // Member pages.
    Resource {
        path: "/",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::home)],
    },
    Resource {
        path: "/static/style.css",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::stylesheet)],
    },
    Resource {
        path: "/static/official.js",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::official_script)],
    },
    Resource {
        path: "/static/sealing.js",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::sealing_script)],
    },
    Resource {
        path: "/vote",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[
            get!(PUBLIC, member::vote_page),
            post!(PUBLIC, member::cast_vote),
        ],
    },
    Resource {
        path: "/check",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, member::check)],
    },
    Resource {
        path: "/check/checker.html",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, member::checker_file)],
    },
    Resource {
        path: "/vote/done",
        limited: true,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, member::done)],
    },
    Resource {
        path: "/token-status",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[
            get!(PUBLIC, member::token_status_page),
            post!(PUBLIC, member::token_status),
        ],
    },
    Resource {
        path: "/verify",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[
            get!(PUBLIC, member::verify_page),
            post!(PUBLIC, member::verify_receipt),
        ],
    },
    // A confirmation page again (its language switch) and the receipt as a file: the receipt
    // travels in the form body, never in an address.
    Resource {
        path: "/receipt",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[post!(PUBLIC, member::receipt_again)],
    },
    Resource {
        path: "/receipt/file",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[post!(PUBLIC, member::receipt_file)],
    },
    // Public election pages: the auditor's, and the result once the vote closed.
    Resource {
        path: "/elections/{id}/audit",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::audit_page)],
    },
    Resource {
        path: "/elections/{id}/bundle/{file}",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::bundle_file)],
    },
    Resource {
        path: "/elections/{id}/result",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, result::result_page)],
    },
    Resource {
        path: "/elections/{id}/certificate.pdf",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, certificate::certificate_pdf)],
    },
    Resource {
        path: "/elections/{id}/results.csv",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, public::results_csv)],
    },
    // Officials.
    Resource {
        path: "/login",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[get!(PUBLIC, auth::login_page), post!(PUBLIC, auth::login)],
    },
    Resource {
        path: "/logout",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(PUBLIC, auth::logout)],
    },
    Resource {
        path: "/admin",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(ANY_ROLE, admin::elections_page)],
    },
    Resource {
        path: "/admin/elections",
        limited: true,
        body: BodyLimit::Streamed,
        endpoints: &[post!(ADMIN, admin::create_election)],
    },
    // Officials' accounts and API tokens, with their audit trail.
    Resource {
        path: "/admin/accounts",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[
            get!(ADMIN, accounts::accounts_page),
            post!(ADMIN, accounts::account_action),
        ],
    },
    // The election builder: the same definition, written from a form.
    Resource {
        path: "/admin/elections/new",
        limited: true,
        body: BodyLimit::Standard,
        endpoints: &[
            get!(ADMIN, builder::builder_page),
            post!(ADMIN, builder::build),
        ],
    },
    Resource {
        path: "/admin/elections/{id}",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(OFFICIALS, admin::dashboard)],
    },
    Resource {
        path: "/admin/elections/{id}/roster",
        limited: true,
        body: BodyLimit::Streamed,
        endpoints: &[post!(ADMIN, admin::upload_roster)],
    },
    Resource {
        path: "/admin/elections/{id}/tokens",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[
            get!(ADMIN, admin::issue_tokens_page),
            post!(ADMIN, admin::issue_tokens),
        ],
    },
    Resource {
        path: "/admin/elections/{id}/reissue-all",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[
            get!(ADMIN, admin::reissue_all_page),
            post!(ADMIN, admin::reissue_all),
        ],
    },
    Resource {
        path: "/admin/elections/{id}/reissue",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, admin::reissue_token)],
    },
    Resource {
        path: "/admin/elections/{id}/notices",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, admin::send_notices)],
    },
    Resource {
        path: "/admin/elections/{id}/letters",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[
            get!(ADMIN, admin::letters_page),
            post!(ADMIN, admin::issue_letters),
        ],
    },
    Resource {
        path: "/admin/elections/{id}/letters/bounced",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, admin::ask_bounced_letters)],
    },
    Resource {
        path: "/admin/elections/{id}/notices/preview",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(OFFICIALS, admin::preview_notices)],
    },
    Resource {
        path: "/admin/elections/{id}/invitations",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, admin::issue_invitations)],
    },
    Resource {
        path: "/admin/elections/{id}/confirm",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(ADMIN, admin::confirm_page)],
    },
    Resource {
        path: "/admin/elections/{id}/pending",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, admin::decide_pending)],
    },
    Resource {
        path: "/admin/elections/{id}/state",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, admin::change_state)],
    },
    // JSON API: its OpenAPI document.
    Resource {
        path: "/api/v1/openapi.json",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::openapi::openapi_json)],
    },
    // JSON API: the log (public).
    Resource {
        path: "/api/v1/key",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::public_key)],
    },
    Resource {
        path: "/api/v1/elections/{id}/key",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::verifier_key)],
    },
    Resource {
        path: "/api/v1/elections/{id}/checkpoint",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::checkpoint)],
    },
    Resource {
        path: "/api/v1/elections/{id}/entries",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::entries)],
    },
    Resource {
        path: "/api/v1/elections/{id}/challenges/{tracker}",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::challenge)],
    },
    Resource {
        path: "/api/v1/elections/{id}/proof/inclusion",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::inclusion)],
    },
    Resource {
        path: "/api/v1/elections/{id}/proof/consistency",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::log::consistency)],
    },
    // JSON API: members (public; the token or receipt is the credential).
    Resource {
        path: "/api/v1/ballots",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[post!(PUBLIC, api::ballot::cast)],
    },
    Resource {
        path: "/api/v1/challenges",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[post!(PUBLIC, api::ballot::challenge)],
    },
    Resource {
        path: "/api/v1/receipts/{receipt}",
        limited: true,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::ballot::receipt)],
    },
    Resource {
        path: "/api/v1/token-status",
        limited: true,
        body: BodyLimit::Small,
        endpoints: &[post!(PUBLIC, api::ballot::token_status)],
    },
    // JSON API: officials (bearer API token).
    Resource {
        path: "/api/v1/elections",
        limited: true,
        body: BodyLimit::Streamed,
        endpoints: &[
            get!(ANY_ROLE, api::admin::list),
            post!(ADMIN, api::admin::create),
        ],
    },
    Resource {
        path: "/api/v1/elections/{id}",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(ANY_ROLE, api::admin::show)],
    },
    Resource {
        path: "/api/v1/elections/{id}/roster",
        limited: true,
        body: BodyLimit::Streamed,
        endpoints: &[post!(ADMIN, api::admin::roster)],
    },
    Resource {
        path: "/api/v1/elections/{id}/tokens",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::issue)],
    },
    Resource {
        path: "/api/v1/elections/{id}/notices",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[
            get!(OFFICIALS, api::notices::status),
            post!(ADMIN, api::notices::send),
        ],
    },
    Resource {
        path: "/api/v1/elections/{id}/letters",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::notices::letters)],
    },
    Resource {
        path: "/api/v1/elections/{id}/letters/bounced",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::notices::ask_bounced_letters)],
    },
    Resource {
        path: "/api/v1/elections/{id}/bounces",
        limited: false,
        body: BodyLimit::Streamed,
        endpoints: &[post!(ADMIN, api::notices::bounces)],
    },
    Resource {
        path: "/api/v1/elections/{id}/tokens/reissue",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::reissue)],
    },
    Resource {
        path: "/api/v1/elections/{id}/pending",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(ADMIN, api::admin::pending)],
    },
    Resource {
        path: "/api/v1/elections/{id}/pending/{pending}",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::decide)],
    },
    Resource {
        path: "/api/v1/elections/{id}/open",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::open)],
    },
    Resource {
        path: "/api/v1/elections/{id}/close",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::close)],
    },
    Resource {
        path: "/api/v1/elections/{id}/certify",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::certify)],
    },
    Resource {
        path: "/api/v1/elections/{id}/tellers/{teller}/replace",
        limited: false,
        body: BodyLimit::Small,
        endpoints: &[post!(ADMIN, api::admin::replace_teller)],
    },
    // JSON API: tellers (invitation code), for the key ceremony from their own machines.
    Resource {
        path: "/api/v1/elections/{id}/tellers/{teller}/board",
        limited: true,
        body: BodyLimit::None,
        endpoints: &[get!(TELLER, api::tellers::board)],
    },
    Resource {
        path: "/api/v1/elections/{id}/tellers/{teller}/messages",
        limited: true,
        body: BodyLimit::Standard,
        endpoints: &[post!(TELLER, api::tellers::message)],
    },
    Resource {
        path: "/api/v1/elections/{id}/tellers/{teller}/shares",
        limited: true,
        body: BodyLimit::Standard,
        endpoints: &[post!(TELLER, api::tellers::shares)],
    },
    // JSON API: a teller's decryption shares, after close (accepted from anyone whose proofs
    // verify against the teller's key share).
    Resource {
        path: "/api/v1/elections/{id}/tally-shares",
        limited: true,
        body: BodyLimit::Streamed,
        endpoints: &[post!(PUBLIC, api::tellers::tally_share)],
    },
    Resource {
        path: "/api/v1/elections/{id}/turnout",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(OFFICIALS, api::ballot::turnout)],
    },
    Resource {
        path: "/api/v1/elections/{id}/results",
        limited: false,
        body: BodyLimit::None,
        endpoints: &[get!(PUBLIC, api::ballot::results)],
    },
];

/// Registers every route of [`ROUTES`], the rate-limited ones behind `limits`.
pub fn configure(cfg: &mut web::ServiceConfig, limits: &crate::http::limit::Limits) {
    cfg.app_data(web::Data::new(api::openapi::Document(&OPENAPI)));
    for resource in ROUTES {
        let mut r = web::resource(resource.path);
        let api = resource.path.starts_with("/api/");
        for endpoint in resource.endpoints {
            r = r.route(guarded((endpoint.route)(), endpoint.access, api));
        }
        // The path's methods, for the `Allow` header of a 405.
        let allow: std::sync::Arc<str> = resource
            .endpoints
            .iter()
            .map(|e| e.method.as_str())
            .collect::<Vec<_>>()
            .join(", ")
            .into();
        let mut r = r.default_service(web::to(move |req| {
            crate::http::method_not_allowed(req, allow.clone())
        }));
        // A short form's or JSON body is bounded tighter than the deployment's default.
        if resource.body == BodyLimit::Small {
            let (payload, json, form) = crate::http::body_configs(table::SMALL_BODY);
            r = r.app_data(payload).app_data(json).app_data(form);
        }
        match limits.for_path(resource.path).filter(|_| resource.limited) {
            Some(governor) => cfg.service(r.wrap(governor)),
            None => cfg.service(r),
        };
    }
}

/// Who may call `method` on the route whose pattern is `pattern`; `None` for no such route.
pub fn access(method: &Method, pattern: &str) -> Option<Access> {
    table::access(ROUTES, method, pattern)
}
