//! The offline verifier: checks a bundle against docs/DESIGN.md's log format v1 with nothing but
//! the three files. The first failure is named; nothing is trusted that the files do not prove.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::definition::{Choice, Definition};
use crate::merkle;
use crate::note::Verifier;
use crate::tally::{self, ChoiceCounts, Results};

/// File names inside a bundle: every entry, one per line.
pub const LOG_FILE: &str = "log.jsonl";
/// The latest signed checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// The election's verifier key.
pub const KEY_FILE: &str = "key.vkey";

/// Why a bundle failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into()))
}

/// What a verified bundle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The election's UUID.
    pub election: String,
    /// Its title.
    pub title: String,
    /// The log's origin.
    pub origin: String,
    /// The fingerprint of the key the checkpoint was verified with.
    pub key_fingerprint: String,
    /// Entries (= the checkpoint's tree size).
    pub size: u64,
    /// The root, base64 as in the checkpoint.
    pub root: String,
    /// Entries per type.
    pub types: BTreeMap<String, u64>,
    /// Eligible members per local (latest roster entry).
    pub eligible: BTreeMap<String, u64>,
    /// Ballots per local and choice.
    pub ballots: BTreeMap<String, BTreeMap<String, u64>>,
    /// `draft`, `open` or `closed`, as far as the log goes.
    pub phase: &'static str,
    /// The recount, once the log holds a result entry that agrees with it.
    pub certified: Option<Results>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "election  {} — {}", self.election, self.title)?;
        writeln!(f, "origin    {}", self.origin)?;
        writeln!(f, "key       {}", self.key_fingerprint)?;
        writeln!(f, "entries   {} (root {})", self.size, self.root)?;
        writeln!(f, "phase     {}", self.phase)?;
        let types: Vec<String> = self.types.iter().map(|(t, n)| format!("{t} {n}")).collect();
        writeln!(f, "types     {}", types.join(", "))?;
        for (local, eligible) in &self.eligible {
            let cast: u64 = self
                .ballots
                .get(local)
                .map(|c| c.values().sum())
                .unwrap_or(0);
            let choices: Vec<String> = self
                .ballots
                .get(local)
                .map(|c| c.iter().map(|(k, n)| format!("{k} {n}")).collect())
                .unwrap_or_default();
            writeln!(
                f,
                "local {local:<10} eligible {eligible:>7}  ballots {cast:>7}  {}",
                choices.join(", ")
            )?;
        }
        if let Some(r) = &self.certified {
            writeln!(
                f,
                "result    recounted and certified: {} (popular {} yes, {}; delegates {}–{}, {}; quorum {})",
                if r.passed { "PASSED" } else { "FAILED" },
                r.popular.authorization,
                if r.popular.passed { "passes" } else { "fails" },
                r.delegates.yes,
                r.delegates.no,
                if r.delegates.passed {
                    "passes"
                } else {
                    "fails"
                },
                if r.quorum_met { "met" } else { "missed" },
            )?;
        }
        Ok(())
    }
}

/// Reads and verifies the bundle in `dir`.
pub fn verify_dir(dir: &Path, trust: &TrustAnchor) -> Result<Report, Failure> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|e| Failure(format!("cannot read {}: {e}", dir.join(name).display())))
    };
    let log = read(LOG_FILE)?;
    let checkpoint = read(CHECKPOINT_FILE)?;
    let checkpoint = String::from_utf8(checkpoint)
        .map_err(|_| Failure(format!("{CHECKPOINT_FILE} is not UTF-8 text")))?;
    let shipped = match read(KEY_FILE) {
        Ok(bytes) => Some(
            String::from_utf8(bytes)
                .map_err(|_| Failure(format!("{KEY_FILE} is not UTF-8 text")))?,
        ),
        Err(_) if matches!(trust, TrustAnchor::Key { .. }) => None,
        Err(e) => return Err(e),
    };
    let key = trust.verifier_key(shipped.as_deref())?;
    verify_bundle(&log, &checkpoint, &key)
}

/// What an auditor trusts, obtained outside the bundle (a key shipped inside a bundle proves
/// nothing: whoever altered the log can sign it with a key of their own).
#[derive(Clone, Debug)]
pub enum TrustAnchor {
    /// A verifier key `<origin>+<key id>+<key>`, whose name is the log origin; `origin`, when
    /// also given, must be that name.
    Key {
        /// The pinned verifier key.
        verifier: Verifier,
        /// The origin, if given separately.
        origin: Option<String>,
    },
    /// The key's fingerprint and the log's origin, as printed on notices and certificates: the
    /// bundle's `key.vkey` is used only if its key has this fingerprint and this name.
    Fingerprint {
        /// The 16 bytes of the fingerprint.
        fingerprint: [u8; 16],
        /// The log origin `<host>/elections/<uuid>`.
        origin: String,
    },
    /// Trusts the key inside the bundle: checks only that the bundle is self-consistent.
    BundleKey,
}

