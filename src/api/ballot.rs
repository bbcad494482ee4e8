//! Casting over JSON, a member's receipt look-up and token status.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ElectionPath;
use super::with_conn;
use crate::ballot::receipt::{lookup_receipt, public_status};
use crate::ballot::{self, Cast, CastRequest};
use crate::election::{self, Choice, ElectionId, State};
use crate::error::{Error, ErrorCode, Result};
use crate::http::auth::Official;
use crate::http::state::AppState;
use crate::http::wiped::{Wipe, WipedJson};
use crate::token::PlainToken;
use strikevote_core::crypto::encoded::EncodedBallot;

/// Body of `POST /api/v1/ballots`: the token and either the ballot the member's own device
/// sealed (`ballot`; the server checks it and never sees the choice) or a padded `choice` the
/// server seals.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CastBody {
    /// The member's ballot token, `SV-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`.
    #[schema(example = "SV-ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345")]
    token: String,
    /// `yes`, `no`, or `abstain` where the election allows it, padded with spaces to 7
    /// characters (`"yes    "`, `"no     "`, `"abstain"`), so that the request's length does
    /// not tell the choice to whoever sees the encrypted traffic. An unpadded choice is refused.
    /// Leave it out when sending a sealed `ballot`.
    #[schema(example = "yes    ")]
    choice: Option<String>,
    /// A ballot sealed by the member's device under the election key for the member's local
    /// (docs/LOG_FORMAT.md, "Ballots"): one ciphertext per option in the definition's order,
    /// with its range and sum proofs. Refused (`invalid_ballot`) unless its proofs verify for
    /// this election and local, or (`ballot_seen`) if the same ballot is already in the log;
    /// either way nothing is used up.
    #[schema(value_type = Option<Object>)]
    ballot: Option<serde_json::Value>,
    /// With `ballot`: the SHA-256 (64 lowercase hex digits) of the sealing code that sealed it,
    /// when that is this server's ballot page code (`X-Sealing-Code-SHA256` of
    /// `/static/sealing.js`) or another the election's log names; refused
    /// (`unknown_sealing_code`) otherwise. Leave it out when your own software sealed it.
    sealing_code: Option<String>,
}

impl Wipe for CastBody {
    fn wipe(&mut self) {
        self.token.wipe();
        self.choice.wipe();
    }
}

impl Wipe for ChallengeBody {
    fn wipe(&mut self) {
        self.token.wipe();
    }
}

impl Wipe for TokenBody {
    fn wipe(&mut self) {
        self.token.wipe();
    }
}

impl CastBody {
    /// The request it asks for, or the API error naming what is wrong (the token and the
    /// choice stay in the body, which wipes them).
    pub fn request(&mut self) -> Result<CastRequest> {
        let token = parse_token(&self.token)?;
        let sealing = match (self.choice.as_deref(), self.ballot.take()) {
            (Some(_), None) if self.sealing_code.is_some() => {
                return Err(Error::bad_input(
                    ErrorCode::InvalidBallot,
                    "`sealing_code` names the code that sealed a `ballot`: the server seals a \
                     `choice` itself",
                ));
            }
            (Some(choice), None) => ballot::Sealing::Server(parse_padded_choice(choice)?),
            (None, Some(sealed)) => {
                let ballot = EncodedBallot::from_value(sealed).map_err(|_| {
                    Error::bad_input(
                        ErrorCode::InvalidBallot,
                        "`ballot` is not a sealed ballot: an object with `choices` (ciphertexts), \
                         `range_proof` and `sum_proof`, as docs/LOG_FORMAT.md describes",
                    )
                })?;
                let code = self.sealing_code.take().map(parse_code).transpose()?;
                ballot::Sealing::Member(Box::new(ballot::MemberBallot { ballot, code }))
            }
            (Some(_), Some(_)) => {
                return Err(Error::bad_input(
                    ErrorCode::InvalidChoice,
                    "send a sealed `ballot` or a `choice`, not both",
                ));
            }
            (None, None) => {
                return Err(Error::bad_input(
                    ErrorCode::ChoiceMissing,
                    "send a sealed `ballot`, or a `choice` padded to 7 characters",
                ));
            }
        };
        Ok(CastRequest { token, sealing })
    }
}

