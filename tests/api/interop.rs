//! Interoperability: an independent verifier, written in Python from DESIGN.md alone and
//! sharing no code with strikevote, accepts our bundles and refuses a tampered one.

use std::process::Command;

use crate::both_backends;
use crate::helpers::*;

fn python_verify(dir: &std::path::Path) -> (bool, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/verify_bundle.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
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
        let (ok, out) = python_verify(&dir);
        assert!(ok, "{out}");
        let root = bundle.checkpoint.lines().nth(2).unwrap();
        assert_eq!(out.trim(), format!("OK size=12 root={root} election={id}"));

        // It is a real verifier: a changed entry fails there too.
        let tampered = String::from_utf8(bundle.log).unwrap().replacen("\"eligible\":2", "\"eligible\":3", 1);
        std::fs::write(dir.join("log.jsonl"), tampered).unwrap();
        let (ok, out) = python_verify(&dir);
        assert!(!ok && out.contains("FAIL: Merkle root mismatch"), "{out}");
    }
}
