//! The worked example of docs/LOG_FORMAT.md, recomputed so the document stays true.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::ElectionId;
use crate::crypto::ballot::seal;
use crate::crypto::ceremony::{LocalCeremony, run_locally};
use crate::crypto::identity::Identity;
use crate::crypto::{KeySet, TellerParams};
use crate::definition::Definition;
use crate::entry::{
    self, AccountAction, Actor, AdminAction, Body, Entry, OfficialRole, TallyShare,
};
use crate::merkle::{leaf_hash, node_hash, root_of};
use crate::note::{Checkpoint, LogSigner};
use crate::tally::LogCount;
use crate::tally::opened;
use crate::witness::{WitnessKey, cosigned_message};

const DOC: &str = include_str!("../../../docs/LOG_FORMAT.md");
pub(crate) const E: &str = "0192c7a0-5b1e-4c3d-9e8f-0a1b2c3d4e5f";

/// The worked example's witness: the Ed25519 seed of 32 bytes `0x43`, named
/// `witness.example.net`.
pub(crate) fn example_witness() -> WitnessKey {
    WitnessKey::from_seed("witness.example.net", &[0x43; 32]).expect("a valid name")
}

/// When the worked example's witness cosigned (POSIX seconds: 2026-10-04T19:00:00Z).
pub(crate) const WITNESS_TIME: u64 = 1_791_140_400;

/// The worked example's election (entry 0): one local of two members, a 1-of-1 teller, one
/// witness (quorum 1).
fn election_line() -> String {
    let witness = example_witness().verifier();
    format!(
        r#"{{"v":9,"type":"election","election":"{E}","title":"Example","question":"Strike?","choices":["yes","no"],"rule":"popular","threshold":{{"num":1,"den":2,"cmp":"more_than"}},"local_threshold":null,"quorum":null,"locals":[{{"code":"1","name":"One","delegates":0}}],"small_locals":{{"min_ballots":1,"code":"small-locals","name":"Small locals together"}},"opens_at":"2026-10-01T07:00:00Z","closes_at":"2026-10-04T07:00:00Z","tellers":{{"count":1,"threshold":1,"names":[]}},"contact":null,"time_zone":"UTC","translations":{{}},"labels":{{}},"witnesses":{{"quorum":1,"list":[{{"name":"Example witness","key":"{witness}","url":"https://witness.example.net"}}]}}}}"#
    )
}

/// The sealing code the worked example's ballot pages run: the SHA-256 of the 39 bytes
/// `The sealing code of the worked example\n` (a real election names the SHA-256 of the
/// exact bytes the server serves at `/static/sealing.js`).
pub(crate) const SEALING_CODE: &str =
    "a021924a702acebfcd85b3a4d704760386b53c081af974afd72bd89b56ded0d4";

/// The age recipient the worked example's teller publishes (the example key of age's own
/// documentation; nothing is ever encrypted to it here).
pub(crate) const RECIPIENT: &str = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";

/// The official who creates, closes and certifies in logs built here.
pub(crate) const ALICE: &str = "alice";
/// The second official, who approves.
pub(crate) const BOB: &str = "bob";

/// A complete log built the way the service builds one, from fixed seeds: entry 0 and the
/// official's `create`, the key ceremony, the roster import, open, ballots, close, the
/// tellers' shares and the result, each action with its `admin` entry. Tests change one part
/// of it and check what the verifier says.
pub(crate) struct LogBuilder {
    pub(crate) id: ElectionId,
    pub(crate) definition: Definition,
    pub(crate) ceremony: LocalCeremony,
    /// Each teller's identity key: teller k (1-based) has the seed of 32 bytes `0x60 + k`.
    pub(crate) identities: Vec<Identity>,
    pub(crate) lines: Vec<String>,
    rng: StdRng,
}

