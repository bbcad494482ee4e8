//! The offline verifier: checks a bundle against log format v2 (docs/LOG_FORMAT.md) with
//! nothing but the three files. The first failure is named; nothing is trusted that the files
//! do not prove. Every ballot's proofs are checked (on every core), each local's sums are
//! recomputed, every teller's decryption shares are checked against its key share from the
//! ceremony, and the result must be what those shares open, counted under the election's rules.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ElectionId;
use crate::crypto::TellerParams;
use crate::crypto::ballot::{Context, SealedBallot};
use crate::crypto::ceremony::Record;
use crate::definition::Definition;
use crate::entry::{self, ActorKind, AdminAction, Body, Entry, Kind};
use crate::lifecycle::{Lifecycle, Phase};
use crate::merkle;
use crate::note::Verifier;
use crate::tally::opened::{self, Opened};
use crate::tally::{LogCount, Results};

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
    /// The witnesses (their key names) whose cosignature on the checkpoint verified, at least
    /// the quorum entry 0 asks for; empty when the election lists no witnesses.
    pub cosigned_by: Vec<String>,
    /// Entries per type.
    pub types: BTreeMap<String, u64>,
    /// Eligible members per local (latest roster entry).
    pub eligible: BTreeMap<String, u64>,
    /// Ballots per local (every one's proofs checked).
    pub ballots: BTreeMap<String, u64>,
    /// `draft`, `open`, `closed`, `counted` or `certified`, as far as the log goes
    /// ([`Phase`]).
    pub phase: &'static str,
    /// Tellers (1-based) whose decryption shares are in the log, each checked.
    pub shares: Vec<u32>,
    /// The result, once the log holds a result entry that is what the tellers' shares open.
    pub result: Option<(Results, Opened)>,
    /// Each teller's identity key fingerprint, by teller number, as its `teller_key` states it
    /// (to compare with the fingerprints the tellers read to each other).
    pub tellers: BTreeMap<u32, String>,
    /// The tellers replaced when the key ceremony restarted, in log order: their number and
    /// the fingerprint of the identity key they had published (never used again).
    pub replaced: Vec<(u32, String)>,
    /// The log up to and including its `close` entry, once closed: what every teller's
    /// decryption shares are bound to.
    pub closed: Option<entry::LogRef>,
    /// Who sealed the ballots, with which sealing code, and the challenges.
    pub sealing: Sealing,
    /// Every ballot's and challenge's tracker (a member looks theirs up).
    pub trackers: HashSet<[u8; 32]>,
}

/// What a verified log says, for those who act on it (a teller about to decrypt): the same
/// fold of the log the verifier made, so the teller parses nothing twice.
#[derive(Debug, Clone)]
pub struct Fold {
    /// Entry 0's definition.
    pub definition: Definition,
    /// Entry 0's leaf hash (what a teller pins at the ceremony).
    pub first_leaf: merkle::Hash,
    /// The root of the log's first `size` entries, for every size (leaf hashes kept to
    /// compute it).
    leaves: Vec<merkle::Hash>,
    /// Rosters and ballots, counted.
    pub count: LogCount,
    /// The key ceremony.
    pub ceremony: Record,
    /// The close, if the log has one.
    pub close: Option<Close>,
}

impl Fold {
    /// The root of the log's first `size` entries, if it has that many.
    pub fn root_at(&self, size: u64) -> Option<merkle::Hash> {
        let size = usize::try_from(size).ok()?;
        (size <= self.leaves.len()).then(|| merkle::root_of(&self.leaves[..size]))
    }
}

/// How the vote closed, as the log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The close entry's time.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The log up to and including the close entry.
    pub closed: entry::LogRef,
    /// The official's `close` action logged with it (who closed, who approved), if any.
    pub by: Option<entry::Admin>,
}

