//! The code that seals ballots in members' browsers, against the Rust core that checks them:
//! the served bytes (src/web/static/sealing.js) run under node (tests/sealing/driver.mjs).
//! Ballots the page seals verify in the core, and only for their election and local; the page
//! checks ballots the core sealed and rejects tampered ones; a challenge the page reveals is
//! checked by the core; and the served bytes are rebuilt from the repository byte for byte.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use base64::Engine;
use rand::SeedableRng;
use serde_json::{Value, json};
use strikevote_core::ElectionId;

use crate::helpers::TestDb;

use strikevote_core::crypto::ballot::{
    ChallengeError, Context, SealedBallot, check_challenge, check_proofs, seal, tracker,
};
use strikevote_core::crypto::ceremony::run_locally;
use strikevote_core::crypto::{PublicKey, TellerParams};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The served sealing code under node, answering one JSON request per line.
pub(crate) struct Page {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Page {
    pub(crate) fn start() -> Self {
        Self::start_with(&root().join("src/web/static/sealing.js"))
    }

    fn start_with(bundle: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(root().join("tests/sealing/driver.mjs"))
            .arg(bundle)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs (tests/run.sh installs it)");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            input,
            output,
        }
    }

    pub(crate) fn ask(&mut self, request: Value) -> Value {
        writeln!(self.input, "{request}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line).expect("the driver answers JSON");
        assert!(answer.get("error").is_none(), "{answer}");
        answer
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An election key from a real (local) key ceremony, and its base64url text.
fn election_key(seed: u64) -> (PublicKey, String) {
    let params = TellerParams::new(3, 2).unwrap();
    let ceremony = run_locally(params, &mut rand::rngs::StdRng::seed_from_u64(seed)).unwrap();
    let key = ceremony.tellers[0]
        .active()
        .unwrap()
        .key_set()
        .shared_key()
        .clone();
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes());
    (key, text)
}

fn election() -> ElectionId {
    ElectionId::parse("0192c7a0-0000-4000-8000-0000000000aa").unwrap()
}

fn randomness(secrets: &Value) -> Vec<[u8; 32]> {
    secrets["randomness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(r.as_str().unwrap())
                .unwrap();
            bytes.try_into().unwrap()
        })
        .collect()
}

#[test]
fn ballots_sealed_by_the_page_verify_in_the_core_for_their_election_and_local_only() {
    let (key, text) = election_key(1);
    let e = election();
    let other = ElectionId::parse("0192c7a0-0000-4000-8000-0000000000bb").unwrap();
    let here = Context {
        election: &e,
        local: "871",
    };
    let mut page = Page::start();
    for options in [1_usize, 2, 3, 4] {
        for choice in 0..options {
            let sealed = page.ask(json!({
                "op": "seal", "key": text, "election": e.to_string(), "local": "871",
                "options": options, "choice": choice,
            }));
            let ballot: SealedBallot = serde_json::from_value(sealed["ballot"].clone())
                .expect("the core reads the page's sealed ballot");
            check_proofs(&key, here, options, &ballot).expect("the page's proofs verify");
            assert_eq!(
                sealed["tracker"].as_str().unwrap(),
                hex::encode(tracker(&ballot)),
                "the page and the core compute the same tracker"
            );
            // Moved to another local, another election, or read with another option count.
            let local = Context {
                election: &e,
                local: "872",
            };
            assert!(check_proofs(&key, local, options, &ballot).is_err());
            let elsewhere = Context {
                election: &other,
                local: "871",
            };
            assert!(check_proofs(&key, elsewhere, options, &ballot).is_err());
            assert!(check_proofs(&key, here, options + 1, &ballot).is_err());
            // Its challenge: the core finds the choice the page says it sealed, and no other.
            let revealed = randomness(&sealed["secrets"]);
            assert_eq!(sealed["secrets"]["choice"], json!(choice));
            assert_eq!(
                check_challenge(&key, here, options, &ballot, choice, &revealed),
                Ok(())
            );
            if options > 1 {
                assert_eq!(
                    check_challenge(
                        &key,
                        here,
                        options,
                        &ballot,
                        (choice + 1) % options,
                        &revealed
                    ),
                    Err(ChallengeError::NotTheChoice)
                );
            }
        }
    }
    // Another election key: nothing verifies.
    let (stranger, _) = election_key(2);
    let sealed = page.ask(json!({
        "op": "seal", "key": text, "election": e.to_string(), "local": "871",
        "options": 3, "choice": 0,
    }));
    let ballot: SealedBallot = serde_json::from_value(sealed["ballot"].clone()).unwrap();
    assert!(check_proofs(&stranger, here, 3, &ballot).is_err());
}

#[test]
fn the_page_checks_ballots_the_core_sealed_and_rejects_tampered_ones() {
    let (key, text) = election_key(3);
    let e = election();
    let here = Context {
        election: &e,
        local: "871",
    };
    let mut page = Page::start();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let ask = |page: &mut Page, local: &str, options: usize, ballot: &Value| {
        page.ask(json!({
            "op": "verify", "key": text, "election": e.to_string(), "local": local,
            "options": options, "ballot": ballot,
        }))["ok"]
            .as_bool()
            .unwrap()
    };
    for options in [1_usize, 2, 3, 5] {
        for choice in 0..options {
            let ballot = seal(&key, here, options, choice, &mut rng).unwrap();
            let json = serde_json::to_value(&ballot).unwrap();
            assert!(ask(&mut page, "871", options, &json), "{json}");
            assert!(!ask(&mut page, "872", options, &json));
            assert!(!ask(&mut page, "871", options + 1, &json));
        }
    }
    let ballot = serde_json::to_value(seal(&key, here, 3, 1, &mut rng).unwrap()).unwrap();
    let mut tampered = Vec::new();
    let mut swapped = ballot.clone();
    let first = swapped["choices"][0].clone();
    swapped["choices"][0] = swapped["choices"][1].clone();
    swapped["choices"][1] = first;
    tampered.push(swapped);
    let mut response = ballot.clone();
    response["range_proof"]["ring_responses"][0] =
        response["range_proof"]["ring_responses"][1].clone();
    tampered.push(response);
    let mut sum = ballot.clone();
    sum["sum_proof"]["challenge"] = sum["range_proof"]["common_challenge"].clone();
    tampered.push(sum);
    // A ciphertext of another (valid) ballot, with this ballot's proofs.
    let mut spliced = ballot.clone();
    let donor = serde_json::to_value(seal(&key, here, 3, 1, &mut rng).unwrap()).unwrap();
    spliced["choices"][2] = donor["choices"][2].clone();
    tampered.push(spliced);
    for bad in &tampered {
        assert!(!ask(&mut page, "871", 3, bad), "accepted: {bad}");
        let parsed: SealedBallot = serde_json::from_value(bad.clone()).unwrap();
        assert!(
            check_proofs(&key, here, 3, &parsed).is_err(),
            "the core agrees"
        );
    }
}

#[test]
fn a_page_whose_code_seals_another_choice_is_caught_by_its_challenge() {
    // The attacker's page: the served code changed to seal option 0 whatever the member chose.
    let honest = std::fs::read_to_string(root().join("src/web/static/sealing.js")).unwrap();
    let marker = "function seal(electionKey, election, local, options, choice) {";
    assert!(
        honest.contains(marker),
        "the served code has a seal function"
    );
    let altered = honest.replacen(marker, &format!("{marker}\n  choice = 0;"), 1);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("sealing.js");
    std::fs::write(&bundle, altered).unwrap();
    let mut page = Page::start_with(&bundle);
    let (key, text) = election_key(5);
    let e = election();
    let here = Context {
        election: &e,
        local: "871",
    };
    let sealed = page.ask(json!({
        "op": "seal", "key": text, "election": e.to_string(), "local": "871",
        "options": 2, "choice": 1,
    }));
    let ballot: SealedBallot = serde_json::from_value(sealed["ballot"].clone()).unwrap();
    // Its proofs are fine: the server alone could never tell.
    check_proofs(&key, here, 2, &ballot).unwrap();
    // The member chose 1; the revealed randomness shows the ballot holds 0.
    let revealed = randomness(&sealed["secrets"]);
    assert_eq!(
        check_challenge(&key, here, 2, &ballot, 1, &revealed),
        Err(ChallengeError::NotTheChoice)
    );
    assert_eq!(
        check_challenge(&key, here, 2, &ballot, 0, &revealed),
        Ok(())
    );
}

#[test]
fn the_served_sealing_code_is_rebuilt_from_the_repository_byte_for_byte() {
    let sealing = root().join("src/web/sealing");
    assert!(
        sealing.join("node_modules/@noble/curves").is_dir(),
        "the pinned packages are missing: npm ci --prefix src/web/sealing (tests/run.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let rebuilt: PathBuf = dir.path().join("sealing.js");
    let status = Command::new("node")
        .arg(sealing.join("build.mjs"))
        .arg(&rebuilt)
        .status()
        .unwrap();
    assert!(status.success(), "build.mjs failed");
    let served = std::fs::read(root().join("src/web/static/sealing.js")).unwrap();
    let again = std::fs::read(&rebuilt).unwrap();
    assert!(
        served == again,
        "src/web/static/sealing.js is not what build.mjs makes from the repository: rebuild it \
         (node src/web/sealing/build.mjs) and commit"
    );
}

crate::both_backends! {
    async fn the_server_serves_the_sealing_code_with_its_sha256(db: &TestDb) {
        use sha2::Digest;
        let app = crate::helpers::spawn_app(db).await;
        let res = app.client.get(format!("{}/static/sealing.js", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
        let named = res.headers()["x-sealing-code-sha256"].to_str().unwrap().to_owned();
        let body = res.bytes().await.unwrap();
        let file = std::fs::read(root().join("src/web/static/sealing.js")).unwrap();
        assert!(body[..] == file[..], "the served bytes are the repository's");
        assert_eq!(named, hex::encode(sha2::Sha256::digest(&body)));
    }
}

/// The election key, read from the log as any member's page reads it (the `election_key` entry).
pub(crate) fn key_from_log(db: &TestDb, id: &str) -> PublicKey {
    let bundle = crate::helpers::export_bundle(db, id, "key-from-log");
    let log = String::from_utf8(bundle.log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(r#""type":"election_key""#))
        .expect("the ceremony wrote the election key");
    let entry: Value = serde_json::from_str(line).unwrap();
    let shared = entry["keys"]["shared_key"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(shared)
        .unwrap();
    PublicKey::from_bytes(&bytes).unwrap()
}

fn sealed(key: &PublicKey, id: &str, local: &str, options: usize, choice: usize) -> Value {
    let e = ElectionId::parse(id).unwrap();
    let context = Context {
        election: &e,
        local,
    };
    let mut rng = rand::rngs::StdRng::from_entropy();
    serde_json::to_value(seal(key, context, options, choice, &mut rng).unwrap()).unwrap()
}

crate::both_backends! {
    async fn a_ballot_sealed_on_the_members_device_is_cast_as_sent(db: &TestDb) {
        let (id, tokens) = crate::helpers::prepared_election(db, 3);
        crate::helpers::sv(db, &["election", "open", &id]).ok();
        let app = crate::helpers::spawn_app(db).await;
        let key = key_from_log(db, &id);
        let (member, token) = &tokens[1];
        assert_eq!(member, "M1");
        let ballot = sealed(&key, &id, "700", 2, 1);
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": token, "ballot": ballot})).await;
        assert_eq!(status, 200, "{cast}");
        let parsed: SealedBallot = serde_json::from_value(ballot.clone()).unwrap();
        assert_eq!(cast["tracker"], hex::encode(tracker(&parsed)), "the tracker of what the device sealed");
        // The log holds exactly the ciphertexts and proofs the device sent.
        let index = cast["leaf_index"].as_u64().unwrap();
        let (_, entry) = app.get(&format!("/api/v1/elections/{id}/entries?start={index}&end={}", index + 1)).await;
        let entry: Value = serde_json::from_str(entry.trim_end()).unwrap();
        assert_eq!(entry["ballot"], ballot);
        assert_eq!(entry["local"], "700");
        // The token is used now: the same ballot or another is refused.
        let (status, again) = app.post_json("/api/v1/ballots", &json!({"token": token, "ballot": sealed(&key, &id, "700", 2, 0)})).await;
        assert_eq!((status, again["error"].as_str()), (409, Some("token_used")), "{again}");
    }
}

crate::both_backends! {
    async fn a_sealed_ballot_that_is_wrong_or_copied_is_refused_and_uses_nothing_up(db: &TestDb) {
        let (id, tokens) = crate::helpers::prepared_election(db, 6);
        crate::helpers::sv(db, &["election", "open", &id]).ok();
        let app = crate::helpers::spawn_app(db).await;
        let key = key_from_log(db, &id);
        let token_of = |m: &str| tokens.iter().find(|(id, _)| id == m).unwrap().1.clone();
        let (m1, m4) = (&token_of("M1"), &token_of("M4")); // both of local 700
        let good = sealed(&key, &id, "700", 2, 0);
        let mut swapped = good.clone();
        let first = swapped["choices"][0].clone();
        swapped["choices"][0] = swapped["choices"][1].clone();
        swapped["choices"][1] = first;
        let other_election = sealed(&key, "0192c7a0-0000-4000-8000-0000000000cc", "700", 2, 0);
        let refusals = [
            (json!({"token": m1, "ballot": sealed(&key, &id, "600", 2, 0)}), 400, "invalid_ballot"),
            (json!({"token": m1, "ballot": other_election}), 400, "invalid_ballot"),
            (json!({"token": m1, "ballot": sealed(&key, &id, "700", 3, 0)}), 400, "invalid_ballot"),
            (json!({"token": m1, "ballot": swapped}), 400, "invalid_ballot"),
            (json!({"token": m1, "ballot": {"choices": "yes"}}), 400, "invalid_ballot"),
            (json!({"token": m1, "ballot": good, "choice": "yes    "}), 400, "invalid_choice"),
            (json!({"token": m1}), 400, "choice_missing"),
        ];
        for (body, status, code) in &refusals {
            let (got, answer) = app.post_json("/api/v1/ballots", body).await;
            assert_eq!((got, answer["error"].as_str()), (*status, Some(*code)), "{answer}");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
        }
        // Nothing was used up: M1 casts the good ballot now.
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "ballot": good})).await;
        assert_eq!(status, 200, "{cast}");
        // M4 (same local) sends a copy of it: refused as seen, and M4's token still works.
        let (status, copy) = app.post_json("/api/v1/ballots", &json!({"token": m4, "ballot": good})).await;
        assert_eq!((status, copy["error"].as_str()), (409, Some("ballot_seen")), "{copy}");
        // Two copies of one new ballot in one batch: one is cast, the other refused.
        let twin = sealed(&key, &id, "871", 2, 1);
        let (a, b) = (app.clone(), app.clone());
        let (t2, t5) = (token_of("M2"), token_of("M5")); // both of local 871
        let (twin_a, twin_b) = (twin.clone(), twin.clone());
        let one = tokio::spawn(async move { a.post_json("/api/v1/ballots", &json!({"token": t2, "ballot": twin_a})).await });
        let two = tokio::spawn(async move { b.post_json("/api/v1/ballots", &json!({"token": t5, "ballot": twin_b})).await });
        let mut statuses = vec![one.await.unwrap().0, two.await.unwrap().0];
        statuses.sort();
        assert_eq!(statuses, [200, 409]);
        let (status, cast) = app.cast(m4, "no").await;
        assert_eq!(status, 200, "{cast}");
        // In the log: exactly the three ballots accepted.
        let bundle = crate::helpers::export_bundle(db, &id, "after");
        let ballots = String::from_utf8(bundle.log).unwrap().matches(r#""type":"ballot""#).count();
        assert_eq!(ballots, 3);
    }
}
