//! The API's OpenAPI 3.1 document, served at `/api/v1/openapi.json`.
//!
//! Each handler carries its own `#[utoipa::path]` (its answer's type and the error codes only
//! it gives); what every route shares is added from the route table, the same table that
//! enforces access ([`crate::routes::ROUTES`], given to [`build`]): the security scheme and `401`/`403` of
//! officials' and tellers' routes, `429` of rate-limited ones, `400 invalid_election_id` and
//! `404 election_not_found` of routes under an election, `400 invalid_json`/`413` of JSON
//! bodies, and `503` everywhere. Every error answer's schema names exactly the codes that
//! status can carry there (`{"error": one of them, "message": …}`), so a client can branch on
//! them and schemathesis holds the service to them.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::http::Method;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::ErrorCode;
use crate::routes::table::{self, Access, Resource};

/// Every error answer of the API: `{"error": code, "message": sentence}`. Each response in
/// the document narrows `error` to the codes it can carry.
#[derive(serde::Serialize, ToSchema)]
pub struct ApiError {
    /// The machine-readable code.
    #[schema(value_type = String)]
    error: ErrorCode,
    /// What went wrong and what to do, in plain language.
    message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "strikevote",
        description = "The JSON API of a strikevote server: the public log and its proofs, \
            casting and checking ballots, the officials' operations (bearer API token), and the \
            tellers' key ceremony and decryption. docs/LOG_FORMAT.md gives every byte of the log.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(
        crate::http::health::healthz,
        crate::http::health::readyz,
        openapi_json,
        super::log::public_key,
        super::log::verifier_key,
        super::log::checkpoint,
        super::log::entries,
        super::log::challenge,
        super::log::inclusion,
        super::log::consistency,
        super::ballot::cast,
        super::ballot::challenge,
        super::ballot::receipt,
        super::ballot::token_status,
        super::ballot::turnout,
        super::ballot::results,
        super::admin::list,
        super::admin::create,
        super::admin::show,
        super::admin::roster,
        super::admin::issue,
        super::admin::reissue,
        super::notices::send,
        super::notices::status,
        super::notices::letters,
        super::notices::ask_bounced_letters,
        super::notices::bounces,
        super::admin::open,
        super::admin::close,
        super::admin::certify,
        super::admin::pending,
        super::admin::decide,
        super::admin::replace_teller,
        super::tellers::board,
        super::tellers::message,
        super::tellers::shares,
        super::tellers::tally_share,
    ),
    components(schemas(ApiError)),
    tags(
        (name = "log", description = "The public, signed log of every election"),
        (name = "members", description = "Casting and checking a ballot: the token or receipt is the credential"),
        (name = "results", description = "The decrypted result, once the tellers have decrypted it"),
        (name = "officials", description = "Running an election: an official's API token"),
        (name = "tellers", description = "The key ceremony (invitation code) and decryption shares"),
        (name = "probes", description = "Liveness and readiness"),
    ),
)]
struct ApiDoc;

/// The document as JSON text, completed from the route `table`.
pub fn build(table: &[Resource]) -> String {
    let mut doc = ApiDoc::openapi();
    FromRouteTable(table).modify(&mut doc);
    doc.to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"internal_error\",\"message\":\"{e}\"}}"))
}

/// The document the routes serve (built once from the route table by
/// [`crate::routes::configure`]).
pub struct Document(pub &'static str);

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub async fn openapi_json(document: actix_web::web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0)
}

/// Completes each operation from the route table.
struct FromRouteTable<'a>(&'a [Resource]);

impl Modify for FromRouteTable<'_> {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An official's API token (`strikevote admin token create`, or the \
                         accounts page); the operation says which roles may call it",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "teller_invitation",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Teller <invitation code>`: the code the teller was given when the election \
                 was created",
            ))),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in [
                (Method::GET, item.get.as_mut()),
                (Method::POST, item.post.as_mut()),
            ] {
                if let Some(op) = op {
                    complete(self.0, path, &method, op);
                }
            }
        }
    }
}

