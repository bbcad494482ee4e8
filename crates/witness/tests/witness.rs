//! The witness as a real process on a loopback port, played as a log and as an operator who
//! forks it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strikevote_core::merkle::{self, Hash};
use strikevote_core::note::{Checkpoint, LogSigner};
use strikevote_core::witness::{AddCheckpoint, WitnessVerifier};

const PREFIX: &str = "vote.example.org/elections/";
const ORIGIN: &str = "vote.example.org/elections/0192c7a0-0000-7000-8000-000000000001";

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_strikevote-witness")
}

fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(exe())
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn log() -> LogSigner {
    LogSigner::from_seed(&[7; 32])
}

/// A new witness in `dir`, witnessing [`log`]'s elections; returns its verifier key.
fn init(dir: &Path) -> WitnessVerifier {
    let out = cli(dir, &["init", "--name", "witness.caucus.example.org"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let vkey = stdout.lines().last().unwrap();
    let log_vkey = log().verifier(ORIGIN).to_string();
    let out = cli(
        dir,
        &["add-log", "--origin-prefix", PREFIX, "--log-key", &log_vkey],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    WitnessVerifier::parse(vkey).unwrap()
}

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(dir: &Path, port: u16) -> Running {
    let child = Command::new(exe())
        .arg("--dir")
        .arg(dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(&format!("{}/", running.url)).call().is_err() {
        assert!(Instant::now() < deadline, "the witness did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

fn leaves(tag: &str, n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| merkle::leaf_hash(format!("{tag} {i}").as_bytes()))
        .collect()
}

fn checkpoint(all: &[Hash]) -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.into(),
        size: all.len() as u64,
        root: merkle::root_of(all),
    }
}

fn consistency(from: u64, all: &[Hash]) -> Vec<Hash> {
    if from == 0 {
        return vec![];
    }
    merkle::consistency_plan(from, all.len() as u64)
        .unwrap()
        .iter()
        .map(|&(s, e)| merkle::root_of(&all[s as usize..e as usize]))
        .collect()
}

/// Sends `add-checkpoint`; returns the status, the content type and the body (status 0 when
/// the connection failed).
fn add(url: &str, old: u64, proof: Vec<Hash>, note: &str) -> (u16, String, String) {
    let body = AddCheckpoint {
        old_size: old,
        proof,
        note: note.to_owned(),
    }
    .to_body();
    let response = match ureq::post(&format!("{url}/add-checkpoint")).send_string(&body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return (0, String::new(), e.to_string()),
    };
    let status = response.status();
    let kind = response.content_type().to_owned();
    (status, kind, response.into_string().unwrap())
}

/// Submits the tree `all` as an extension of `old`, with its proof.
fn extend(url: &str, old: u64, all: &[Hash]) -> (u16, String, String) {
    let note = log().sign_checkpoint(&checkpoint(all));
    add(url, old, consistency(old, all), &note)
}

#[test]
fn the_witness_cosigns_extensions_and_tells_a_caller_behind_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let witness = init(dir.path());
    let running = serve(dir.path(), free_port());
    let all = leaves("ballot", 30);

    let note = log().sign_checkpoint(&checkpoint(&all[..10]));
    let (status, _, line) = add(&running.url, 0, vec![], &note);
    assert_eq!(status, 200, "{line}");
    assert!(line.starts_with("\u{2014} witness.caucus.example.org "));
    let cosigned = format!("{note}{line}");
    let time = witness.cosigned(&cosigned).unwrap();
    assert!(time > 1_700_000_000, "a real time: {time}");

    assert_eq!(extend(&running.url, 10, &all[..25]).0, 200);
    // A caller that thinks the witness is at 10 is told 25, in the protocol's media type.
    let (status, kind, body) = extend(&running.url, 10, &all);
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "25\n")
    );
    assert_eq!(extend(&running.url, 25, &all).0, 200);
    // The same checkpoint again is cosigned again.
    assert_eq!(extend(&running.url, 30, &all).0, 200);

    // Logs it does not witness, keys it does not trust, junk.
    let stranger = LogSigner::from_seed(&[8; 32]).sign_checkpoint(&checkpoint(&all));
    assert_eq!(add(&running.url, 30, vec![], &stranger).0, 403);
    let elsewhere = log().sign_checkpoint(&Checkpoint {
        origin: "other.example.org/log".into(),
        ..checkpoint(&all)
    });
    assert_eq!(add(&running.url, 0, vec![], &elsewhere).0, 404);
    let (status, _, body) = add(
        &running.url,
        31,
        vec![],
        &log().sign_checkpoint(&checkpoint(&all)),
    );
    assert_eq!(status, 400, "{body}");
    let junk = ureq::post(&format!("{}/add-checkpoint", running.url)).send_string("old 1\n");
    assert!(matches!(junk, Err(ureq::Error::Status(400, _))));

    let state: serde_json::Value = ureq::get(&format!("{}/", running.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(state["verifier_key"], witness.to_string());
    assert_eq!(state["checkpoints"][0]["size"], 30);
    assert_eq!(state["forks_refused"], 0);
}

#[test]
fn a_fork_is_refused_and_kept_as_evidence_for_anyone_to_read() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let running = serve(dir.path(), free_port());
    let honest = leaves("ballot", 23);
    assert_eq!(extend(&running.url, 0, &honest[..22]).0, 200);
    assert_eq!(extend(&running.url, 22, &honest).0, 200);

    // The operator restores the database at 22 and appends another ballot: a second tree of
    // size 23, signed with the real key.
    let mut restored = honest[..22].to_vec();
    restored.push(merkle::leaf_hash(b"another ballot"));
    let fork = log().sign_checkpoint(&checkpoint(&restored));
    // From 22 (what the restored database last had cosigned) it is told the witness is at 23.
    let (status, _, body) = add(&running.url, 22, consistency(22, &restored), &fork);
    assert_eq!((status, body.as_str()), (409, "23\n"));
    // At 23 it has another root: refused, and evidence.
    let (status, _, body) = add(&running.url, 23, vec![], &fork);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("forked"), "{body}");
    // Growing the fork does not help: no proof from the honest 23 exists.
    restored.push(merkle::leaf_hash(b"one more"));
    let (status, _, _) = extend(&running.url, 23, &restored);
    assert_eq!(status, 422);

    let evidence: Vec<serde_json::Value> = ureq::get(&format!("{}/forks", running.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(evidence.len(), 2);
    assert_eq!(evidence[0]["origin"], ORIGIN);
    // The evidence holds both signed views: what the witness cosigned and what it refused.
    let held = evidence[0]["held"].as_str().unwrap();
    assert_eq!(
        log().verifier(ORIGIN).verify_checkpoint(held).unwrap(),
        checkpoint(&honest)
    );
    let refused = AddCheckpoint::parse(evidence[0]["refused"].as_str().unwrap()).unwrap();
    assert_eq!(refused.note, fork);
    let shown = cli(dir.path(), &["show"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("forks refused: 2"));
}

#[test]
fn a_witness_killed_mid_vote_restarts_where_it_was_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let port = free_port();
    let all = leaves("ballot", 400);
    let mut running = serve(dir.path(), port);
    // A log sending checkpoint after checkpoint; the witness is killed (SIGKILL) mid-way.
    let url = running.url.clone();
    let sender = std::thread::spawn(move || {
        let mut acknowledged = 0;
        for size in 1..=all.len() {
            match extend(&url, acknowledged, &all[..size]) {
                (200, _, _) => acknowledged = size as u64,
                _ => break,
            }
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(300));
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    let acknowledged = sender.join().unwrap();
    assert!(
        acknowledged > 0 && acknowledged < 400,
        "killed mid-way: {acknowledged}"
    );

    let running = serve(dir.path(), port);
    let all = leaves("ballot", 400);
    // Everything it acknowledged is still what it holds (or one more it recorded but could
    // not answer): it never goes back.
    let (status, _, body) = extend(&running.url, 0, &all[..1]);
    assert_eq!(status, 409);
    let held: u64 = body.trim().parse().unwrap();
    assert!(
        held == acknowledged || held == acknowledged + 1,
        "held {held}, acknowledged {acknowledged}"
    );
    let older = log().sign_checkpoint(&checkpoint(&all[..held as usize - 1]));
    assert_eq!(add(&running.url, held, vec![], &older).0, 400);
    assert_eq!(extend(&running.url, held, &all).0, 200);
}

#[test]
fn one_directory_serves_one_witness_and_bad_commands_say_why() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let _running = serve(dir.path(), free_port());
    let second = cli(
        dir.path(),
        &["serve", "--bind", &format!("127.0.0.1:{}", free_port())],
    );
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another strikevote-witness"));
    let again = cli(dir.path(), &["init", "--name", "x.example"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already"));
    let empty = tempfile::tempdir().unwrap();
    let out = cli(empty.path(), &["init", "--name", "has space"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("key name"));
    let fresh = tempfile::tempdir().unwrap();
    assert!(
        cli(fresh.path(), &["init", "--name", "w.example"])
            .status
            .success()
    );
    let bad_key = cli(
        fresh.path(),
        &["add-log", "--origin-prefix", PREFIX, "--log-key", "nope"],
    );
    assert!(!bad_key.status.success());
    assert!(String::from_utf8_lossy(&bad_key.stderr).contains("neither a log verifier key"));
    let no_logs = cli(fresh.path(), &["serve"]);
    assert!(String::from_utf8_lossy(&no_logs.stderr).contains("witnesses no log"));
}
