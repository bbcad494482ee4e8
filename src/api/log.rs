//! Read-only log routes: key, checkpoint, entries, inclusion and consistency proofs.
//!
//! The whole log is public at every moment, ballots included: a ballot entry holds only its
//! local, its ballot sealed to the tellers' election key, and a random receipt, so anyone can
//! check the log while the vote runs and nobody can count it before the tellers decrypt.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ElectionPath;
use super::with_conn;
use crate::election::{self, ElectionId};
use crate::error::{Error, ErrorCode, Result};
use crate::http::state::AppState;
use crate::log::merkle::Hash;
use crate::log::store::{self, MAX_ENTRIES_PER_READ};
use crate::log::witnessing::Witnessing;

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// The log's signing key.
#[derive(Serialize, ToSchema)]
pub struct PublicKey {
    /// Always `ed25519`.
    #[schema(pattern = "^ed25519$")]
    algorithm: &'static str,
    /// The 32-byte public key, standard base64.
    public_key: String,
}

/// `GET /api/v1/key`: the bare Ed25519 public key that signs every election's checkpoints.
#[utoipa::path(get, path = "/api/v1/key", tag = "log",
    responses((status = 200, description = "The key that signs every checkpoint", body = PublicKey)))]
pub async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(PublicKey {
        algorithm: "ed25519",
        public_key: B64.encode(state.signer.public_key()),
    })
}

/// `GET /api/v1/elections/{id}/key`: the election's verifier key, as in the bundle's key.vkey.
#[utoipa::path(get, path = "/api/v1/elections/{id}/key", tag = "log", params(ElectionPath),
    responses((status = 200, description = "The verifier key (`<origin>+<key hash>+<base64 key>`, one line), as in the audit bundle's key.vkey",
        body = String, content_type = "text/plain")))]
pub async fn verifier_key(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let election = with_conn(&state, move |c| election::find(c, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(format!("{}\n", state.signer.verifier(&election.origin))))
}

/// `GET /api/v1/elections/{id}/checkpoint`: the latest published note (cosigned by the
/// election's witnesses' quorum, when it lists witnesses).
#[utoipa::path(get, path = "/api/v1/elections/{id}/checkpoint", tag = "log", params(ElectionPath),
    responses((status = 200, description = "The latest published checkpoint, a signed note with its witnesses' cosignatures (docs/LOG_FORMAT.md)",
        body = String, content_type = "text/plain"),
        (status = 503, description = "witnesses_unavailable")))]
pub async fn checkpoint(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let checkpoint = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        Witnessing::default().newest_published(c, &election, &election.definition)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(checkpoint.note))
}

/// Query of `entries`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// First entry (default 0).
    start: Option<u64>,
    /// One past the last entry (default: the log's size); at most 1000 entries are answered.
    end: Option<u64>,
}

/// `GET /api/v1/elections/{id}/entries?start=&end=`: entries `[start, end)` as JSON lines, the
/// exact stored bytes, at most 1000 per answer (continue from the last index + 1).
#[utoipa::path(get, path = "/api/v1/elections/{id}/entries", tag = "log", params(ElectionPath, EntriesQuery),
    responses(
        (status = 200, description = "The entries, one JSON object per line, byte for byte as hashed into the log (docs/LOG_FORMAT.md)",
            body = String, content_type = "application/jsonl"),
        (status = 400, description = "size_beyond_log invalid_range")))]
pub async fn entries(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let body = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let size = election.log_size;
        let start = query.start.unwrap_or(0);
        let end = query.end.unwrap_or(size);
        if end > size {
            return Err(Error::bad_input(
                ErrorCode::SizeBeyondLog,
                format!("end {end} is beyond the log, which has {size} entries"),
            ));
        }
        if start > end {
            return Err(Error::bad_input(
                ErrorCode::InvalidRange,
                format!("start {start} is after end {end}"),
            ));
        }
        let end = end.min(start.saturating_add(MAX_ENTRIES_PER_READ));
        let mut body = Vec::new();
        for entry in store::entries(c, id, start, end)? {
            body.extend(entry.bytes);
            body.push(b'\n');
        }
        Ok(body)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/jsonl")
        .body(body))
}

/// Query of `proof/inclusion`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry's index.
    index: u64,
    /// The tree's size (default: the latest checkpoint's).
    size: Option<u64>,
}

