//! Log entries (format v9): compact JSON objects with `v`, `type` and `election` first, then
//! the fields of their type. [`Entry`] is the one description of them: the service writes
//! entries with it, reads them back with it for the recount, and the verifier reads them with
//! it — strictly: an unknown type, a missing or extra field, or bytes that are not exactly what
//! this module would write for the entry read is an error. The bytes built here are stored and
//! hashed as they are; nothing re-serializes them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ElectionId;
use crate::crypto::encoded::EncodedBallot;
use crate::crypto::identity::Identity;
use crate::definition::{Definition, rfc3339_seconds};

mod result;

pub use result::{
    Counted, DelegatesEntry, GroupOutcome, GroupedLocal, LocalOutcome, OpenedLocal, Outcome,
    PopularEntry, ResultEntry,
};

/// The format version every entry carries.
pub const VERSION: u8 = 9;

/// The longest receipt a ballot entry may carry.
pub const MAX_RECEIPT_LEN: usize = 128;

/// Entry types written so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The frozen definition; always entry 0.
    Election,
    /// A local's eligible count and roster digest.
    Roster,
    /// Tokens were issued (counts only).
    TokensIssued,
    /// One member's token was replaced (local only, never the member).
    TokenReissued,
    /// Voting opened.
    Open,
    /// A ballot.
    Ballot,
    /// Voting closed.
    Close,
    /// The certified result.
    Result,
    /// An official's action and who took it.
    Admin,
    /// An official's account or API token changed (written into every running election).
    Account,
    /// Key ceremony round 1: a teller's age key and its commitment.
    TellerKey,
    /// Key ceremony round 2: a teller's public polynomial.
    TellerPolynomial,
    /// The election key, rebuilt from every teller's polynomial.
    ElectionKey,
    /// A teller checked the shares it received: the ceremony is over for it.
    TellerReady,
    /// After close, a teller's decryption shares of every local's sums, with proofs.
    TallyShare,
    /// While the vote is open, a new version of the sealing code members' pages run.
    SealingCode,
    /// A sealed ballot its member checked instead of casting: its choice and randomness.
    Challenge,
    /// Before the ceremony completes, officials started it again, giving the seats of the
    /// tellers it names to someone else: every ceremony entry before it is void.
    CeremonyRestart,
}

impl Kind {
    /// Every type, in the order LOG_FORMAT.md lists them.
    pub const ALL: [Kind; 18] = [
        Kind::Election,
        Kind::Roster,
        Kind::TokensIssued,
        Kind::TokenReissued,
        Kind::Open,
        Kind::Ballot,
        Kind::Close,
        Kind::Result,
        Kind::Admin,
        Kind::Account,
        Kind::TellerKey,
        Kind::TellerPolynomial,
        Kind::ElectionKey,
        Kind::TellerReady,
        Kind::TallyShare,
        Kind::SealingCode,
        Kind::Challenge,
        Kind::CeremonyRestart,
    ];

    /// The key ceremony's types: what the ceremony's record is replayed from.
    pub const CEREMONY: [Kind; 5] = [
        Kind::TellerKey,
        Kind::TellerPolynomial,
        Kind::ElectionKey,
        Kind::TellerReady,
        Kind::CeremonyRestart,
    ];

    /// The `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Election => "election",
            Kind::Roster => "roster",
            Kind::TokensIssued => "tokens_issued",
            Kind::TokenReissued => "token_reissued",
            Kind::Open => "open",
            Kind::Ballot => "ballot",
            Kind::Close => "close",
            Kind::Result => "result",
            Kind::Admin => "admin",
            Kind::Account => "account",
            Kind::TellerKey => "teller_key",
            Kind::TellerPolynomial => "teller_polynomial",
            Kind::ElectionKey => "election_key",
            Kind::TellerReady => "teller_ready",
            Kind::TallyShare => "tally_share",
            Kind::SealingCode => "sealing_code",
            Kind::Challenge => "challenge",
            Kind::CeremonyRestart => "ceremony_restart",
        }
    }

    /// The type named by a `type` value, if the format has it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A `roster` entry: how many members of a local are eligible and a digest committing to who.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// The local's code.
    pub local: String,
    /// Members eligible.
    pub eligible: u64,
    /// [`roster_digest`] of its member ids, 64 lowercase hex digits.
    pub digest: String,
}

/// A `tokens_issued` entry: tokens issued in one action, counted per local.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensIssued {
    /// The sum over `locals`.
    pub count: u64,
    /// Tokens issued per local code.
    pub locals: BTreeMap<String, u64>,
}

/// A `token_reissued` entry: one token replaced, naming only the local.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenReissued {
    /// The local's code.
    pub local: String,
}