impl TrustAnchor {
    /// Reads `--key` (a verifier key, a file holding one, or a fingerprint) and `--origin`.
    pub fn parse(key: &str, origin: Option<&str>) -> Result<Self, Failure> {
        let key = key.trim();
        let text = if std::path::Path::new(key).is_file() {
            std::fs::read_to_string(key)
                .map_err(|e| Failure(format!("cannot read the key file {key}: {e}")))?
        } else {
            key.to_owned()
        };
        let text = text.trim();
        let origin = origin.map(|o| o.trim().to_owned());
        if let Some(fingerprint) = crate::note::parse_fingerprint(text) {
            let Some(origin) = origin else {
                return fail(
                    "a fingerprint pins the key, not the log: give the election's origin too \
                     (--origin HOST/elections/UUID, printed beside the fingerprint)",
                );
            };
            return Ok(Self::Fingerprint {
                fingerprint,
                origin,
            });
        }
        let verifier = Verifier::parse(text).map_err(|e| {
            Failure(format!(
                "--key is neither a verifier key (<origin>+<key id>+<key>), a file holding one, \
                 nor a key fingerprint (32 hex digits): {e}"
            ))
        })?;
        Ok(Self::Key { verifier, origin })
    }

    /// The verifier key to check the bundle with, given the bundle's own `key.vkey`.
    fn verifier_key(&self, shipped: Option<&str>) -> Result<String, Failure> {
        match self {
            Self::Key { verifier, origin } => {
                if let Some(origin) = origin
                    && origin != verifier.name()
                {
                    return fail(format!(
                        "the pinned key is for `{}`, not for the origin `{origin}`",
                        verifier.name()
                    ));
                }
                Ok(verifier.to_string())
            }
            Self::Fingerprint {
                fingerprint,
                origin,
            } => {
                let shipped = shipped.unwrap_or_default();
                let verifier =
                    Verifier::parse(shipped).map_err(|e| Failure(format!("{KEY_FILE}: {e}")))?;
                if !crate::note::has_fingerprint(&verifier.public_key(), fingerprint) {
                    return fail(format!(
                        "the bundle's key ({}) is not the key with the pinned fingerprint: the \
                         bundle was signed by someone else",
                        crate::note::fingerprint(&verifier.public_key())
                    ));
                }
                if verifier.name() != origin {
                    return fail(format!(
                        "the bundle's key is for `{}`, not for the pinned origin `{origin}`",
                        verifier.name()
                    ));
                }
                Ok(verifier.to_string())
            }
            Self::BundleKey => shipped
                .map(str::to_owned)
                .ok_or_else(|| Failure(format!("the bundle has no {KEY_FILE}"))),
        }
    }
}

/// Verifies a bundle given as its three files' contents.
pub fn verify_bundle(log: &[u8], checkpoint: &str, vkey: &str) -> Result<Report, Failure> {
    let verifier = Verifier::parse(vkey).map_err(|e| Failure(format!("{KEY_FILE}: {e}")))?;
    let checkpoint = verifier
        .verify_checkpoint(checkpoint)
        .map_err(|e| Failure(format!("{CHECKPOINT_FILE}: {e}")))?;

    let lines = split_lines(log)?;
    if lines.len() as u64 != checkpoint.size {
        return fail(format!(
            "{LOG_FILE} has {} entries but the checkpoint is for a tree of {}",
            lines.len(),
            checkpoint.size
        ));
    }
    let leaves: Vec<merkle::Hash> = lines.iter().map(|l| merkle::leaf_hash(l)).collect();
    let root = merkle::root_of(&leaves);
    if root != checkpoint.root {
        return fail(format!(
            "the root of {LOG_FILE} ({}) is not the checkpoint's root ({}): an entry was changed, added, dropped or moved",
            B64.encode(root),
            B64.encode(checkpoint.root)
        ));
    }

    let mut rules = Rules::default();
    for (index, line) in lines.iter().enumerate() {
        rules
            .check(index, line, &checkpoint.origin)
            .map_err(|Failure(m)| Failure(format!("entry {index}: {m}")))?;
    }
    if lines.is_empty() {
        return fail(format!("{LOG_FILE} is empty: entry 0 must be the election"));
    }
    Ok(Report {
        election: rules.election.clone().unwrap_or_default(),
        title: rules
            .definition
            .as_ref()
            .map(|d| d.title.clone())
            .unwrap_or_default(),
        origin: checkpoint.origin,
        key_fingerprint: crate::note::fingerprint(&verifier.public_key()),
        size: checkpoint.size,
        root: B64.encode(checkpoint.root),
        types: rules.types,
        eligible: rules.eligible,
        ballots: rules.ballots,
        phase: match rules.phase {
            Phase::Setup => "draft",
            Phase::Open => "open",
            Phase::Closed => "closed",
        },
        certified: rules.certified,
    })
}

