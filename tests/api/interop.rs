//! Interoperability: an independent verifier, written in Python from docs/DESIGN.md alone and
//! sharing no code with strikevote, accepts our bundles and refuses a tampered one.

use std::process::Command;

use crate::both_backends;
use crate::helpers::*;

fn python_verify(dir: &std::path::Path, trust: &[&str]) -> (bool, String) {
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
        assert_eq!(out.trim(), format!("OK size=16 root={root} election={id}"));

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
fn auditor_verifier() -> std::path::PathBuf {
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
        assert!(stdout.contains("result    recounted and certified") && stdout.contains(&format!("key       {fingerprint}")), "{stdout}");
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