/// An `open` or `close` entry: when it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct At {
    /// RFC 3339, UTC, whole seconds.
    #[serde(with = "rfc3339_seconds")]
    pub at: DateTime<Utc>,
}

/// An `open` entry (the vote opened, and the sealing code members' pages run from then), or a
/// `sealing_code` entry (pages run another version from `at`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// RFC 3339, UTC, whole seconds.
    #[serde(with = "rfc3339_seconds")]
    pub at: DateTime<Utc>,
    /// The SHA-256 of the sealing code the server serves to ballot pages (the exact bytes of
    /// `/static/sealing.js`), 64 lowercase hex digits.
    pub sealing_code: String,
}

/// Who sealed a ballot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealedBy {
    /// The member's device: the server never saw the choice.
    Member,
    /// The server, from the member's plain choice (a page without JavaScript, or an API client
    /// that sent a choice).
    Server,
}

impl SealedBy {
    /// The `sealed_by` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SealedBy::Member => "member",
            SealedBy::Server => "server",
        }
    }
}

/// A `ballot` entry: exactly local, who sealed it, sealed ballot and receipt — no member, no
/// token, no time, and no choice anyone but the tellers together could read.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ballot {
    /// The voter's local.
    pub local: String,
    /// Who sealed it.
    pub sealed_by: SealedBy,
    /// For a ballot its member's page sealed: the SHA-256 of the sealing code the page ran (an
    /// `open` or `sealing_code` entry before it names it); `null` when the server sealed it or
    /// when the member's own software named no code.
    pub sealing_code: Option<String>,
    /// The choice, encrypted to the election key, with its validity proofs (and its
    /// ciphertexts' encodings, so that writing it and its tracker encode no point again).
    pub ballot: EncodedBallot,
    /// The receipt the voter was given.
    pub receipt: String,
}

impl Ballot {
    /// The ballot's tracker ([`crate::crypto::ballot::tracker`]), 64 lowercase hex digits.
    pub fn tracker(&self) -> String {
        hex::encode(self.ballot.tracker())
    }
}

/// Equal when they encode alike (the library's types have no `PartialEq`).
fn same_json<T: Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_vec(a).ok() == serde_json::to_vec(b).ok()
}

impl PartialEq for Ballot {
    fn eq(&self, other: &Self) -> bool {
        same_json(self, other)
    }
}

/// A `challenge` entry: a ballot sealed on a member's device that the member checked instead of
/// casting ("Check it first"). Its choice and encryption randomness are public, so anyone can
/// re-seal it and compare trackers; it is never counted, and its tracker can never be cast.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// The member's local (the ballot was sealed for it).
    pub local: String,
    /// The sealing code the page ran, as on a ballot entry (`null`: none named).
    pub sealing_code: Option<String>,
    /// The tracker the member was shown, 64 lowercase hex digits.
    pub tracker: String,
    /// The choice the ballot held, as the definition names it.
    pub choice: String,
    /// One scalar per option, in the definition's order, base64url without padding: the
    /// randomness each ciphertext was sealed with.
    pub randomness: Vec<String>,
}

/// A prefix of the log, named by its size and root (base64, as in checkpoints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRef {
    /// Entries in the prefix.
    pub size: u64,
    /// Its RFC 9162 root, standard base64.
    pub root: String,
}

/// A `tally_share` entry: after close, one teller's decryption share of every sum — for each
/// local of the definition, one per option in the definition's order — each with its proof,
/// bound to the log the teller checked and signed with the teller's identity key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TallyShare {
    /// The teller's number, 1-based.
    pub teller: u32,
    /// The log up to and including its `close` entry, as the teller computed it: shares made
    /// on two different logs never combine.
    pub closed: LogRef,
    /// Local code → that local's shares, one per option.
    pub shares: BTreeMap<String, Vec<crate::crypto::tally::Share>>,
    /// The teller's signature ([`crate::crypto::identity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl PartialEq for TallyShare {
    fn eq(&self, other: &Self) -> bool {
        same_json(self, other)
    }
}

impl Challenge {
    /// The randomness as scalars' 32-byte encodings, if each is canonical base64url without
    /// padding of 32 bytes (whether each is a canonical scalar is the re-sealing's to say).
    pub fn randomness_bytes(&self) -> Option<Vec<[u8; 32]>> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        self.randomness
            .iter()
            .map(|r| {
                let bytes = URL_SAFE_NO_PAD.decode(r).ok()?;
                let bytes = <[u8; 32]>::try_from(bytes).ok()?;
                (URL_SAFE_NO_PAD.encode(bytes) == *r).then_some(bytes)
            })
            .collect()
    }
}

