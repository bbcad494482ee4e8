//! Voting over the JSON API: receipts with proofs, every refusal, one ballot per token under
//! concurrency, the embargo, and the whole path to a certified, independently verified result.

use strikevote::audit::verify_bundle;
use strikevote::log::Verifier;
use strikevote::log::merkle::{self, Hash};

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    async fn a_cast_ballot_comes_back_with_a_receipt_that_proves_into_a_signed_checkpoint(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let (member, token) = &tokens[1];
        assert_eq!(member, "M1");

        let (status, cast) = app.cast(token, "yes").await;
        assert_eq!(status, 200, "{cast}");
        assert_eq!(cast["election"], id.as_str());
        assert_eq!(cast["local"], "700");
        // No field names the choice (a base64 root or signature may hold the letters `yes`).
        assert!(cast.get("choice").is_none() && !cast.to_string().contains("\"yes\""), "the answer names no choice: {cast}");
        let receipt = cast["receipt"].as_str().unwrap();
        assert_eq!(receipt.len(), 34);
        let tracker = cast["tracker"].as_str().unwrap();
        assert_eq!(tracker.len(), 64);

        // The checkpoint is signed by the election's key and the proof leads to its root.
        let (_, vkey) = app.get(&format!("/api/v1/elections/{id}/key")).await;
        let checkpoint = Verifier::parse(&vkey).unwrap().verify_checkpoint(cast["checkpoint"].as_str().unwrap()).unwrap();
        assert_eq!(checkpoint.size, cast["tree_size"].as_u64().unwrap());
        let index = cast["leaf_index"].as_u64().unwrap();
        // The entry at that index is the sealed ballot: its tracker is the one the member got.
        let (_, entry) = app.get(&format!("/api/v1/elections/{id}/entries?start={index}&end={}", index + 1)).await;
        let entry = entry.trim_end().to_owned();
        let parsed = strikevote::log::entry::Entry::parse(entry.as_bytes()).unwrap();
        let strikevote::log::entry::Body::Ballot(ballot) = parsed.body else { panic!("not a ballot: {entry}") };
        assert_eq!((ballot.local.as_str(), ballot.receipt.as_str(), ballot.tracker()), ("700", receipt, tracker.to_owned()));
        assert!(merkle::verify_inclusion(index, checkpoint.size, &merkle::leaf_hash(entry.as_bytes()), &hashes(&cast["inclusion_proof"]), &checkpoint.root));

        // The member finds their own entry by receipt while the vote runs, and no choice.
        let (status, found) = app.get_json(&format!("/api/v1/receipts/{}", receipt.to_lowercase())).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["entry"], entry.as_str());
        assert_eq!(found["tracker"], tracker);
        assert!(!found.to_string().contains("\"yes\"") && found.get("choice").is_none(), "{found}");
        assert_eq!(found["leaf_index"], index);
        assert_eq!(found["verified"], true);

        // The token is spent: a second cast is refused, and the status says so.
        let (status, again) = app.cast(token, "no").await;
        assert_eq!(status, 409);
        assert_eq!(again["error"], "token_used");
        assert!(again["message"].as_str().unwrap().contains("contact your election officials"));
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": token})).await;
        assert_eq!(st, serde_json::json!({"status": "used"}));
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": tokens[0].1})).await;
        assert_eq!(st, serde_json::json!({"status": "not_used"}));

        // Turnout counts it without revealing the choice (observers only).
        let observer = official(db, "olga", "observer");
        let (status, _) = app.get_json(&format!("/api/v1/elections/{id}/turnout")).await;
        assert_eq!(status, 401);
        let (_, turnout) = app.get_json_as(&format!("/api/v1/elections/{id}/turnout"), &observer).await;
        assert_eq!(turnout["locals"]["700"], serde_json::json!({"cast": 1, "eligible": 1}));
        assert_eq!(turnout["cast"], 1);
        assert!(!turnout.to_string().contains("yes"));
    }
}