/// A sealing code's name: 64 lowercase hex digits, or the API's `unknown_sealing_code`.
fn parse_code(text: String) -> Result<String> {
    if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Ok(text);
    }
    Err(Error::bad_input(
        ErrorCode::UnknownSealingCode,
        "`sealing_code` is the SHA-256 of the sealing code: 64 lowercase hex digits",
    ))
}

/// A choice sent padded to [`Choice::WIRE_WIDTH`], or the API's `invalid_choice`. Unpadded,
/// `"yes"`, `"no"` and `"abstain"` are 3, 2 and 7 characters long, and the length of an
/// encrypted request shows through TLS.
fn parse_padded_choice(text: &str) -> Result<Choice> {
    let choice = parse_choice(text)?;
    if text != choice.padded() {
        return Err(Error::bad_input(
            ErrorCode::InvalidChoice,
            "send the choice padded with spaces to 7 characters (\"yes    \", \"no     \" or \
             \"abstain\"), so that the request's length does not tell it",
        ));
    }
    Ok(choice)
}

/// Parses what a member typed into a hashed token, or the API's `token_unknown`.
pub fn parse_token(text: &str) -> Result<crate::token::HashedToken> {
    PlainToken::parse(text).map(|t| t.hash()).map_err(|_| {
        Error::bad_input(
            ErrorCode::TokenUnknown,
            "this is not a ballot token: a token looks like SV-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX",
        )
    })
}

/// Parses a choice name, or the API's `invalid_choice`.
pub fn parse_choice(text: &str) -> Result<Choice> {
    Choice::parse(text.trim()).ok_or_else(|| {
        Error::bad_input(
            ErrorCode::InvalidChoice,
            "choose \"yes\" or \"no\" (or \"abstain\" where the election allows it)",
        )
    })
}

/// The answer for a cast ballot: the receipt and the ballot's tracker, never the choice (the
/// answer is the same length whatever it was).
#[derive(Serialize, ToSchema)]
pub struct CastAnswer {
    /// The receipt: keep it to check the ballot later (`GET /api/v1/receipts/{receipt}`).
    receipt: String,
    /// The ballot's tracker: SHA-256 of its ciphertexts, 64 hex digits.
    tracker: String,
    /// The election.
    election: ElectionId,
    /// The member's local.
    local: String,
    /// The ballot's index in the log.
    leaf_index: u64,
    /// The size of the tree the checkpoint signs.
    tree_size: u64,
    /// The signed checkpoint of the batch that holds the ballot.
    checkpoint: String,
    /// Inclusion proof of the ballot in that tree, hex, RFC 9162 order.
    inclusion_proof: Vec<String>,
    /// The same, as a C2SP `tlog-proof` (index, proof, the checkpoint with its witnesses'
    /// cosignatures): keep it to check the ballot offline.
    tlog_proof: String,
}

impl From<&Cast> for CastAnswer {
    fn from(cast: &Cast) -> Self {
        Self {
            receipt: cast.receipt.clone(),
            tracker: cast.tracker.clone(),
            election: cast.election,
            local: cast.local.clone(),
            leaf_index: cast.leaf_index,
            tree_size: cast.tree_size,
            checkpoint: cast.checkpoint.clone(),
            inclusion_proof: cast.inclusion_proof.iter().map(hex::encode).collect(),
            tlog_proof: crate::ballot::receipt::tlog_proof(
                cast.leaf_index,
                &cast.inclusion_proof,
                &cast.checkpoint,
            ),
        }
    }
}

/// `POST /api/v1/ballots` `{"token", "choice"}`: casts a ballot; answers after its batch
/// commits — and, when the election lists witnesses, after their quorum cosigned a checkpoint
/// covering it — with the receipt, the leaf index, that checkpoint and the inclusion proof.
#[utoipa::path(post, path = "/api/v1/ballots", tag = "members", request_body = CastBody,
    responses(
        (status = 200, description = "The ballot is in the log", body = CastAnswer),
        (status = 400, description = "invalid_choice choice_missing invalid_ballot unknown_sealing_code token_unknown"),
        (status = 404, description = "token_unknown"),
        (status = 409, description = "token_used token_revoked election_not_open ballot_seen"),
        (status = 503, description = "storage_full witnesses_unavailable")))]