/// What an official did: the closed list of an `admin` entry's `action`s (a verifier refuses
/// any other word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// Created the election (entry 1, right after the definition).
    Create,
    /// Imported the roster (the `roster` entries of the locals it changed follow).
    RosterImport,
    /// Issued tokens to members without one (a `tokens_issued` follows).
    TokensIssue,
    /// Revoked every live token and issued new ones (a `tokens_issued` follows).
    TokensReissueAll,
    /// Replaced one member's token (a `token_reissued` follows).
    TokenReissue,
    /// The outbox's alone (`by: "mail"`): replaced the live tokens of the members its messages
    /// went to with fresh ones — a reminder's new link, or a message sent again after a crash
    /// (a `tokens_issued` follows, counting the new tokens).
    TokensReissue,
    /// Opened the vote (the `open` follows).
    Open,
    /// Closed the vote (the `close` follows).
    Close,
    /// Certified the result (after the `result`).
    Certify,
    /// Started the key ceremony again, giving some tellers' seats to someone else (the
    /// `ceremony_restart` follows).
    CeremonyRestart,
}

impl AdminAction {
    /// Every action, in the order format v9 lists them.
    pub const ALL: [AdminAction; 10] = [
        AdminAction::Create,
        AdminAction::RosterImport,
        AdminAction::TokensIssue,
        AdminAction::TokensReissueAll,
        AdminAction::TokenReissue,
        AdminAction::TokensReissue,
        AdminAction::Open,
        AdminAction::Close,
        AdminAction::Certify,
        AdminAction::CeremonyRestart,
    ];

    /// The `action` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAction::Create => "create",
            AdminAction::RosterImport => "roster_import",
            AdminAction::TokensIssue => "tokens_issue",
            AdminAction::TokensReissueAll => "tokens_reissue_all",
            AdminAction::TokenReissue => "token_reissue",
            AdminAction::TokensReissue => "tokens_reissue",
            AdminAction::Open => "open",
            AdminAction::Close => "close",
            AdminAction::Certify => "certify",
            AdminAction::CeremonyRestart => "ceremony_restart",
        }
    }

    /// The action an `action` value names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the two-person rule covers it while the vote is open (closing only before
    /// `closes_at`).
    pub fn is_covered(self) -> bool {
        matches!(
            self,
            AdminAction::Close | AdminAction::TokenReissue | AdminAction::TokensReissueAll
        )
    }
}

impl std::fmt::Display for AdminAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `by` of the server's schedule, which opens and closes the vote at the definition's
/// times.
pub const SCHEDULE: &str = "schedule";
/// The `by` of the server's outbox, which makes each member's token at the moment it sends
/// the member's message: it only issues (`tokens_issue`) and replaces (`tokens_reissue`).
pub const MAIL: &str = "mail";
/// How `by` names the server's console: `cli:` and the operating-system user.
pub const CONSOLE: &str = "cli:";

/// Whom an `admin` entry's `by` (or `approved_by`) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    /// An official's account (a username).
    Person,
    /// The server's console (`cli:<user>`), outside the two-person rule.
    Console,
    /// The schedule (`schedule`), outside the rule; it only opens and closes.
    Schedule,
    /// The outbox (`mail`), outside the rule; it only issues and replaces tokens.
    Mail,
}

impl ActorKind {
    /// Reads a `by`: a name of at most 100 characters, none of them invisible or a control
    /// character.
    pub fn of(name: &str) -> Result<Self, String> {
        if name.is_empty() || name.chars().count() > 100 || name.trim() != name {
            return Err(format!(
                "`{}` is not an official's name (1 to 100 characters, no surrounding spaces)",
                crate::text::shown(name)
            ));
        }
        if let Some(why) = crate::text::unsafe_character(name) {
            return Err(format!("an official's name {why}"));
        }
        Ok(match name.strip_prefix(CONSOLE) {
            Some("") => return Err(format!("`{CONSOLE}` names no system user")),
            Some(_) => ActorKind::Console,
            None if name == SCHEDULE => ActorKind::Schedule,
            None if name == MAIL => ActorKind::Mail,
            None => ActorKind::Person,
        })
    }
}

/// An `admin` entry: an official's action, naming the official — never a member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// What was done.
    pub action: AdminAction,
    /// The official's username (who asked for it, under the two-person rule).
    pub by: String,
    /// Under the two-person rule: the second official, who approved it (never `by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

