//! The CLI and the fixtures made with it: elections, rosters, tokens, officials, bundles.

use super::*;

/// What a CLI run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "command failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts a clean failure (exit 1, a message, no panic) and returns stderr.
    pub fn fails(self) -> String {
        assert_eq!(
            self.code, 1,
            "expected exit 1\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.starts_with("error: "),
            "stderr: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "stderr: {}", self.stderr);
        self.stderr
    }
}

/// The `strikevote-teller` program, beside `strikevote` in the target directory (tests/run.sh
/// builds the workspace's programs before the tests).
pub fn teller_program() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_BIN_EXE_strikevote"))
        .with_file_name(format!("strikevote-teller{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the suite with `bash tests/run.sh`, or `cargo build --workspace --bins --features strikevote/failpoints` first",
        path.display()
    );
    path
}

/// Runs `strikevote ARGS --database-url URL` in the test's scratch directory.
pub fn sv(db: &TestDb, args: &[&str]) -> Run {
    sv_with_env(db, args, &[])
}

/// As [`sv`], with extra environment variables.
pub fn sv_with_env(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Run {
    sv_url(db, &db.url, args, env)
}

/// As [`sv_with_env`], against the database at `url` (a fork, or nowhere for a teller's own
/// machine).
pub fn sv_url(db: &TestDb, url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strikevote"));
    command
        .args(args)
        .arg("--database-url")
        .arg(url)
        .current_dir(db.dir())
        .env_remove("STRIKEVOTE_CONFIG")
        .env_remove("STRIKEVOTE_DATABASE_URL")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run the strikevote binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The public URL the tests' elections are created under.
pub const PUBLIC_URL: &str = "http://localhost:8080";

/// A delegate-rule definition with the given locals as (code, delegates). It opens any total,
/// however few its ballots (`small_locals.min_ballots = 1`), so that tests of other things can
/// cast a ballot or two; the tests of small locals raise it (tests/api/small_locals.rs).
pub fn definition_toml(locals: &[(&str, u32)]) -> String {
    let mut text = String::from(
        r#"title = "Strike authorization 2026"
question = "Do you authorize a strike if the producers do not reach an agreement?"
choices = ["yes", "no"]
rule = "delegates"
threshold = { num = 1, den = 2, cmp = "more_than" }
local_threshold = { num = 3, den = 4, cmp = "at_least" }
opens_at = "2026-01-01T00:00:00Z"
closes_at = "2036-01-01T00:00:00Z"
tellers = { count = 1, threshold = 1 }
small_locals = { min_ballots = 1 }
"#,
    );
    for (code, delegates) in locals {
        text.push_str(&format!(
            "\n[[locals]]\ncode = \"{code}\"\nname = \"Local {code}\"\ndelegates = {delegates}\n"
        ));
    }
    text
}

/// Runs the election's key ceremony in this process, every teller's state in memory, through
/// the same store as `strikevote teller setup` (with the CLI's key file).
pub fn run_ceremony(db: &TestDb, id: &str) {
    let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let id = strikevote::election::ElectionId::parse(id).unwrap();
    let files = strikevote::teller::ceremony::run_all(&mut conn, &signer, id).unwrap();
    std::fs::write(db.path("teller.pass"), TELLER_PASSPHRASE).unwrap();
    for (file, _) in files {
        // A low scrypt work factor: the tests open these files many times.
        file.save(&teller_state(db, file.teller), TELLER_PASSPHRASE, Some(4))
            .unwrap();
    }
}

/// The passphrase of the test tellers' state files (in `teller.pass`).
pub const TELLER_PASSPHRASE: &str = "test teller passphrase";

/// Where [`run_ceremony`] keeps teller `n`'s state file.
pub fn teller_state(db: &TestDb, n: usize) -> std::path::PathBuf {
    db.path(&format!("teller-{n}.state"))
}

/// `strikevote teller decrypt` beside the server's database, with this state file and passphrase.
/// The tests' elections close early (their closing time is years away), which each teller
/// confirms (`--confirm-early-close`).
pub fn teller_decrypt_with(db: &TestDb, id: &str, state: &Path, pass: &Path) -> Run {
    let (state, pass) = (state.to_str().unwrap(), pass.to_str().unwrap());
    sv(
        db,
        &[
            "teller",
            "decrypt",
            "--election",
            id,
            "--state",
            state,
            "--passphrase-file",
            pass,
            "--confirm-early-close",
        ],
    )
}

/// After close: every teller of [`run_ceremony`] runs `teller decrypt` (the CLI, beside the
/// server's database) in turn, until the result is decrypted; returns what the last printed.
pub fn decrypt(db: &TestDb, id: &str) -> String {
    let pass = db.path("teller.pass");
    let mut last = String::new();
    for n in 1.. {
        let state = teller_state(db, n);
        if !state.exists() {
            break;
        }
        last = teller_decrypt_with(db, id, &state, &pass).ok();
        if last.contains("decrypted by") {
            break;
        }
    }
    assert!(
        last.contains("decrypted by"),
        "the tellers did not decrypt: {last}"
    );
    last
}

/// Creates an election with locals 600, 700 and 871 through the CLI and runs its key
/// ceremony (one teller); returns its id.
pub fn create_election(db: &TestDb) -> String {
    let id = create_election_only(db);
    run_ceremony(db, &id);
    id
}

/// Creates an election with locals 600, 700 and 871 through the CLI, and no more.
pub fn create_election_only(db: &TestDb) -> String {
    create_election_from(
        db,
        &definition_toml(&[("600", 76), ("700", 56), ("871", 24)]),
    )
}

/// Creates an election from definition text through the CLI (no key ceremony); returns its id.
pub fn create_election_from(db: &TestDb, definition: &str) -> String {
    let file = db.path("election.toml");
    std::fs::write(&file, definition).unwrap();
    let file = file.to_str().unwrap();
    sv(
        db,
        &[
            "election",
            "create",
            "--file",
            file,
            "--public-url",
            PUBLIC_URL,
        ],
    )
    .ok()
    .trim()
    .to_owned()
}

/// Writes a roster CSV of `(member_id, local)` pairs and returns its path.
pub fn write_roster(db: &TestDb, name: &str, members: &[(&str, &str)]) -> String {
    let mut text = String::from("member_id,local,name,email\n");
    for (id, local) in members {
        text.push_str(&format!(
            "{id},{local},Member {id},{}@example.org\n",
            id.to_lowercase()
        ));
    }
    let path = db.path(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Reads an issuance CSV into rows keyed by column name.
pub fn read_token_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("token CSV");
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(str::to_owned)
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// `election show --json` parsed.
pub fn show(db: &TestDb, id: &str) -> serde_json::Value {
    serde_json::from_str(&sv(db, &["election", "show", id, "--json"]).ok()).unwrap()
}

/// Creates an election with a roster of `members` (member `Mk` in local 600, 700 or 871 as
/// k mod 3) and issued tokens; returns the id and the tokens as (member_id, token), in the
/// CSV's order (by local, then member id).
pub fn prepared_election(db: &TestDb, members: usize) -> (String, Vec<(String, String)>) {
    let id = create_election(db);
    let ids: Vec<String> = (0..members).map(|i| format!("M{i}")).collect();
    let pairs: Vec<(&str, &str)> = ids
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), ["600", "700", "871"][i % 3]))
        .collect();
    let roster = write_roster(db, "roster.csv", &pairs);
    sv(db, &["roster", "import", "--election", &id, &roster]).ok();
    let tokens = issue_tokens(db, &id);
    (id, tokens)
}

/// Issues every member of the roster a token through the CLI; returns (member id, token).
pub fn issue_tokens(db: &TestDb, id: &str) -> Vec<(String, String)> {
    let out = db.path("tokens.csv");
    let out_arg = out.to_str().unwrap();
    sv(db, &["tokens", "issue", "--election", id, "--out", out_arg]).ok();
    let tokens = read_token_csv(&out)
        .into_iter()
        .map(|r| (r["member_id"].clone(), r["token"].clone()))
        .collect();
    std::fs::remove_file(out).unwrap();
    tokens
}

/// The three files of an exported bundle.
pub struct Bundle {
    pub log: Vec<u8>,
    pub checkpoint: String,
    pub key: String,
}

/// Exports the election's bundle through the CLI and reads it back.
pub fn export_bundle(db: &TestDb, id: &str, name: &str) -> Bundle {
    let dir = db.path(name);
    sv(
        db,
        &[
            "audit",
            "export",
            "--election",
            id,
            "--out",
            dir.to_str().unwrap(),
        ],
    )
    .ok();
    Bundle {
        log: std::fs::read(dir.join("log.jsonl")).unwrap(),
        checkpoint: std::fs::read_to_string(dir.join("checkpoint")).unwrap(),
        key: std::fs::read_to_string(dir.join("key.vkey")).unwrap(),
    }
}

/// The password every test official gets.
pub const PASSWORD: &str = "tellers count every ballot twice";

/// Runs `strikevote admin create` with `password` on standard input.
pub fn create_account(db: &TestDb, username: &str, role: &str, password: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .args(["admin", "create", "--username", username, "--role", role])
        .args(["--database-url", &db.url])
        .current_dir(db.dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Creates an official through the CLI (password on standard input) and returns an API
/// token for them.
pub fn official(db: &TestDb, username: &str, role: &str) -> String {
    create_account(db, username, role, PASSWORD).ok();
    sv(
        db,
        &[
            "admin",
            "token",
            "create",
            "--username",
            username,
            "--name",
            "tests",
        ],
    )
    .ok()
    .trim()
    .to_owned()
}

/// Casts one `yes` ballot through the library, with the key file the CLI and server use.
pub fn cast_directly(db: &TestDb, token: &str) -> String {
    cast_choice(db, token, strikevote::election::Choice::Yes)
}

/// Casts a `yes` ballot with each of `tokens` in one batch (one checkpoint for them all).
pub fn cast_batch(db: &TestDb, tokens: &[&str]) {
    let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let requests: Vec<_> = tokens
        .iter()
        .map(|token| strikevote::ballot::CastRequest {
            token: strikevote::token::PlainToken::parse(token).unwrap().hash(),
            sealing: strikevote::ballot::Sealing::Server(strikevote::election::Choice::Yes),
        })
        .collect();
    let keys = strikevote::ballot::ElectionKeys::default();
    let answers = strikevote::ballot::commit_batch(&mut conn, &signer, &keys, &requests).unwrap();
    assert!(
        answers.iter().all(Result::is_ok),
        "a ballot of the batch was refused"
    );
}

/// Casts one ballot for `choice` through the library, with the key file the CLI and server use.
pub fn cast_choice(db: &TestDb, token: &str, choice: strikevote::election::Choice) -> String {
    let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let request = strikevote::ballot::CastRequest {
        token: strikevote::token::PlainToken::parse(token).unwrap().hash(),
        sealing: strikevote::ballot::Sealing::Server(choice),
    };
    let keys = strikevote::ballot::ElectionKeys::default();
    let answers = strikevote::ballot::commit_batch(&mut conn, &signer, &keys, &[request]).unwrap();
    answers.into_iter().next().unwrap().unwrap().receipt
}

/// A program of tests/.venv (`python`, `schemathesis`; tests/run.sh makes the venv from
/// tests/requirements.txt).
pub fn venv_tool(name: &str) -> std::path::PathBuf {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/.venv/bin")
        .join(name);
    assert!(
        tool.exists(),
        "tests/.venv/bin/{name} is missing: run the suite with `bash tests/run.sh`, which creates it"
    );
    tool
}

/// The fingerprint `teller setup` printed (`teller N: your fingerprint is XXXX-… — …`).
pub fn fingerprint_in(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains("your fingerprint is"))
        .expect(out);
    line.split("your fingerprint is ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// SHA-256 of `bytes`, lower-case hex (as `sha256sum` prints it).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The fingerprint of the election log key in the test's directory (`strikevote key show`).
pub fn log_key_fingerprint(db: &TestDb) -> String {
    let key = sv(db, &["key", "show"]).ok();
    let key: [u8; 32] =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key.trim())
            .unwrap()
            .try_into()
            .unwrap();
    strikevote_core::note::fingerprint(&key)
}