pub async fn cast(
    state: web::Data<AppState>,
    mut body: WipedJson<CastBody>,
) -> Result<HttpResponse> {
    let cast = state.casting.cast(body.request()?).await?;
    Ok(HttpResponse::Ok().json(CastAnswer::from(&cast)))
}

/// Body of `POST /api/v1/challenges`: a ballot the member's device sealed, checked instead of
/// cast — the tracker it showed, the choice and each ciphertext's randomness.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    /// The member's ballot token (it stays unused).
    token: String,
    /// The tracker the page showed for the sealed ballot, 64 lowercase hex digits.
    tracker: String,
    /// The choice the page sealed, as the definition names it (`yes`, `no`, `abstain`).
    choice: String,
    /// One scalar per option of the election, in its order, base64url without padding: the
    /// randomness each ciphertext was sealed with (docs/LOG_FORMAT.md, "Sealing on the
    /// member's device, and challenges").
    randomness: Vec<String>,
    /// The SHA-256 (hex) of the sealing code that sealed it, as for `POST /api/v1/ballots`.
    sealing_code: Option<String>,
}

/// A checked ballot, as the log now holds it.
#[derive(Serialize, ToSchema)]
pub struct ChallengeAnswer {
    /// The election.
    election: ElectionId,
    /// The member's local.
    local: String,
    /// The checked ballot's tracker.
    tracker: String,
    /// The choice it held: re-sealed from its randomness, it makes exactly that tracker.
    choice: String,
    /// The challenge entry's index in the log.
    leaf_index: u64,
    /// The log's size after it.
    tree_size: u64,
    /// The signed checkpoint of that log.
    checkpoint: String,
    /// How many more sealed ballots this token may check before it must cast.
    checks_left: u32,
}

/// `POST /api/v1/challenges`: "check it first" — writes a `challenge` entry for a sealed ballot
/// whose choice and randomness re-seal to the tracker the member was shown; the token stays
/// unused and that ballot can never be cast.
#[utoipa::path(post, path = "/api/v1/challenges", tag = "members", request_body = ChallengeBody,
    responses(
        (status = 201, description = "The challenge is in the log", body = ChallengeAnswer),
        (status = 400, description = "invalid_choice invalid_ballot challenge_mismatch unknown_sealing_code token_unknown"),
        (status = 404, description = "token_unknown"),
        (status = 409, description = "token_used token_revoked election_not_open ballot_seen too_many_challenges"),
        (status = 503, description = "witnesses_unavailable")))]
pub async fn challenge(
    state: web::Data<AppState>,
    mut body: WipedJson<ChallengeBody>,
) -> Result<HttpResponse> {
    let request = ballot::challenge::ChallengeRequest {
        token: parse_token(&body.token)?,
        tracker: std::mem::take(&mut body.tracker),
        choice: std::mem::take(&mut body.choice),
        randomness: std::mem::take(&mut body.randomness),
        code: body.sealing_code.take().map(parse_code).transpose()?,
    };
    let (signer, keys) = (state.signer.clone(), state.casting.keys());
    let done = with_conn(&state, move |c| {
        ballot::challenge::challenge(c, &signer, &keys, &request)
    })
    .await?;
    Ok(HttpResponse::Created().json(ChallengeAnswer {
        election: done.election,
        local: done.local,
        tracker: done.tracker,
        choice: done.choice,
        leaf_index: done.leaf_index,
        tree_size: done.tree_size,
        checkpoint: done.checkpoint,
        checks_left: done.checks_left,
    }))
}

/// A member's ballot found by its receipt.
#[derive(Serialize, ToSchema)]
pub struct ReceiptAnswer {
    /// The election.
    election: ElectionId,
    /// The ballot's index in the log.
    leaf_index: u64,
    /// The ballot's log entry, exact text (a sealed ballot, never a choice).
    entry: String,
    /// The ballot's tracker.
    tracker: String,
    /// The latest checkpoint's size.
    tree_size: u64,
    /// The latest signed checkpoint.
    checkpoint: String,
    /// Inclusion proof of the entry in that tree, hex, RFC 9162 order.
    inclusion_proof: Vec<String>,
    /// Whether the proof leads from the entry to the checkpoint's root.
    verified: bool,
    /// The same proof as a C2SP `tlog-proof`.
    tlog_proof: String,
}

