//! Interoperability: an independent verifier, written in Python from docs/LOG_FORMAT.md alone and
//! sharing no code with strikevote (its own Ristretto255, Merlin and proof checks), accepts our
//! bundles and refuses tampered ones, for the same reasons as ours.

use std::process::Command;

use crate::both_backends;
use crate::helpers::*;

/// Runs the Python verifier on the bundle in `dir`: whether it passed, and what it printed.
pub(crate) fn python_verify(dir: &std::path::Path, trust: &[&str]) -> (bool, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/verify_bundle.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .args(trust)
        .output()
        .expect("python3 runs the independent verifier");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

both_backends! {
    fn an_independent_verifier_accepts_our_bundle(db: &TestDb) {
        let (id, _) = prepared_election(db, 6);
        sv(db, &["election", "open", &id]).ok();
        sv(db, &["election", "close", &id]).ok();
        let bundle = export_bundle(db, &id, "bundle");
        let dir = db.path("bundle");
        let pinned = sv(db, &["key", "show", "--election", &id]).ok();
        let pinned = ["--key", pinned.trim()];
        let (ok, out) = python_verify(&dir, &pinned);
        assert!(ok, "{out}");
        let root = bundle.checkpoint.lines().nth(2).unwrap();
        let mut said = out.lines();
        assert_eq!(said.next(), Some(format!("OK size=16 root={root} election={id} cosigned_by=-").as_str()), "{out}");
        // Who sealed the ballots, by sealing code: the code named at open, nothing cast yet.
        let code = strikevote::sealing_code::sealing_code_sha256();
        assert_eq!(said.collect::<Vec<_>>(), ["sealed by server: 0 ballot(s), 0 checked first".to_owned(), format!("sealed by {code}: 0 ballot(s), 0 checked first")]);

        // It is a real verifier: a changed entry fails there too.
        let tampered = String::from_utf8(bundle.log).unwrap().replacen("\"eligible\":2", "\"eligible\":3", 1);
        std::fs::write(dir.join("log.jsonl"), tampered).unwrap();
        let (ok, out) = python_verify(&dir, &pinned);
        assert!(!ok && out.contains("FAIL: Merkle root mismatch"), "{out}");
    }
}

both_backends! {
    fn a_bundle_resigned_with_another_key_fails_every_verifier_given_the_real_key(db: &TestDb) {
        let (id, _) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        sv(db, &["election", "close", &id]).ok();
        let bundle = export_bundle(db, &id, "bundle");
        let shown = show(db, &id);
        let (fingerprint, origin) = (shown["key_fingerprint"].as_str().unwrap().to_owned(), shown["origin"].as_str().unwrap().to_owned());

        // The attacker changes an entry and re-signs the whole bundle with a key of their own.
        let forged_log = String::from_utf8(bundle.log).unwrap().replacen("\"eligible\":1", "\"eligible\":9", 1);
        let leaves: Vec<_> = forged_log.lines().map(|l| strikevote::log::merkle::leaf_hash(l.as_bytes())).collect();
        let theirs = strikevote::log::LogSigner::from_seed(&[7; 32]);
        let note = theirs.sign_checkpoint(&strikevote::log::Checkpoint {
            origin: origin.clone(),
            size: leaves.len() as u64,
            root: strikevote::log::merkle::root_of(&leaves),
        });
        let dir = db.path("forged");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("log.jsonl"), &forged_log).unwrap();
        std::fs::write(dir.join("checkpoint"), &note).unwrap();
        std::fs::write(dir.join("key.vkey"), format!("{}\n", theirs.verifier(&origin))).unwrap();
        let d = dir.to_str().unwrap();

        // Trusting the shipped key, it "verifies" — with a warning saying why that is worthless.
        let run = sv(db, &["audit", "verify", d, "--trust-bundle-key"]);
        assert!(run.stderr.contains("WARNING: trusting the key inside the bundle"), "{}", run.stderr);
        assert!(run.ok().contains("OK"));
        // Without a key the CLI refuses to guess.
        let err = sv(db, &["audit", "verify", d]).fails();
        assert!(err.contains("--key") && err.contains("--trust-bundle-key"), "{err}");
        // With the fingerprint from the notice, or the published key, it fails.
        let err = sv(db, &["audit", "verify", d, "--key", &fingerprint, "--origin", &origin]).fails();
        assert!(err.contains("not the key with the pinned fingerprint"), "{err}");
        let pinned = sv(db, &["key", "show", "--election", &id]).ok();
        let key_file = db.path("pinned.vkey");
        std::fs::write(&key_file, &pinned).unwrap();
        let err = sv(db, &["audit", "verify", d, "--key", key_file.to_str().unwrap()]).fails();
        assert!(err.contains("verification failed: checkpoint"), "{err}");
        // A fingerprint alone pins no log.
        let err = sv(db, &["audit", "verify", d, "--key", &fingerprint]).fails();
        assert!(err.contains("--origin"), "{err}");
        // The fingerprint with another election's origin fails too.
        let other = origin.replace(&id, "00000000-0000-0000-0000-000000000000");
        let err = sv(db, &["audit", "verify", db.path("bundle").to_str().unwrap(), "--key", &fingerprint, "--origin", &other]).fails();
        assert!(err.contains("not for the pinned origin"), "{err}");
        // The genuine bundle verifies with the fingerprint.
        let ok = sv(db, &["audit", "verify", db.path("bundle").to_str().unwrap(), "--key", &fingerprint.to_uppercase().replace('-', " "), "--origin", &origin]).ok();
        assert!(ok.contains(&format!("key       {fingerprint}")), "{ok}");

        // The independent Python verifier takes the key the same way.
        let (ok, out) = python_verify(&dir, &["--key", &fingerprint, "--origin", &origin]);
        assert!(!ok && out.contains("pinned fingerprint"), "{out}");
        let (ok, out) = python_verify(&dir, &["--key", pinned.trim()]);
        assert!(!ok && out.contains("FAIL"), "{out}");
        let (ok, out) = python_verify(&dir, &[]);
        assert!(!ok && out.contains("--key"), "{out}");
        let (ok, out) = python_verify(&db.path("bundle"), &["--key", &fingerprint, "--origin", &origin]);
        assert!(ok, "{out}");
    }
}

