//! The election log: lifecycle entries, the bundle verifying, tampering caught, freezing,
//! concurrent appends, and the read-only HTTP routes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use strikevote::audit::verify_bundle;
use strikevote::election::ElectionId;
use strikevote::log::merkle::{self, Hash};
use strikevote::log::{Checkpoint, LogSigner, key, store};

use crate::both_backends;
use crate::helpers::*;

fn types_of(log: &[u8]) -> Vec<String> {
    log.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            v["type"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn hash_hex(text: &str) -> Hash {
    hex::decode(text).unwrap().try_into().unwrap()
}

/// A closed election's bundle: create → roster → tokens → reissue → open → close.
fn closed_bundle(db: &TestDb) -> (String, Bundle) {
    let (id, _) = prepared_election(db, 9);
    sv(
        db,
        &["tokens", "reissue", "--election", &id, "--member", "M4"],
    )
    .ok();
    sv(db, &["election", "open", &id]).ok();
    sv(db, &["election", "close", &id]).ok();
    let bundle = export_bundle(db, &id, "bundle");
    (id, bundle)
}

both_backends! {
    fn the_bundle_of_a_whole_lifecycle_verifies(db: &TestDb) {
        let (id, bundle) = closed_bundle(db);
        assert_eq!(
            types_of(&bundle.log),
            [
                "election", "admin", "teller_key", "teller_polynomial", "election_key", "teller_ready",
                "admin", "roster", "roster", "roster", "admin", "tokens_issued", "admin",
                "token_reissued", "admin", "open", "admin", "close"
            ]
        );
        // Every admin action names who took it, never a member.
        let actions: Vec<(String, String)> = bundle
            .log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
            .filter(|v| v["type"] == "admin")
            .map(|v| (v["action"].as_str().unwrap().to_owned(), v["by"].as_str().unwrap().to_owned()))
            .collect();
        let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["create", "roster_import", "tokens_issue", "token_reissue", "open", "close"]);
        assert!(actions.iter().all(|(_, by)| by.starts_with("cli:")), "{actions:?}");
        assert!(!String::from_utf8_lossy(&bundle.log).contains("\"M4\""), "no member is named");
        let first = bundle.log.split(|&b| b == b'\n').next().unwrap();
        let first = std::str::from_utf8(first).unwrap();
        assert!(first.starts_with(&format!(r#"{{"v":9,"type":"election","election":"{id}","title":"Strike authorization 2026","#)), "{first}");
        let note_lines: Vec<&str> = bundle.checkpoint.split('\n').collect();
        assert_eq!(note_lines[0], format!("localhost:8080/elections/{id}"));
        assert_eq!(note_lines[1], "18");
        assert!(bundle.key.starts_with(&format!("localhost:8080/elections/{id}+")));

        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.size, 18);
        assert_eq!(report.phase, "closed");
        assert_eq!(report.eligible["600"], 3);

        let pinned = sv(db, &["key", "show", "--election", &id]).ok();
        let out = sv(db, &["audit", "verify", db.path("bundle").to_str().unwrap(), "--key", pinned.trim()]).ok();
        assert!(out.contains("OK: signature, root, entry rules and cryptography verified"), "{out}");
        assert!(out.contains("entries   18"), "{out}");
        // The verifier key printed by the CLI is the bundle's.
        assert_eq!(sv(db, &["key", "show", "--election", &id]).ok(), bundle.key);
    }
}

both_backends! {
    fn a_tampered_bundle_is_rejected_with_the_failure_named(db: &TestDb) {
        let (_, b) = closed_bundle(db);
        verify_bundle(&b.log, &b.checkpoint, &b.key).unwrap();

        // One flipped byte anywhere in any of the three files.
        for i in 0..b.log.len() {
            let mut log = b.log.clone();
            log[i] ^= 0x01;
            assert!(verify_bundle(&log, &b.checkpoint, &b.key).is_err(), "log byte {i} flipped");
        }
        for i in 0..b.checkpoint.len() {
            let mut bytes = b.checkpoint.clone().into_bytes();
            bytes[i] ^= 0x01;
            let Ok(text) = String::from_utf8(bytes) else { continue };
            assert!(verify_bundle(&b.log, &text, &b.key).is_err(), "checkpoint byte {i} flipped");
        }
        for i in 0..b.key.len() {
            let mut bytes = b.key.clone().into_bytes();
            bytes[i] ^= 0x01;
            let Ok(text) = String::from_utf8(bytes) else { continue };
            if text.trim_end() == b.key.trim_end() {
                continue; // the trailing newline is optional
            }
            assert!(verify_bundle(&b.log, &b.checkpoint, &text).is_err(), "key byte {i} flipped");
        }

        let lines: Vec<&[u8]> = b.log.split_inclusive(|&c| c == b'\n').collect();
        let join = |ls: &[&[u8]]| ls.concat();

        // A dropped entry.
        let mut dropped = lines.clone();
        dropped.remove(5);
        let err = verify_bundle(&join(&dropped), &b.checkpoint, &b.key).unwrap_err();
        assert!(err.0.contains("has 17 entries but the checkpoint is for a tree of 18"), "{err}");

        // Two entries swapped.
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        let err = verify_bundle(&join(&swapped), &b.checkpoint, &b.key).unwrap_err();
        assert!(err.0.contains("is not the checkpoint's root"), "{err}");

        // A checkpoint signed by another key.
        let origin = b.checkpoint.lines().next().unwrap().to_owned();
        let root: Hash = B64.decode(b.checkpoint.lines().nth(2).unwrap()).unwrap().try_into().unwrap();
        let other = LogSigner::from_seed(&[9; 32]);
        let forged = other.sign_checkpoint(&Checkpoint { origin: origin.clone(), size: 18, root });
        let err = verify_bundle(&b.log, &forged, &b.key).unwrap_err();
        assert!(err.0.contains("carries no signature by key"), "{err}");
        // ... even with that key's own vkey beside it, if the log is not the one it signed.
        let real = key::load_or_create(&db.path("strikevote.key"), None).unwrap();

        // A genuine checkpoint for a different size (signed by the real key).
        let leaves: Vec<Hash> = lines.iter().map(|l| merkle::leaf_hash(&l[..l.len() - 1])).collect();
        let short = real.sign_checkpoint(&Checkpoint { origin: origin.clone(), size: 17, root: merkle::root_of(&leaves[..17]) });
        let err = verify_bundle(&b.log, &short, &b.key).unwrap_err();
        assert!(err.0.contains("has 18 entries but the checkpoint is for a tree of 17"), "{err}");
        // That prefix ends between the official's `close` and the `close` entry, which one
        // append writes together: no real checkpoint does. The prefix before the action verifies.
        let err = verify_bundle(&join(&lines[..17]), &short, &b.key).unwrap_err();
        assert!(err.0.contains("entry 16: the log ends after an official's `close`, without its `close` entry"), "{err}");
        let before = real.sign_checkpoint(&Checkpoint { origin: origin.clone(), size: 16, root: merkle::root_of(&leaves[..16]) });
        verify_bundle(&join(&lines[..16]), &before, &b.key).unwrap();

        // Correctly signed logs that break the order rules are still refused.
        let mut reordered = lines.clone();
        let close = reordered.remove(17);
        reordered.insert(15, close);
        let log = join(&reordered);
        let leaves: Vec<Hash> = reordered.iter().map(|l| merkle::leaf_hash(&l[..l.len() - 1])).collect();
        let signed = real.sign_checkpoint(&Checkpoint { origin, size: 18, root: merkle::root_of(&leaves) });
        let err = verify_bundle(&log, &signed, &b.key).unwrap_err();
        assert!(err.0.contains("entry 15: an official's `open` is not followed by its `open` entry"), "{err}");

        // The CLI exits non-zero and names the failure.
        let dir = db.path("bundle");
        std::fs::write(dir.join("log.jsonl"), join(&swapped)).unwrap();
        let err = sv(db, &["audit", "verify", dir.to_str().unwrap(), "--key", b.key.trim()]).fails();
        assert!(err.contains("verification failed: the root of log.jsonl"), "{err}");
    }
}

both_backends! {
    fn the_definition_and_roster_freeze_when_the_vote_opens(db: &TestDb) {
        let id = create_election(db);
        let err = sv(db, &["election", "open", &id]).fails();
        assert!(err.contains("import its roster first"), "{err}");
        let err = sv(db, &["election", "close", &id]).fails();
        assert!(err.contains("cannot be closed: it is draft"), "{err}");

        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "700")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        sv(db, &["election", "open", &id]).ok();
        let size_open = show(db, &id);

        let err = sv(db, &["roster", "import", "--election", &id, &roster]).fails();
        assert!(err.contains("frozen once the vote opens"), "{err}");
        let err = sv(db, &["election", "open", &id]).fails();
        assert!(err.contains("cannot be opened: it is open"), "{err}");
        assert_eq!(show(db, &id), size_open, "refusals changed nothing");
        // The log is public while the vote runs: an auditor exports and checks it live.
        let live = sv(db, &["audit", "export", "--election", &id, "--out", "live"]).ok();
        assert!(live.contains("wrote"), "{live}");

        sv(db, &["election", "close", &id]).ok();
        let err = sv(db, &["tokens", "issue", "--election", &id, "--out", "t.csv"]).fails();
        assert!(err.contains("cannot issue tokens"), "{err}");
        let err = sv(db, &["tokens", "reissue", "--election", &id, "--member", "M1"]).fails();
        assert!(err.contains("cannot issue tokens"), "{err}");
        let bundle = export_bundle(db, &id, "b");
        assert_eq!(
            types_of(&bundle.log),
            [
                "election", "admin", "teller_key", "teller_polynomial", "election_key", "teller_ready",
                "admin", "roster", "roster", "roster", "admin", "open", "admin", "close"
            ]
        );
    }
}

both_backends! {
    fn a_reimport_logs_only_the_locals_that_changed(db: &TestDb) {
        let id = create_election(db);
        let first = write_roster(db, "a.csv", &[("M1", "600"), ("M2", "700")]);
        sv(db, &["roster", "import", "--election", &id, &first]).ok();
        // Same roster again: nothing to log. Then M3 joins 871.
        sv(db, &["roster", "import", "--election", &id, &first]).ok();
        let second = write_roster(db, "b.csv", &[("M1", "600"), ("M2", "700"), ("M3", "871")]);
        sv(db, &["roster", "import", "--election", &id, &second]).ok();
        sv(db, &["election", "open", &id]).ok();
        sv(db, &["election", "close", &id]).ok();
        let bundle = export_bundle(db, &id, "b");
        let lines: Vec<serde_json::Value> = bundle
            .log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let rosters: Vec<(String, u64)> = lines
            .iter()
            .filter(|v| v["type"] == "roster")
            .map(|v| (v["local"].as_str().unwrap().to_owned(), v["eligible"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            rosters,
            [("600".into(), 1), ("700".into(), 1), ("871".into(), 0), ("871".into(), 1)]
        );
        let digest = lines.iter().rev().find(|v| v["type"] == "roster").unwrap()["digest"].clone();
        use sha2::Digest;
        assert_eq!(digest, hex::encode(sha2::Sha256::digest(b"M3\n")));
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.eligible["871"], 1, "the later roster entry replaces the earlier");
    }
}

both_backends! {
    fn appends_from_several_processes_at_once_never_fork_the_log(db: &TestDb) {
        let (id, _) = prepared_election(db, 24);
        // 24 reissues in 8 processes at once, each an append of its own.
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let url = db.url.clone();
                let dir = db.dir().to_owned();
                let id = id.clone();
                std::thread::spawn(move || {
                    for i in (w..24).step_by(8) {
                        let out = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"))
                            .args(["tokens", "reissue", "--election", &id, "--member", &format!("M{i}")])
                            .args(["--database-url", &url])
                            .current_dir(&dir)
                            .output()
                            .unwrap();
                        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        sv(db, &["election", "open", &id]).ok();
        sv(db, &["election", "close", &id]).ok();
        let bundle = export_bundle(db, &id, "b");
        let types = types_of(&bundle.log);
        // election + admin, the key ceremony (4), admin + 3 rosters, admin + tokens_issued,
        // 24 × (admin + reissue), admin + open, admin + close.
        assert_eq!(types.len(), 64);
        assert_eq!(types.iter().filter(|t| *t == "token_reissued").count(), 24);
        verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();

        // Every checkpoint ever signed is a prefix of the final log: provably consistent.
        let election_id = ElectionId::parse(&id).unwrap();
        let mut conn = db.conn();
        let election = strikevote::election::find(&mut conn, election_id).unwrap();
        let all = store::all_checkpoints(&mut conn, election_id).unwrap();
        let sizes: Vec<u64> = all.iter().map(|c| c.size).collect();
        // One checkpoint per append batch; each batch is an action's entries together.
        // Creation (2), the ceremony's appends (1, 2 — the last polynomial and the election
        // key together —, 1), then the actions.
        let expected: Vec<u64> = [2, 3, 5, 6, 10, 12].into_iter().chain((14..=64).step_by(2)).collect();
        assert_eq!(sizes, expected, "one checkpoint per append, no gaps, no forks");
        let last = all.last().unwrap();
        for cp in &all {
            let proof = store::consistency_proof(&mut conn, &election, cp.size, last.size).unwrap();
            assert!(merkle::verify_consistency(cp.size, last.size, &cp.root, &last.root, &proof), "{}", cp.size);
        }
    }
}

both_backends! {
    async fn the_log_routes_serve_checkpoints_entries_and_proofs(db: &TestDb) {
        let (id, bundle) = closed_bundle(db);
        let app = spawn_app(db).await;
        let base = format!("/api/v1/elections/{id}");

        let (status, note) = app.get(&format!("{base}/checkpoint")).await;
        assert_eq!(status, 200);
        assert_eq!(note, bundle.checkpoint);
        let (_, vkey) = app.get(&format!("{base}/key")).await;
        assert_eq!(vkey, bundle.key);
        let (_, key) = app.get_json("/api/v1/key").await;
        assert_eq!(key["algorithm"], "ed25519");
        assert_eq!(format!("{}\n", key["public_key"].as_str().unwrap()), sv(db, &["key", "show"]).ok());

        let (status, entries) = app.get(&format!("{base}/entries")).await;
        assert_eq!(status, 200);
        assert_eq!(entries.as_bytes(), bundle.log.as_slice(), "exact bytes");
        let (_, part) = app.get(&format!("{base}/entries?start=2&end=4")).await;
        let lines: Vec<&str> = entries.lines().collect();
        assert_eq!(part, format!("{}\n{}\n", lines[2], lines[3]));

        let leaves: Vec<Hash> = lines.iter().map(|l| merkle::leaf_hash(l.as_bytes())).collect();
        let root = merkle::root_of(&leaves);
        let n = leaves.len() as u64;
        assert_eq!(n, 18);
        for index in 0..n {
            let (status, proof) = app.get_json(&format!("{base}/proof/inclusion?index={index}&size={n}")).await;
            assert_eq!(status, 200, "{proof}");
            let hashes: Vec<Hash> = proof["hashes"].as_array().unwrap().iter().map(|h| hash_hex(h.as_str().unwrap())).collect();
            assert_eq!(hash_hex(proof["leaf_hash"].as_str().unwrap()), leaves[index as usize]);
            assert_eq!(hash_hex(proof["root"].as_str().unwrap()), root);
            assert!(merkle::verify_inclusion(index, n, &leaves[index as usize], &hashes, &root), "index {index}");
        }
        for from in 1..=n {
            for to in from..=n {
                let (status, proof) = app.get_json(&format!("{base}/proof/consistency?from={from}&to={to}")).await;
                assert_eq!(status, 200, "{proof}");
                let hashes: Vec<Hash> = proof["hashes"].as_array().unwrap().iter().map(|h| hash_hex(h.as_str().unwrap())).collect();
                let old = merkle::root_of(&leaves[..from as usize]);
                let new = merkle::root_of(&leaves[..to as usize]);
                assert!(merkle::verify_consistency(from, to, &old, &new, &hashes), "{from} → {to}");
            }
        }
        // Defaults: the latest size.
        let (_, proof) = app.get_json(&format!("{base}/proof/inclusion?index=3")).await;
        assert_eq!(proof["size"], n);
    }
}

both_backends! {
    async fn bad_log_requests_get_a_400_and_unknown_elections_a_404(db: &TestDb) {
        let (id, _) = prepared_election(db, 3);
        let app = spawn_app(db).await;
        let base = format!("/api/v1/elections/{id}");
        // The log has 12 entries: election, admin, the key ceremony (4), admin, 3 rosters,
        // admin, tokens_issued.
        for (path, code) in [
            ("/proof/inclusion?index=12&size=12", "invalid_proof_request"),
            ("/proof/inclusion?index=0&size=13", "size_beyond_log"),
            ("/proof/inclusion?index=-1&size=5", "invalid_query"),
            ("/proof/inclusion?index=abc", "invalid_query"),
            ("/proof/inclusion", "invalid_query"),
            ("/proof/consistency?from=4&to=3", "invalid_proof_request"),
            ("/proof/consistency?from=0&to=3", "invalid_proof_request"),
            ("/proof/consistency?from=1&to=13", "size_beyond_log"),
            ("/proof/consistency?from=x&to=3", "invalid_query"),
            ("/entries?start=3&end=2", "invalid_range"),
            ("/entries?end=13", "size_beyond_log"),
            ("/entries?start=1e3", "invalid_query"),
        ] {
            let (status, body) = app.get_json(&format!("{base}{path}")).await;
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(body["error"], code, "{path}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {body}");
        }
        let (status, body) = app.get_json("/api/v1/elections/00000000-0000-0000-0000-000000000000/checkpoint").await;
        assert_eq!(status, 404);
        assert_eq!(body["error"], "election_not_found");
        let (status, body) = app.get_json("/api/v1/elections/nope/checkpoint").await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_election_id");
        // An empty range is fine and empty.
        let (status, body) = app.get(&format!("{base}/entries?start=8&end=8")).await;
        assert_eq!((status, body.as_str()), (200, ""));
    }
}