both_backends! {
    async fn every_bad_cast_is_refused_and_changes_nothing(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 4);
        let app = spawn_app(db).await;
        // Not open yet.
        let (status, body) = app.cast(&tokens[0].1, "yes").await;
        assert_eq!((status, body["error"].as_str()), (409, Some("election_not_open")), "{body}");
        sv(db, &["election", "open", &id]).ok();
        let size_before = show(db, &id);

        let revoked = tokens.iter().find(|(m, _)| m == "M3").unwrap().1.clone();
        sv(db, &["tokens", "reissue", "--election", &id, "--member", "M3"]).ok();
        let size_before_casts: serde_json::Value = show(db, &id);
        let cases = [
            (serde_json::json!({"token": "SV-nope", "choice": "yes    "}), 400, "token_unknown"),
            (serde_json::json!({"token": "SV-0000-0000-0000-0000-0000-0000-0000", "choice": "yes    "}), 404, "token_unknown"),
            (serde_json::json!({"token": revoked, "choice": "yes    "}), 409, "token_revoked"),
            (serde_json::json!({"token": tokens[0].1, "choice": "maybe"}), 400, "invalid_choice"),
            (serde_json::json!({"token": tokens[0].1, "choice": "abstain"}), 400, "invalid_choice"),
            // Unpadded, or padded in front: the request's length would tell the choice.
            (serde_json::json!({"token": tokens[0].1, "choice": "yes"}), 400, "invalid_choice"),
            (serde_json::json!({"token": tokens[0].1, "choice": "no"}), 400, "invalid_choice"),
            (serde_json::json!({"token": tokens[0].1, "choice": "  yes  "}), 400, "invalid_choice"),
            (serde_json::json!({"token": tokens[0].1}), 400, "choice_missing"),
            (serde_json::json!({"token": tokens[0].1, "choice": "yes    ", "member": "M0"}), 400, "invalid_json"),
        ];
        for (body, status, code) in cases {
            let (got, answer) = app.post_json("/api/v1/ballots", &body).await;
            assert_eq!((got, answer["error"].as_str()), (status, Some(code)), "{body}: {answer}");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
            if ["yes", "no"].contains(&body["choice"].as_str().unwrap_or_default()) {
                assert!(answer["message"].as_str().unwrap().contains("padded with spaces to 7 characters"), "{answer}");
            }
        }
        // An oversized body is refused before parsing.
        let big = serde_json::json!({"token": "x".repeat(70_000), "choice": "yes    "});
        let (status, answer) = app.post_json("/api/v1/ballots", &big).await;
        assert_eq!((status, answer["error"].as_str()), (413, Some("payload_too_large")), "{answer}");
        // Nothing changed: no token spent, no ballot in the log.
        assert_eq!(show(db, &id), size_before_casts);
        assert_ne!(size_before, size_before_casts, "the reissue itself is counted");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": tokens[0].1})).await;
        assert_eq!(st["status"], "not_used");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": revoked})).await;
        assert_eq!(st["status"], "revoked");

        // Closed: refused.
        sv(db, &["election", "close", &id]).ok();
        let (status, body) = app.cast(&tokens[0].1, "yes").await;
        assert_eq!((status, body["error"].as_str()), (409, Some("election_not_open")), "{body}");
    }
}