/// Builds the auditor's `strikevote-verify` (the core crate alone) and returns its path.
pub(crate) fn auditor_verifier() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "strikevote-core",
            "--bin",
            "strikevote-verify",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo builds the auditor's verifier");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("debug").join("strikevote-verify")
}

both_backends! {
    fn the_auditors_own_verifier_checks_a_bundle_the_service_exported(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        for (_, token) in &tokens[..2] {
            cast_directly(db, token);
        }
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        sv(db, &["election", "certify", &id]).ok();
        export_bundle(db, &id, "bundle");
        let shown = show(db, &id);
        let (fingerprint, origin) = (shown["key_fingerprint"].as_str().unwrap(), shown["origin"].as_str().unwrap());
        let verifier = auditor_verifier();
        let out = Command::new(&verifier).arg(db.path("bundle")).args(["--key", fingerprint, "--origin", origin]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("result    opened by teller(s) 1 and checked") && stdout.contains(&format!("key       {fingerprint}")), "{stdout}");
        // One yes ballot in each of the first two locals, recounted from the bundle.
        assert_eq!(stdout.matches("ballots       1  yes 1").count(), 2, "{stdout}");
        // And refuses without a pinned key, or with another one.
        let out = Command::new(&verifier).arg(db.path("bundle")).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let other = strikevote::log::note::fingerprint(&[9; 32]);
        let out = Command::new(&verifier).arg(db.path("bundle")).args(["--key", &other, "--origin", origin]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("pinned fingerprint"));
    }
}

/// Writes `log` re-signed with the election's real key into `dir`: only the cryptography
/// inside the entries can catch what was changed.
fn resigned(db: &TestDb, log: &str, origin: &str, dir: &str) -> std::path::PathBuf {
    let real = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
    let leaves: Vec<_> = log
        .lines()
        .map(|l| strikevote::log::merkle::leaf_hash(l.as_bytes()))
        .collect();
    let note = real.sign_checkpoint(&strikevote::log::Checkpoint {
        origin: origin.to_owned(),
        size: leaves.len() as u64,
        root: strikevote::log::merkle::root_of(&leaves),
    });
    let dir = db.path(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("log.jsonl"), log).unwrap();
    std::fs::write(dir.join("checkpoint"), note).unwrap();
    std::fs::write(dir.join("key.vkey"), format!("{}\n", real.verifier(origin))).unwrap();
    dir
}

