//! Cosignatures checked by an implementation we did not write: Go's
//! golang.org/x/mod/sumdb/note (Debian's golang-golang-x-mod-dev, installed by tests/run.sh),
//! driven by tests/interop/cosig/main.go. Both ways: our witness's cosignature verifies there,
//! and a cosignature made there verifies here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use strikevote_core::merkle;
use strikevote_core::note::{Checkpoint, LogSigner};
use strikevote_core::witness::{WitnessKey, WitnessVerifier, check_quorum};

const ORIGIN: &str = "vote.example.org/elections/0192c7a0-0000-7000-8000-000000000002";

/// Builds the Go program (GOPATH mode: no module download) into `dir`.
fn go_program(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/cosig/main.go");
    let out = dir.join("cosig");
    let built = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", dir.join("gocache"))
        .env("HOME", dir)
        .output()
        .expect("`go` is missing: tests/run.sh installs golang-go and golang-golang-x-mod-dev");
    assert!(
        built.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

fn run(program: &Path, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn checkpoint(size: u64) -> Checkpoint {
    let leaves: Vec<_> = (0..size)
        .map(|i| merkle::leaf_hash(format!("ballot {i}").as_bytes()))
        .collect();
    Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: merkle::root_of(&leaves),
    }
}

#[test]
fn our_cosignature_verifies_with_go_sumdb_note_and_a_tampered_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let go = go_program(dir.path());
    let log = LogSigner::from_seed(&[3; 32]);
    let witness = WitnessKey::from_seed("witness.caucus.example.org", &[4; 32]).unwrap();
    let cp = checkpoint(42);
    let note = format!(
        "{}{}",
        log.sign_checkpoint(&cp),
        witness.cosign(&cp.body(), 1_764_000_000)
    );
    let log_vkey = log.verifier(ORIGIN).to_string();
    let witness_vkey = witness.verifier().to_string();
    let (ok, stdout, stderr) = run(&go, &["verify", &log_vkey, &witness_vkey], &note);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("verified: log {ORIGIN}, witness witness.caucus.example.org at time 1764000000")
    );
    let tampered = note.replacen("\n42\n", "\n43\n", 1);
    let (ok, _, stderr) = run(&go, &["verify", &log_vkey, &witness_vkey], &tampered);
    assert!(!ok);
    assert!(stderr.contains("error"), "{stderr}");
}

#[test]
fn a_cosignature_made_with_go_verifies_here_and_counts_toward_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let go = go_program(dir.path());
    let log = LogSigner::from_seed(&[3; 32]);
    let ours = WitnessKey::from_seed("witness.caucus.example.org", &[4; 32]).unwrap();
    let cp = checkpoint(7);
    let note = format!("{}{}", log.sign_checkpoint(&cp), ours.cosign(&cp.body(), 1));
    let seed = B64.encode([5u8; 32]);
    let (ok, stdout, stderr) = run(
        &go,
        &["cosign", "witness.neutral.example.net", &seed, "1764000123"],
        &note,
    );
    assert!(ok, "{stderr}");
    let (vkey, cosigned) = stdout.split_once('\n').unwrap();
    let theirs = WitnessVerifier::parse(vkey).unwrap();
    assert_eq!(theirs.cosigned(cosigned), Ok(1_764_000_123));
    // Our signature and the log's survived Go's rewriting of the note.
    assert_eq!(ours.verifier().cosigned(cosigned), Ok(1));
    assert_eq!(log.verifier(ORIGIN).verify_checkpoint(cosigned), Ok(cp));
    assert_eq!(
        check_quorum(cosigned, &[ours.verifier(), theirs], 2)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn both_our_verifiers_accept_the_worked_example_cosigned_by_go_instead() {
    // The documented worked example (docs/LOG_FORMAT.md; also the bundle fuzz seed): its entry 0
    // lists one witness, `witness.example.net`, the Ed25519 seed of 32 bytes 0x43.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seed_file = std::fs::read(root.join("tests/fuzz/seeds/bundle/worked_example")).unwrap();
    let mut parts = seed_file.split(|&b| b == 0xFF);
    let (log, note, key) = (
        parts.next().unwrap(),
        std::str::from_utf8(parts.next().unwrap()).unwrap(),
        std::str::from_utf8(parts.next().unwrap()).unwrap(),
    );
    // Drop our witness's line; let Go cosign with the same key instead.
    let log_signed: String = note
        .lines()
        .filter(|l| !l.starts_with("\u{2014} witness.example.net "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(strikevote_core::verify::verify_bundle(log, &log_signed, key).is_err());
    let dir = tempfile::tempdir().unwrap();
    let go = go_program(dir.path());
    let seed = B64.encode([0x43u8; 32]);
    let (ok, stdout, stderr) = run(
        &go,
        &["cosign", "witness.example.net", &seed, "1791150000"],
        &log_signed,
    );
    assert!(ok, "{stderr}");
    let (_, cosigned) = stdout.split_once('\n').unwrap();
    assert_ne!(cosigned, note, "a cosignature of another time");
    let report = strikevote_core::verify::verify_bundle(log, cosigned, key).unwrap();
    assert_eq!(report.cosigned_by, ["witness.example.net"]);
    // And the independent Python verifier, on the same three files.
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("log.jsonl"), log).unwrap();
    std::fs::write(bundle.join("checkpoint"), cosigned).unwrap();
    std::fs::write(bundle.join("key.vkey"), key).unwrap();
    let out = Command::new("python3")
        .arg(root.join("tests/interop/verify_bundle.py"))
        .arg(&bundle)
        .args(["--key", key])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("cosigned_by=witness.example.net"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
