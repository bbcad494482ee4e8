//! Witnesses in the casting path, as real processes on loopback ports: a ballot is acknowledged
//! only under a checkpoint its election's witnesses' quorum cosigned; with the quorum down
//! casting says "try again" and nothing is lost; a restored database on another host cannot
//! get its fork cosigned. (The witness alone — its protocol, its state across SIGKILL, Go's
//! sumdb/note reading its cosignatures — is tested in crates/witness.)

use strikevote_core::witness::{WitnessVerifier, check_quorum};

use crate::both_backends;
use crate::helpers::*;

async fn token_status(app: &TestApp, token: &str) -> String {
    let (_, st) = app
        .post_json("/api/v1/token-status", &serde_json::json!({"token": token}))
        .await;
    st["status"].as_str().unwrap().to_owned()
}

fn verifiers(witnesses: &[&WitnessProcess]) -> Vec<WitnessVerifier> {
    witnesses
        .iter()
        .map(|w| WitnessVerifier::parse(&w.vkey).unwrap())
        .collect()
}

fn origin(id: &str) -> String {
    format!("localhost:8080/elections/{id}")
}

both_backends! {
    async fn a_ballot_is_acknowledged_only_under_a_checkpoint_its_witnesses_cosigned(db: &TestDb) {
        let w: Vec<WitnessProcess> = ["w1", "w2", "w3"].iter().map(|n| WitnessProcess::start(db, n)).collect();
        let refs: Vec<&WitnessProcess> = w.iter().collect();
        let (id, tokens) = witnessed_election(db, &refs, 2, 4);
        let checked = sv(db, &["election", "check", "--file", db.path("election.toml").to_str().unwrap()]).ok();
        assert!(checked.contains("witnesses: 2 of 3 must cosign every checkpoint"), "{checked}");
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;

        let (status, cast) = app.cast(&tokens[0].1, "yes").await;
        assert_eq!(status, 200, "{cast}");
        let note = cast["checkpoint"].as_str().unwrap();
        let cosigned = check_quorum(note, &verifiers(&refs), 2).unwrap();
        assert!(cosigned.len() >= 2, "{note}");
        let size = cast["tree_size"].as_u64().unwrap();
        assert!(cast["leaf_index"].as_u64().unwrap() < size);
        // Each witness that cosigned now holds that checkpoint (or a later one).
        let mut holding = 0;
        for one in &w {
            holding += u64::from(one.holds(&origin(&id)).await >= size);
        }
        assert!(holding >= 2, "{holding} witnesses hold size {size}");
        // The member's receipt proves the ballot into a cosigned checkpoint.
        let receipt = cast["receipt"].as_str().unwrap().to_lowercase();
        let (status, found) = app.get_json(&format!("/api/v1/receipts/{receipt}")).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["verified"], true);
        assert!(check_quorum(found["checkpoint"].as_str().unwrap(), &verifiers(&refs), 2).is_ok());
        // The answer's tlog-proof checks offline: the log key, two witnesses, the entry.
        let (_, vkey) = app.get(&format!("/api/v1/elections/{id}/key")).await;
        let log_key = strikevote_core::note::Verifier::parse(vkey.trim()).unwrap();
        let leaf = strikevote_core::merkle::leaf_hash(found["entry"].as_str().unwrap().as_bytes());
        for text in [&cast["tlog_proof"], &found["tlog_proof"]] {
            let proof = strikevote_core::witness::TlogProof::parse(text.as_str().unwrap()).unwrap();
            let (checked, by) = proof.verify(&leaf, &log_key, &verifiers(&refs), 2).unwrap();
            assert!(checked.size >= size && by.len() >= 2);
        }

        // What is published, and what the bundle carries, is cosigned; both verifiers say by whom.
        let (status, published) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        assert_eq!(status, 200, "{published}");
        assert!(check_quorum(&published, &verifiers(&refs), 2).is_ok(), "{published}");
        let bundle = export_bundle(db, &id, "bundle");
        assert!(check_quorum(&bundle.checkpoint, &verifiers(&refs), 2).is_ok());
        let dir = db.path("bundle");
        let said = sv(db, &["audit", "verify", dir.to_str().unwrap(), "--key", bundle.key.trim()]).ok();
        assert!(said.contains("witnesses cosigned by w"), "{said}");
        let (ok, said) = crate::interop::python_verify(&dir, &["--key", bundle.key.trim()]);
        assert!(ok && said.contains("cosigned_by=w"), "{said}");
    }
}