/// What changed about an official's account: the closed list of an `account` entry's
/// `action`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountAction {
    /// The account was created (with `role`).
    Create,
    /// The account was disabled: its sessions ended, its API tokens stopped.
    Disable,
    /// The account was enabled again.
    Enable,
    /// An API token was created for the account (never the token itself).
    ApiTokenCreate,
    /// One of the account's API tokens was revoked.
    ApiTokenRevoke,
}

impl AccountAction {
    /// Every action, in the order LOG_FORMAT.md lists them.
    pub const ALL: [AccountAction; 5] = [
        AccountAction::Create,
        AccountAction::Disable,
        AccountAction::Enable,
        AccountAction::ApiTokenCreate,
        AccountAction::ApiTokenRevoke,
    ];

    /// The `action` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountAction::Create => "create",
            AccountAction::Disable => "disable",
            AccountAction::Enable => "enable",
            AccountAction::ApiTokenCreate => "api_token_create",
            AccountAction::ApiTokenRevoke => "api_token_revoke",
        }
    }

    /// Whether the two-person rule covers it, while a vote is open, for an admin's account:
    /// a new admin, or a new API token that acts as one.
    pub fn is_covered(self, role: OfficialRole) -> bool {
        role == OfficialRole::Admin
            && matches!(self, AccountAction::Create | AccountAction::ApiTokenCreate)
    }
}

impl std::fmt::Display for AccountAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An official's role, as an `account` entry names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficialRole {
    /// Runs elections.
    Admin,
    /// Reads turnout and results.
    Observer,
    /// Reads the log.
    Auditor,
}

impl OfficialRole {
    /// The `role` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OfficialRole::Admin => "admin",
            OfficialRole::Observer => "observer",
            OfficialRole::Auditor => "auditor",
        }
    }
}

/// An `account` entry: an official's account or API token changed while the election was
/// running (from its creation until it is certified). Names and roles only — never a
/// password, a token or a token's name. The same change stands in the log of every election
/// running at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// What changed.
    pub action: AccountAction,
    /// Whose account (a username).
    pub account: String,
    /// The account's role.
    pub role: OfficialRole,
    /// When (RFC 3339, UTC, whole seconds; the server's clock).
    #[serde(with = "rfc3339_seconds")]
    pub at: DateTime<Utc>,
    /// Who did it: an official's username or the console (`cli:<system user>`).
    pub by: String,
    /// Under the two-person rule: the second official, who approved it (never `by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

/// A `teller_key` entry (ceremony round 1): the key other tellers encrypt secret shares to,
/// and the teller's commitment to its public key share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TellerKey {
    /// The teller's number, 1-based.
    pub teller: u32,
    /// Its Ed25519 identity key, 64 lowercase hex digits, which signs its messages.
    pub identity: String,
    /// Its age X25519 recipient (`age1…`).
    pub recipient: String,
    /// SHA-256 commitment, 64 lowercase hex digits ([`crate::crypto::ceremony::commitment_of`]).
    pub commitment: String,
    /// Its signature by `identity` ([`crate::crypto::identity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// A `teller_polynomial` entry (ceremony round 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TellerPolynomial {
    /// The teller's number, 1-based.
    pub teller: u32,
    /// The polynomial message as the library writes it: `polynomial` (the public
    /// coefficients), `proof_of_possession`, `opening`.
    pub polynomial: Value,
    /// The teller's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// An `election_key` entry: the key set every ballot is encrypted to and every decryption
/// share is checked against, as the library writes it (`params`, `shared_key`,
/// `participant_keys`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectionKey {
    /// The key set.
    pub keys: Value,
}

/// A `teller_ready` entry: the teller holds a key share that matches the election key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TellerReady {
    /// The teller's number, 1-based.
    pub teller: u32,
    /// The teller's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// A `ceremony_restart` entry: the key ceremony starts again from round 1. The tellers it
/// names had published their key in the ceremony it ends and are replaced by someone else;
/// every other teller keeps their seat and their identity key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyRestart {
    /// The tellers whose seats go to someone else, ascending, at least one.
    pub replaced: Vec<u32>,
}

/// What an entry says, by type.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    /// Entry 0: the definition, field for field as the official wrote it.
    Election(Box<Definition>),
    /// A local's roster.
    Roster(Roster),
    /// Tokens issued.
    TokensIssued(TokensIssued),
    /// A token replaced.
    TokenReissued(TokenReissued),
    /// Voting opened.
    Open(Opening),
    /// A ballot.
    Ballot(Ballot),
    /// Voting closed.
    Close(At),
    /// The result ([`crate::tally::opened::result_body`]).
    Result(Box<ResultEntry>),
    /// An official's action.
    Admin(Admin),
    /// An account or API-token change.
    Account(AccountChange),
    /// Ceremony round 1.
    TellerKey(TellerKey),
    /// Ceremony round 2.
    TellerPolynomial(TellerPolynomial),
    /// The election key.
    ElectionKey(ElectionKey),
    /// A teller is ready.
    TellerReady(TellerReady),
    /// A teller's decryption shares.
    TallyShare(TallyShare),
    /// Another version of the sealing code, while the vote is open.
    SealingCode(Opening),
    /// A ballot checked instead of cast.
    Challenge(Challenge),
    /// The key ceremony starts again.
    CeremonyRestart(CeremonyRestart),
}