impl LogBuilder {
    /// Entry 0 (the worked example's election with `tellers` and `locals` — code, eligible —
    /// instead of its own), the ceremony, each local's roster and the open entry.
    pub(crate) fn open(tellers: (usize, usize), locals: &[(&str, u64)], seed: u64) -> Self {
        Self::open_min(tellers, locals, 1, seed)
    }

    /// The same, with `small_locals.min_ballots = min`.
    pub(crate) fn open_min(
        tellers: (usize, usize),
        locals: &[(&str, u64)],
        min: u32,
        seed: u64,
    ) -> Self {
        let locals_json: Vec<String> = locals
            .iter()
            .map(|(code, _)| format!(r#"{{"code":"{code}","name":"L{code}","delegates":1}}"#))
            .collect();
        let first = election_line()
            .replace(
                r#""tellers":{"count":1,"threshold":1,"names":[]}"#,
                &format!(
                    r#""tellers":{{"count":{},"threshold":{},"names":[]}}"#,
                    tellers.0, tellers.1
                ),
            )
            .replace(
                r#""locals":[{"code":"1","name":"One","delegates":0}]"#,
                &format!(r#""locals":[{}]"#, locals_json.join(",")),
            )
            .replace(r#""min_ballots":1"#, &format!(r#""min_ballots":{min}"#));
        Self::open_with(first, locals, seed)
    }

    /// The same with entry 0 as given.
    pub(crate) fn open_with(first: String, locals: &[(&str, u64)], seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let entry = Entry::parse(first.as_bytes()).expect("the example's entry 0");
        let (id, Body::Election(definition)) = (entry.election, entry.body) else {
            unreachable!("entry 0 is an election")
        };
        let tellers = (
            definition.tellers.count as usize,
            definition.tellers.threshold as usize,
        );
        let params = TellerParams::new(tellers.0, tellers.1).expect("teller parameters");
        let ceremony = run_locally(params, &mut rng).expect("a local ceremony");
        let identities = (1..=tellers.0)
            .map(|k| Identity::from_seed(&[0x60 + k as u8; 32]))
            .collect();
        let mut log = Self {
            id,
            definition: *definition,
            ceremony,
            identities,
            lines: vec![first],
            rng,
        };
        let c = &log.ceremony;
        let mut made = vec![entry::admin(&id, AdminAction::Create, ALICE)];
        let who = &log.identities;
        for (k, commitment) in c.commitments.iter().enumerate() {
            let n = k as u32 + 1;
            made.push(entry::teller_key(&id, n, &who[k], RECIPIENT, commitment));
        }
        for (k, polynomial) in c.polynomials.iter().enumerate() {
            let n = k as u32 + 1;
            made.push(entry::teller_polynomial(&id, n, polynomial, &who[k]));
        }
        made.push(entry::election_key(&id, log.keys()));
        for (k, identity) in who.iter().enumerate() {
            made.push(entry::teller_ready(&id, k as u32 + 1, identity));
        }
        made.push(entry::admin(&id, AdminAction::RosterImport, ALICE));
        for (code, eligible) in locals {
            let members: Vec<String> = (1..=*eligible).map(|m| format!("M{code}-{m}")).collect();
            let digest = entry::roster_digest(members.iter().map(String::as_str));
            made.push(entry::roster(&id, code, *eligible, &digest));
        }
        made.push(entry::admin(&id, AdminAction::Open, entry::SCHEDULE));
        let opens = definition_time("2026-10-01T07:00:00Z");
        made.push(entry::open(&id, opens, SEALING_CODE));
        for e in made {
            log.push(e);
        }
        log
    }

    pub(crate) fn keys(&self) -> &KeySet {
        self.ceremony.tellers[0]
            .active()
            .expect("a ready teller")
            .key_set()
    }

    pub(crate) fn push(&mut self, e: entry::NewEntry) {
        self.lines
            .push(String::from_utf8(e.bytes).expect("entries are UTF-8"));
    }

    /// A ballot for option `choice` (0-based) in `local`, with `receipt` — or, for a short
    /// name such as `R3` that is no receipt, a receipt made from it.
    pub(crate) fn ballot(&mut self, local: &str, choice: usize, receipt: &str) {
        let receipt = crate::token::parse_receipt(receipt).unwrap_or_else(|| {
            use sha2::Digest;
            crate::token::short_code(&sha2::Sha256::digest(receipt), 28)
        });
        let receipt = receipt.as_str();
        let options = self.definition.choices.len();
        let key = self.keys().shared_key().clone();
        let context = crate::crypto::ballot::Context {
            election: &self.id,
            local,
        };
        let sealed = seal(&key, context, options, choice, &mut self.rng).expect("a valid choice");
        let by = (entry::SealedBy::Member, Some(SEALING_CODE));
        let e = entry::ballot(&self.id, local, by, sealed, receipt);
        self.push(e);
    }

    /// A ballot the server sealed (`sealed_by` `server`, no sealing code).
    pub(crate) fn server_ballot(&mut self, local: &str, choice: usize, receipt: &str) {
        self.ballot(local, choice, receipt);
        let last = self.lines.pop().expect("the ballot just made");
        let code = format!(r#""sealed_by":"member","sealing_code":"{SEALING_CODE}""#);
        self.lines
            .push(last.replace(&code, r#""sealed_by":"server","sealing_code":null"#));
    }

    /// A challenge: the member's page sealed option `choice` (0-based) for `local` with
    /// randomness from the builder's seed, and the member checked it instead of casting.
    pub(crate) fn challenge(&mut self, local: &str, choice: usize) -> entry::Challenge {
        use elastic_elgamal::group::ScalarOps;
        let options = self.definition.choices.len();
        let randomness: Vec<[u8; 32]> = (0..options)
            .map(|_| crate::crypto::Group::generate_scalar(&mut self.rng).to_bytes())
            .collect();
        let key = self.keys().shared_key().clone();
        let context = crate::crypto::ballot::Context {
            election: &self.id,
            local,
        };
        let tracker =
            crate::crypto::ballot::resealed_tracker(&key, context, options, choice, &randomness)
                .expect("a valid choice");
        let challenge = entry::Challenge {
            local: local.to_owned(),
            sealing_code: Some(SEALING_CODE.to_owned()),
            tracker: hex::encode(tracker),
            choice: self.definition.choices[choice].as_str().to_owned(),
            randomness: randomness
                .iter()
                .map(|r| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r))
                .collect(),
        };
        let e = entry::challenge(&self.id, challenge.clone());
        self.push(e);
        challenge
    }

    /// An official's action, `by` alone or approved by a second official.
    pub(crate) fn admin(&mut self, action: AdminAction, by: &str, approved_by: Option<&str>) {
        let e = entry::admin(&self.id, action, Actor { by, approved_by });
        self.push(e);
    }

    /// An account change at `at`, by an official or the console, approved or not.
    pub(crate) fn account(
        &mut self,
        change: (AccountAction, &str, OfficialRole),
        at: &str,
        (by, approved_by): (&str, Option<&str>),
    ) {
        let at = definition_time(at);
        let e = entry::account(&self.id, change, at, Actor { by, approved_by });
        self.push(e);
    }

    /// Tokens issued to every local's members, as the official's `tokens_issue`.
    pub(crate) fn issue_tokens(&mut self) {
        self.issue_tokens_by(ALICE);
    }

    /// Tokens issued to every local's members by `by` (an official, or the outbox as it
    /// sends the ballots by email).
    pub(crate) fn issue_tokens_by(&mut self, by: &str) {
        let mut locals = self.count().eligible;
        locals.retain(|_, n| *n > 0);
        self.admin(AdminAction::TokensIssue, by, None);
        let e = entry::tokens_issued(&self.id, &locals);
        self.push(e);
    }

    /// The schedule closes the vote at the definition's closing time.
    pub(crate) fn close(&mut self) {
        self.admin(AdminAction::Close, entry::SCHEDULE, None);
        let e = entry::close(&self.id, self.definition.closes_at);
        self.push(e);
    }

    /// An official closes the vote at `at`, approved by a second one.
    pub(crate) fn close_early(&mut self, at: &str) {
        self.admin(AdminAction::Close, ALICE, Some(BOB));
        let e = entry::close(&self.id, definition_time(at));
        self.push(e);
    }

    /// What the log's entries add up to so far.
    pub(crate) fn count(&self) -> LogCount {
        let bodies: Vec<Body> = self
            .lines
            .iter()
            .map(|l| Entry::parse(l.as_bytes()).expect("a built entry").body)
            .collect();
        LogCount::of(self.id, &bodies)
    }

    /// The log up to and including its close entry.
    pub(crate) fn closed(&self) -> entry::LogRef {
        let leaves: Vec<_> = self.lines.iter().map(|l| leaf_hash(l.as_bytes())).collect();
        let size = self
            .lines
            .iter()
            .position(|l| l.contains(r#""type":"close""#))
            .expect("a closed log")
            + 1;
        entry::LogRef {
            size: size as u64,
            root: B64.encode(root_of(&leaves[..size])),
        }
    }

    /// Teller `teller`'s (0-based) decryption shares of the sums so far.
    pub(crate) fn shares(&mut self, teller: usize) {
        let count = self.count();
        let active = self.ceremony.tellers[teller].active().expect("ready");
        let shares =
            opened::decrypt(&self.definition, &count, active, &mut self.rng).expect("shares");
        let closed = self.closed();
        let who = &self.identities[teller];
        let e = entry::tally_share(&self.id, teller as u32 + 1, closed, shares, who);
        self.push(e);
    }

    /// The `tally_share` entries logged so far.
    pub(crate) fn logged_shares(&self) -> Vec<TallyShare> {
        self.lines
            .iter()
            .filter_map(|l| match Entry::parse(l.as_bytes()).ok()?.body {
                Body::TallyShare(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The result the logged shares open.
    pub(crate) fn result(&mut self) {
        let count = self.count();
        let shares = self.logged_shares();
        let opened = opened::open(&self.definition, self.keys(), &count, &shares).expect("opened");
        let results = opened.results(&self.definition, &count);
        let body = opened::result_body(&results, &opened, &self.definition, &count).expect("body");
        let e = entry::result(&self.id, body);
        self.push(e);
    }
}

fn definition_time(at: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(at)
        .expect("a time")
        .to_utc()
}

/// The teller who published a key and then could not go on: their identity key is the
/// Ed25519 seed of 32 bytes `0x51`, their commitment the one a ceremony from seed 2 makes.
fn departed_teller_key() -> entry::NewEntry {
    let params = TellerParams::new(1, 1).expect("teller parameters");
    let mut rng = StdRng::seed_from_u64(2);
    let theirs = run_locally(params, &mut rng).expect("a local ceremony");
    let identity = Identity::from_seed(&[0x51; 32]);
    let id = ElectionId::parse(E).expect("the example's id");
    entry::teller_key(&id, 1, &identity, RECIPIENT, &theirs.commitments[0])
}

/// The worked example: one local of two members, a teller who published their key and could
/// not go on (the ceremony restarted, their seat given to someone else), tokens issued by the
/// outbox and one reissued by an official, a ballot
/// sealed for `no` that its member checked instead of casting, one `yes` ballot, two account
/// changes, an early close approved by a second official, its teller's shares, the result and
/// the certification — twenty-six entries.
pub(crate) fn entries() -> Vec<String> {
    let mut log = LogBuilder::open_with(election_line(), &[("1", 2)], 1);
    // The first teller publishes their key and then cannot go on: `alice` restarts the
    // ceremony, giving seat 1 to someone else, whose ceremony follows.
    let rest = log.lines.split_off(2);
    log.push(departed_teller_key());
    log.admin(AdminAction::CeremonyRestart, ALICE, None);
    log.push(entry::ceremony_restart(&log.id, &[1]));
    log.lines.extend(rest);
    // Before the vote opens the outbox emails the ballots, making each token as it sends it,
    // and an official replaces one member's.
    let open = log.lines.len() - 2;
    let opening = log.lines.split_off(open);
    log.issue_tokens_by(entry::MAIL);
    log.admin(AdminAction::TokenReissue, ALICE, None);
    log.push(entry::token_reissued(&log.id, "1"));
    log.lines.extend(opening);
    // The member's page seals `no`; the member checks it first, then seals again and casts.
    log.challenge("1", 1);
    log.ballot("1", 0, "7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE");
    // During the vote the console creates an observer's account, and an admin's own API
    // token is approved by a second admin.
    log.account(
        (AccountAction::Create, "carol", OfficialRole::Observer),
        "2026-10-02T08:15:00Z",
        ("cli:root", None),
    );
    log.account(
        (AccountAction::ApiTokenCreate, ALICE, OfficialRole::Admin),
        "2026-10-02T09:30:00Z",
        (ALICE, Some(BOB)),
    );
    log.close_early("2026-10-03T19:00:00Z");
    log.shares(0);
    log.result();
    log.admin(AdminAction::Certify, BOB, None);
    log.lines
}

#[test]
fn the_documented_example_is_what_the_code_computes() {
    let entries = entries();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e.as_bytes())).collect();
    let mut shown = Vec::new();
    for (e, l) in entries.iter().zip(&leaves) {
        shown.push(e.clone());
        shown.push(hex::encode(l));
    }
    let n01 = node_hash(&leaves[0], &leaves[1]);
    let n23 = node_hash(&leaves[2], &leaves[3]);
    let n0123 = node_hash(&n01, &n23);
    let root = node_hash(&n0123, &leaves[4]);
    assert_eq!(root, root_of(&leaves[..5]));
    assert_eq!(
        crate::merkle::inclusion_plan(3, 5).unwrap(),
        [(2, 3), (0, 2), (4, 5)]
    );
    assert_eq!(crate::merkle::consistency_plan(4, 5).unwrap(), [(4, 5)]);
    for h in [n01, n23, n0123, root] {
        shown.push(hex::encode(h));
    }
    shown.push(B64.encode(root));
    let signer = LogSigner::from_seed(&[0x42; 32]);
    let origin = format!("vote.example.org/elections/{E}");
    let note = signer.sign_checkpoint(&Checkpoint {
        origin: origin.clone(),
        size: 5,
        root,
    });
    shown.push(note);
    shown.push(signer.verifier(&origin).to_string());
    // The whole log, as a bundle carries it.
    let full = root_of(&leaves);
    shown.push(B64.encode(full));
    // Signed by the log and cosigned by the witness entry 0 lists.
    let checkpoint = Checkpoint {
        origin: origin.clone(),
        size: leaves.len() as u64,
        root: full,
    };
    let witness = example_witness();
    let cosignature = witness.cosign(&checkpoint.body(), WITNESS_TIME);
    shown.push(format!(
        "{}{cosignature}",
        signer.sign_checkpoint(&checkpoint)
    ));
    shown.push(witness.verifier().to_string());
    shown.push(cosigned_message(&checkpoint.body(), WITNESS_TIME));
    if std::env::var("SHOW_WORKED_EXAMPLE").is_ok() {
        for s in &shown {
            eprintln!("SHOWN\t{}", s.replace('\n', "\\n"));
        }
    }
    let missing: Vec<_> = shown.iter().filter(|s| !DOC.contains(s.as_str())).collect();
    assert!(
        missing.is_empty(),
        "docs/LOG_FORMAT.md lacks:\n{}",
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
