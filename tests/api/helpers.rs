//! Test fixtures: a fresh database per test on either backend, the CLI binary, a running app.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;
use diesel::sql_types::Text;
use strikevote::db::{self, DatabaseUrl, Pool, PooledConn};
use strikevote::settings::Settings;
use strikevote::startup::Application;
use tempfile::TempDir;

/// Where the PostgreSQL tests connect to create their databases.
pub fn postgres_admin_url() -> String {
    std::env::var("STRIKEVOTE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty, migrated database and a scratch directory, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    dir: TempDir,
    pg_name: Option<String>,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    text: String,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("strikevote.db").display());
                Self {
                    backend,
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!(
                        "\n\nPostgreSQL is not reachable at {admin}: {e}\n\
                         The PostgreSQL tests are never skipped. Start a server, e.g.\n  \
                         pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                         or `docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`,\n\
                         or point STRIKEVOTE_TEST_POSTGRES_URL at one (a user allowed to CREATE DATABASE).\n"
                    )
                });
                let name = format!("sv_test_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create the test database");
                let (base, _) = admin.rsplit_once('/').expect("database URL with a path");
                let url = format!("{base}/{name}");
                Self {
                    backend,
                    url,
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The scratch directory (the CLI's working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A migrated pool on this database.
    pub fn pool(&self) -> Pool {
        db::connect(&DatabaseUrl::parse(&self.url).unwrap(), 4)
            .expect("connect to the test database")
    }

    /// One connection.
    pub fn conn(&self) -> PooledConn {
        self.pool().get().expect("a connection")
    }

    /// Everything the database holds, as raw bytes: the SQLite files, or every row of every
    /// PostgreSQL table as text. Used to prove a secret is stored nowhere.
    pub fn everything_stored(&self) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let file = self.path(&format!("strikevote.db{suffix}"));
                    if let Ok(bytes) = std::fs::read(file) {
                        all.extend(bytes);
                    }
                }
                all
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).unwrap();
                let tables: Vec<TextRow> = diesel::sql_query(
                    "SELECT table_name::text AS text FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .load(&mut conn)
                .unwrap();
                let mut all = Vec::new();
                for t in tables {
                    let rows: Vec<TextRow> =
                        diesel::sql_query(format!("SELECT t::text AS text FROM \"{}\" t", t.text))
                            .load(&mut conn)
                            .unwrap();
                    for r in rows {
                        all.extend(r.text.into_bytes());
                        all.push(b'\n');
                    }
                }
                all
            }
        }
    }
}

impl TestDb {
    /// Drops the PostgreSQL database now, connections and all.
    pub fn drop_postgres_database(&self) {
        let name = self.pg_name.as_ref().expect("a PostgreSQL test database");
        let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .unwrap();
    }
}

/// A copy of a test database taken by [`TestDb::snapshot`].
pub struct Snapshot(String);

impl TestDb {
    /// A copy of the database as it is now, as a backup would hold it (SQLite: `strikevote
    /// backup`; PostgreSQL: a database cloned from this one). Nothing may be connected.
    pub fn snapshot(&self) -> Snapshot {
        match self.backend {
            Backend::Sqlite => {
                let file = self.path(&format!("snapshot-{}.db", uuid::Uuid::new_v4().simple()));
                sv(self, &["backup", "--out", file.to_str().unwrap()]).ok();
                Snapshot(file.display().to_string())
            }
            Backend::Postgres => {
                let name = format!("{}_snap", self.pg_name.as_ref().unwrap());
                let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
                diesel::sql_query(format!(
                    "CREATE DATABASE {name} TEMPLATE {}",
                    self.pg_name.as_ref().unwrap()
                ))
                .execute(&mut conn)
                .expect("clone the test database");
                Snapshot(name)
            }
        }
    }

    /// Replaces the database with a snapshot, as an operator restoring a backup would.
    pub fn restore(&self, snapshot: Snapshot) {
        match self.backend {
            Backend::Sqlite => {
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(self.path(&format!("strikevote.db{suffix}")));
                }
                std::fs::copy(&snapshot.0, self.path("strikevote.db")).unwrap();
            }
            Backend::Postgres => {
                let name = self.pg_name.as_ref().unwrap();
                let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
                for sql in [
                    format!("DROP DATABASE {name} WITH (FORCE)"),
                    format!("CREATE DATABASE {name} TEMPLATE {}", snapshot.0),
                    format!("DROP DATABASE {}", snapshot.0),
                ] {
                    diesel::sql_query(sql).execute(&mut conn).expect("restore");
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = PgConnection::establish(&postgres_admin_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

/// Runs the test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* fn $name:ident($db:ident: &TestDb) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn run($db: &$crate::helpers::TestDb) $body
            #[test]
            fn sqlite() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite));
            }
            #[test]
            fn postgres() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Postgres));
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($db:ident: &TestDb) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: &$crate::helpers::TestDb) $body
            #[tokio::test]
            async fn sqlite() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite)).await;
            }
            #[tokio::test]
            async fn postgres() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Postgres)).await;
            }
        }
    };
}

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

/// Runs `strikevote ARGS --database-url URL` in the test's scratch directory.
pub fn sv(db: &TestDb, args: &[&str]) -> Run {
    sv_with_env(db, args, &[])
}