impl Body {
    /// Its type.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Election(_) => Kind::Election,
            Body::Roster(_) => Kind::Roster,
            Body::TokensIssued(_) => Kind::TokensIssued,
            Body::TokenReissued(_) => Kind::TokenReissued,
            Body::Open(_) => Kind::Open,
            Body::Ballot(_) => Kind::Ballot,
            Body::Close(_) => Kind::Close,
            Body::Result(_) => Kind::Result,
            Body::Admin(_) => Kind::Admin,
            Body::Account(_) => Kind::Account,
            Body::TellerKey(_) => Kind::TellerKey,
            Body::TellerPolynomial(_) => Kind::TellerPolynomial,
            Body::ElectionKey(_) => Kind::ElectionKey,
            Body::TellerReady(_) => Kind::TellerReady,
            Body::TallyShare(_) => Kind::TallyShare,
            Body::SealingCode(_) => Kind::SealingCode,
            Body::Challenge(_) => Kind::Challenge,
            Body::CeremonyRestart(_) => Kind::CeremonyRestart,
        }
    }

    /// Whether entries of this type are signed by a teller.
    pub fn is_signed_kind(&self) -> bool {
        self.signer().is_some()
    }

    /// The teller who signs this entry, for the types tellers sign.
    pub fn signer(&self) -> Option<u32> {
        match self {
            Body::TellerKey(k) => Some(k.teller),
            Body::TellerPolynomial(p) => Some(p.teller),
            Body::TellerReady(r) => Some(r.teller),
            Body::TallyShare(s) => Some(s.teller),
            _ => None,
        }
    }

    /// A signed type's signature, if it carries one.
    pub fn signature(&self) -> Option<&str> {
        match self {
            Body::TellerKey(k) => k.signature.as_deref(),
            Body::TellerPolynomial(p) => p.signature.as_deref(),
            Body::TellerReady(r) => r.signature.as_deref(),
            Body::TallyShare(s) => s.signature.as_deref(),
            _ => None,
        }
    }

    /// Sets (or removes) a signed type's signature; other types are left as they are.
    pub fn set_signature(&mut self, signature: Option<String>) {
        match self {
            Body::TellerKey(k) => k.signature = signature,
            Body::TellerPolynomial(p) => p.signature = signature,
            Body::TellerReady(r) => r.signature = signature,
            Body::TallyShare(s) => s.signature = signature,
            _ => {}
        }
    }

    /// Reads the fields of a `kind` entry (the envelope already taken off).
    fn from_fields(kind: Kind, fields: Map<String, Value>) -> Result<Self, serde_json::Error> {
        fn read<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, serde_json::Error> {
            serde_json::from_value(Value::Object(fields))
        }
        Ok(match kind {
            Kind::Election => Body::Election(Box::new(read(fields)?)),
            Kind::Roster => Body::Roster(read(fields)?),
            Kind::TokensIssued => Body::TokensIssued(read(fields)?),
            Kind::TokenReissued => Body::TokenReissued(read(fields)?),
            Kind::Open => Body::Open(read(fields)?),
            Kind::Ballot => Body::Ballot(read(fields)?),
            Kind::Close => Body::Close(read(fields)?),
            Kind::Result => Body::Result(read(fields)?),
            Kind::Admin => Body::Admin(read(fields)?),
            Kind::Account => Body::Account(read(fields)?),
            Kind::TellerKey => Body::TellerKey(read(fields)?),
            Kind::TellerPolynomial => Body::TellerPolynomial(read(fields)?),
            Kind::ElectionKey => Body::ElectionKey(read(fields)?),
            Kind::TellerReady => Body::TellerReady(read(fields)?),
            Kind::TallyShare => Body::TallyShare(read(fields)?),
            Kind::SealingCode => Body::SealingCode(read(fields)?),
            Kind::Challenge => Body::Challenge(read(fields)?),
            Kind::CeremonyRestart => Body::CeremonyRestart(read(fields)?),
        })
    }
}

/// One log entry: the election it belongs to and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The election (every entry names it).
    pub election: ElectionId,
    /// Its type and fields.
    pub body: Body,
}