impl Report {
    /// One line per local (eligible, ballots, and once opened its counts or its group), then
    /// the group of small locals if there is one.
    fn write_locals(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opened = self.result.as_ref().map(|(_, o)| o);
        let words = |c: &crate::tally::ChoiceCounts| -> String {
            let all = [("yes", c.yes), ("no", c.no), ("abstain", c.abstain)];
            let shown: Vec<String> = all
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            shown.join(", ")
        };
        for (local, eligible) in &self.eligible {
            let cast = self.ballots.get(local).copied().unwrap_or(0);
            let choices = match opened {
                Some(o) => match o.units.group_of(local) {
                    Some(g) => format!("counted in group {}", g.code),
                    None => o.totals.get(local).map(words).unwrap_or_default(),
                },
                None => String::new(),
            };
            writeln!(
                f,
                "local {local:<10} eligible {eligible:>7}  ballots {cast:>7}  {choices}"
            )?;
        }
        if let Some((g, o)) = opened.and_then(|o| Some((o.units.group.as_ref()?, o))) {
            let counts = o.totals.get(&g.code).map(words).unwrap_or_default();
            writeln!(
                f,
                "group {:<10} locals {}  ballots {:>7}  {counts}  (no total under {} ballots is opened)",
                g.code,
                g.locals.join(" "),
                g.ballots,
                o.units.min_ballots,
            )?;
        }
        Ok(())
    }
}