/// As [`sv`], with extra environment variables.
pub fn sv_with_env(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strikevote"));
    command
        .args(args)
        .arg("--database-url")
        .arg(&db.url)
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

/// A delegate-rule definition with the given locals as (code, delegates).
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
"#,
    );
    for (code, delegates) in locals {
        text.push_str(&format!(
            "\n[[locals]]\ncode = \"{code}\"\nname = \"Local {code}\"\ndelegates = {delegates}\n"
        ));
    }
    text
}

/// Creates an election with locals 600, 700 and 871 through the CLI; returns its id.
pub fn create_election(db: &TestDb) -> String {
    let file = db.path("election.toml");
    std::fs::write(
        &file,
        definition_toml(&[("600", 76), ("700", 56), ("871", 24)]),
    )
    .unwrap();
    sv(
        db,
        &[
            "election",
            "create",
            "--file",
            file.to_str().unwrap(),
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

/// A running server on a free port.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

/// Starts the service on a free port, with the same database and key file as the CLI runs.
pub async fn spawn_app(db: &TestDb) -> TestApp {
    spawn_app_with(db, Settings::default().batch_period_ms).await
}

impl TestApp {
    /// GET a path; returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// GET a path that answers JSON.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(path).await;
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path} answered non-JSON ({e}): {body}"));
        (status, value)
    }
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
    let out = db.path("tokens.csv");
    sv(
        db,
        &[
            "tokens",
            "issue",
            "--election",
            &id,
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .ok();
    let tokens = read_token_csv(&out)
        .into_iter()
        .map(|r| (r["member_id"].clone(), r["token"].clone()))
        .collect();
    std::fs::remove_file(out).unwrap();
    (id, tokens)
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

impl TestApp {
    /// POST JSON; returns status and the JSON answer.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {path} answered non-JSON ({e}): {text}"));
        (status, value)
    }

    /// Casts through the JSON API.
    pub async fn cast(&self, token: &str, choice: &str) -> (u16, serde_json::Value) {
        self.post_json(
            "/api/v1/ballots",
            &serde_json::json!({ "token": token, "choice": choice }),
        )
        .await
    }
}

/// Starts a second instance on the same database and key (as behind a load balancer).
pub async fn spawn_app_with(db: &TestDb, batch_period_ms: u64) -> TestApp {
    spawn_app_custom(db, |s| s.batch_period_ms = batch_period_ms).await
}

/// Starts an instance with settings adjusted by `adjust`.
pub async fn spawn_app_custom(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings {
        database_url: db.url.clone(),
        bind: "127.0.0.1:0".into(),
        signing_key_path: db.path("strikevote.key"),
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = Application::build(settings).expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
    }
}

/// An HTTP client that keeps cookies like a browser and does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A refusal sent before the request body is read closes the connection; a pooled
        // connection could then be reused just as it closes (a browser would retry).
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// GET a page: status and body.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let res = client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// POST a form: status and body.
pub async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = client.post(url).form(form).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The value of `name="csrf"` in a page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field");
    page[at + 19..at + 19 + 32].to_owned()
}

/// The receipt on a confirmation page.
pub fn receipt_of(page: &str) -> String {
    let at = page
        .find("<code id=\"receipt\">")
        .expect("the receipt element");
    page[at + 19..at + 19 + 34].to_owned()
}

/// Votes through the HTML form like a member: open the ballot link, submit the choice.
pub async fn vote_by_form(app: &TestApp, token: &str, choice: &str) -> String {
    let client = browser();
    let (status, page) = get(&client, &format!("{}/vote?token={token}", app.address)).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let (status, page) = post(
        &client,
        &format!("{}/vote", app.address),
        &[("token", token), ("choice", choice), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    receipt_of(&page)
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

impl TestApp {
    /// GET with an API token; status and JSON.
    pub async fn get_json_as(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("GET {path}: non-JSON ({e}): {text}")),
        )
    }
}

/// A `strikevote serve` process answering on `port`.
pub struct Served {
    pub child: std::process::Child,
    pub port: u16,
}

/// Starts `strikevote serve ARGS` in the scratch directory with no inherited `STRIKEVOTE_*`
/// variables besides `env`, on a free port unless `env` or `args` choose one; returns once it
/// accepts connections.
pub fn serve_process(db: &TestDb, args: &[&str], env: &[(&str, String)]) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_strikevote"));
    command.current_dir(db.dir()).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("STRIKEVOTE_") {
            command.env_remove(k);
        }
    }
    command.env("STRIKEVOTE_BIND", format!("127.0.0.1:{port}"));
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .arg("serve")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Served { child, port }
}

impl Served {
    /// A client of it.
    pub fn app(&self) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{}", self.port),
            client: reqwest::Client::new(),
        }
    }

    /// Stops it with SIGTERM; asserts a clean exit and returns what it logged.
    pub fn stop(self) -> String {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let out = self.child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "serve did not stop cleanly: {stderr}");
        stderr
    }
}

/// Casts one ballot through the library, with the key file the CLI and server use.
pub fn cast_directly(db: &TestDb, token: &str) -> String {
    let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key")).unwrap();
    let pool = db.pool();
    let mut conn = pool.get().unwrap();
    let request = strikevote::ballot::CastRequest {
        token: strikevote::token::PlainToken::parse(token).unwrap().hash(),
        choice: strikevote::election::Choice::Yes,
    };
    let answers = strikevote::ballot::commit_batch(&mut conn, &signer, &[request]).unwrap();
    answers.into_iter().next().unwrap().unwrap().receipt
}