both_backends! {
    async fn two_hundred_concurrent_casts_of_one_token_count_once(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        // Two instances on one database, as behind a load balancer.
        let a = spawn_app_with(db, 20).await;
        let b = spawn_app_with(db, 20).await;
        let token = tokens[0].1.clone();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let app = if i % 2 == 0 { a.address.clone() } else { b.address.clone() };
            let token = token.clone();
            let client = a.client.clone();
            tasks.push(tokio::spawn(async move {
                let res = client
                    .post(format!("{app}/api/v1/ballots"))
                    .json(&serde_json::json!({"token": token, "choice": if i % 3 == 0 { "no     " } else { "yes    " }}))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, res.json::<serde_json::Value>().await.unwrap())
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                200 => accepted += 1,
                409 => assert_eq!(body["error"], "token_used", "{body}"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(accepted, 1, "exactly one of 200 casts is accepted");
        let observer = official(db, "olga", "observer");
        let (_, turnout) = a.get_json_as(&format!("/api/v1/elections/{id}/turnout"), &observer).await;
        assert_eq!(turnout["cast"], 1);
        let (_, entries) = a.get(&format!("/api/v1/elections/{id}/entries")).await;
        assert_eq!(entries.matches("\"type\":\"ballot\"").count(), 1, "one ballot in the log");
    }
}

both_backends! {
    async fn the_log_is_public_while_the_vote_runs_and_nobody_can_count_it_before_the_tellers(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 6);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        for (i, (_, token)) in tokens.iter().enumerate() {
            let (status, _) = app.cast(token, if i < 4 { "yes" } else { "no" }).await;
            assert_eq!(status, 200);
        }
        // Every entry is served whole while the vote runs; a ballot holds no choice.
        let entries = app.get(&format!("/api/v1/elections/{id}/entries")).await.1;
        let ballots: Vec<serde_json::Value> = entries
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["type"] == "ballot")
            .collect();
        assert_eq!(ballots.len(), 6);
        for b in &ballots {
            let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["v", "type", "election", "local", "sealed_by", "sealing_code", "ballot", "receipt"], "{b}");
            assert_eq!((b["sealed_by"].as_str(), &b["sealing_code"]), (Some("server"), &serde_json::Value::Null), "cast with a plain choice: {b}");
            assert_eq!(b["v"], strikevote_core::entry::VERSION);
            assert_eq!(b["ballot"]["choices"].as_array().unwrap().len(), 2, "one ciphertext per choice");
        }
        for b in &ballots {
            let text = b.to_string();
            assert!(!text.contains("\"choice\"") && !text.contains("\"yes\"") && !text.contains("\"no\""), "{text}");
        }
        // Anyone can recompute the signed root from them.
        let leaves: Vec<Hash> = entries.lines().map(|l| merkle::leaf_hash(l.as_bytes())).collect();
        let (_, vkey) = app.get(&format!("/api/v1/elections/{id}/key")).await;
        let (_, note) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        let cp = Verifier::parse(&vkey).unwrap().verify_checkpoint(&note).unwrap();
        assert_eq!(merkle::root_of(&leaves), cp.root);
        // An auditor can check the open vote's bundle, ballots' proofs included.
        let bundle = export_bundle(db, &id, "live");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!((report.phase, report.ballots.values().sum::<u64>()), ("open", 6));
        assert!(report.result.is_none());

        let (status, body) = app.get_json(&format!("/api/v1/elections/{id}/results")).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("embargoed")));
        let err = sv(db, &["results", &id]).fails();
        assert!(err.contains("results are embargoed until the vote closes"), "{err}");
        let turnout = sv(db, &["turnout", &id, "--json"]).ok();
        assert!(turnout.contains("\"cast\": 6") && !turnout.contains("yes"), "{turnout}");

        // Closed, the count still waits for the tellers: nobody, an admin included, has it.
        sv(db, &["election", "close", &id]).ok();
        let (status, body) = app.get_json(&format!("/api/v1/elections/{id}/results")).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("awaiting_tellers")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("0 of the 1 decryptions needed are in (1 more)"), "{body}");
        let err = sv(db, &["election", "certify", &id]).fails();
        assert!(err.contains("the results are not decrypted yet"), "{err}");

        let said = decrypt(db, &id);
        assert!(said.contains("decrypted by teller(s) 1"), "{said}");
        let (status, body) = app.get_json(&format!("/api/v1/elections/{id}/results")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"]["popular"]["counts"], serde_json::json!({"yes": 4, "no": 2, "abstain": 0}));
        // The teller's second run has nothing to do.
        let again = sv(db, &["teller", "decrypt", "--election", &id, "--state", teller_state(db, 1).to_str().unwrap(), "--passphrase-file", db.path("teller.pass").to_str().unwrap(), "--confirm-early-close"]).ok();
        assert!(again.contains("already decrypted"), "{again}");
    }
}

