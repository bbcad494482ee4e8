//! The verifier against logs built as the service builds them (the worked example and
//! variations of it), each tampered with in one way.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value};

use super::*;
use crate::crypto::ballot::SealedBallot;
use crate::crypto::identity::Identity;
use crate::crypto::tally::TallyError;
use crate::note::{Checkpoint, LogSigner};
use crate::worked_example::{self, ALICE, BOB, E, LogBuilder, RECIPIENT};

/// `lines` signed as a complete log, the way the service would: the log, the checkpoint
/// (cosigned by the worked example's witness) and the verifier key.
fn signed(lines: &[String]) -> (String, String, String) {
    let signer = LogSigner::from_seed(&[7; 32]);
    let origin = format!("vote.example.org/elections/{E}");
    let leaves: Vec<merkle::Hash> = lines
        .iter()
        .map(|l| merkle::leaf_hash(l.as_bytes()))
        .collect();
    let checkpoint = Checkpoint {
        origin: origin.clone(),
        size: lines.len() as u64,
        root: merkle::root_of(&leaves),
    };
    let note = format!(
        "{}{}",
        signer.sign_checkpoint(&checkpoint),
        worked_example::example_witness().cosign(&checkpoint.body(), worked_example::WITNESS_TIME)
    );
    let log: String = lines.iter().map(|l| format!("{l}\n")).collect();
    (log, note, signer.verifier(&origin).to_string())
}

/// Signs `lines` as a complete log and verifies it.
fn verify(lines: &[String]) -> Result<Report, Failure> {
    let (log, note, key) = signed(lines);
    verify_bundle(log.as_bytes(), &note, &key)
}

// Where the worked example's entries stand.
const CREATE: usize = 1;
/// The first teller's key, then the official's `ceremony_restart` and its entry.
const DEPARTED: usize = 2;
const RESTART: usize = 3;
const KEY: usize = 5;
const POLYNOMIAL: usize = 6;
const ELECTION_KEY: usize = 7;
const READY: usize = 8;
const ROSTER: usize = 10;
/// The outbox's `tokens_issue` (`by: "mail"`), then its `tokens_issued`.
const MAILED: usize = 11;
/// An official's `token_reissue`, then its `token_reissued`.
const REISSUE: usize = 13;
const OPEN: usize = 16;
const CHALLENGE: usize = 17;
const BALLOT: usize = 18;
const ACCOUNT: usize = 19;
const TOKEN: usize = 20;
const CLOSE: usize = 22;
const SHARE: usize = 23;
const RESULT: usize = 24;
const CERTIFY: usize = 25;

/// The worked example: entry 0 and the official's `create`, a first teller's key at 2, the
/// restart that replaced them at 3–4, the ceremony at 5–8, the roster import at 9–10, tokens at
/// 11–14, open at 15–16, a checked ballot (a challenge) at 17, the ballot at 18, an observer's
/// account created at 19 and an admin's API token at 20, an approved early close at 21–22, the
/// teller's shares at 23, the result at 24 and the certification at 25.
fn entries() -> Vec<String> {
    worked_example::entries()
}

fn with(extra: &str, at: usize) -> Vec<String> {
    let mut lines = entries();
    lines.insert(at, extra.to_owned());
    lines
}

fn refused(lines: &[String], expected: &str) {
    match verify(lines) {
        Ok(_) => panic!("accepted; expected a failure containing `{expected}`"),
        Err(e) => assert!(e.0.contains(expected), "expected `{expected}`, got: {e}"),
    }
}

/// The fields of an entry, in order, to rewrite one.
fn fields(line: &str) -> Map<String, Value> {
    serde_json::from_str(line).unwrap()
}

fn line(fields: &Map<String, Value>) -> String {
    serde_json::to_string(fields).unwrap()
}

#[test]
fn the_worked_example_verifies_and_opens_its_ballot() {
    let report = verify(&entries()).unwrap();
    assert_eq!(report.phase, "certified");
    assert_eq!(report.eligible["1"], 2);
    assert_eq!(report.ballots["1"], 1);
    assert_eq!(report.types["ballot"], 1);
    assert_eq!(report.shares, [1]);
    let (results, opened) = report.result.unwrap();
    assert_eq!(opened.tellers, [1]);
    assert_eq!(opened.totals["1"].yes, 1);
    assert_eq!(opened.totals["1"].no, 0);
    assert!(results.passed);
}

#[test]
fn a_ceremony_entry_after_the_vote_opened_is_refused() {
    let mut lines = entries();
    let again = lines[READY].clone();
    lines.insert(BALLOT, again);
    refused(
        &lines,
        &format!(
            "entry {BALLOT}: a `teller_ready` entry while the election is open: it stands only before the vote opens"
        ),
    );
}