/// The entries of a `log.jsonl`: every one ends in `\n`, none is empty.
fn split_lines(log: &[u8]) -> Result<Vec<&[u8]>, Failure> {
    if log.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = log.strip_suffix(b"\n") else {
        return fail(format!("{LOG_FILE} does not end with a newline"));
    };
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    if let Some(i) = lines.iter().position(|l| l.is_empty()) {
        return fail(format!("{LOG_FILE} line {} is empty", i + 1));
    }
    Ok(lines)
}

#[derive(Default, PartialEq, Eq, Clone, Copy)]
enum Phase {
    #[default]
    Setup,
    Open,
    Closed,
}

/// The order rules of docs/DESIGN.md, checked entry by entry.
#[derive(Default)]
struct Rules {
    election: Option<String>,
    definition: Option<Definition>,
    phase: Phase,
    eligible: BTreeMap<String, u64>,
    ballots: BTreeMap<String, BTreeMap<String, u64>>,
    receipts: HashSet<String>,
    types: BTreeMap<String, u64>,
    certified: Option<Results>,
}

const BALLOT_KEYS: [&str; 6] = ["v", "type", "election", "local", "choice", "receipt"];

impl Rules {
    fn check(&mut self, index: usize, line: &[u8], origin: &str) -> Result<(), Failure> {
        let value: Value =
            serde_json::from_slice(line).map_err(|e| Failure(format!("not JSON: {e}")))?;
        let Value::Object(obj) = &value else {
            return fail("not a JSON object");
        };
        // Compact and canonical: what we read re-serializes to the same bytes (this also
        // refuses duplicate keys, which different parsers would read differently).
        if serde_json::to_vec(&value).ok().as_deref() != Some(line) {
            return fail("not compact JSON with unique keys");
        }
        if obj.get("v") != Some(&Value::from(1)) {
            return fail("`v` is not 1");
        }
        let Some(kind) = obj.get("type").and_then(Value::as_str) else {
            return fail("no `type`");
        };
        let Some(election) = obj.get("election").and_then(Value::as_str) else {
            return fail("no `election`");
        };
        *self.types.entry(kind.to_owned()).or_default() += 1;

        if index == 0 {
            if kind != "election" {
                return fail(format!("entry 0 must be the election, not `{kind}`"));
            }
            if !origin.ends_with(&format!("/elections/{election}")) {
                return fail(format!(
                    "the checkpoint's origin `{origin}` does not name election {election}"
                ));
            }
            self.election = Some(election.to_owned());
            self.definition = Some(parse_definition(obj)?);
            return Ok(());
        }
        if Some(election) != self.election.as_deref() {
            return fail(format!("names election {election}, not the log's"));
        }
        let Some(definition) = &self.definition else {
            return fail("no election definition before it");
        };
        match kind {
            "election" => fail("a second election entry"),
            "roster" => {
                if self.phase != Phase::Setup {
                    return fail("a roster entry after the vote opened");
                }
                let local = local_of(obj, definition)?;
                let eligible = obj
                    .get("eligible")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| Failure("roster `eligible` is not a whole number".into()))?;
                let digest_ok = obj
                    .get("digest")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
                if !digest_ok {
                    return fail("roster `digest` is not 64 hex digits");
                }
                self.eligible.insert(local, eligible);
                Ok(())
            }
            "open" => {
                if self.phase != Phase::Setup {
                    return fail("the vote opens twice");
                }
                if let Some(missing) = definition
                    .locals
                    .iter()
                    .find(|l| !self.eligible.contains_key(l.code.as_str()))
                {
                    return fail(format!(
                        "the vote opens before local {} has a roster entry",
                        missing.code
                    ));
                }
                check_time(obj)?;
                self.phase = Phase::Open;
                Ok(())
            }
            "ballot" => {
                if self.phase != Phase::Open {
                    return fail("a ballot outside the voting period");
                }
                let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                if keys.len() != BALLOT_KEYS.len()
                    || !BALLOT_KEYS.iter().all(|k| obj.contains_key(*k))
                {
                    return fail(format!(
                        "a ballot must carry exactly local, choice and receipt; it has {}",
                        keys.join(", ")
                    ));
                }
                let local = local_of(obj, definition)?;
                let choice = obj
                    .get("choice")
                    .and_then(Value::as_str)
                    .and_then(Choice::parse)
                    .filter(|c| definition.allows(*c))
                    .ok_or_else(|| {
                        Failure("the ballot's choice is not one the election offers".into())
                    })?;
                let receipt = obj
                    .get("receipt")
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty() && r.len() <= 128)
                    .ok_or_else(|| {
                        Failure("the ballot's receipt is missing or malformed".into())
                    })?;
                if !self.receipts.insert(receipt.to_owned()) {
                    return fail(format!("receipt {receipt} appears twice"));
                }
                let per_local = self.ballots.entry(local.clone()).or_default();
                *per_local.entry(choice.as_str().to_owned()).or_default() += 1;
                let cast: u64 = per_local.values().sum();
                let eligible = self.eligible.get(&local).copied().unwrap_or(0);
                if cast > eligible {
                    return fail(format!(
                        "local {local} has more ballots ({cast}) than eligible members ({eligible})"
                    ));
                }
                Ok(())
            }
            "close" => {
                if self.phase != Phase::Open {
                    return fail("the vote closes without being open, or twice");
                }
                check_time(obj)?;
                self.phase = Phase::Closed;
                Ok(())
            }
            "result" => {
                if self.phase != Phase::Closed {
                    return fail("a result before the vote closed");
                }
                if self.certified.is_some() {
                    return fail("a second result entry");
                }
                // Recount every ballot of the log and compare, field for field.
                let counts: BTreeMap<String, ChoiceCounts> = self
                    .ballots
                    .iter()
                    .map(|(local, by_choice)| {
                        let get = |c: &str| by_choice.get(c).copied().unwrap_or(0);
                        (
                            local.clone(),
                            ChoiceCounts {
                                yes: get("yes"),
                                no: get("no"),
                                abstain: get("abstain"),
                            },
                        )
                    })
                    .collect();
                let recount = tally::tally(definition, &self.eligible, &counts);
                let claimed: Map<String, Value> = obj
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "v" | "type" | "election"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if Value::Object(claimed) != recount.entry_body() {
                    return fail(format!(
                        "the result entry disagrees with the recount of the log's ballots, which gives {}",
                        recount.entry_body()
                    ));
                }
                self.certified = Some(recount);
                Ok(())
            }
            "tokens_issued" | "token_reissued" if self.phase == Phase::Closed => {
                fail(format!("`{kind}` after the vote closed"))
            }
            // Admin notes (token issue and reissue, and types newer than this verifier) may
            // stand anywhere after entry 0; none may name a member, which no verifier can check.
            _ => Ok(()),
        }
    }
}