/// Why bytes are not an entry of this format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not JSON, or not an object.
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    /// Whitespace, duplicate keys or escapes that compact JSON would not write.
    #[error("not compact JSON with unique keys")]
    NotCompact,
    /// `v` is missing or not 1.
    #[error("`v` is not {VERSION}")]
    Version,
    /// `type` is missing or not a string.
    #[error("no `type`")]
    NoType,
    /// A type the format does not have.
    #[error("unknown entry type `{0}` (format v{VERSION} has {types})", types = kind_list())]
    UnknownType(String),
    /// `election` is missing or not an election id.
    #[error("`election` is missing or not an election id")]
    Election,
    /// The type's fields are missing, extra or of the wrong kind.
    #[error("a `{kind}` entry is malformed: {message}", kind = .0.as_str(), message = .1)]
    Fields(Kind, String),
    /// The fields read are right, but not written in the format's order and form.
    #[error(
        "a `{kind}` entry must be written as {expected}",
        kind = .0.as_str(),
        expected = .1
    )]
    NotCanonical(Kind, String),
}

fn kind_list() -> String {
    Kind::ALL.map(Kind::as_str).join(", ")
}

#[derive(Serialize)]
struct Envelope<'a> {
    v: u8,
    #[serde(rename = "type")]
    kind: &'static str,
    election: &'a ElectionId,
    #[serde(flatten)]
    body: &'a Body,
}

impl Entry {
    /// An entry of `election`.
    pub fn new(election: ElectionId, body: Body) -> Self {
        Self { election, body }
    }

    /// Its type.
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The exact bytes the format gives this entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        let envelope = Envelope {
            v: VERSION,
            kind: self.kind().as_str(),
            election: &self.election,
            body: &self.body,
        };
        // Structs of strings, integers and JSON values always serialize.
        serde_json::to_vec(&envelope).unwrap_or_default()
    }

    /// Reads an entry, refusing anything but the exact bytes [`Entry::to_bytes`] would write
    /// for what was read.
    pub fn parse(bytes: &[u8]) -> Result<Self, EntryError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EntryError::NotAnObject(e.to_string()))?;
        // Compact and canonical: what we read re-serializes to the same bytes (this also
        // refuses duplicate keys, which different parsers would read differently).
        if serde_json::to_vec(&value).ok().as_deref() != Some(bytes) {
            return Err(EntryError::NotCompact);
        }
        let Value::Object(mut fields) = value else {
            return Err(EntryError::NotAnObject("an array or a scalar".into()));
        };
        if fields.shift_remove("v") != Some(Value::from(VERSION)) {
            return Err(EntryError::Version);
        }
        let kind = match fields.shift_remove("type") {
            Some(Value::String(t)) => Kind::parse(&t).ok_or(EntryError::UnknownType(t))?,
            _ => return Err(EntryError::NoType),
        };
        let election = match fields.shift_remove("election") {
            Some(Value::String(e)) => ElectionId::parse(&e).map_err(|_| EntryError::Election)?,
            _ => return Err(EntryError::Election),
        };
        let body =
            Body::from_fields(kind, fields).map_err(|e| EntryError::Fields(kind, e.to_string()))?;
        let entry = Entry { election, body };
        let canonical = entry.to_bytes();
        if canonical != bytes {
            return Err(EntryError::NotCanonical(
                kind,
                String::from_utf8_lossy(&canonical).into_owned(),
            ));
        }
        Ok(entry)
    }

    /// Ready to append.
    pub fn to_new(&self) -> NewEntry {
        NewEntry {
            kind: self.kind(),
            bytes: self.to_bytes(),
            receipt: match &self.body {
                Body::Ballot(b) => Some(b.receipt.clone()),
                _ => None,
            },
            tracker: match &self.body {
                Body::Ballot(b) => Some(b.tracker()),
                Body::Challenge(c) => Some(c.tracker.clone()),
                _ => None,
            },
        }
    }
}

/// An entry ready to append: its type and its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Its type (also stored in a column, for queries).
    pub kind: Kind,
    /// The exact JSON bytes.
    pub bytes: Vec<u8>,
    /// A ballot's receipt (also stored in a column, so a member can find their entry).
    pub receipt: Option<String>,
    /// A ballot's or a challenge's tracker, hex (also stored in a column, unique per
    /// election: a ballot seen before — a copy of another member's, or one checked and so
    /// revealed — is refused).
    pub tracker: Option<String>,
}

fn new(id: &ElectionId, body: Body) -> NewEntry {
    Entry::new(*id, body).to_new()
}