/// Rewrites entry `index` of a log with `change`.
fn edit(log: &str, index: usize, change: impl Fn(&mut serde_json::Value)) -> String {
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let mut entry: serde_json::Value = serde_json::from_str(&lines[index]).unwrap();
    change(&mut entry);
    lines[index] = serde_json::to_string(&entry).unwrap();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

both_backends! {
    fn both_verifiers_refuse_forged_ballots_shares_and_results_even_correctly_signed(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 6);
        sv(db, &["election", "open", &id]).ok();
        for (_, token) in &tokens[..4] {
            cast_directly(db, token);
        }
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        let bundle = export_bundle(db, &id, "bundle");
        let log = String::from_utf8(bundle.log).unwrap();
        let origin = bundle.checkpoint.lines().next().unwrap().to_owned();
        let index_of = |kind: &str| log.lines().position(|l| l.contains(&format!("\"type\":\"{kind}\""))).unwrap();
        let key = sv(db, &["key", "show", "--election", &id]).ok();
        let key = ["--key", key.trim()];
        let (ok, out) = python_verify(&db.path("bundle"), &key);
        assert!(ok, "{out}");

        let ballot = index_of("ballot");
        let share = index_of("tally_share");
        let result = index_of("result");
        let teller_key = index_of("teller_key");
        let cases: Vec<(&str, String, String, &str)> = vec![
            (
                "a teller's key entry with another recipient (a relay's swap)",
                edit(&log, teller_key, |e| {
                    e["recipient"] = serde_json::json!("age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg");
                }),
                format!("entry {teller_key}: teller 1's key entry: its signature is not the teller's identity key's"),
                "teller 1's key entry is not signed by its identity key",
            ),
            (
                "decryption shares bound to another log",
                edit(&log, share, |e| e["closed"]["size"] = serde_json::json!(3)),
                format!("entry {share}: teller 1's shares were made on another log"),
                "teller 1's shares are bound to another log",
            ),
            (
                "a ballot whose proof fails",
                edit(&log, ballot, |e| {
                    let r = e["ballot"]["range_proof"]["ring_responses"].as_array_mut().unwrap();
                    r.swap(0, 1);
                }),
                format!("entry {ballot}: the ballot's proofs do not verify"),
                "the ballot's proofs do not verify",
            ),
            (
                "a ballot encrypting two choices (its ciphertexts doubled)",
                edit(&log, ballot, |e| {
                    let c = e["ballot"]["choices"][0].clone();
                    e["ballot"]["choices"][1] = c;
                }),
                format!("entry {ballot}: the ballot's proofs do not verify"),
                "the ballot's proofs do not verify",
            ),
            (
                "a forged decryption share",
                edit(&log, share, |e| {
                    let s = e["shares"]["600"].as_array_mut().unwrap();
                    let (a, b) = (s[0]["share"].clone(), s[1]["share"].clone());
                    s[0]["share"] = b;
                    s[1]["share"] = a;
                }),
                format!("entry {share}: teller 1's decryption share of sum 0 does not verify"),
                "teller 1's decryption share does not verify",
            ),
            (
                "a share from a key that is not a teller's",
                edit(&log, share, |e| e["teller"] = serde_json::json!(2)),
                format!("entry {share}: there is no teller 2"),
                "a decryption share out of place",
            ),
            (
                "a result that disagrees",
                edit(&log, result, |e| {
                    let yes = e["locals"]["600"]["yes"].as_u64().unwrap();
                    e["locals"]["600"]["yes"] = serde_json::json!(yes + 1);
                }),
                format!("entry {result}: the result entry is not what the tellers' shares open"),
                "the result for local 600 is not what the shares open",
            ),
        ];
        for (k, (what, forged, ours, theirs)) in cases.into_iter().enumerate() {
            let dir = resigned(db, &forged, &origin, &format!("forged-{k}"));
            let err = sv(db, &["audit", "verify", dir.to_str().unwrap(), key[0], key[1]]).fails();
            assert!(err.contains(&ours), "{what}: {err}");
            let (ok, out) = python_verify(&dir, &key);
            assert!(!ok && out.contains(theirs), "{what}: {out}");
        }
    }
}