/// Adds what the route table says of `method` on `path` to its operation.
fn complete(routes: &[Resource], path: &str, method: &Method, op: &mut Operation) {
    let resource = routes.iter().find(|r| r.path == path);
    let access = table::access(routes, method, path);
    // The codes each status carries: the handler's own, then the shared ones.
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    op.responses.responses.retain(|status, response| {
        let RefOr::T(response) = response else {
            return true;
        };
        if status.starts_with('2') {
            return true;
        }
        let codes = errors.entry(status.clone()).or_default();
        codes.extend(response.description.split_whitespace().map(str::to_owned));
        false
    });
    let mut add = |status: u16, code: ErrorCode| {
        let codes = errors.entry(status.to_string()).or_default();
        if !codes.iter().any(|c| c == code.as_str()) {
            codes.push(code.as_str().to_owned());
        }
    };
    if path.contains("{id}") {
        add(400, ErrorCode::InvalidElectionId);
        add(404, ErrorCode::ElectionNotFound);
    }
    let has_query = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == utoipa::openapi::path::ParameterIn::Query,
        RefOr::Ref(_) => false,
    });
    if has_query {
        add(400, ErrorCode::InvalidQuery);
    }
    if let Some(RefOr::T(body)) = &op.request_body {
        if body.content.contains_key("application/json") {
            add(400, ErrorCode::InvalidJson);
        }
        add(413, ErrorCode::PayloadTooLarge);
    }
    let mut description = op.description.take().unwrap_or_default();
    match access {
        Some(Access::Roles(roles)) => {
            add(401, ErrorCode::Unauthorized);
            add(403, ErrorCode::Forbidden);
            op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                "api_token",
                Vec::<String>::new(),
            )]);
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            description.push_str(&format!("\n\nMay be called by: {}.", names.join(", ")));
        }
        Some(Access::Teller) => {
            add(400, ErrorCode::InvalidQuery);
            add(401, ErrorCode::Unauthorized);
            op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                "teller_invitation",
                Vec::<String>::new(),
            )]);
        }
        Some(Access::Public) | None => {}
    }
    if resource.is_some_and(|r| r.limited) {
        add(429, ErrorCode::TooManyRequests);
    }
    add(503, ErrorCode::Unavailable);
    if *method == Method::POST {
        add(503, ErrorCode::StorageFull);
        add(503, ErrorCode::LogBehindSignedHead);
    }
    op.description = Some(description.trim().to_owned()).filter(|d| !d.is_empty());
    for (status, codes) in errors {
        op.responses
            .responses
            .insert(status, RefOr::T(error_response(&codes)));
    }
}

/// An error answer carrying one of `codes`.
fn error_response(codes: &[String]) -> Response {
    let listed: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    let schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "error",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes.iter().cloned())),
        )
        .required("error")
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .required("message");
    ResponseBuilder::new()
        .description(listed.join(", "))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::ROUTES;

    fn doc() -> serde_json::Value {
        serde_json::from_str(&build(ROUTES)).expect("the document is JSON")
    }

    /// The JSON routes: the API and the probes.
    fn json_routes() -> Vec<(String, String)> {
        let mut routes = Vec::new();
        for r in ROUTES {
            if r.path.starts_with("/api/") || matches!(r.path, "/healthz" | "/readyz") {
                for e in r.endpoints {
                    routes.push((r.path.to_owned(), e.method.as_str().to_lowercase()));
                }
            }
        }
        routes.sort();
        routes
    }

    #[test]
    fn the_document_describes_every_json_route_and_no_other() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut described = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                described.push((path.clone(), method.clone()));
            }
        }
        described.sort();
        assert_eq!(described, json_routes());
    }

    #[test]
    fn every_error_named_in_the_document_is_a_real_code_with_its_status() {
        let doc = doc();
        let known: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('2') {
                        continue;
                    }
                    let schema = &response["content"]["application/json"]["schema"];
                    let codes = schema["properties"]["error"]["enum"].as_array();
                    let codes = codes.unwrap_or_else(|| panic!("{method} {path} {status}"));
                    assert!(!codes.is_empty());
                    for code in codes {
                        let code = code.as_str().unwrap();
                        assert!(known.contains(&code), "{method} {path} {status}: `{code}`");
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen > 100, "{seen}");
    }

    #[test]
    fn protected_routes_carry_their_scheme_and_refusals() {
        let doc = doc();
        let op = &doc["paths"]["/api/v1/elections/{id}/close"]["post"];
        assert_eq!(op["security"][0]["api_token"], serde_json::json!([]));
        assert_eq!(
            op["responses"]["401"]["content"]["application/json"]["schema"]["properties"]["error"]
                ["enum"],
            serde_json::json!(["unauthorized"])
        );
        assert_eq!(
            op["responses"]["403"]["content"]["application/json"]["schema"]["properties"]["error"]
                ["enum"],
            serde_json::json!(["forbidden"])
        );
        assert!(
            op["description"]
                .as_str()
                .unwrap()
                .contains("May be called by: admin.")
        );
        let teller = &doc["paths"]["/api/v1/elections/{id}/tellers/{teller}/board"]["get"];
        assert_eq!(
            teller["security"][0]["teller_invitation"],
            serde_json::json!([])
        );
        // A public, rate-limited route: no scheme, a 429.
        let cast = &doc["paths"]["/api/v1/ballots"]["post"];
        assert!(cast.get("security").is_none());
        assert!(cast["responses"]["429"].is_object());
        let codes = &cast["responses"]["409"]["content"]["application/json"]["schema"]["properties"]
            ["error"]["enum"];
        assert_eq!(
            codes,
            &serde_json::json!([
                "token_used",
                "token_revoked",
                "election_not_open",
                "ballot_seen"
            ])
        );
    }
}
