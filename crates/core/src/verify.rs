//! The offline verifier: checks a bundle against docs/DESIGN.md's log format v1 with nothing but
//! the three files. The first failure is named; nothing is trusted that the files do not prove.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::ElectionId;
use crate::crypto::TellerParams;
use crate::crypto::ceremony::Record;
use crate::definition::Definition;
use crate::entry::{self, Body, Entry, Kind};
use crate::merkle;
use crate::note::Verifier;
use crate::tally::{ChoiceCounts, LogCount, Results};

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
    /// Ballots per local.
    pub ballots: BTreeMap<String, ChoiceCounts>,
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
            let counts = self.ballots.get(local).copied().unwrap_or_default();
            let cast = counts.cast();
            let choices: Vec<String> = [
                ("yes", counts.yes),
                ("no", counts.no),
                ("abstain", counts.abstain),
            ]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
            writeln!(
                f,
                "local {local:<10} eligible {eligible:>7}  ballots {cast:>7}  {}",
                choices.join(", ")
            )?;
        }
        if let Some(r) = &self.certified {
            let v = r.verdicts();
            writeln!(
                f,
                "result    recounted and certified: {} (popular {} yes, {}; delegates {}–{}, {}; quorum {})",
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

    let at = |index: usize| move |Failure(m)| Failure(format!("entry {index}: {m}"));
    let Some((first, rest)) = lines.split_first() else {
        return fail(format!("{LOG_FILE} is empty: entry 0 must be the election"));
    };
    let mut rules = Rules::start(first, &checkpoint.origin).map_err(at(0))?;
    for (index, line) in rest.iter().enumerate() {
        rules.check(line).map_err(at(index + 1))?;
    }
    Ok(Report {
        election: rules.election.to_string(),
        title: rules.definition.title,
        origin: checkpoint.origin,
        key_fingerprint: crate::note::fingerprint(&verifier.public_key()),
        size: checkpoint.size,
        root: B64.encode(checkpoint.root),
        types: rules.types,
        eligible: rules.count.eligible,
        ballots: rules.count.ballots,
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

/// The order rules of docs/DESIGN.md, checked entry by entry: one method per entry type.
struct Rules {
    election: ElectionId,
    definition: Definition,
    phase: Phase,
    count: LogCount,
    ceremony: Record,
    receipts: HashSet<String>,
    types: BTreeMap<String, u64>,
    certified: Option<Results>,
}

impl Rules {
    /// Entry 0, which must be the election named by the checkpoint's origin.
    fn start(line: &[u8], origin: &str) -> Result<Self, Failure> {
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
        let mut seen = HashSet::new();
        if let Some(twice) = definition.locals.iter().find(|l| !seen.insert(&l.code)) {
            return fail(format!("local {} is defined twice", twice.code));
        }
        let tellers = &definition.tellers;
        let params = TellerParams::new(tellers.count as usize, tellers.threshold as usize)
            .map_err(|e| Failure(format!("the election's {e}")))?;
        Ok(Self {
            election: entry.election,
            ceremony: Record::new(params),
            definition,
            phase: Phase::Setup,
            count: LogCount::default(),
            receipts: HashSet::new(),
            types: BTreeMap::from([(Kind::Election.as_str().to_owned(), 1)]),
            certified: None,
        })
    }

    /// Every entry after entry 0.
    fn check(&mut self, line: &[u8]) -> Result<(), Failure> {
        let entry = parse(line)?;
        *self
            .types
            .entry(entry.kind().as_str().to_owned())
            .or_default() += 1;
        if entry.election != self.election {
            return fail(format!("names election {}, not the log's", entry.election));
        }
        match &entry.body {
            Body::Election(_) => fail("a second election entry"),
            Body::Roster(roster) => self.roster(roster),
            Body::Open(_) => self.open(),
            Body::Ballot(ballot) => self.ballot(ballot),
            Body::Close(_) => self.close(),
            Body::Result(claimed) => self.result(claimed),
            Body::TokensIssued(_) | Body::TokenReissued(_) => self.token_note(entry.kind()),
            // An official's action may stand anywhere after entry 0; it may not name a
            // member, which no verifier can check.
            Body::Admin(_) => Ok(()),
            Body::TellerKey(_)
            | Body::TellerPolynomial(_)
            | Body::ElectionKey(_)
            | Body::TellerReady(_) => self.ceremony_step(&entry.body),
        }?;
        self.count.add(&entry.body);
        Ok(())
    }

    fn roster(&mut self, roster: &entry::Roster) -> Result<(), Failure> {
        if self.phase != Phase::Setup {
            return fail("a roster entry after the vote opened");
        }
        known_local(&self.definition, &roster.local)?;
        let hex = roster
            .digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if roster.digest.len() != 64 || !hex {
            return fail("roster `digest` is not 64 lowercase hex digits");
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), Failure> {
        if self.phase != Phase::Setup {
            return fail("the vote opens twice");
        }
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
        self.phase = Phase::Open;
        Ok(())
    }

    fn ballot(&mut self, ballot: &entry::Ballot) -> Result<(), Failure> {
        if self.phase != Phase::Open {
            return fail("a ballot outside the voting period");
        }
        let definition = &self.definition;
        known_local(definition, &ballot.local)?;
        if !definition.allows(ballot.choice) {
            return fail("the ballot's choice is not one the election offers");
        }
        let receipt = &ballot.receipt;
        if receipt.is_empty() || receipt.len() > entry::MAX_RECEIPT_LEN {
            return fail("the ballot's receipt is missing or malformed");
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
        Ok(())
    }

    fn close(&mut self) -> Result<(), Failure> {
        if self.phase != Phase::Open {
            return fail("the vote closes without being open, or twice");
        }
        self.phase = Phase::Closed;
        Ok(())
    }

    fn result(&mut self, claimed: &Map<String, Value>) -> Result<(), Failure> {
        if self.phase != Phase::Closed {
            return fail("a result before the vote closed");
        }
        if self.certified.is_some() {
            return fail("a second result entry");
        }
        // Recount every ballot of the log and compare, field for field.
        let recount = self.count.results(&self.definition);
        if Value::Object(claimed.clone()) != recount.entry_body() {
            return fail(format!(
                "the result entry disagrees with the recount of the log's ballots, which gives {}",
                recount.entry_body()
            ));
        }
        self.certified = Some(recount);
        Ok(())
    }

    fn ceremony_step(&mut self, body: &Body) -> Result<(), Failure> {
        if self.phase != Phase::Setup {
            return fail(format!(
                "a `{}` entry after the vote opened: the key ceremony ends before it",
                body.kind().as_str()
            ));
        }
        self.ceremony.add(body).map_err(Failure)
    }

    fn token_note(&self, kind: Kind) -> Result<(), Failure> {
        if self.phase == Phase::Closed {
            return fail(format!("`{}` after the vote closed", kind.as_str()));
        }
        Ok(())
    }
}

/// Strict: an unknown type, a missing or extra field, or bytes other than those format v1
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{Checkpoint, LogSigner};
    use crate::worked_example::{self, E};

    /// Signs `lines` as a complete log, the way the service would.
    fn verify(lines: &[String]) -> Result<Report, Failure> {
        let signer = LogSigner::from_seed(&[7; 32]);
        let origin = format!("vote.example.org/elections/{E}");
        let leaves: Vec<merkle::Hash> = lines
            .iter()
            .map(|l| merkle::leaf_hash(l.as_bytes()))
            .collect();
        let note = signer.sign_checkpoint(&Checkpoint {
            origin: origin.clone(),
            size: lines.len() as u64,
            root: merkle::root_of(&leaves),
        });
        let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
        verify_bundle(log.as_bytes(), &note, &signer.verifier(&origin).to_string())
    }

    /// The worked example with a 1-of-1 key ceremony logged after entry 0 (four entries), so
    /// that it is a complete log: roster at 5, open at 6, ballot at 7, close at 8.
    fn entries() -> Vec<String> {
        use rand::SeedableRng;
        let params = crate::crypto::TellerParams::new(1, 1).unwrap();
        let c =
            crate::crypto::ceremony::run_locally(params, &mut rand::rngs::StdRng::seed_from_u64(1))
                .unwrap();
        let id = ElectionId::parse(E).unwrap();
        let keys = c.tellers[0].active().unwrap().key_set().clone();
        let text = |e: entry::NewEntry| String::from_utf8(e.bytes).unwrap();
        let ceremony = vec![
            text(entry::teller_key(&id, 1, "age1example", &c.commitments[0])),
            text(entry::teller_polynomial(&id, 1, &c.polynomials[0])),
            text(entry::election_key(&id, &keys)),
            text(entry::teller_ready(&id, 1)),
        ];
        let mut lines = worked_example::entries();
        for (k, line) in ceremony.into_iter().enumerate() {
            lines.insert(1 + k, line);
        }
        lines
    }

    fn with(extra: &str, at: usize) -> Vec<String> {
        let mut lines = entries();
        lines.insert(at, extra.to_owned());
        lines
    }

    #[test]
    fn the_worked_example_verifies_and_counts_its_ballot() {
        let report = verify(&entries()).unwrap();
        assert_eq!(report.phase, "closed");
        assert_eq!(report.eligible["1"], 2);
        assert_eq!(report.ballots["1"].yes, 1);
        assert_eq!(report.types["ballot"], 1);
    }

    #[test]
    fn a_ceremony_entry_after_the_vote_opened_is_refused() {
        let mut lines = entries();
        let again = lines[4].clone();
        lines.insert(7, again);
        let err = verify(&lines).unwrap_err();
        assert!(
            err.0
                .contains("entry 7: a `teller_ready` entry after the vote opened"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_of_an_unknown_type_is_refused_not_skipped() {
        let line = format!(r#"{{"v":1,"type":"note","election":"{E}","text":"M1 voted"}}"#);
        let err = verify(&with(&line, 3)).unwrap_err();
        assert!(
            err.0.starts_with("entry 3: unknown entry type `note`"),
            "{err}"
        );
    }

    #[test]
    fn a_ballot_with_a_field_too_many_or_too_few_is_refused() {
        let extra = format!(
            r#"{{"v":1,"type":"ballot","election":"{E}","local":"1","choice":"no","receipt":"R","member":"M2"}}"#
        );
        let err = verify(&with(&extra, 4)).unwrap_err();
        assert!(
            err.0
                .contains("entry 4: a `ballot` entry is malformed: unknown field `member`"),
            "{err}"
        );
        let short =
            format!(r#"{{"v":1,"type":"ballot","election":"{E}","local":"1","choice":"no"}}"#);
        let err = verify(&with(&short, 4)).unwrap_err();
        assert!(err.0.contains("missing field `receipt`"), "{err}");
    }

    #[test]
    fn fields_out_of_order_are_refused_though_they_say_the_same() {
        let moved = format!(
            r#"{{"v":1,"type":"ballot","election":"{E}","choice":"no","local":"1","receipt":"R"}}"#
        );
        let err = verify(&with(&moved, 4)).unwrap_err();
        assert!(
            err.0
                .contains("entry 4: a `ballot` entry must be written as"),
            "{err}"
        );
        let envelope_last =
            format!(r#"{{"type":"open","v":1,"election":"{E}","at":"2026-10-01T07:00:00Z"}}"#);
        assert!(verify(&with(&envelope_last, 2)).is_err());
    }

    fn with_ceremony(tamper: impl Fn(&mut Vec<String>)) -> Result<Report, Failure> {
        let mut lines = entries();
        tamper(&mut lines);
        verify(&lines)
    }

    #[test]
    fn a_logged_key_ceremony_verifies_and_a_forged_one_does_not() {
        assert!(with_ceremony(|_| {}).is_ok());
        // A key set other than the one the polynomial gives.
        let err = with_ceremony(|lines| {
            use rand::SeedableRng;
            let params = crate::crypto::TellerParams::new(1, 1).unwrap();
            let other = crate::crypto::ceremony::run_locally(
                params,
                &mut rand::rngs::StdRng::seed_from_u64(2),
            )
            .unwrap();
            let keys = other.tellers[0].active().unwrap().key_set().clone();
            let id = ElectionId::parse(E).unwrap();
            lines[3] = String::from_utf8(entry::election_key(&id, &keys).bytes).unwrap();
        })
        .unwrap_err();
        assert!(
            err.0.contains("entry 3: the election key is not the one"),
            "{err}"
        );
        // A polynomial before the commitment, a teller who does not exist, a second key.
        let err = with_ceremony(|lines| lines.swap(1, 2)).unwrap_err();
        assert!(
            err.0
                .contains("entry 1: a polynomial before every teller's commitment"),
            "{err}"
        );
        let err =
            with_ceremony(|lines| lines[1] = lines[1].replace(r#""teller":1"#, r#""teller":2"#))
                .unwrap_err();
        assert!(
            err.0
                .contains("teller 2 is not one of the election's 1 tellers"),
            "{err}"
        );
        let err = with_ceremony(|lines| {
            let again = lines[4].clone();
            lines.insert(5, again);
        })
        .unwrap_err();
        assert!(err.0.contains("entry 5: teller 1 is ready twice"), "{err}");
        // After the vote opened, no ceremony entry.
        let err = with_ceremony(|lines| {
            let ready = lines.remove(4);
            lines.insert(6, ready);
        })
        .unwrap_err();
        assert!(
            err.0
                .contains("entry 5: the vote opens before the key ceremony is complete"),
            "{err}"
        );
    }

    #[test]
    fn a_result_is_certified_only_when_it_is_the_recount() {
        let definition = match Entry::parse(entries()[0].as_bytes()).unwrap().body {
            Body::Election(d) => d,
            _ => unreachable!(),
        };
        let count = LogCount::of(
            entries()
                .iter()
                .map(|l| Entry::parse(l.as_bytes()).unwrap().body)
                .collect::<Vec<_>>()
                .iter(),
        );
        let id = ElectionId::parse(E).unwrap();
        let right = entry::result(&id, &count.results(&definition).entry_body());
        let mut lines = entries();
        lines.push(String::from_utf8(right.bytes.clone()).unwrap());
        let report = verify(&lines).unwrap();
        assert!(report.certified.unwrap().passed);

        let wrong = String::from_utf8(right.bytes)
            .unwrap()
            .replace(r#""yes":1"#, r#""yes":2"#);
        let mut lines = entries();
        lines.push(wrong);
        let err = verify(&lines).unwrap_err();
        assert!(
            err.0
                .contains("entry 9: the result entry disagrees with the recount"),
            "{err}"
        );
    }
}