both_backends! {
    async fn with_the_witnesses_quorum_down_casting_says_try_again_and_no_ballot_is_lost(db: &TestDb) {
        let mut w: Vec<WitnessProcess> = ["w1", "w2", "w3"].iter().map(|n| WitnessProcess::start(db, n)).collect();
        let (id, tokens) = witnessed_election(db, &w.iter().collect::<Vec<_>>(), 2, 4);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app_custom(db, |s| s.witness_wait_seconds = 2).await;
        assert_eq!(app.cast(&tokens[0].1, "yes").await.0, 200);

        // Two of the three witnesses die (SIGKILL): the quorum cannot be had.
        w[0].kill();
        w[1].kill();
        // The ballot already on its way is recorded, but its member is not told "accepted".
        let (status, answer) = app.cast(&tokens[1].1, "no").await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"], "witnesses_unavailable");
        assert!(answer["message"].as_str().unwrap().contains("recorded"), "{answer}");
        assert!(answer.get("receipt").is_none());
        assert_eq!(token_status(&app, &tokens[1].1).await, "used");
        // From then on, casting says "try again" and uses nothing up.
        let (status, answer) = app.cast(&tokens[2].1, "yes").await;
        assert_eq!(status, 503, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("try again"), "{answer}");
        assert_eq!(token_status(&app, &tokens[2].1).await, "not_used");
        let (status, _) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        assert_eq!(status, 200, "the last cosigned checkpoint is still published");

        // The witnesses come back (their state kept): the member who was told to try again can.
        w[0].restart();
        w[1].restart();
        let started = std::time::Instant::now();
        let cast = loop {
            let (status, answer) = app.cast(&tokens[2].1, "yes").await;
            if status == 200 {
                break answer;
            }
            assert_eq!(answer["error"], "witnesses_unavailable", "{answer}");
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "still refused: {answer}");
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        };
        assert!(check_quorum(cast["checkpoint"].as_str().unwrap(), &verifiers(&w.iter().collect::<Vec<_>>()), 2).is_ok());
        // Nothing lost or counted twice: three ballots, each once, under a cosigned checkpoint.
        let bundle = export_bundle(db, &id, "bundle");
        let ballots = String::from_utf8(bundle.log).unwrap().matches(r#""type":"ballot""#).count();
        assert_eq!(ballots, 3);
        assert!(check_quorum(&bundle.checkpoint, &verifiers(&w.iter().collect::<Vec<_>>()), 2).is_ok());
    }
}

both_backends! {
    async fn a_restored_database_on_another_host_cannot_get_its_fork_cosigned(db: &TestDb) {
        let w = WitnessProcess::start(db, "w1");
        let (id, tokens) = witnessed_election(db, &[&w], 1, 4);
        sv(db, &["election", "open", &id]).ok();
        let env = [("STRIKEVOTE_WITNESS_WAIT_SECONDS", "2".to_owned())];
        let host_a = serve_process(db, &["--database-url", &db.url], &env);
        assert_eq!(host_a.app().cast(&tokens[0].1, "yes").await.0, 200);
        host_a.stop();
        let snapshot = db.snapshot();
        let host_a = serve_process(db, &["--database-url", &db.url], &env);
        let (status, acknowledged) = host_a.app().cast(&tokens[1].1, "no").await;
        assert_eq!(status, 200, "{acknowledged}");
        let size = acknowledged["tree_size"].as_u64().unwrap();
        host_a.stop();

        // The operator restores the older backup on a second host, which keeps its signed heads
        // in its own folder, so nothing on that host remembers the acknowledged ballot.
        db.restore(snapshot);
        let mut env_b = env.to_vec();
        env_b.push(("STRIKEVOTE_HEADS_DIR", db.path("host-b.heads").display().to_string()));
        let host_b = serve_process(db, &["--database-url", &db.url], &env_b);
        let app = host_b.app();
        assert_eq!(token_status(&app, &tokens[1].1).await, "not_used", "the restore lost the ballot");
        // Host B records another ballot at the same size: the witness refuses to cosign the
        // fork and keeps it as evidence; its member is not told "accepted".
        let (status, answer) = app.cast(&tokens[2].1, "yes").await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"], "witnesses_unavailable");
        // (Host B tries again every few seconds: each try is refused and kept.)
        let forks = w.forks().await;
        assert!(!forks.is_empty());
        for fork in &forks {
            assert_eq!(fork["origin"], origin(&id));
            assert!(fork["reason"].as_str().unwrap().contains("forked"), "{forks:?}");
        }
        assert_eq!(w.holds(&origin(&id)).await, size, "the witness never went back");
        // What host B publishes is only what the witness cosigned before the fork.
        let (status, published) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        assert_eq!(status, 200);
        let published_size: u64 = published.lines().nth(1).unwrap().parse().unwrap();
        assert!(published_size < size, "{published}");
        // And nothing more is acknowledged there.
        let (status, answer) = app.cast(&tokens[3].1, "yes").await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(token_status(&app, &tokens[3].1).await, "not_used");
        host_b.stop();
    }
}