/// An RFC 9162 inclusion proof.
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    /// The entry's index.
    index: u64,
    /// The tree's size.
    size: u64,
    /// The entry's leaf hash, hex.
    leaf_hash: String,
    /// The tree's root, hex.
    root: String,
    /// The proof's hashes, hex, RFC 9162 order.
    hashes: Vec<String>,
}

/// `GET /api/v1/elections/{id}/proof/inclusion?index=&size=`: RFC 9162 inclusion proof of
/// entry `index` in the tree of `size` entries (default: the latest checkpoint's).
#[utoipa::path(get, path = "/api/v1/elections/{id}/proof/inclusion", tag = "log", params(ElectionPath, InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 400, description = "invalid_proof_request size_beyond_log")))]
pub async fn inclusion(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let body = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let size = query.size.unwrap_or(election.log_size);
        let proof = store::inclusion_proof(c, &election, query.index, size)?;
        Ok(InclusionProof {
            index: query.index,
            size,
            leaf_hash: hex::encode(store::leaf_hash(c, &election, query.index)?),
            root: hex::encode(store::root_at(c, &election, size)?),
            hashes: hexes(&proof),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query of `proof/consistency`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree's size.
    from: u64,
    /// The newer tree's size (default: the latest checkpoint's).
    to: Option<u64>,
}

/// An RFC 9162 consistency proof.
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree's size.
    from: u64,
    /// The newer tree's size.
    to: u64,
    /// The older tree's root, hex.
    from_root: String,
    /// The newer tree's root, hex.
    to_root: String,
    /// The proof's hashes, hex, RFC 9162 order.
    hashes: Vec<String>,
}

/// `GET /api/v1/elections/{id}/proof/consistency?from=&to=`: RFC 9162 consistency proof
/// between the trees of `from` and `to` entries (default `to`: the latest).
#[utoipa::path(get, path = "/api/v1/elections/{id}/proof/consistency", tag = "log", params(ElectionPath, ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "invalid_proof_request size_beyond_log")))]
pub async fn consistency(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse> {
    let id = ElectionId::parse(&id)?;
    let body = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let to = query.to.unwrap_or(election.log_size);
        let proof = store::consistency_proof(c, &election, query.from, to)?;
        Ok(ConsistencyProof {
            from: query.from,
            to,
            from_root: hex::encode(store::root_at(c, &election, query.from)?),
            to_root: hex::encode(store::root_at(c, &election, to)?),
            hashes: hexes(&proof),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// A checked ballot, found by its tracker, with what re-sealing it needs.
#[derive(Serialize, ToSchema)]
pub struct ChallengeFound {
    /// The election.
    election: ElectionId,
    /// The `challenge` entry's index in the log.
    leaf_index: u64,
    /// The entry, exact text (local, sealing code, tracker, choice, randomness).
    entry: String,
    /// The election key (`shared_key` of the `election_key` entry), base64url.
    election_key: String,
    /// The election's choices, in the definition's order.
    choices: Vec<String>,
}

/// `GET /api/v1/elections/{id}/challenges/{tracker}`: the challenge entry of a ballot a member
/// checked instead of casting, and the election key and choices that re-seal it — what a
/// checker the member saved beforehand fetches (from any origin: it is public).
#[utoipa::path(get, path = "/api/v1/elections/{id}/challenges/{tracker}", tag = "log",
    params(ElectionPath, ("tracker" = String, Path, description = "The tracker the member was shown, 64 hex digits")),
    responses(
        (status = 200, description = "The challenge entry and what re-sealing it needs", body = ChallengeFound),
        (status = 404, description = "election_not_found not_found")))]
pub async fn challenge(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, tracker) = path.into_inner();
    let id = ElectionId::parse(&id)?;
    let tracker = tracker.to_ascii_lowercase();
    let keys = state.casting.keys();
    let found = with_conn(&state, move |c| {
        let election = election::find(c, id)?;
        let (leaf_index, entry) = store::challenge_entry(c, id, &tracker)?.ok_or_else(|| {
            Error::not_found(
                ErrorCode::NotFound,
                "no ballot with this tracker was checked in this election's log",
            )
        })?;
        let key = keys.get(c, &election)?;
        Ok(ChallengeFound {
            election: id,
            leaf_index,
            entry: String::from_utf8_lossy(&entry).into_owned(),
            election_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes()),
            choices: election
                .definition
                .choices
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(found))
}