fn local_of(obj: &Map<String, Value>, definition: &Definition) -> Result<String, Failure> {
    let local = obj
        .get("local")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure("no `local`".into()))?;
    if definition.local(local).is_none() {
        return fail(format!("local `{local}` is not one of the election's"));
    }
    Ok(local.to_owned())
}

fn check_time(obj: &Map<String, Value>) -> Result<(), Failure> {
    let ok = obj
        .get("at")
        .and_then(Value::as_str)
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
    if ok {
        Ok(())
    } else {
        fail("`at` is not an RFC 3339 time")
    }
}

/// Entry 0's fields, exactly those of the definition.
fn parse_definition(obj: &Map<String, Value>) -> Result<Definition, Failure> {
    const FIELDS: [&str; 10] = [
        "title",
        "question",
        "choices",
        "rule",
        "threshold",
        "local_threshold",
        "quorum",
        "locals",
        "opens_at",
        "closes_at",
    ];
    let body: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "v" | "type" | "election"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if body.len() != FIELDS.len() || !FIELDS.iter().all(|f| body.contains_key(*f)) {
        let keys: Vec<&str> = body.keys().map(String::as_str).collect();
        return fail(format!(
            "the election entry must carry exactly {}; it has {}",
            FIELDS.join(", "),
            keys.join(", ")
        ));
    }
    let definition: Definition = serde_json::from_value(Value::Object(body))
        .map_err(|e| Failure(format!("the election definition is malformed: {e}")))?;
    let mut seen = HashMap::new();
    for l in &definition.locals {
        if seen.insert(l.code.as_str(), ()).is_some() {
            return fail(format!("local {} is defined twice", l.code));
        }
    }
    Ok(definition)
}