both_backends! {
    async fn from_roster_to_a_certified_result_that_the_auditor_recounts(db: &TestDb) {
        // 30 members over three locals: 600 votes 8 yes 2 no (80%: passes 75%, 76 delegates),
        // 700 votes 7 yes 3 no (70%: fails, 56 delegates no), 871 votes 9 yes 1 no (90%: 24).
        let (id, tokens) = prepared_election(db, 30);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let mut yes_by_local = std::collections::HashMap::new();
        let mut vote_receipts = Vec::new();
        for (member, token) in &tokens {
            let k: usize = member[1..].parse().unwrap();
            let local = ["600", "700", "871"][k % 3];
            let n = yes_by_local.entry(local).or_insert(0);
            let yes_quota = match local { "600" => 8, "700" => 7, _ => 9 };
            let choice = if *n < yes_quota { "yes" } else { "no" };
            *n += 1;
            // Half through the member's HTML form, half through the JSON API.
            if k.is_multiple_of(2) {
                vote_receipts.push(vote_by_form(&app, token, choice).await);
            } else {
                let (status, body) = app.cast(token, choice).await;
                assert_eq!(status, 200, "{body}");
            }
        }
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        let results: serde_json::Value = serde_json::from_str(&sv(db, &["results", &id, "--json"]).ok()).unwrap();
        let locals = results["locals"].as_array().unwrap();
        assert_eq!(locals[0]["counts"], serde_json::json!({"yes": 8, "no": 2, "abstain": 0}));
        assert_eq!(locals[0]["passed"], true);
        assert_eq!(locals[1]["passed"], false);
        assert_eq!(locals[2]["delegates_yes"], 24);
        assert_eq!(results["delegates"], serde_json::json!({"yes": 100, "no": 56, "passed": true}));
        assert_eq!(results["popular"]["counts"]["yes"], 24);
        assert_eq!(results["passed"], true);
        let text = sv(db, &["results", &id]).ok();
        assert!(text.contains("80.00%") && text.contains("decision:      PASSED"), "{text}");

        let certified = sv(db, &["election", "certify", &id]).ok();
        assert!(certified.contains("is certified: PASSED"), "{certified}");
        let err = sv(db, &["election", "certify", &id]).fails();
        assert!(err.contains("already certified"), "{err}");
        // Members who come back find the way to the result, in their language.
        let (_, page) = get(&browser(), &format!("{}/vote?token={}&lang=es", app.address, tokens[0].1)).await;
        assert!(page.contains(&format!("<a href=\"/elections/{id}/result?lang=es\">El resultado certificado está publicado")), "{page}");
        let client = browser();
        let (_, form) = get(&client, &format!("{}/verify", app.address)).await;
        let receipt = vote_receipts.first().unwrap();
        let (_, page) = post(&client, &format!("{}/verify", app.address), &[("receipt", receipt.as_str()), ("csrf", &csrf_of(&form))]).await;
        assert!(page.contains(&format!("<a href=\"/elections/{id}/result?lang=en\">The certified result is published")), "{page}");

        let bundle = export_bundle(db, &id, "bundle");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        let (recount, _) = report.result.expect("the result entry was opened again");
        assert_eq!(serde_json::to_value(&recount).unwrap(), results, "the auditor's recount is the service's result");
        let shown = show(db, &id);
        let (fingerprint, origin) = (shown["key_fingerprint"].as_str().unwrap(), shown["origin"].as_str().unwrap());
        let out = sv(db, &["audit", "verify", db.path("bundle").to_str().unwrap(), "--key", fingerprint, "--origin", origin]).ok();
        assert!(out.contains("result    opened by teller(s) 1 and checked: PASSED"), "{out}");

        // A result entry that disagrees with the ballots is caught, even correctly signed.
        let real = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
        let forged_log = String::from_utf8(bundle.log.clone()).unwrap().replace("\"delegates\":{\"yes\":100,\"no\":56", "\"delegates\":{\"yes\":156,\"no\":0");
        let leaves: Vec<Hash> = forged_log.lines().map(|l| merkle::leaf_hash(l.as_bytes())).collect();
        let origin = bundle.checkpoint.lines().next().unwrap().to_owned();
        let note = real.sign_checkpoint(&strikevote::log::Checkpoint { origin, size: leaves.len() as u64, root: merkle::root_of(&leaves) });
        let err = verify_bundle(forged_log.as_bytes(), &note, &bundle.key).unwrap_err();
        assert!(err.0.contains("is not what the tellers' shares open"), "{err}");

        // The independent verifier accepts the certified bundle too.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/verify_bundle.py");
        let out = std::process::Command::new("python3").arg(script).arg(db.path("bundle")).args(["--key", fingerprint, "--origin", shown["origin"].as_str().unwrap()]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
}

both_backends! {
    /// The casting pool prepares a batch (tokens looked up, proofs checked, choices sealed)
    /// while the batch before it commits: whatever that batch did in between — used a token
    /// the next one holds, logged the very sealed ballot the next one carries — the next
    /// one's commit sees it under the lock, and nothing counts twice.
    fn a_batch_prepared_while_the_one_before_commits_counts_nothing_twice(db: &TestDb) {
        use strikevote::ballot::{CastRequest, ElectionKeys, MemberBallot, Sealing, commit_batch, commit_prepared, prepare};
        use strikevote::election::Choice;
        use strikevote_core::crypto::ballot::{Context, seal};

        let (id, tokens) = prepared_election(db, 4);
        sv(db, &["election", "open", &id]).ok();
        let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
        let pool = db.pool();
        let mut conn = pool.get().unwrap();
        let keys = ElectionKeys::default();
        let hash = |t: &str| strikevote::token::PlainToken::parse(t).unwrap().hash();
        let token = |m: &str| tokens.iter().find(|(id, _)| id == m).map(|(_, t)| t.clone()).unwrap();
        let [m0, m1, m2, m3] = ["M0", "M1", "M2", "M3"].map(token);
        let server = |t: &str, c| CastRequest { token: hash(t), sealing: Sealing::Server(c) };

        // A ballot sealed by a member's phone in local 600 (M0 and M3 are both of it).
        let election_id = strikevote::election::ElectionId::parse(&id).unwrap();
        let election = strikevote::election::find(&mut conn, election_id).unwrap();
        let key = keys.get(&mut conn, &election).unwrap();
        let context = Context { election: &election_id, local: "600" };
        let sealed = seal(&key, context, 2, 1, &mut rand::rngs::OsRng).unwrap();
        let member = |t: &str| CastRequest {
            token: hash(t),
            sealing: Sealing::Member(Box::new(MemberBallot { ballot: sealed.clone().into(), code: None })),
        };

        // Prepared: M1's and M2's plain choices, and M3 casting the phone's ballot.
        let prepared = prepare(&mut conn, &keys, vec![server(&m1, Choice::Yes), server(&m2, Choice::No), member(&m3)]).unwrap();
        // Meanwhile the batch before commits M1's token and the same sealed ballot for M0.
        let before = commit_batch(&mut conn, &signer, &keys, &[server(&m1, Choice::No), member(&m0)]).unwrap();
        assert!(before.iter().all(Result::is_ok), "the first batch is cast");

        let answers = commit_prepared(&mut conn, &signer, &keys, prepared).unwrap();
        let code = |i: usize| answers[i].as_ref().err().map(|e| e.code().as_str());
        assert_eq!(code(0), Some("token_used"), "M1's token was used by the batch before");
        assert!(answers[1].is_ok(), "M2's ballot is cast");
        assert_eq!(code(2), Some("ballot_seen"), "the phone's ballot is in the log already");

        // Three ballots in all, and M3's token is still unused: nothing was used up for it.
        let bundle = export_bundle(db, &id, "bundle");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.ballots.values().sum::<u64>(), 3);
        let again = commit_batch(&mut conn, &signer, &keys, &[server(&m3, Choice::Yes)]).unwrap();
        assert!(again[0].is_ok(), "M3 can still vote");
    }
}