#[test]
fn an_entry_of_an_unknown_type_is_refused_not_skipped() {
    let line = format!(r#"{{"v":9,"type":"note","election":"{E}","text":"M1 voted"}}"#);
    let err = verify(&with(&line, 3)).unwrap_err();
    assert!(
        err.0.starts_with("entry 3: unknown entry type `note`"),
        "{err}"
    );
}

#[test]
fn an_action_approved_by_a_second_official_verifies_and_one_approved_by_its_asker_does_not() {
    let approved = |second: &str| {
        format!(
            r#"{{"v":9,"type":"admin","election":"{E}","action":"close","by":"alice","approved_by":"{second}"}}"#
        )
    };
    // An early close, approved by a second official.
    let report = verify(&entries()).unwrap();
    assert_eq!(
        report.types["admin"],
        entries()
            .iter()
            .filter(|l| l.contains(r#""type":"admin""#))
            .count() as u64
    );
    assert_eq!(report.types["admin"], 8);
    let mut lines = entries();
    lines[CLOSE - 1] = approved("alice");
    refused(
        &lines,
        &format!(
            "entry {}: an official's action approved by the same official",
            CLOSE - 1
        ),
    );
    lines[CLOSE - 1] = approved("bob");
    assert!(verify(&lines).is_ok());
}

/// A vote of one ballot with `during` done while it is open, closed by the schedule, opened
/// by its teller.
fn voted_with(first: Option<String>, during: impl FnOnce(&mut LogBuilder)) -> Vec<String> {
    let mut log = match first {
        Some(first) => LogBuilder::open_with(first, &[("1", 2)], 7),
        None => LogBuilder::open((1, 1), &[("1", 2)], 7),
    };
    log.ballot("1", 0, "R1");
    during(&mut log);
    log.close();
    log.shares(0);
    log.result();
    log.lines
}

#[test]
fn account_changes_outside_the_two_person_rule_need_no_approval() {
    use crate::entry::{AccountAction as A, OfficialRole as R};
    // During the vote: the console makes an admin (outside the rule, logged as the console);
    // an official makes an observer, disables another official, revokes a token.
    let lines = voted_with(None, |log| {
        log.account(
            (A::Create, "gina", R::Admin),
            "2026-10-02T08:00:00Z",
            ("cli:root", None),
        );
        log.account(
            (A::Create, "carol", R::Observer),
            "2026-10-02T08:01:00Z",
            (ALICE, None),
        );
        log.account(
            (A::Disable, BOB, R::Admin),
            "2026-10-02T08:02:00Z",
            (ALICE, None),
        );
        log.account(
            (A::ApiTokenRevoke, BOB, R::Admin),
            "2026-10-02T08:03:00Z",
            (ALICE, None),
        );
    });
    let report = verify(&lines).unwrap();
    assert_eq!(report.types["account"], 4);
    // With the rule off, an official's new admin needs no approval.
    let rule_off = worked_example::entries()[0].replace(
        r#""labels":{},"witnesses""#,
        r#""labels":{},"two_person_rule":false,"witnesses""#,
    );
    let admin = |log: &mut LogBuilder| {
        log.account(
            (A::Create, "gina", R::Admin),
            "2026-10-02T08:00:00Z",
            (ALICE, None),
        );
    };
    let lines = voted_with(Some(rule_off.clone()), admin);
    assert!(verify(&lines).is_ok(), "{:?}", verify(&lines).err());
    // With it on, the same is refused.
    let lines = voted_with(None, admin);
    assert!(
        verify(&lines)
            .unwrap_err()
            .0
            .contains("with no `approved_by`")
    );
}

#[test]
fn the_outbox_replaces_tokens_while_the_vote_is_open_without_a_second_official() {
    // A reminder's fresh links: the outbox replaces the unused tokens of the members it
    // reminds while the vote is open; the two-person rule covers officials, not the outbox.
    let mut log = LogBuilder::open((1, 1), &[("1", 3), ("2", 2)], 5);
    log.issue_tokens_by(entry::MAIL);
    log.ballot("1", 0, "7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE");
    log.admin(AdminAction::TokensReissue, entry::MAIL, None);
    let mut reminded = std::collections::BTreeMap::new();
    reminded.insert("1".to_owned(), 2);
    reminded.insert("2".to_owned(), 2);
    log.push(entry::tokens_issued(&log.id, &reminded));
    log.close();
    let report = verify(&log.lines).expect("the outbox's reissue stands");
    assert!(report.to_string().contains("tokens_issued 2"), "{report}");
    // The same action by an official is refused, approved or not.
    let at = log.lines.len() - 4;
    for approved in [None, Some(BOB)] {
        let mut lines = log.lines.clone();
        let admin = entry::admin(
            &log.id,
            AdminAction::TokensReissue,
            entry::Actor {
                by: ALICE,
                approved_by: approved,
            },
        );
        lines[at] = String::from_utf8(admin.bytes).unwrap();
        refused(&lines, "only the outbox (`mail`) replaces tokens");
    }
}

#[test]
fn an_entry_of_the_previous_format_version_is_refused() {
    let mut lines = entries();
    lines[OPEN] = lines[OPEN].replace(r#"{"v":9,"#, r#"{"v":8,"#);
    refused(&lines, &format!("entry {OPEN}: `v` is not 9"));
}

#[test]
fn a_ballot_with_a_field_too_many_or_too_few_is_refused() {
    let mut ballot = fields(&entries()[BALLOT]);
    ballot.insert("member".into(), Value::from("M2"));
    refused(
        &with(&line(&ballot), BALLOT),
        &format!("entry {BALLOT}: a `ballot` entry is malformed: unknown field `member`"),
    );
    ballot.remove("member");
    ballot.remove("receipt");
    refused(&with(&line(&ballot), BALLOT), "missing field `receipt`");
    // A plain choice where the sealed ballot belongs.
    let mut plain = fields(&entries()[BALLOT]);
    plain.insert("ballot".into(), Value::from("yes"));
    refused(
        &with(&line(&plain), BALLOT),
        &format!("entry {BALLOT}: a `ballot` entry is malformed"),
    );
}

#[test]
fn fields_out_of_order_are_refused_though_they_say_the_same() {
    let mut moved = fields(&entries()[BALLOT]);
    let local = moved.shift_remove("local").unwrap();
    moved.insert("local".into(), local);
    refused(
        &with(&line(&moved), BALLOT),
        &format!("entry {BALLOT}: a `ballot` entry must be written as"),
    );
    let envelope_last =
        format!(r#"{{"type":"open","v":9,"election":"{E}","at":"2026-10-01T07:00:00Z"}}"#);
    assert!(verify(&with(&envelope_last, KEY)).is_err());
}

#[test]
fn a_logged_key_ceremony_verifies_and_a_forged_one_does_not() {
    // A key set other than the one the polynomial gives.
    let other = LogBuilder::open((1, 1), &[("1", 2)], 99);
    let mut lines = entries();
    lines[ELECTION_KEY] =
        String::from_utf8(entry::election_key(&other.id, other.keys()).bytes).unwrap();
    refused(
        &lines,
        &format!("entry {ELECTION_KEY}: the election key is not the one"),
    );
    // A polynomial before the commitment, a teller who does not exist, a second ready.
    let mut lines = entries();
    lines.swap(KEY, POLYNOMIAL);
    refused(
        &lines,
        &format!("entry {KEY}: a polynomial before every teller's commitment"),
    );
    let mut lines = entries();
    lines[KEY] = lines[KEY].replace(r#""teller":1"#, r#""teller":2"#);
    refused(&lines, "teller 2 is not one of the election's 1 tellers");
    let mut lines = entries();
    let again = lines[READY].clone();
    lines.insert(READY + 1, again);
    refused(
        &lines,
        &format!("entry {}: teller 1 is ready twice", READY + 1),
    );
    // The vote opens before the ceremony is over.
    let mut lines = entries();
    let ready = lines.remove(READY);
    lines.insert(OPEN, ready);
    refused(
        &lines,
        &format!(
            "entry {}: the vote opens before the key ceremony is complete",
            OPEN - 1
        ),
    );
}

/// The worked example's ballot replaced by `sealed`.
fn with_ballot(sealed: SealedBallot) -> Vec<String> {
    let mut lines = entries();
    let mut ballot = fields(&lines[BALLOT]);
    ballot.insert("ballot".into(), serde_json::to_value(sealed).unwrap());
    lines[BALLOT] = line(&ballot);
    lines
}

#[test]
fn a_ballot_for_two_choices_or_none_is_refused() {
    use crate::crypto::ballot::{Context, context_key, seal};
    use elastic_elgamal::app::{ChoiceParams, EncryptedChoice};
    let log = LogBuilder::open((1, 1), &[("1", 2)], 1);
    let here = Context {
        election: &log.id,
        local: "1",
    };
    let params = ChoiceParams::single(context_key(log.keys().shared_key(), here), 2);
    let mut rng = StdRng::seed_from_u64(5);
    for flags in [[true, true], [false, false]] {
        let sealed = EncryptedChoice::new(&params, &flags, &mut rng);
        refused(
            &with_ballot(sealed),
            &format!("entry {BALLOT}: the ballot's proofs do not verify"),
        );
    }
    // A valid ballot, but under a key that is not the election's.
    let other = LogBuilder::open((1, 1), &[("1", 2)], 99);
    let sealed = seal(other.keys().shared_key(), here, 2, 0, &mut rng).unwrap();
    refused(
        &with_ballot(sealed),
        &format!("entry {BALLOT}: the ballot's proofs do not verify"),
    );
    // A valid ballot of this election's key, sealed for another local or another election.
    let elsewhere = Context {
        election: &log.id,
        local: "2",
    };
    let sealed = seal(log.keys().shared_key(), elsewhere, 2, 0, &mut rng).unwrap();
    refused(
        &with_ballot(sealed),
        &format!(
            "entry {BALLOT}: the ballot's proofs do not verify: it is not an encryption of exactly one of the election's choices under the election key, sealed for this election and local"
        ),
    );
    let other_id = crate::ElectionId::parse("0192c7a0-0000-4000-8000-00000000000f").unwrap();
    let another = Context {
        election: &other_id,
        local: "1",
    };
    let sealed = seal(log.keys().shared_key(), another, 2, 0, &mut rng).unwrap();
    refused(
        &with_ballot(sealed),
        &format!("entry {BALLOT}: the ballot's proofs do not verify"),
    );
    // One ciphertext per choice, no fewer.
    let sealed = seal(log.keys().shared_key(), here, 3, 0, &mut rng).unwrap();
    refused(
        &with_ballot(sealed),
        &format!("entry {BALLOT}: the ballot has 3 ciphertexts; the election has 2 choices"),
    );
}

#[test]
fn a_copied_ballot_is_refused() {
    let mut lines = entries();
    let copy = lines[BALLOT].replace(
        "7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE",
        "7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSF",
    );
    lines.insert(BALLOT + 1, copy);
    refused(
        &lines,
        &format!("entry {}: the ballot with tracker", BALLOT + 1),
    );
}

#[test]
fn a_result_is_accepted_only_when_it_is_what_the_shares_open() {
    let mut lines = entries();
    lines[RESULT] = lines[RESULT].replacen(r#""yes":1"#, r#""yes":2"#, 1);
    refused(
        &lines,
        &format!("entry {RESULT}: the result entry is not what the tellers' shares open"),
    );
    // Without the shares there is nothing to open.
    let mut lines = entries();
    lines.remove(SHARE);
    refused(
        &lines,
        &format!(
            "entry {SHARE}: the result cannot be opened: 0 of the 1 teller decryptions needed are in"
        ),
    );
}

#[test]
fn a_forged_share_or_one_from_someone_else_is_refused() {
    // Shares made with another ceremony's key share, labelled as teller 1's.
    let mut other = LogBuilder::open((1, 1), &[("1", 2)], 99);
    other.ballot("1", 0, "R");
    other.close();
    let mut lines = entries();
    let forged = {
        let count = other.count();
        let mut log = LogBuilder::open_with(lines[0].clone(), &[("1", 2)], 1);
        log.ceremony = other.ceremony.clone();
        let active = log.ceremony.tellers[0].active().unwrap();
        let shares = opened::decrypt(
            &log.definition,
            &count,
            active,
            &mut StdRng::seed_from_u64(3),
        )
        .unwrap();
        let closed = other.closed();
        let e = entry::tally_share(&log.id, 1, closed, shares, &log.identities[0]);
        String::from_utf8(e.bytes).unwrap()
    };
    lines[SHARE] = forged;
    refused(
        &lines,
        &format!("entry {SHARE}: teller 1's decryption share of sum 0 does not verify"),
    );
    // A teller the election does not have.
    let mut lines = entries();
    lines[SHARE] = lines[SHARE].replace(r#""teller":1"#, r#""teller":2"#);
    refused(&lines, &format!("entry {SHARE}: there is no teller 2"));
    // A share for a local the election does not have.
    let mut lines = entries();
    lines[SHARE] = lines[SHARE].replace(r#""shares":{"1":"#, r#""shares":{"9":"#);
    refused(
        &lines,
        &format!("entry {SHARE}: teller 1's shares do not cover exactly the totals to open"),
    );
    // Before close, and twice.
    let mut lines = entries();
    let share = lines.remove(SHARE);
    lines.insert(BALLOT + 1, share);
    refused(
        &lines,
        &format!(
            "entry {}: a `tally_share` entry while the election is open: decryption shares stand only between close and result",
            BALLOT + 1
        ),
    );
    let mut lines = entries();
    let again = lines[SHARE].clone();
    lines.insert(SHARE + 1, again);
    refused(
        &lines,
        &format!("entry {}: teller 1 decrypts twice", SHARE + 1),
    );
}

/// A closed vote of `ballots` (local, choice) under `tellers`, with the shares of `sharing`
/// (0-based tellers, in order) and the result they open.
fn decided(
    tellers: (usize, usize),
    ballots: &[(&str, usize)],
    sharing: &[usize],
    seed: u64,
) -> LogBuilder {
    let mut log = LogBuilder::open(tellers, &[("a", 40), ("b", 40)], seed);
    for (k, (local, choice)) in ballots.iter().enumerate() {
        log.ballot(local, *choice, &format!("R{k}"));
    }
    log.close();
    for &t in sharing {
        log.shares(t);
    }
    log.result();
    log
}

#[test]
fn any_two_of_three_tellers_open_the_count_and_one_does_not() {
    let ballots = [("a", 0), ("a", 1), ("a", 0), ("b", 1)];
    for pair in [[0, 1], [0, 2], [1, 2], [2, 0]] {
        let log = decided((3, 2), &ballots, &pair, 7);
        let (_, opened) = verify(&log.lines).unwrap().result.unwrap();
        let mut tellers = pair.map(|t| t as u32 + 1).to_vec();
        assert_eq!(opened.tellers, tellers);
        tellers.sort_unstable();
        assert_eq!((opened.totals["a"].yes, opened.totals["a"].no), (2, 1));
        assert_eq!((opened.totals["b"].yes, opened.totals["b"].no), (0, 1));
    }
    let mut log = LogBuilder::open((3, 2), &[("a", 40), ("b", 40)], 7);
    log.ballot("a", 0, "R");
    log.close();
    log.shares(1);
    let count = log.count();
    let shares = log.logged_shares();
    let err = opened::open(&log.definition, log.keys(), &count, &shares).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 of the 2 teller decryptions needed are in; 1 more needed"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Decrypted per-local counts equal a plaintext recount kept beside the log, for random
    /// ballots and teller sets from 1-of-1 to 3-of-5, with any `threshold` of the tellers.
    #[test]
    fn the_verified_result_is_the_plaintext_recount(
        tellers in prop_oneof![Just((1usize, 1usize)), Just((2, 2)), Just((3, 2)), Just((5, 3))],
        ballots in proptest::collection::vec((prop_oneof![Just("a"), Just("b")], 0usize..2), 0..25),
        order in Just(vec![4usize, 0, 3, 1, 2]).prop_shuffle(),
        seed in any::<u64>(),
    ) {
        let sharing: Vec<usize> = order.into_iter().filter(|&t| t < tellers.0).take(tellers.1).collect();
        let log = decided(tellers, &ballots, &sharing, seed);
        let (_, opened) = verify(&log.lines).unwrap().result.unwrap();
        for local in ["a", "b"] {
            let yes = ballots.iter().filter(|(l, c)| *l == local && *c == 0).count() as u64;
            let no = ballots.iter().filter(|(l, c)| *l == local && *c == 1).count() as u64;
            let got = opened.totals.get(local).copied().unwrap_or_default();
            prop_assert_eq!((got.yes, got.no), (yes, no));
        }
    }

    /// Small locals: for random elections with locals below the minimum, every total a teller
    /// shares covers at least the minimum (counted from the log's ballot entries, not from the
    /// code that forms the totals), and the verified result is a plaintext recount in which the
    /// small locals' ballots are added up together and the group's share decides for each.
    #[test]
    fn no_share_covers_fewer_ballots_than_the_minimum_and_merged_results_are_the_recount(
        ballots in proptest::collection::vec((0usize..5, 0usize..2), 1..22),
        min in 2u32..7,
        seed in any::<u64>(),
    ) {
        let codes = ["a", "b", "c", "d", "e"];
        let locals: Vec<(&str, u64)> = codes.iter().map(|c| (*c, 30)).collect();
        let mut log = LogBuilder::open_min((3, 2), &locals, min, seed);
        for (k, (local, choice)) in ballots.iter().enumerate() {
            log.ballot(codes[*local], *choice, &format!("R{k}"));
        }
        log.close();
        let per_local = |code: &str| ballots.iter().filter(|(l, _)| codes[*l] == code).count() as u64;
        if ballots.len() < min as usize {
            // Too few ballots in the whole election: no teller computes a share.
            let count = log.count();
            let active = log.ceremony.tellers[0].active().unwrap();
            let refused = opened::decrypt(&log.definition, &count, active, &mut StdRng::seed_from_u64(1));
            prop_assert!(matches!(refused, Err(TallyError::TooFewBallots { .. })), "{:?}", refused.map(|_| ()));
            return Ok(());
        }
        log.shares(0);
        log.shares(2);
        log.result();
        let report = verify(&log.lines).unwrap();
        let (results, _) = report.result.unwrap();
        let result = fields(log.lines.last().unwrap());
        let group_locals: Vec<String> = match &result["group"] {
            Value::Null => Vec::new(),
            g => g["locals"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect(),
        };
        for share in log.logged_shares() {
            for key in share.shares.keys() {
                let covered = if key == "small-locals" {
                    group_locals.iter().map(|l| per_local(l)).sum()
                } else {
                    prop_assert!(!group_locals.contains(key));
                    per_local(key)
                };
                prop_assert!(covered >= u64::from(min), "a share of `{}` covers {} ballots (minimum {})", key, covered, min);
            }
        }
        let count_of = |locals: &[&str], choice: usize| {
            ballots.iter().filter(|(l, c)| locals.contains(&codes[*l]) && *c == choice).count() as u64
        };
        let grouped: Vec<&str> = group_locals.iter().map(String::as_str).collect();
        for (i, code) in codes.iter().enumerate() {
            let n = per_local(code);
            if n > 0 && n < u64::from(min) {
                prop_assert!(grouped.contains(code), "local {} has {} ballots and is not merged", code, n);
            }
            let decided_by: Vec<&str> = if grouped.contains(code) { grouped.clone() } else { vec![*code] };
            let (yes, no) = (count_of(&decided_by, 0), count_of(&decided_by, 1));
            let local = &results.locals[i];
            // The example's threshold: more than half (no local threshold).
            prop_assert_eq!(local.passed, 2 * yes > yes + no);
            prop_assert_eq!(local.cast, n);
            match local.counts {
                Some(c) => prop_assert_eq!((c.yes, c.no), (yes, no)),
                None => prop_assert!(grouped.contains(code)),
            }
        }
        let all: Vec<&str> = codes.to_vec();
        prop_assert_eq!(results.popular.counts.yes, count_of(&all, 0));
        prop_assert_eq!(results.popular.counts.no, count_of(&all, 1));
    }
}

/// Replaces a teller-signed entry's body and signs it again with `identity`.
fn resigned(
    line: &str,
    identity: &Identity,
    change: impl FnOnce(&mut Map<String, Value>),
) -> String {
    let mut f = fields(line);
    change(&mut f);
    f.shift_remove("signature");
    let mut entry = Entry::parse(self::line(&f).as_bytes()).unwrap();
    identity.sign_entry(&mut entry);
    String::from_utf8(entry.to_bytes()).unwrap()
}

#[test]
fn a_ceremony_message_not_signed_by_its_tellers_identity_key_is_refused() {
    // The relay's trick: another recipient in teller 1's key entry, signature kept.
    let mut lines = entries();
    let key = fields(&lines[KEY]);
    let mut swapped = key.clone();
    swapped.insert(
        "recipient".into(),
        "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg".into(),
    );
    lines[KEY] = line(&swapped);
    refused(
        &lines,
        &format!(
            "entry {KEY}: teller 1's key entry: its signature is not the teller's identity key's"
        ),
    );
    // The same, signed again by the relay's own key: the entry verifies on its own (the
    // tellers' fingerprints are what catch it), but every later message of teller 1 no longer
    // does.
    let relay = Identity::from_seed(&[0x99; 32]);
    let mut lines = entries();
    lines[KEY] = resigned(&lines[KEY], &relay, |f| {
        f.insert("identity".into(), relay.public_hex().into());
    });
    refused(
        &lines,
        &format!(
            "entry {POLYNOMIAL}: teller 1's `teller_polynomial` entry: its signature is not the teller's identity key's"
        ),
    );
    // No signature at all.
    let mut lines = entries();
    let mut f = fields(&lines[READY]);
    f.shift_remove("signature");
    lines[READY] = line(&f);
    refused(
        &lines,
        &format!("entry {READY}: teller 1's `teller_ready` entry: it carries no signature"),
    );
}

#[test]
fn the_report_names_every_tellers_fingerprint_and_the_log_up_to_the_close() {
    let report = verify(&entries()).unwrap();
    let teller = Identity::from_seed(&[0x61; 32]);
    assert_eq!(report.tellers[&1], teller.fingerprint());
    let closed = report.closed.clone().unwrap();
    assert_eq!(closed.size, CLOSE as u64 + 1, "the close is entry {CLOSE}");
    let shown = report.to_string();
    assert!(
        shown.contains(&format!("teller 1   identity {}", teller.fingerprint())),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("closed    at entry {CLOSE}")),
        "{shown}"
    );
}

#[test]
fn a_decryption_share_bound_to_another_log_or_signed_by_another_key_is_refused() {
    // Shares made on a log whose close prefix differs (another ballot before the close).
    let mut lines = entries();
    let teller = Identity::from_seed(&[0x61; 32]);
    lines[SHARE] = resigned(&lines[SHARE], &teller, |f| {
        f.insert(
            "closed".into(),
            serde_json::json!({"size": CLOSE + 1, "root": "AAAA"}),
        );
    });
    refused(
        &lines,
        &format!(
            "entry {SHARE}: teller 1's shares were made on another log (up to its close: size {}, root AAAA), not this one",
            CLOSE + 1
        ),
    );
    // Right log, signed by someone else.
    let mut lines = entries();
    lines[SHARE] = resigned(&lines[SHARE], &Identity::from_seed(&[0x99; 32]), |_| {});
    refused(
        &lines,
        &format!(
            "entry {SHARE}: teller 1's `tally_share` entry: its signature is not the teller's identity key's"
        ),
    );
}

/// The worked example with entry `at`'s fields changed.
fn changed(at: usize, change: impl FnOnce(&mut Map<String, Value>)) -> Vec<String> {
    let mut lines = entries();
    let mut f = fields(&lines[at]);
    change(&mut f);
    lines[at] = line(&f);
    lines
}

/// The worked example with entry 0's definition changed.
fn redefined(change: impl FnOnce(&mut Map<String, Value>)) -> Vec<String> {
    changed(0, change)
}

/// Each tampering an auditor tried as an insider would (the log re-signed with the real key):
/// the log, the entry the verifier must name, and the words of the rule it must give.
fn tampered_logs() -> Vec<(&'static str, Vec<String>, usize, &'static str)> {
    let mut out = Vec::new();
    let mut add = |name, lines: Vec<String>, at, rule| out.push((name, lines, at, rule));
    let mut lines = entries();
    let certify = lines.remove(CERTIFY);
    lines.insert(RESULT, certify);
    add(
        "certify before the result",
        lines,
        RESULT,
        "`certify` while the election is closed",
    );
    let mut lines = entries();
    lines.push(lines[CERTIFY].clone());
    add(
        "certify twice",
        lines,
        CERTIFY + 1,
        "`certify` while the election is certified",
    );
    let lines = changed(CERTIFY, |f| {
        f.insert("by".into(), "schedule".into());
    });
    add(
        "certify by the schedule",
        lines,
        CERTIFY,
        "the schedule only opens and closes",
    );
    let lines = redefined(|f| {
        f.insert(
            "reminders".into(),
            serde_json::json!(["2026-10-05T00:00:00Z"]),
        );
    });
    add("a reminder after the vote closes", lines, 0, "reminders[0]");
    let lines = changed(CERTIFY, |f| {
        f.insert("by".into(), "mail".into());
    });
    add(
        "certify by the outbox",
        lines,
        CERTIFY,
        "the outbox only issues and replaces tokens",
    );
    let lines = changed(MAILED, |f| {
        f.insert("action".into(), "tokens_reissue".into());
        f.insert("by".into(), ALICE.into());
    });
    add(
        "tokens replaced in bulk by an official, not the outbox",
        lines,
        MAILED,
        "only the outbox (`mail`) replaces tokens",
    );
    let lines = changed(REISSUE, |f| {
        f.insert("by".into(), "mail".into());
    });
    add(
        "one member's token replaced by the outbox",
        lines,
        REISSUE,
        "the outbox only issues and replaces tokens",
    );
    let lines = changed(MAILED, |f| {
        f.insert("approved_by".into(), BOB.into());
    });
    add(
        "the outbox's issue approved by an official",
        lines,
        MAILED,
        "approved_by` on an action of the server's console, schedule or outbox",
    );
    let mut lines = entries();
    lines.insert(CREATE + 1, lines[CREATE].clone());
    add("create twice", lines, CREATE + 1, "a second `create`");
    let lines = changed(CLOSE - 1, |f| {
        f.shift_remove("approved_by");
    });
    add(
        "an early close with no approval",
        lines,
        CLOSE,
        "with no `approved_by`",
    );
    let lines = changed(CLOSE - 1, |f| {
        f.insert("by".into(), "cli:root".into());
        f.insert("approved_by".into(), "bob".into());
    });
    add(
        "an approval on a console close",
        lines,
        CLOSE - 1,
        "`approved_by` on an action of the server's console",
    );
    sealing_tampered(&mut add);
    restart_tampered(&mut add);
    // The account rules (entries 16 and 17 are `account` entries).
    let lines = changed(TOKEN, |f| {
        f.shift_remove("approved_by");
    });
    add(
        "an admin's API token during the vote with no approval",
        lines,
        TOKEN,
        "does `api_token_create` for the admin account `alice` while the vote is open, with no `approved_by`",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("role".into(), "admin".into());
        f.insert("by".into(), "alice".into());
        f.insert("approved_by".into(), "bob".into());
    });
    let mut lines = lines;
    let mut close = fields(&lines[CLOSE - 1]);
    close.insert("approved_by".into(), "carol".into());
    lines[CLOSE - 1] = line(&close);
    add(
        "an early close approved by an account created during the vote",
        lines,
        CLOSE - 1,
        "`carol` takes part in an approved action, but its account was created after the vote opened",
    );
    let lines = changed(TOKEN, |f| {
        f.insert("account".into(), "bob".into());
    });
    add(
        "an API token made for another official",
        lines,
        TOKEN,
        "alice creates an API token for `bob`",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("approved_by".into(), "bob".into());
    });
    add(
        "an approval on the console's account change",
        lines,
        ACCOUNT,
        "`approved_by` on an action of the server's console",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("by".into(), "alice".into());
        f.insert("approved_by".into(), "bob".into());
    });
    add(
        "an approval on an observer's account",
        lines,
        ACCOUNT,
        "`approved_by` on an account `create` for an account of role observer",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("action".into(), "disable".into());
        f.insert("by".into(), "carol".into());
    });
    add(
        "an official disables their own account",
        lines,
        ACCOUNT,
        "carol disables their own account",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("action".into(), "promote".into());
    });
    add(
        "an unknown account action",
        lines,
        ACCOUNT,
        "unknown variant `promote`",
    );
    let mut lines = entries();
    lines.insert(ACCOUNT + 1, lines[ACCOUNT].clone());
    add(
        "an account created twice",
        lines,
        ACCOUNT + 1,
        "a second `create` of the account `carol`",
    );
    let mut lines = entries();
    lines.push(lines[ACCOUNT].clone());
    add(
        "an account change after certification",
        lines,
        CERTIFY + 1,
        "a `account` entry while the election is certified",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("by".into(), "schedule".into());
    });
    add(
        "an account change by the schedule",
        lines,
        ACCOUNT,
        "an account change by `schedule`",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("by".into(), "mail".into());
    });
    add(
        "an account change by the outbox",
        lines,
        ACCOUNT,
        "an account change by `mail`",
    );
    let lines = changed(ACCOUNT, |f| {
        f.insert("password".into(), "hunter2hunter2".into());
    });
    add(
        "a password in an account entry",
        lines,
        ACCOUNT,
        "unknown field `password`",
    );
    let lines = changed(OPEN - 1, |f| {
        f.insert("by".into(), "alice".into());
        f.insert("approved_by".into(), "bob".into());
    });
    add(
        "an approval on an open",
        lines,
        OPEN - 1,
        "`approved_by` on `open`",
    );
    let mut lines = entries();
    lines.remove(REISSUE + 1);
    add(
        "a reissue without its token_reissued",
        lines,
        REISSUE + 1,
        "not followed by its `token_reissued`",
    );
    let mut lines = entries();
    lines.insert(ROSTER + 1, lines[ROSTER].clone());
    add(
        "an unchanged roster entry repeated",
        lines,
        ROSTER + 1,
        "repeats its previous one",
    );
    let lines = changed(ROSTER, |f| {
        f.insert(
            "digest".into(),
            hex::encode(entry::roster_digest([])).into(),
        );
    });
    add(
        "an empty roster's digest on a local with members",
        lines,
        ROSTER,
        "the digest of an empty roster",
    );
    let lines = changed(MAILED + 1, |f| {
        f.insert("count".into(), 3.into());
    });
    add(
        "tokens_issued.count not the sum",
        lines,
        MAILED + 1,
        "has count 3 but its locals add up to 2",
    );
    let lines = changed(CLOSE, |f| {
        f.insert("at".into(), "2026-09-30T07:00:00Z".into());
    });
    add("a close before the open", lines, CLOSE, "before it opened");
    let lines = changed(BALLOT, |f| {
        f.insert("receipt".into(), "hello".into());
    });
    add("the receipt `hello`", lines, BALLOT, "is not a receipt");
    let lines = changed(BALLOT, |f| {
        f.insert(
            "receipt".into(),
            "7k2m-9qxr-4hwd-b8nt-c3jf-6ypa-0vse".into(),
        );
    });
    add("a lower-case receipt", lines, BALLOT, "is not a receipt");
    let mut lines = entries();
    lines[KEY] = resigned(&lines[KEY], &Identity::from_seed(&[0x61; 32]), |f| {
        f.insert("recipient".into(), "age1notbech32".into());
    });
    add(
        "a recipient that is not bech32",
        lines,
        KEY,
        "is not an age X25519 recipient",
    );
    let lines = redefined(|f| {
        f.insert("title".into(), "".into());
    });
    add("an empty title", lines, 0, "title: may not be empty");
    let lines = redefined(|f| {
        f["tellers"]["names"] = serde_json::json!(["Ana", "Ben"]);
    });
    add(
        "names for 2 of 1 tellers",
        lines,
        0,
        "lists 2 names for 1 tellers",
    );
    let lines = redefined(|f| {
        f.insert("time_zone".into(), "Mars/Olympus".into());
    });
    add("an unknown time zone", lines, 0, "is not a time zone name");
    let lines = redefined(|f| {
        f.insert("closes_at".into(), "2026-10-01T07:00:00Z".into());
    });
    add(
        "opens_at = closes_at",
        lines,
        0,
        "the vote must close after it opens",
    );
    let lines = redefined(|f| {
        f.insert("contact".into(), "call\nme".into());
    });
    add("a contact with a newline", lines, 0, "contact:");
    let lines = redefined(|f| {
        f.insert(
            "translations".into(),
            serde_json::json!({"spa": {"title": "Ejemplo", "question": "¿Huelga?", "labels": {}}}),
        );
    });
    add(
        "a translation code `spa`",
        lines,
        0,
        "a language is a two-letter code",
    );
    let lines = redefined(|f| {
        f.insert("labels".into(), serde_json::json!({"abstain": "I abstain"}));
    });
    add(
        "a label for a choice not offered",
        lines,
        0,
        "labels only a choice the ballot offers",
    );
    let mut lines = entries();
    let reissue: Vec<String> = lines.drain(REISSUE..REISSUE + 2).collect();
    lines.splice(OPEN - 1..OPEN - 1, reissue);
    add(
        "a reissue during the vote with no approval",
        lines,
        OPEN - 1,
        "while the vote is open, with no `approved_by`",
    );
    let mut lines = redefined(|f| {
        // In the order entry 0 writes its fields: the rule before the witnesses.
        let witnesses = f.remove("witnesses");
        f.insert("two_person_rule".into(), false.into());
        f.extend(witnesses.map(|w| ("witnesses".to_owned(), w)));
    });
    lines.truncate(CLOSE);
    add(
        "an approval with the two-person rule off",
        lines,
        CLOSE - 1,
        "`approved_by` on `close` with the rule off",
    );
    let lines = changed(REISSUE, |f| {
        f.insert("approved_by".into(), "bob".into());
    });
    add(
        "an approval on a reissue before the vote",
        lines,
        REISSUE,
        "`approved_by` on `token_reissue`: the two-person rule covers only",
    );
    let lines = changed(OPEN, |f| {
        f.insert("at".into(), "2026-09-30T07:00:00Z".into());
    });
    add(
        "the schedule opening before opens_at",
        lines,
        OPEN,
        "the schedule opens the vote before the definition's `opens_at`",
    );
    let lines = changed(ROSTER, |f| {
        let upper = f["digest"].as_str().unwrap().to_uppercase();
        f.insert("digest".into(), upper.into());
    });
    add(
        "a roster digest in upper case",
        lines,
        ROSTER,
        "is not 64 lowercase hex digits",
    );
    let mut log = LogBuilder::open((1, 1), &[("1", 2)], 5);
    for k in 0..3 {
        log.ballot("1", 0, &format!("R{k}"));
    }
    let at = log.lines.len() - 1;
    add(
        "more ballots than eligible members",
        log.lines,
        at,
        "local 1 has more ballots (3) than eligible members (2)",
    );
    let lines = changed(ROSTER, |f| {
        f.insert("local".into(), "9".into());
    });
    add(
        "a roster for a local the definition does not have",
        lines,
        ROSTER,
        "local `9` is not one of the election's",
    );
    let lines = changed(CREATE, |f| {
        f.insert("action".into(), "delete_ballots".into());
    });
    add(
        "an unknown action",
        lines,
        CREATE,
        "unknown variant `delete_ballots`",
    );
    out
}

/// A two-teller log (2 of 2) whose ceremony — the builder's (identities `0x61`, `0x62`) — is
/// preceded, from entry 2, by the entries `before` makes: (teller, identity seed) for each
/// `teller_key`, and the tellers each restart replaces (an official's `admin` then the
/// `ceremony_restart`).
fn restarted(keys: &[(u32, u8)], restarts: &[&[u32]]) -> Vec<String> {
    let log = LogBuilder::open((2, 2), &[("1", 2)], 5);
    let id = log.id;
    let mut lines = log.lines;
    let rest = lines.split_off(2);
    for &(teller, seed) in keys {
        let identity = Identity::from_seed(&[seed; 32]);
        let key = entry::teller_key(&id, teller, &identity, RECIPIENT, &[seed; 32]);
        lines.push(String::from_utf8(key.bytes).unwrap());
    }
    for replaced in restarts {
        let restart = [
            entry::admin(&id, AdminAction::CeremonyRestart, ALICE),
            entry::ceremony_restart(&id, replaced),
        ];
        lines.extend(restart.map(|e| String::from_utf8(e.bytes).unwrap()));
    }
    lines.extend(rest);
    lines
}

/// Teller 1 (identity seed `0x51`) and teller 2 (seed `stayed`) publish keys, then a restart
/// replaces teller 1.
fn restarted_with(stayed: u8) -> Vec<String> {
    restarted(&[(1, 0x51), (2, stayed)], &[&[1]])
}

/// Tellers 1 and 2 publish keys (seeds `0x51`, `0x52`), a restart replaces teller 1, teller 2
/// vanishes before publishing again, and a second restart names `second` (teller 2, whose seat
/// the first left them). The second restart is entry 7.
fn restarted_twice(second: u32) -> Vec<String> {
    restarted(&[(1, 0x51), (2, 0x52)], &[&[1], &[second]])
}

#[test]
fn a_seat_left_by_a_teller_who_vanished_after_a_restart_is_replaced_by_the_next() {
    // Before: a restart could name only tellers who had published since the last one, but a
    // teller who stayed through a restart still held their seat (their identity key carried
    // over): a second teller vanishing after a restart blocked the ceremony for good.
    let report = verify(&restarted_twice(2)).unwrap();
    let fingerprint = |seed: u8| Identity::from_seed(&[seed; 32]).fingerprint();
    assert_eq!(report.tellers[&1], fingerprint(0x61));
    assert_eq!(report.tellers[&2], fingerprint(0x62));
    assert_eq!(report.types["ceremony_restart"], 2);
}

#[test]
fn a_restart_voids_the_ceremony_before_it_and_the_teller_who_stays_keeps_their_key() {
    let report = verify(&restarted_with(0x62)).unwrap();
    assert_eq!(report.phase, "open");
    // The report names the tellers of the ceremony that stands, not the one replaced.
    let fingerprint = |seed: u8| Identity::from_seed(&[seed; 32]).fingerprint();
    assert_eq!(report.tellers[&1], fingerprint(0x61));
    assert_eq!(report.tellers[&2], fingerprint(0x62));
    assert_eq!(report.types["ceremony_restart"], 1);
    // The worked example restarts too: its first teller's key counts for nothing.
    let report = verify(&entries()).unwrap();
    assert_eq!(report.tellers[&1], fingerprint(0x61));
}

/// Tamperings with a restart of the key ceremony (format v9).
fn restart_tampered(add: &mut impl FnMut(&'static str, Vec<String>, usize, &'static str)) {
    add(
        "a teller who stayed through a restart publishes another identity key",
        restarted_with(0x72),
        7,
        "teller 2 kept their seat when the ceremony restarted but publishes another identity key",
    );
    let mut lines = entries();
    lines[KEY] = lines[DEPARTED].clone();
    add(
        "the replaced teller's identity key published again",
        lines,
        KEY,
        "the identity key of a teller replaced when the ceremony restarted",
    );
    let mut lines = entries();
    lines.remove(DEPARTED);
    add(
        "a restart replacing a teller who published nothing",
        lines,
        RESTART,
        "who holds no seat (never published a key, or was replaced since)",
    );
    // Teller 1, replaced by the first restart, named again by the second.
    add(
        "a second restart naming the teller the first replaced",
        restarted_twice(1),
        7,
        "who holds no seat (never published a key, or was replaced since)",
    );
    // The restart moved after the ceremony completed.
    let mut lines = entries();
    let restart: Vec<String> = lines.drain(DEPARTED..=RESTART + 1).skip(1).collect();
    // The ceremony now stands at 2–5.
    let after = READY - 2;
    lines.splice(after..after, restart);
    add(
        "a restart of a complete ceremony",
        lines,
        after + 1,
        "a restart of a complete key ceremony",
    );
    let lines = changed(RESTART, |f| {
        f.insert("by".into(), "schedule".into());
    });
    add(
        "a restart by the schedule",
        lines,
        RESTART,
        "the schedule only opens and closes",
    );
    let mut lines = entries();
    lines.remove(RESTART);
    add(
        "a restart entry without the official's action",
        lines,
        RESTART,
        "right after an `admin` `ceremony_restart`",
    );
    let lines = changed(RESTART + 1, |f| {
        f.insert("replaced".into(), serde_json::json!([]));
    });
    add(
        "a restart naming no teller",
        lines,
        RESTART + 1,
        "a restart names its replaced tellers once each",
    );
    // Without the new teller's key, the polynomial stands on the voided one.
    let mut lines = entries();
    lines.remove(KEY);
    add(
        "a polynomial on a key from before the restart",
        lines,
        KEY,
        "a polynomial before every teller's commitment",
    );
}

/// A `sealing_code` entry naming `code` at `at`.
fn sealing_code_line(code: &str, at: &str) -> String {
    format!(
        r#"{{"v":9,"type":"sealing_code","election":"{E}","at":"{at}","sealing_code":"{code}"}}"#
    )
}

/// Tamperings with who sealed what, and with the challenges (format v7).
fn sealing_tampered(add: &mut impl FnMut(&'static str, Vec<String>, usize, &'static str)) {
    let code = worked_example::SEALING_CODE;
    let lines = changed(BALLOT, |f| {
        f.insert("sealed_by".into(), "server".into());
    });
    add(
        "a server-sealed ballot naming a sealing code",
        lines,
        BALLOT,
        "a ballot the server sealed names a sealing code",
    );
    let lines = changed(BALLOT, |f| {
        f.insert("sealing_code".into(), "b".repeat(64).into());
    });
    add(
        "a ballot naming a sealing code the log never named",
        lines,
        BALLOT,
        "is not named by an `open` or `sealing_code` entry before it",
    );
    let lines = changed(OPEN, |f| {
        f.insert("sealing_code".into(), "AB".repeat(32).into());
    });
    add(
        "an open entry whose sealing code is not lowercase hex",
        lines,
        OPEN,
        "`sealing_code` is not 64 lowercase hex digits",
    );
    add(
        "a sealing code named twice",
        with(&sealing_code_line(code, "2026-10-02T00:00:00Z"), CHALLENGE),
        CHALLENGE,
        "is named twice",
    );
    add(
        "a sealing code named before the vote opens",
        with(
            &sealing_code_line(&"c".repeat(64), "2026-10-01T00:00:00Z"),
            OPEN - 1,
        ),
        OPEN - 1,
        "`sealing_code` entry while the election is draft",
    );
    add(
        "a sealing code named before the previous one's time",
        with(
            &sealing_code_line(&"c".repeat(64), "2026-09-30T00:00:00Z"),
            CHALLENGE,
        ),
        CHALLENGE,
        "before the previous one",
    );
    let lines = changed(CHALLENGE, |f| {
        f.insert("choice".into(), "yes".into());
    });
    add(
        "a challenge claiming another choice than its ballot held",
        lines,
        CHALLENGE,
        "the sealing code did not seal what it said",
    );
    let lines = changed(CHALLENGE, |f| {
        f.insert("local".into(), "2".into());
    });
    add(
        "a challenge moved to a local the election lacks",
        lines,
        CHALLENGE,
        "local `2` is not one of the election's",
    );
    let lines = changed(CHALLENGE, |f| {
        let r = f["randomness"][0].as_str().unwrap().to_owned();
        f["randomness"][0] = format!("{r}=").into();
    });
    add(
        "a challenge's randomness with padding",
        lines,
        CHALLENGE,
        "base64url (no padding) of 32 bytes",
    );
    let lines = changed(CHALLENGE, |f| {
        f["randomness"].as_array_mut().unwrap().pop();
    });
    add(
        "a challenge with one randomness too few",
        lines,
        CHALLENGE,
        "not one randomness per option",
    );
    let lines = changed(CHALLENGE, |f| {
        f.insert("choice".into(), "maybe".into());
    });
    add(
        "a challenge for a choice the election lacks",
        lines,
        CHALLENGE,
        "`maybe` is not one of the election's",
    );
    let mut lines = entries();
    let challenge = lines[CHALLENGE].clone();
    lines.insert(CHALLENGE + 1, challenge);
    add(
        "the same ballot checked twice",
        lines,
        CHALLENGE + 1,
        "a checked ballot is never cast, nor checked again",
    );
    let mut lines = entries();
    let challenge = lines.remove(CHALLENGE);
    lines.insert(CLOSE, challenge);
    add(
        "a challenge after the close",
        lines,
        CLOSE,
        "`challenge` entry while the election is closed",
    );
}

#[test]
fn a_checked_ballot_can_never_be_cast_and_the_report_counts_who_sealed_what() {
    // The member's page sealed `no`, the member checked it; then a ballot with the very
    // ciphertexts of the checked one is cast (what a server keeping checked ballots would do).
    let mut log = LogBuilder::open((1, 1), &[("1", 3)], 5);
    log.issue_tokens();
    let challenge = log.challenge("1", 1);
    let randomness = challenge.randomness_bytes().unwrap();
    let key = log.keys().shared_key().clone();
    let id = log.id;
    let context = crate::crypto::ballot::Context {
        election: &id,
        local: "1",
    };
    assert_eq!(
        hex::encode(
            crate::crypto::ballot::resealed_tracker(&key, context, 2, 1, &randomness).unwrap()
        ),
        challenge.tracker
    );
    log.ballot("1", 0, "R1");
    log.server_ballot("1", 1, "R2");
    log.close();
    let report = verify(&log.lines).unwrap();
    let code = worked_example::SEALING_CODE;
    assert_eq!(report.sealing.codes.len(), 1);
    assert_eq!(report.sealing.codes[0].code, code);
    assert_eq!(
        report.sealing.codes[0].uses,
        Uses {
            ballots: 1,
            challenges: 1
        }
    );
    assert_eq!(report.sealing.server, 1);
    assert_eq!(report.sealing.challenges.len(), 1);
    assert_eq!(report.sealing.challenges[0].choice, "no");
    let shown = report.to_string();
    assert!(
        shown.contains(&format!(
            "sealed          1 ballot(s), 1 checked first (every one held its stated choice): members' pages running sealing code {code} (named from 2026-10-01T07:00:00Z)"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("sealed          1 ballot(s) by the server from a plain choice"),
        "{shown}"
    );
    // A ballot with the checked one's ciphertexts (what a server keeping checked ballots
    // could cast for its member) is refused: its tracker was revealed.
    let remade = crate::crypto::ballot::resealed(&key, context, 2, 1, &randomness).unwrap();
    let mut copied = log.lines.clone();
    let at = copied
        .iter()
        .position(|l| l.contains(r#""receipt""#))
        .unwrap();
    let mut f = fields(&copied[at]);
    f["ballot"]["choices"] = serde_json::to_value(&remade).unwrap();
    copied[at] = line(&f);
    let err = verify(&copied).unwrap_err();
    assert!(
        err.0.contains(&format!(
            "entry {at}: the ballot with tracker {}",
            challenge.tracker
        )) && err.0.contains("appears twice"),
        "{err}"
    );
}

#[test]
fn every_rule_the_documents_state_is_checked_on_a_resigned_log() {
    let all = tampered_logs();
    assert_eq!(all.len(), 69);
    for (name, lines, at, rule) in all {
        match verify(&lines) {
            Ok(_) => panic!("{name}: accepted"),
            Err(Failure(m)) => {
                assert!(
                    m.starts_with(&format!("entry {at}: ")) && m.contains(rule),
                    "{name}: expected entry {at} and `{rule}`, got: {m}"
                );
            }
        }
    }
}

/// Runs the independent verifier (tests/interop/verify_bundle.py, written from the documents
/// alone) on `lines`, signed: whether it accepts, and what it says.
fn python_verify(lines: &[String], dir: &std::path::Path) -> (bool, String) {
    let (log, note, key) = signed(lines);
    python_verify_bundle((&log, &note, &key), dir)
}

/// Runs the independent verifier on a bundle's three files.
fn python_verify_bundle(
    (log, note, key): (&str, &str, &str),
    dir: &std::path::Path,
) -> (bool, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/verify_bundle.py"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(LOG_FILE), log).unwrap();
    std::fs::write(dir.join(CHECKPOINT_FILE), note).unwrap();
    std::fs::write(dir.join(KEY_FILE), key).unwrap();
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(dir)
        .args(["--key", key])
        .output()
        .expect("python3 runs the independent verifier");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn an_outsiders_verifier_agrees_on_every_tampered_log() {
    let dir = std::env::temp_dir().join(format!("sv-tampered-{}", std::process::id()));
    let (ok, said) = python_verify(&entries(), &dir.join("example"));
    assert!(ok, "the worked example: {said}");
    let (ok, said) = python_verify(&restarted_with(0x62), &dir.join("restarted"));
    assert!(ok, "a restarted ceremony: {said}");
    let (ok, said) = python_verify(&restarted_twice(2), &dir.join("restarted-twice"));
    assert!(ok, "a ceremony restarted twice: {said}");
    for (k, (name, lines, at, _)) in tampered_logs().into_iter().enumerate() {
        let (ok, said) = python_verify(&lines, &dir.join(k.to_string()));
        assert!(
            !ok && said.contains(&format!("entry {at}: ")),
            "{name}: the outsider's verifier says: {said}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_without_the_quorum_of_witnesses_entry_0_lists_fails_both_verifiers() {
    let lines = entries();
    let (log, note, key) = signed(&lines);
    let (ok, said) = python_verify_bundle((&log, &note, &key), &bundle_dir("cosigned", &[]));
    assert!(
        ok && said.contains("cosigned_by=witness.example.net"),
        "{said}"
    );
    let log_only = note
        .lines()
        .take(5)
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    // Another witness's key under the same name; a cosignature of another tree size.
    let impostor =
        crate::witness::WitnessKey::from_seed("witness.example.net", &[0x44; 32]).unwrap();
    let (_, shorter, _) = signed(&lines[..lines.len() - 1]);
    let text = &note[..note.find("\n\n").unwrap() + 1];
    let stale_line = shorter.lines().last().unwrap();
    let cases = [
        ("no cosignature", log_only.clone(), "cosigned by 0 of the 1"),
        (
            "a cosignature by another key",
            format!("{log_only}{}", impostor.cosign(text, 5)),
            "cosigned by 0 of the 1",
        ),
        (
            "a cosignature of another checkpoint",
            format!("{log_only}{stale_line}\n"),
            "do not verify",
        ),
    ];
    for (k, (name, checkpoint, expected)) in cases.into_iter().enumerate() {
        let ours = verify_bundle(log.as_bytes(), &checkpoint, &key).unwrap_err();
        assert!(ours.0.contains(expected), "{name}: {ours}");
        let dir = bundle_dir(&format!("uncosigned-{k}"), &[]);
        let (ok, said) = python_verify_bundle((&log, &checkpoint, &key), &dir);
        assert!(!ok && said.contains("witness"), "{name}: {said}");
    }
}

#[test]
fn the_report_of_the_worked_example_reads_line_for_line() {
    // What `audit verify` prints: a local shows only the choices that got a ballot.
    let report = verify(&entries()).unwrap();
    let expected = format!(
        "election  {E} — Example
origin    vote.example.org/elections/{E}
key       fe81-2c12-f3ab-4ce6-ac5d-b69a-c352-f906
entries   26 (root UyBQtb548a6kSHPOdpIv1BDAVW5TVoa4XHhHNBf3mG4=)
witnesses cosigned by witness.example.net
phase     certified
types     account 2, admin 8, ballot 1, ceremony_restart 1, challenge 1, close 1, election 1, election_key 1, open 1, result 1, roster 1, tally_share 1, teller_key 2, teller_polynomial 1, teller_ready 1, token_reissued 1, tokens_issued 1
local 1          eligible       2  ballots       1  yes 1
sealed          1 ballot(s), 1 checked first (every one held its stated choice): members' pages running sealing code a021924a702acebfcd85b3a4d704760386b53c081af974afd72bd89b56ded0d4 (named from 2026-10-01T07:00:00Z)
sealed          0 ballot(s) by the server from a plain choice (pages without JavaScript, API clients sending a choice)
replaced  teller 1 (identity 9DSN-NGBM-WG33-CM3Q) when the key ceremony restarted
teller 1   identity MF3P-3SBD-AQT5-W1N3
closed    at entry 22 (log up to the close: root PdMQkIgALxYLsr4xeduq2vWfIH1P5XjAPnNVqE+940g=, code 7Q9H-1448)
shares    checked from teller(s) 1
result    opened by teller(s) 1 and checked: PASSED (popular 100.00% yes, passes; delegates 0–0, fails; quorum met)
"
    );
    assert_eq!(report.to_string(), expected);
    // Before any share, no shares line and no result line.
    let report = verify(&entries()[..SHARE]).unwrap();
    let shown = report.to_string();
    assert!(
        !shown.contains("shares") && !shown.contains("result "),
        "{shown}"
    );
    assert!(
        shown.contains("local 1          eligible       2  ballots       1  \n"),
        "{shown}"
    );
}

#[test]
fn the_fold_gives_the_root_of_every_prefix_and_nothing_beyond() {
    let lines = entries();
    let (log, note, key) = signed(&lines);
    let (_, fold) = verify_and_fold(log.as_bytes(), &note, &key).unwrap();
    let leaves: Vec<merkle::Hash> = lines
        .iter()
        .map(|l| merkle::leaf_hash(l.as_bytes()))
        .collect();
    for size in [0, 1, CLOSE + 1, lines.len()] {
        assert_eq!(
            fold.root_at(size as u64),
            Some(merkle::root_of(&leaves[..size])),
            "size {size}"
        );
    }
    assert_ne!(fold.root_at(1), fold.root_at(2));
    assert_eq!(fold.root_at(lines.len() as u64 + 1), None);
    assert_eq!(fold.root_at(u64::MAX), None);
}

/// A scratch folder for one test's bundle files.
fn bundle_dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sv-core-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

#[test]
fn a_bundle_folder_is_checked_against_what_the_auditor_pinned() {
    let (log, note, key) = signed(&entries());
    let pinned = TrustAnchor::parse(&key, None).unwrap();
    // A pinned verifier key needs no key file in the bundle.
    let dir = bundle_dir("pinned", &[(LOG_FILE, &log), (CHECKPOINT_FILE, &note)]);
    assert_eq!(verify_dir(&dir, &pinned).unwrap().size, 26);
    // A fingerprint, or trusting the bundle, needs the bundle's key file.
    let verifier = Verifier::parse(&key).unwrap();
    let fingerprint = crate::note::fingerprint(&verifier.public_key());
    let origin = verifier.name().to_owned();
    let by_fingerprint = TrustAnchor::parse(&fingerprint, Some(&origin)).unwrap();
    for trust in [&by_fingerprint, &TrustAnchor::BundleKey] {
        let err = verify_dir(&dir, trust).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read {}", dir.join(KEY_FILE).display())),
            "{err}"
        );
    }
    std::fs::write(dir.join(KEY_FILE), &key).unwrap();
    assert_eq!(verify_dir(&dir, &by_fingerprint).unwrap().size, 26);
    // Another key in the bundle is not the pinned one.
    let other = LogSigner::from_seed(&[8; 32]).verifier(&origin).to_string();
    std::fs::write(dir.join(KEY_FILE), &other).unwrap();
    let err = verify_dir(&dir, &by_fingerprint).unwrap_err().to_string();
    assert!(
        err.contains("is not the key with the pinned fingerprint"),
        "{err}"
    );
    let err = verify_dir(&dir, &TrustAnchor::BundleKey)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("checkpoint"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pinned_key_or_fingerprint_for_another_election_is_refused() {
    let (log, note, key) = signed(&entries());
    let verifier = Verifier::parse(&key).unwrap();
    let origin = verifier.name().to_owned();
    let elsewhere = format!(
        "vote.example.org/elections/{}",
        "0192c7a0-0000-4000-8000-000000000000"
    );
    let dir = bundle_dir(
        "origins",
        &[(LOG_FILE, &log), (CHECKPOINT_FILE, &note), (KEY_FILE, &key)],
    );
    // The key pinned with its own origin passes; with another origin named beside it, not.
    assert!(verify_dir(&dir, &TrustAnchor::parse(&key, Some(&origin)).unwrap()).is_ok());
    let err = verify_dir(&dir, &TrustAnchor::parse(&key, Some(&elsewhere)).unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("the pinned key is for `{origin}`, not for the origin `{elsewhere}`")
    );
    // The right fingerprint for another election's origin: the bundle is not that election's.
    let fingerprint = crate::note::fingerprint(&verifier.public_key());
    let err = verify_dir(
        &dir,
        &TrustAnchor::parse(&fingerprint, Some(&elsewhere)).unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        format!("the bundle's key is for `{origin}`, not for the pinned origin `{elsewhere}`")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_close_in_the_same_second_as_the_open_is_accepted() {
    // `close.at` ≥ `open.at`: equal is allowed (an official may close at once).
    let open: Value = serde_json::from_str(&entries()[OPEN]).unwrap();
    let mut lines = changed(CLOSE, |f| {
        f.insert("at".into(), open["at"].clone());
    });
    lines.truncate(CLOSE + 1);
    let report = verify(&lines).unwrap();
    assert_eq!(report.phase, "closed");
}