impl Report {
    /// What the log holds for the tracker `wanted` (64 hex digits; any case, spaces and dashes
    /// ignored), in a sentence: a ballot (counted), or a ballot its member checked instead of
    /// casting and the choice it held; an error when it holds neither.
    pub fn tracker(&self, wanted: &str) -> Result<String, Failure> {
        let t: String = wanted
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        let Some(bytes) = hex::decode(&t)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        else {
            return fail("the tracker is not 64 hex digits");
        };
        if let Some(c) = self.sealing.challenges.iter().find(|c| c.tracker == t) {
            return Ok(format!(
                "tracker {t}: checked by its member instead of cast (entry {}, local {}). It held \
                 `{}`: re-sealed from its published randomness, it gives exactly this tracker. It \
                 is not counted, and it can never be cast.",
                c.index, c.local, c.choice
            ));
        }
        if self.trackers.contains(&bytes) {
            return Ok(format!("tracker {t}: a ballot in this log; it is counted."));
        }
        fail(format!(
            "tracker {t} is in no ballot and no challenge of this log"
        ))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "election  {} — {}", self.election, self.title)?;
        writeln!(f, "origin    {}", self.origin)?;
        writeln!(f, "key       {}", self.key_fingerprint)?;
        writeln!(f, "entries   {} (root {})", self.size, self.root)?;
        if self.cosigned_by.is_empty() {
            writeln!(
                f,
                "witnesses none listed: nothing shows this log is the one others saw"
            )?;
        } else {
            writeln!(f, "witnesses cosigned by {}", self.cosigned_by.join(", "))?;
        }
        writeln!(f, "phase     {}", self.phase)?;
        let types: Vec<String> = self.types.iter().map(|(t, n)| format!("{t} {n}")).collect();
        writeln!(f, "types     {}", types.join(", "))?;
        self.write_locals(f)?;
        write!(f, "{}", self.sealing)?;
        for (teller, fingerprint) in &self.replaced {
            writeln!(
                f,
                "replaced  teller {teller} (identity {fingerprint}) when the key ceremony restarted"
            )?;
        }
        for (teller, fingerprint) in &self.tellers {
            writeln!(f, "teller {teller:<3} identity {fingerprint}")?;
        }
        if let Some(closed) = &self.closed {
            let code = B64
                .decode(&closed.root)
                .ok()
                .and_then(|r| <[u8; 32]>::try_from(r).ok())
                .map(|r| crate::crypto::identity::root_code(&r))
                .unwrap_or_default();
            writeln!(
                f,
                "closed    at entry {} (log up to the close: root {}, code {code})",
                closed.size - 1,
                closed.root
            )?;
        }
        if !self.shares.is_empty() {
            let tellers: Vec<String> = self.shares.iter().map(u32::to_string).collect();
            writeln!(f, "shares    checked from teller(s) {}", tellers.join(", "))?;
        }
        if let Some((r, opened)) = &self.result {
            let v = r.verdicts();
            let tellers: Vec<String> = opened.tellers.iter().map(u32::to_string).collect();
            writeln!(
                f,
                "result    opened by teller(s) {} and checked: {} (popular {} yes, {}; delegates {}–{}, {}; quorum {})",
                tellers.join(", "),
                v.decision,
                r.popular.authorization,
                v.popular,
                r.delegates.yes,
                r.delegates.no,
                v.delegates,
                v.quorum,
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

/// The witnesses entry 0 lists who cosigned the checkpoint: at least its quorum, or a failure.
fn cosignatures(definition: &Definition, note: &str) -> Result<Vec<String>, Failure> {
    let Some(witnesses) = &definition.witnesses else {
        return Ok(Vec::new());
    };
    crate::witness::check_quorum(note, &witnesses.verifiers(), witnesses.quorum()).map_err(|e| {
        Failure(format!(
            "{CHECKPOINT_FILE}: {e} (entry 0 lists the witnesses)"
        ))
    })
}

/// Verifies a bundle given as its three files' contents.
pub fn verify_bundle(log: &[u8], checkpoint: &str, vkey: &str) -> Result<Report, Failure> {
    verify_and_fold(log, checkpoint, vkey).map(|(report, _)| report)
}

/// Verifies a bundle and returns, with the report, what the log says ([`Fold`]).
pub fn verify_and_fold(
    log: &[u8],
    checkpoint: &str,
    vkey: &str,
) -> Result<(Report, Fold), Failure> {
    let verifier = Verifier::parse(vkey).map_err(|e| Failure(format!("{KEY_FILE}: {e}")))?;
    let note = checkpoint;
    let checkpoint = verifier
        .verify_checkpoint(note)
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

    let Some((first, rest)) = lines.split_first() else {
        return fail(format!("{LOG_FILE} is empty: entry 0 must be the election"));
    };
    let mut rules = Rules::start(first, &checkpoint.origin, leaves).map_err(at(0))?;
    let cosigned_by = cosignatures(&rules.definition, note)?;
    for (index, line) in rest.iter().enumerate() {
        rules.check(index + 1, line)?;
    }
    rules
        .life
        .finish()
        .map_err(|m| Failure(format!("entry {}: {m}", lines.len() - 1)))?;
    rules.check_ballots()?;
    let (tellers, replaced) = fingerprints(&rules.ceremony);
    let report = Report {
        election: rules.election.to_string(),
        title: rules.definition.title.clone(),
        origin: checkpoint.origin,
        key_fingerprint: crate::note::fingerprint(&verifier.public_key()),
        size: checkpoint.size,
        root: B64.encode(checkpoint.root),
        cosigned_by,
        types: rules.types,
        eligible: rules.count.eligible.clone(),
        ballots: rules.count.ballots.clone(),
        phase: rules.life.phase().as_str(),
        shares: rules.shares.iter().map(|s| s.teller).collect(),
        result: rules.result,
        tellers,
        replaced,
        closed: rules.close.as_ref().map(|c| c.closed.clone()),
        sealing: rules.sealing,
        trackers: rules.trackers,
    };
    let fold = Fold {
        first_leaf: rules.leaves[0],
        leaves: rules.leaves,
        definition: rules.definition,
        count: rules.count,
        ceremony: rules.ceremony,
        close: rules.close,
    };
    Ok((report, fold))
}

/// Each teller's identity fingerprint in the ceremony that stands, and those of the tellers
/// its restarts replaced (in log order).
fn fingerprints(ceremony: &Record) -> (BTreeMap<u32, String>, Vec<(u32, String)>) {
    let fp = |identity: &str| crate::crypto::identity::fingerprint(identity).unwrap_or_default();
    let tellers = ceremony
        .teller_keys()
        .iter()
        .map(|(t, k)| (*t, fp(&k.identity)))
        .collect();
    let replaced = ceremony
        .restarts()
        .iter()
        .flat_map(|r| &r.replaced)
        .map(|(t, identity)| (*t, fp(identity)))
        .collect();
    (tellers, replaced)
}

/// Names the entry a failure is about.
fn at(index: usize) -> impl Fn(Failure) -> Failure {
    move |Failure(m)| Failure(format!("entry {index}: {m}"))
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

/// The order rules of docs/DESIGN.md, checked entry by entry: one method per entry type.
struct Rules {
    election: ElectionId,
    definition: Definition,
    /// The lifecycle: which entries may stand where ([`crate::lifecycle`]).
    life: Lifecycle,
    count: LogCount,
    /// Each local's latest roster entry: eligible and digest.
    rosters: BTreeMap<String, (u64, String)>,
    /// When the vote opened.
    opened_at: Option<chrono::DateTime<chrono::Utc>>,
    ceremony: Record,
    receipts: HashSet<String>,
    trackers: HashSet<[u8; 32]>,
    /// Ballots whose proofs are still to check (in batches, on every core): entry index,
    /// local, ballot.
    unchecked: Vec<(usize, String, SealedBallot)>,
    shares: Vec<entry::TallyShare>,
    types: BTreeMap<String, u64>,
    result: Option<(Results, Opened)>,
    /// Every entry's leaf hash (the log up to any entry is named by its root).
    leaves: Vec<merkle::Hash>,
    /// The `admin` entry just read, for the `open` or `close` entry it stands before.
    action: Option<entry::Admin>,
    close: Option<Close>,
    /// The officials' accounts the log shows, for the two-person rule.
    officials: officials::Officials,
    /// Sealing codes, who sealed each ballot, and the challenges.
    sealing: Sealing,
}

/// Ballots checked together, on every core.
const BALLOT_BATCH: usize = 4096;

impl Rules {
    /// Entry 0, which must be the election named by the checkpoint's origin.
    fn start(line: &[u8], origin: &str, leaves: Vec<merkle::Hash>) -> Result<Self, Failure> {
        let entry = parse(line)?;
        let Body::Election(definition) = entry.body else {
            return fail(format!(
                "entry 0 must be the election, not `{}`",
                entry.kind().as_str()
            ));
        };
        if !origin.ends_with(&format!("/elections/{}", entry.election)) {
            return fail(format!(
                "the checkpoint's origin `{origin}` does not name election {}",
                entry.election
            ));
        }
        definition.validate().map_err(|e| {
            Failure(format!(
                "the election's definition breaks the rules `election check` applies: {e}"
            ))
        })?;
        let tellers = &definition.tellers;
        let params = TellerParams::new(tellers.count as usize, tellers.threshold as usize)
            .map_err(|e| Failure(format!("the election's {e}")))?;
        Ok(Self {
            election: entry.election,
            ceremony: Record::new(entry.election, params),
            definition: *definition,
            life: Lifecycle::new(),
            count: LogCount::new(entry.election),
            rosters: BTreeMap::new(),
            opened_at: None,
            receipts: HashSet::new(),
            trackers: HashSet::new(),
            unchecked: Vec::new(),
            shares: Vec::new(),
            types: BTreeMap::from([(Kind::Election.as_str().to_owned(), 1)]),
            result: None,
            leaves,
            action: None,
            close: None,
            officials: officials::Officials::default(),
            sealing: Sealing::default(),
        })
    }

    /// Entry `index` (after entry 0). Ballots' proofs are checked in batches: a failure may
    /// name an earlier ballot.
    fn check(&mut self, index: usize, line: &[u8]) -> Result<(), Failure> {
        self.entry(index, line).map_err(at(index))?;
        // Once the vote has closed, every ballot is checked before the shares are.
        if self.unchecked.len() >= BALLOT_BATCH || self.life.phase() >= Phase::Closed {
            self.check_ballots()?;
        }
        Ok(())
    }

    /// Checks the proofs of the ballots read so far.
    fn check_ballots(&mut self) -> Result<(), Failure> {
        if self.unchecked.is_empty() {
            return Ok(());
        }
        let Some(keys) = self.ceremony.election_key() else {
            return fail("ballots without an election key");
        };
        let election = self.election;
        let ballots: Vec<(Context<'_>, &SealedBallot)> = self
            .unchecked
            .iter()
            .map(|(_, local, b)| {
                let context = Context {
                    election: &election,
                    local,
                };
                (context, b)
            })
            .collect();
        let options = self.definition.choices.len();
        let bad = crate::crypto::ballot::first_invalid(keys.shared_key(), options, &ballots);
        if let Some(k) = bad {
            return Err(at(self.unchecked[k].0)(Failure(
                "the ballot's proofs do not verify: it is not an encryption of exactly one of \
                 the election's choices under the election key, sealed for this election and \
                 local"
                    .into(),
            )));
        }
        self.unchecked.clear();
        Ok(())
    }

    fn entry(&mut self, index: usize, line: &[u8]) -> Result<(), Failure> {
        let entry = parse(line)?;
        *self
            .types
            .entry(entry.kind().as_str().to_owned())
            .or_default() += 1;
        if entry.election != self.election {
            return fail(format!("names election {}, not the log's", entry.election));
        }
        // Where it may stand: the lifecycle, and the action that writes it.
        let phase = self.life.phase();
        self.life.step(&entry.body).map_err(Failure)?;
        match &entry.body {
            Body::Election(_) => fail("a second election entry"),
            Body::Roster(roster) => self.roster(roster),
            Body::Open(opening) => {
                self.sealing.name(opening)?;
                self.open(opening.at)
            }
            Body::SealingCode(opening) => self.sealing.name(opening),
            Body::Ballot(ballot) => {
                self.sealing.ballot(ballot)?;
                self.ballot(index, ballot)
            }
            Body::Challenge(challenge) => self.challenge(index, challenge),
            Body::Close(at) => self.close(index, at.at),
            Body::TallyShare(share) => self.tally_share(share),
            Body::Result(claimed) => self.result(claimed),
            Body::TokensIssued(issued) => self.tokens_issued(issued),
            Body::TokenReissued(r) => known_local(&self.definition, &r.local),
            Body::Admin(admin) => self.admin(phase, admin),
            Body::Account(change) => {
                let rule = self.definition.two_person_rule;
                self.officials.account(phase, rule, change)
            }
            Body::TellerKey(_)
            | Body::TellerPolynomial(_)
            | Body::ElectionKey(_)
            | Body::TellerReady(_)
            | Body::CeremonyRestart(_) => self.ceremony_step(&entry.body),
        }?;
        self.count.add(&entry.body);
        Ok(())
    }

    fn roster(&mut self, roster: &entry::Roster) -> Result<(), Failure> {
        known_local(&self.definition, &roster.local)?;
        let hex = roster
            .digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if roster.digest.len() != 64 || !hex {
            return fail("roster `digest` is not 64 lowercase hex digits");
        }
        let empty = roster.digest == hex::encode(entry::roster_digest([]));
        if empty != (roster.eligible == 0) {
            return fail(format!(
                "local {}'s roster digest is {} the digest of an empty roster, but it has {} \
                 eligible members",
                roster.local,
                if empty { "" } else { "not" },
                roster.eligible
            ));
        }
        let now = (roster.eligible, roster.digest.clone());
        if self.rosters.get(&roster.local) == Some(&now) {
            return fail(format!(
                "local {}'s roster entry repeats its previous one: a roster entry is written \
                 only for a local whose count or digest changed",
                roster.local
            ));
        }
        self.rosters.insert(roster.local.clone(), now);
        Ok(())
    }

    fn tokens_issued(&self, issued: &entry::TokensIssued) -> Result<(), Failure> {
        if issued.locals.is_empty() {
            return fail("`tokens_issued` names no local: an issuance of no token is not logged");
        }
        for (local, n) in &issued.locals {
            known_local(&self.definition, local)?;
            if *n == 0 {
                return fail(format!(
                    "`tokens_issued` counts 0 tokens for local {local}: a local without tokens \
                     is left out"
                ));
            }
        }
        let sum = issued
            .locals
            .values()
            .try_fold(0u64, |a, n| a.checked_add(*n));
        if sum != Some(issued.count) {
            return fail(format!(
                "`tokens_issued` has count {} but its locals add up to {}",
                issued.count,
                sum.map_or_else(|| "more than 2^64".to_owned(), |s| s.to_string())
            ));
        }
        Ok(())
    }

    /// An official's action: who may take it, and who must approve it.
    fn admin(&mut self, phase: Phase, admin: &entry::Admin) -> Result<(), Failure> {
        let action = admin.action;
        let by = ActorKind::of(&admin.by).map_err(Failure)?;
        if by == ActorKind::Schedule && !matches!(action, AdminAction::Open | AdminAction::Close) {
            return fail(format!(
                "`{action}` by the schedule: the schedule only opens and closes the vote"
            ));
        }
        let mails = matches!(
            action,
            AdminAction::TokensIssue | AdminAction::TokensReissue
        );
        if by == ActorKind::Mail && !mails {
            return fail(format!(
                "`{action}` by the outbox (`mail`): the outbox only issues and replaces tokens"
            ));
        }
        if action == AdminAction::TokensReissue && by != ActorKind::Mail {
            return fail(format!(
                "`tokens_reissue` by {}: only the outbox (`mail`) replaces tokens for the \
                 messages it sends",
                admin.by
            ));
        }
        let rule = self.definition.two_person_rule;
        match admin.approved_by.as_deref() {
            Some(second) => {
                self.officials.approval(&admin.by, second)?;
                if !rule || !action.is_covered() || phase != Phase::Open {
                    return fail(format!(
                        "`approved_by` on `{action}`{}: the two-person rule covers only closing \
                         early and reissuing tokens while the vote is open, when the \
                         definition keeps the rule on",
                        if rule { "" } else { " with the rule off" }
                    ));
                }
            }
            None if rule
                && by == ActorKind::Person
                && phase == Phase::Open
                && officials::needs_approval(action) =>
            {
                return fail(format!(
                    "`{action}` by {} while the vote is open, with no `approved_by`: the \
                     two-person rule needs a second official's approval",
                    admin.by
                ));
            }
            None => {}
        }
        self.action = Some(admin.clone());
        Ok(())
    }

    fn open(&mut self, at: chrono::DateTime<chrono::Utc>) -> Result<(), Failure> {
        if at >= self.definition.closes_at {
            return fail(format!(
                "the vote opens at {} — not before its closing time {}",
                crate::definition::format_time(&at),
                crate::definition::format_time(&self.definition.closes_at)
            ));
        }
        let by = self.action.take().map(|a| ActorKind::of(&a.by));
        if by == Some(Ok(ActorKind::Schedule)) && at < self.definition.opens_at {
            return fail("the schedule opens the vote before the definition's `opens_at`");
        }
        self.opened_at = Some(at);
        if !self.ceremony.is_complete() {
            return fail(
                "the vote opens before the key ceremony is complete (the election key and \
                 every teller's `teller_ready`)",
            );
        }
        if let Some(missing) = self
            .definition
            .locals
            .iter()
            .find(|l| !self.count.eligible.contains_key(l.code.as_str()))
        {
            return fail(format!(
                "the vote opens before local {} has a roster entry",
                missing.code
            ));
        }
        Ok(())
    }

    fn ballot(&mut self, index: usize, ballot: &entry::Ballot) -> Result<(), Failure> {
        let definition = &self.definition;
        known_local(definition, &ballot.local)?;
        if ballot.ballot.len() != definition.choices.len() {
            return fail(format!(
                "the ballot has {} ciphertexts; the election has {} choices",
                ballot.ballot.len(),
                definition.choices.len()
            ));
        }
        let receipt = &ballot.receipt;
        if crate::token::parse_receipt(receipt).as_deref() != Some(receipt.as_str()) {
            return fail(format!(
                "the ballot's receipt `{}` is not a receipt: seven groups of four upper-case \
                 Crockford base32 characters joined by dashes",
                crate::text::shown(receipt)
            ));
        }
        let local = &ballot.local;
        let cast = self.count.cast(local) + 1;
        let eligible = self.count.eligible.get(local).copied().unwrap_or(0);
        if cast > eligible {
            return fail(format!(
                "local {local} has more ballots ({cast}) than eligible members ({eligible})"
            ));
        }
        if !self.receipts.insert(receipt.clone()) {
            return fail(format!("receipt {receipt} appears twice"));
        }
        if !self.trackers.insert(ballot.ballot.tracker()) {
            return fail(format!(
                "the ballot with tracker {} appears twice (a copied ballot, or one its member \
                 checked instead of casting)",
                ballot.tracker()
            ));
        }
        self.unchecked
            .push((index, ballot.local.clone(), ballot.ballot.ballot().clone()));
        Ok(())
    }

    /// A ballot checked instead of cast: it must hold its stated choice, and its tracker is
    /// never cast nor checked again.
    fn challenge(&mut self, index: usize, challenge: &entry::Challenge) -> Result<(), Failure> {
        let key = self.keys()?.shared_key().clone();
        let tracker =
            self.sealing
                .challenge(index, (&self.definition, &self.election, &key), challenge)?;
        if !self.trackers.insert(tracker) {
            return fail(format!(
                "the tracker {} appears twice: a checked ballot is never cast, nor checked again",
                challenge.tracker
            ));
        }
        Ok(())
    }

    fn close(&mut self, index: usize, at: chrono::DateTime<chrono::Utc>) -> Result<(), Failure> {
        let opened = self.opened_at.unwrap_or(at);
        if at < opened {
            return fail(format!(
                "the vote closes at {}, before it opened ({})",
                crate::definition::format_time(&at),
                crate::definition::format_time(&opened)
            ));
        }
        let by = self.action.take();
        let early = at < self.definition.closes_at;
        if let Some(admin) = &by {
            let who = ActorKind::of(&admin.by).map_err(Failure)?;
            if who == ActorKind::Schedule && early {
                return fail("the schedule closes the vote before the definition's `closes_at`");
            }
            if who == ActorKind::Person
                && early
                && self.definition.two_person_rule
                && admin.approved_by.is_none()
            {
                return fail(format!(
                    "{} closes the vote before its closing time with no `approved_by`: the \
                     two-person rule needs a second official's approval",
                    admin.by
                ));
            }
        }
        let root = merkle::root_of(&self.leaves[..=index]);
        self.close = Some(Close {
            at,
            closed: entry::LogRef {
                size: index as u64 + 1,
                root: B64.encode(root),
            },
            by,
        });
        Ok(())
    }

    fn keys(&self) -> Result<&crate::crypto::KeySet, Failure> {
        self.ceremony
            .election_key()
            .ok_or_else(|| Failure("no election key was logged".into()))
    }

    fn tally_share(&mut self, share: &entry::TallyShare) -> Result<(), Failure> {
        if self.shares.iter().any(|s| s.teller == share.teller) {
            return fail(format!("teller {} decrypts twice", share.teller));
        }
        opened::check(&self.definition, self.keys()?, &self.count, share)
            .map_err(|e| Failure(e.to_string()))?;
        let closed = self.close.as_ref().map(|c| &c.closed);
        if closed != Some(&share.closed) {
            return fail(format!(
                "teller {}'s shares were made on another log (up to its close: size {}, root {}), not this one",
                share.teller, share.closed.size, share.closed.root
            ));
        }
        self.ceremony
            .check_signed(&Body::TallyShare(share.clone()))
            .map_err(Failure)?;
        self.shares.push(share.clone());
        Ok(())
    }

    fn result(&mut self, claimed: &entry::ResultEntry) -> Result<(), Failure> {
        // Open the sums with the logged shares, count, and compare field for field.
        let opened = opened::open(&self.definition, self.keys()?, &self.count, &self.shares)
            .map_err(|e| Failure(format!("the result cannot be opened: {e}")))?;
        let results = opened.results(&self.definition, &self.count);
        let expected = opened::result_body(&results, &opened, &self.definition, &self.count)
            .map_err(|e| Failure(format!("the result cannot be opened: {e}")))?;
        if *claimed != expected {
            return fail(format!(
                "the result entry is not what the tellers' shares open, which is {}",
                serde_json::to_string(&expected).unwrap_or_default()
            ));
        }
        self.result = Some((results, opened));
        Ok(())
    }

    fn ceremony_step(&mut self, body: &Body) -> Result<(), Failure> {
        self.ceremony.add(body).map_err(Failure)
    }
}

/// Strict: an unknown type, a missing or extra field, or bytes other than those format v2
/// writes for what was read, is refused.
fn parse(line: &[u8]) -> Result<Entry, Failure> {
    Entry::parse(line).map_err(|e| Failure(e.to_string()))
}

fn known_local(definition: &Definition, local: &str) -> Result<(), Failure> {
    if definition.local(local).is_none() {
        return fail(format!("local `{local}` is not one of the election's"));
    }
    Ok(())
}

mod officials;
mod sealing;

pub use sealing::{Challenged, CodeUse, Sealing, Uses};

#[cfg(test)]
mod tests;