/// A ballot: exactly local, who sealed it (and with which sealing code), sealed ballot and
/// receipt — no member, no token, no time.
pub fn ballot(
    id: &ElectionId,
    local: &str,
    (sealed_by, sealing_code): (SealedBy, Option<&str>),
    ballot: impl Into<EncodedBallot>,
    receipt: &str,
) -> NewEntry {
    new(
        id,
        Body::Ballot(Ballot {
            local: local.to_owned(),
            sealed_by,
            sealing_code: sealing_code.map(str::to_owned),
            ballot: ballot.into(),
            receipt: receipt.to_owned(),
        }),
    )
}

/// A ballot its member checked instead of casting: the tracker they were shown, the choice
/// and the randomness that re-seal it.
pub fn challenge(id: &ElectionId, challenge: Challenge) -> NewEntry {
    new(id, Body::Challenge(challenge))
}

/// From `at`, ballot pages run the sealing code whose SHA-256 is `sealing_code` (hex).
pub fn sealing_code(id: &ElectionId, at: DateTime<Utc>, sealing_code: &str) -> NewEntry {
    new(
        id,
        Body::SealingCode(Opening {
            at: whole_seconds(at),
            sealing_code: sealing_code.to_owned(),
        }),
    )
}

/// Teller `teller`'s (1-based) decryption shares, per local, made on the log `closed` (up to
/// its close), signed with the teller's identity key.
pub fn tally_share(
    id: &ElectionId,
    teller: u32,
    closed: LogRef,
    shares: BTreeMap<String, Vec<crate::crypto::tally::Share>>,
    identity: &Identity,
) -> NewEntry {
    let body = Body::TallyShare(TallyShare {
        teller,
        closed,
        shares,
        signature: None,
    });
    signed(id, body, identity)
}

/// An entry of a type tellers sign, signed with `identity`.
pub fn signed(id: &ElectionId, body: Body, identity: &Identity) -> NewEntry {
    let mut entry = Entry::new(*id, body);
    identity.sign_entry(&mut entry);
    entry.to_new()
}

/// An entry as given (a teller's signed message received by the service).
pub fn as_given(id: &ElectionId, body: Body) -> NewEntry {
    new(id, body)
}

/// The result ([`crate::tally::opened::result_body`]).
pub fn result(id: &ElectionId, body: ResultEntry) -> NewEntry {
    new(id, Body::Result(Box::new(body)))
}

/// Entry 0: the definition, field for field as the official wrote it.
pub fn election(id: &ElectionId, definition: &Definition) -> NewEntry {
    new(id, Body::Election(Box::new(definition.clone())))
}

/// A local's roster: how many members are eligible and a digest committing to who.
pub fn roster(id: &ElectionId, local: &str, eligible: u64, digest: &[u8; 32]) -> NewEntry {
    new(
        id,
        Body::Roster(Roster {
            local: local.to_owned(),
            eligible,
            digest: hex::encode(digest),
        }),
    )
}

/// Tokens issued, counted per local.
pub fn tokens_issued(id: &ElectionId, locals: &BTreeMap<String, u64>) -> NewEntry {
    new(
        id,
        Body::TokensIssued(TokensIssued {
            count: locals.values().sum(),
            locals: locals.clone(),
        }),
    )
}

/// Who did an official's action: the official, and under the two-person rule the second
/// official who approved it. A bare username converts into an action nobody else approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor<'a> {
    /// The official who did (or asked for) it.
    pub by: &'a str,
    /// The second official who approved it, if it needed one.
    pub approved_by: Option<&'a str>,
}

impl<'a> From<&'a str> for Actor<'a> {
    fn from(by: &'a str) -> Self {
        Actor {
            by,
            approved_by: None,
        }
    }
}

impl<'a> From<&'a String> for Actor<'a> {
    fn from(by: &'a String) -> Self {
        Actor::from(by.as_str())
    }
}

/// An official's action, naming the official(s) — never a member. It stands in the same append
/// as the entries the action writes (right before them; after entry 0 for the creation).
pub fn admin<'a>(id: &ElectionId, action: AdminAction, actor: impl Into<Actor<'a>>) -> NewEntry {
    let actor = actor.into();
    new(
        id,
        Body::Admin(Admin {
            action,
            by: actor.by.to_owned(),
            approved_by: actor.approved_by.map(str::to_owned),
        }),
    )
}

/// The key ceremony starts again; the seats of `replaced` go to someone else.
pub fn ceremony_restart(id: &ElectionId, replaced: &[u32]) -> NewEntry {
    new(
        id,
        Body::CeremonyRestart(CeremonyRestart {
            replaced: replaced.to_vec(),
        }),
    )
}

