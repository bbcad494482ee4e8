//! Witnesses as real processes (`strikevote witness serve`) on loopback ports, each with its own
//! directory, witnessing this test's deployment (its log key, its public host).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{PUBLIC_URL, TestDb, sv};

/// A running witness.
pub struct WitnessProcess {
    child: Option<Child>,
    /// Its directory (key, configuration, state).
    pub dir: PathBuf,
    /// Its submission prefix.
    pub url: String,
    /// Its verifier key.
    pub vkey: String,
    port: u16,
}

fn witness_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .arg("witness")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

impl WitnessProcess {
    /// Makes a witness named `name` in the test's directory, witnessing the deployment's
    /// elections, and starts it.
    pub fn start(db: &TestDb, name: &str) -> Self {
        let dir = db.path(&format!("witness-{name}"));
        let out = witness_cli(&dir, &["init", "--name", &format!("{name}.example.org")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vkey = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned();
        let log_key = sv(db, &["key", "show"]).ok().trim().to_owned();
        let prefix = format!("{}/elections/", PUBLIC_URL.trim_start_matches("http://"));
        let out = witness_cli(
            &dir,
            &["add-log", "--origin-prefix", &prefix, "--log-key", &log_key],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut witness = Self {
            child: None,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            vkey,
            port,
        };
        witness.restart();
        witness
    }

    /// Starts it again (on the same port, from the same directory).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the witness is running");
        let child = Command::new(env!("CARGO_BIN_EXE_strikevote"))
            .arg("witness")
            .arg("--dir")
            .arg(&self.dir)
            .args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the witness did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Its key name.
    pub fn name(&self) -> &str {
        self.vkey.split('+').next().unwrap()
    }

    /// The evidence of forks it kept (`GET /forks`).
    pub async fn forks(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/forks", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The size of the latest checkpoint it cosigned of `origin` (0 if none).
    pub async fn holds(&self, origin: &str) -> u64 {
        let state: serde_json::Value = reqwest::get(format!("{}/", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["origin"] == origin)
            .map_or(0, |c| c["size"].as_u64().unwrap())
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The test definition of [`super::definition_toml`] with `witnesses`, `quorum` of them needed.
pub fn witnessed_definition(
    locals: &[(&str, u32)],
    witnesses: &[&WitnessProcess],
    quorum: usize,
) -> String {
    let mut text = super::definition_toml(locals);
    text.push_str(&format!("\n[witnesses]\nquorum = {quorum}\n"));
    for (i, w) in witnesses.iter().enumerate() {
        text.push_str(&format!(
            "[[witnesses.list]]\nname = \"Witness {i}\"\nkey = \"{}\"\nurl = \"{}\"\n",
            w.vkey, w.url
        ));
    }
    text
}

/// An election with `witnesses` (`quorum` needed), its key ceremony done, a roster of
/// `members` in local 600 and their tokens.
pub fn witnessed_election(
    db: &TestDb,
    witnesses: &[&WitnessProcess],
    quorum: usize,
    members: usize,
) -> (String, Vec<(String, String)>) {
    let id =
        super::create_election_from(db, &witnessed_definition(&[("600", 1)], witnesses, quorum));
    super::run_ceremony(db, &id);
    let ids: Vec<String> = (0..members).map(|i| format!("M{i}")).collect();
    let pairs: Vec<(&str, &str)> = ids.iter().map(|m| (m.as_str(), "600")).collect();
    let roster = super::write_roster(db, "roster.csv", &pairs);
    sv(db, &["roster", "import", "--election", &id, &roster]).ok();
    let tokens = super::issue_tokens(db, &id);
    (id, tokens)
}