/// `teller decrypt` as the test's teller 1 against `server`, confirming an early close.
fn decrypt_from(db: &TestDb, id: &str, server: &str) -> Run {
    let state = teller_state(db, 1);
    let pass = db.path("teller.pass");
    sv_url(
        db,
        "sqlite://does-not-exist/nowhere.db",
        &[
            "teller",
            "decrypt",
            "--election",
            id,
            "--state",
            state.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--server",
            server,
            "--confirm-early-close",
        ],
        &[],
    )
}

both_backends! {
    async fn the_split_view_oracle_is_refused_by_the_tellers_for_want_of_cosignatures(db: &TestDb) {
        let w = WitnessProcess::start(db, "w1");
        let (id, tokens) = witnessed_election(db, &[&w], 1, 4);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        for (_, token) in tokens.iter().take(3) {
            assert_eq!(app.cast(token, "yes").await.0, 200);
        }
        // The operator's split view: the log up to one member's ballot, then closed early from
        // the console, signed with the deployment's own key (pinning it does not help) — while
        // the real vote goes on. Opening that local's total would reveal that member's vote.
        let real = export_bundle(db, &id, "real");
        let lines: Vec<String> = String::from_utf8(real.log.clone()).unwrap().lines().map(str::to_owned).collect();
        let first_ballot = lines.iter().position(|l| l.contains(r#""type":"ballot""#)).unwrap();
        let eid = strikevote_core::ElectionId::parse(&id).unwrap();
        let mut fork: Vec<String> = lines[..=first_ballot].to_vec();
        for e in [
            strikevote_core::entry::admin(&eid, strikevote_core::entry::AdminAction::Close, "cli:root"),
            strikevote_core::entry::close(&eid, chrono::Utc::now()),
        ] {
            fork.push(String::from_utf8(e.bytes).unwrap());
        }
        let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
        let leaves: Vec<_> = fork.iter().map(|l| strikevote_core::merkle::leaf_hash(l.as_bytes())).collect();
        let note = signer.sign_checkpoint(&strikevote_core::note::Checkpoint {
            origin: origin(&id),
            size: fork.len() as u64,
            root: strikevote_core::merkle::root_of(&leaves),
        });
        // The real checkpoint's cosignature, copied onto the fork's, does not verify there.
        let stolen: String = real.checkpoint.lines().skip(4).filter(|l| l.contains(w.name())).map(|l| format!("{l}\n")).collect();
        assert!(!stolen.is_empty());
        for (shown, expected) in [(note.clone(), "cosigned by 0 of the 1"), (format!("{note}{stolen}"), "do not verify")] {
            let impostor = start_impostor(shown, real.key.clone(), fork.clone());
            let err = decrypt_from(db, &id, &impostor.url()).fails();
            assert!(err.contains(expected) && err.contains("entry 0 lists the witnesses"), "{err}");
            assert!(err.contains("decrypts nothing"), "{err}");
        }
        // Nothing was decrypted anywhere: the real vote is open and has no share.
        assert!(!String::from_utf8(export_bundle(db, &id, "after").log).unwrap().contains("tally_share"));
        let (status, _) = app.get(&format!("/api/v1/elections/{id}/results")).await;
        assert_eq!(status, 409);
    }
}

both_backends! {
    async fn two_instances_on_one_database_share_the_witnesses_and_their_cosignatures(db: &TestDb) {
        let w: Vec<WitnessProcess> = ["w1", "w2"].iter().map(|n| WitnessProcess::start(db, n)).collect();
        let refs: Vec<&WitnessProcess> = w.iter().collect();
        let (id, tokens) = witnessed_election(db, &refs, 2, 40);
        sv(db, &["election", "open", &id]).ok();
        let (a, b) = (spawn_app(db).await, spawn_app(db).await);
        // Both instances cast at once; each asks the witnesses for its own checkpoints, and a
        // witness ahead of one instance (the other's checkpoint) is answered with a proof from
        // its size.
        // Then a second wave through B alone, once the first is answered: its checkpoint is
        // necessarily a later one, proven from what the witnesses cosigned for either.
        let (first, second) = tokens.split_at(30);
        let mut sizes = std::collections::BTreeSet::new();
        for wave in [first, second] {
            let mut tasks = Vec::new();
            for (i, (_, token)) in wave.iter().enumerate() {
                let app = if i % 2 == 0 && wave.len() == first.len() { a.clone() } else { b.clone() };
                let token = token.clone();
                tasks.push(tokio::spawn(async move { app.cast(&token, "yes").await }));
            }
            for task in tasks {
                let (status, cast) = task.await.unwrap();
                assert_eq!(status, 200, "{cast}");
                let note = cast["checkpoint"].as_str().unwrap();
                assert_eq!(check_quorum(note, &verifiers(&refs), 2).unwrap().len(), 2, "{note}");
                sizes.insert(cast["tree_size"].as_u64().unwrap());
            }
        }
        assert!(sizes.len() > 1, "several checkpoints were cosigned: {sizes:?}");
        let bundle = export_bundle(db, &id, "bundle");
        let ballots = String::from_utf8(bundle.log).unwrap().matches(r#""type":"ballot""#).count();
        assert_eq!(ballots, tokens.len());
        assert!(w[0].forks().await.is_empty() && w[1].forks().await.is_empty(), "no fork was seen");
    }
}

both_backends! {
    fn a_teller_sets_up_only_on_a_log_its_witnesses_cosigned(db: &TestDb) {
        let w = WitnessProcess::start(db, "w1");
        let file = db.path("e.toml");
        std::fs::write(&file, witnessed_definition(&[("600", 3)], &[&w], 1)).unwrap();
        let created = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL, "--json"]).ok();
        let created: serde_json::Value = serde_json::from_str(&created).unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let invitation = db.path("invitation-1");
        std::fs::write(&invitation, format!("{}\n", created["teller_invitations"][0]["code"].as_str().unwrap())).unwrap();
        let served = serve_process(db, &["--database-url", &db.url], &[]);
        let upstream = format!("http://127.0.0.1:{}", served.port);
        let pass = db.path("teller-pass");
        std::fs::write(&pass, "a teller's own passphrase\n").unwrap();
        let setup = |server: &str, state: &str| {
            let state = db.path(state);
            sv_url(db, "sqlite://does-not-exist/nowhere.db", &[
                "teller", "setup", "--election", &id, "--teller", "1",
                "--state", state.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(),
                "--work-factor", "2", "--invitation-file", invitation.to_str().unwrap(), "--server", server,
            ], &[])
        };
        // A relay that passes everything on but drops the witness's cosignature: the teller's
        // program refuses the log before pinning anything.
        let stripped = {
            let (upstream, name) = (upstream.clone(), w.name().to_owned());
            start_relay(move |req| {
                let mut answer = forward(&upstream, req);
                if req.path.ends_with("/checkpoint") {
                    let note = String::from_utf8(answer.body).unwrap();
                    answer.body = note.lines().filter(|l| !l.contains(&format!("\u{2014} {name} "))).map(|l| format!("{l}\n")).collect::<String>().into_bytes();
                }
                answer
            })
        };
        let err = setup(&stripped.url(), "t-relayed.state").fails();
        assert!(err.contains("cosigned by 0 of the 1 witnesses it needs"), "{err}");
        assert_eq!(show(db, &id)["key_ceremony"]["complete"], false);
        // Straight to the server, the checkpoint is cosigned: the teller pins it and goes on.
        let out = setup(&upstream, "t.state").ok();
        assert!(out.contains("pinned the election's log key"), "{out}");
        assert_eq!(show(db, &id)["key_ceremony"]["complete"], true, "{out}");
        served.stop();
    }
}