/// An account or API-token change, at `at` (kept to the whole second), by `actor`.
pub fn account<'a>(
    id: &ElectionId,
    (action, account, role): (AccountAction, &str, OfficialRole),
    at: DateTime<Utc>,
    actor: impl Into<Actor<'a>>,
) -> NewEntry {
    let actor = actor.into();
    new(
        id,
        Body::Account(AccountChange {
            action,
            account: account.to_owned(),
            role,
            at: whole_seconds(at),
            by: actor.by.to_owned(),
            approved_by: actor.approved_by.map(str::to_owned),
        }),
    )
}

/// One token replaced in `local`.
pub fn token_reissued(id: &ElectionId, local: &str) -> NewEntry {
    new(
        id,
        Body::TokenReissued(TokenReissued {
            local: local.to_owned(),
        }),
    )
}

/// Voting opened at `at` (kept to the whole second, as written); ballot pages run the sealing
/// code whose SHA-256 is `sealing_code` (hex).
pub fn open(id: &ElectionId, at: DateTime<Utc>, sealing_code: &str) -> NewEntry {
    new(
        id,
        Body::Open(Opening {
            at: whole_seconds(at),
            sealing_code: sealing_code.to_owned(),
        }),
    )
}

/// Voting closed at `at`.
pub fn close(id: &ElectionId, at: DateTime<Utc>) -> NewEntry {
    new(
        id,
        Body::Close(At {
            at: whole_seconds(at),
        }),
    )
}

fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// Ceremony round 1 for `teller` (1-based), signed with its identity key.
pub fn teller_key(
    id: &ElectionId,
    teller: u32,
    identity: &Identity,
    recipient: &str,
    commitment: &[u8; 32],
) -> NewEntry {
    let body = Body::TellerKey(TellerKey {
        teller,
        identity: identity.public_hex(),
        recipient: recipient.to_owned(),
        commitment: hex::encode(commitment),
        signature: None,
    });
    signed(id, body, identity)
}

/// Ceremony round 2 for `teller` (1-based), signed with its identity key.
pub fn teller_polynomial(
    id: &ElectionId,
    teller: u32,
    polynomial: &crate::crypto::ceremony::Polynomial,
    identity: &Identity,
) -> NewEntry {
    let body = Body::TellerPolynomial(TellerPolynomial {
        teller,
        polynomial: serde_json::to_value(polynomial).unwrap_or_default(),
        signature: None,
    });
    signed(id, body, identity)
}

/// The election key set.
pub fn election_key(id: &ElectionId, keys: &crate::crypto::KeySet) -> NewEntry {
    new(
        id,
        Body::ElectionKey(ElectionKey {
            keys: serde_json::to_value(keys).unwrap_or_default(),
        }),
    )
}

/// `teller` (1-based) holds a key share that matches the election key (signed).
pub fn teller_ready(id: &ElectionId, teller: u32, identity: &Identity) -> NewEntry {
    let body = Body::TellerReady(TellerReady {
        teller,
        signature: None,
    });
    signed(id, body, identity)
}

/// The roster commitment of one local: SHA-256 over its member ids sorted bytewise, each
/// followed by a newline. Anyone holding the roster can recompute it.
pub fn roster_digest<'a>(member_ids: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
    let mut ids: Vec<&str> = member_ids.into_iter().collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_compact_json_with_the_envelope_first() {
        let id = ElectionId::parse("0192c7a0-0000-4000-8000-000000000001").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-10-01T07:00:00Z")
            .unwrap()
            .to_utc();
        let code = "ab".repeat(32);
        assert_eq!(
            String::from_utf8(open(&id, at, &code).bytes).unwrap(),
            format!(
                r#"{{"v":9,"type":"open","election":"0192c7a0-0000-4000-8000-000000000001","at":"2026-10-01T07:00:00Z","sealing_code":"{code}"}}"#
            )
        );
        let digest = roster_digest(["b", "a"]);
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(b"a\nb\n")));
        assert_eq!(
            String::from_utf8(roster(&id, "600", 2, &digest).bytes).unwrap(),
            format!(
                r#"{{"v":9,"type":"roster","election":"0192c7a0-0000-4000-8000-000000000001","local":"600","eligible":2,"digest":"{}"}}"#,
                hex::encode(digest)
            )
        );
        let mut locals = BTreeMap::new();
        locals.insert("600".to_owned(), 2);
        locals.insert("700".to_owned(), 1);
        assert_eq!(
            String::from_utf8(tokens_issued(&id, &locals).bytes).unwrap(),
            r#"{"v":9,"type":"tokens_issued","election":"0192c7a0-0000-4000-8000-000000000001","count":3,"locals":{"600":2,"700":1}}"#
        );
    }
}