/// `GET /api/v1/receipts/{receipt}`: a member's own ballot entry and its inclusion proof
/// against the latest published checkpoint (allowed during the embargo: the member holds the
/// receipt).
#[utoipa::path(get, path = "/api/v1/receipts/{receipt}", tag = "members",
    params(("receipt" = String, Path, description = "The receipt the member was given")),
    responses(
        (status = 200, description = "The ballot and its proof", body = ReceiptAnswer),
        (status = 404, description = "receipt_unknown"),
        (status = 503, description = "witnesses_unavailable")))]
pub async fn receipt(
    state: web::Data<AppState>,
    receipt: web::Path<String>,
) -> Result<HttpResponse> {
    let body = with_conn(&state, move |c| {
        let found = lookup_receipt(c, &receipt)?;
        let tlog_proof = found.tlog_proof();
        Ok(ReceiptAnswer {
            election: found.election,
            leaf_index: found.index,
            entry: found.entry,
            tracker: found.tracker,
            tree_size: found.tree_size,
            checkpoint: found.checkpoint,
            inclusion_proof: found.proof.iter().map(hex::encode).collect(),
            verified: found.verified,
            tlog_proof,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Body of `POST /api/v1/token-status`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The member's ballot token.
    token: String,
}

/// A token's status, and nothing more.
#[derive(Serialize, ToSchema)]
pub struct TokenStatusAnswer {
    /// `not_used`, `used` or `revoked`.
    #[schema(pattern = "^(not_used|used|revoked)$")]
    status: &'static str,
}

/// `POST /api/v1/token-status` `{"token"}`: `not_used`, `used` or `revoked` — nothing more.
#[utoipa::path(post, path = "/api/v1/token-status", tag = "members", request_body = TokenBody,
    responses(
        (status = 200, description = "The token's status", body = TokenStatusAnswer),
        (status = 400, description = "token_unknown"),
        (status = 404, description = "token_unknown")))]
pub async fn token_status(
    state: web::Data<AppState>,
    body: WipedJson<TokenBody>,
) -> Result<HttpResponse> {
    let token = parse_token(&body.token)?;
    let status = with_conn(&state, move |c| ballot::token_status(c, &token)).await?;
    Ok(HttpResponse::Ok().json(TokenStatusAnswer {
        status: public_status(status),
    }))
}

/// `GET /api/v1/elections/{id}/turnout`: ballots cast per local; no choices, ever.
#[utoipa::path(get, path = "/api/v1/elections/{id}/turnout", tag = "officials", params(ElectionPath),
    responses((status = 200, description = "Ballots cast and members eligible, per local and in all", body = election::count::Turnout)))]
pub async fn turnout(
    _who: Official,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = election::ElectionId::parse(&id)?;
    let t = with_conn(&state, move |c| election::count::turnout(c, id)).await?;
    Ok(HttpResponse::Ok().json(t))
}

/// `GET /api/v1/elections/{id}/results`: once the tellers have decrypted the result (409
/// `embargoed` while the vote is open, `awaiting_tellers` after close until then).
#[utoipa::path(get, path = "/api/v1/elections/{id}/results", tag = "results", params(ElectionPath),
    responses(
        (status = 200, description = "The decrypted result, counted under the election's rules", body = ResultsAnswer),
        (status = 409, description = "embargoed awaiting_tellers")))]
pub async fn results(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse> {
    let id = election::ElectionId::parse(&id)?;
    let (results, state_now) = with_conn(&state, move |c| {
        let r = election::count::results(c, id)?;
        Ok((r, election::find(c, id)?.state))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ResultsAnswer {
        certified: state_now == State::Certified,
        results,
    }))
}

/// The result.
#[derive(Serialize, ToSchema)]
pub struct ResultsAnswer {
    /// Whether the officials have certified it.
    certified: bool,
    /// The result.
    results: crate::tally::Results,
}
