//! What operators rely on: settings from the environment, the public URL, stopping and
//! backing up without losing a ballot, private files, and refusing a restored old database.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::both_backends;
use crate::helpers::*;

/// A value other than the default for every setting, as its environment variable carries it.
fn non_default(db: &TestDb, setting: &str) -> String {
    match setting {
        "database_url" => db.url.clone(),
        "bind" => "127.0.0.1:18090".into(),
        "public_url" => "https://vote.example.org".into(),
        "signing_key_path" => db.path("env.key").display().to_string(),
        "db_pool_size" => "3".into(),
        "body_limit_bytes" => "4096".into(),
        "log_format" => "json".into(),
        "batch_period_ms" => "50".into(),
        "batch_max" => "7".into(),
        "witness_wait_seconds" => "4".into(),
        "upload_limit_bytes" => "1000".into(),
        "upload_max_rows" => "9".into(),
        "trusted_proxies" => "10.0.0.1".into(),
        "rate_limit_per_minute" => "5".into(),
        "schedule_seconds" => "30".into(),
        "metrics_bind" => "127.0.0.1:19464".into(),
        "heads_dir" => db.path("env.heads").display().to_string(),
        "metrics_token" => "metrics-secret-for-the-test".into(),
        "smtp_url" => "smtps://vote:smtp-secret@mail.example.org".into(),
        "mail_from" => "Local 871 Vote <vote@local871.example>".into(),
        "mail_per_minute" => "120".into(),
        "mail_lease_seconds" => "30".into(),
        "union_name" => "IATSE Local 871".into(),
        "letter_paper" => "a4".into(),
        "teller_program" => db.path("strikevote-teller").to_str().unwrap().into(),
        other => panic!("no test value for the documented setting `{other}`"),
    }
}

/// The `STRIKEVOTE_*` names in docs/OPERATIONS.md's settings table.
fn documented_variables() -> Vec<String> {
    let doc = include_str!("../../docs/OPERATIONS.md");
    doc.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cell = l.split('|').nth(2)?.trim().trim_matches('`');
            cell.starts_with("STRIKEVOTE_").then(|| cell.to_owned())
        })
        .collect()
}

/// The binary with a clean environment (no inherited `STRIKEVOTE_*`), in the scratch dir.
fn bare(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strikevote"));
    command.current_dir(db.dir()).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("STRIKEVOTE_") {
            command.env_remove(k);
        }
    }
    command
}

both_backends! {
    fn every_documented_environment_variable_is_read(db: &TestDb) {
        let names = documented_variables();
        assert!(names.len() >= 13, "the settings table lists {names:?}");
        let mut command = bare(db);
        for name in &names {
            let setting = name.trim_start_matches("STRIKEVOTE_").to_ascii_lowercase();
            command.env(name, non_default(db, &setting));
        }
        let out = command.arg("settings").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let defaults = serde_json::to_value(strikevote::settings::Settings::default()).unwrap();
        for name in &names {
            let setting = name.trim_start_matches("STRIKEVOTE_").to_ascii_lowercase();
            assert_ne!(shown[&setting], defaults[&setting], "{name} was ignored: {shown}");
            let value = non_default(db, &setting);
            let as_text = match &shown[&setting] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>().join(","),
                other => other.to_string(),
            };
            if setting == "metrics_token" {
                assert_eq!(as_text, "<hidden>", "a secret is never shown");
            } else if setting == "smtp_url" {
                assert_eq!(as_text, "smtps://vote:<hidden>@mail.example.org", "the password is never shown");
            } else if setting != "database_url" {
                assert_eq!(as_text, value, "{name}");
            }
        }
    }
}

both_backends! {
    fn an_unknown_strikevote_variable_stops_any_command_naming_it(db: &TestDb) {
        let out = bare(db)
            .env("STRIKEVOTE_DATABSE_URL", &db.url)
            .args(["election", "list"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("STRIKEVOTE_DATABSE_URL"), "{stderr}");
    }
}

/// Tokens used in the election, read from the SQLite file `file` alone (with the election's
/// key, which stays beside the original database).
fn ballots_used_in(db: &TestDb, file: &std::path::Path, id: &str) -> u64 {
    let out = bare(db)
        .env("STRIKEVOTE_SIGNING_KEY_PATH", db.path("strikevote.key"))
        .args(["election", "show", id, "--json", "--database-url"])
        .arg(format!("sqlite://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    ["600", "700", "871"]
        .iter()
        .map(|l| shown["locals"][l]["tokens_used"].as_u64().unwrap())
        .sum()
}

/// A port free right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

both_backends! {
    async fn serve_listens_and_stores_where_the_environment_says_and_a_stop_loses_nothing(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 6);
        sv(db, &["election", "open", &id]).ok();
        let served = serve_process(db, &[], &[
            ("STRIKEVOTE_DATABASE_URL", db.url.clone()),
            ("STRIKEVOTE_BATCH_PERIOD_MS", "20".into()),
        ]);
        let app = served.app();
        let (status, checkpoint) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        assert_eq!(status, 200, "the server is not on the environment's database: {checkpoint}");
        for (_, token) in &tokens {
            let (status, body) = app.cast(token, "yes").await;
            assert_eq!(status, 200, "{body}");
        }
        served.stop();

        if db.backend == Backend::Sqlite {
            // After a graceful stop the database file alone holds every ballot.
            let wal = db.path("strikevote.db-wal");
            assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "ballots left in the WAL");
            let copy_dir = tempfile::tempdir().unwrap();
            let copy = copy_dir.path().join("copy.db");
            std::fs::copy(db.path("strikevote.db"), &copy).unwrap();
            assert_eq!(ballots_used_in(db, &copy, &id), 6);
        }
    }
}

both_backends! {
    fn an_election_needs_the_public_url_and_its_links_come_from_it(db: &TestDb) {
        let file = db.path("e.toml");
        std::fs::write(&file, definition_toml(&[("600", 1)])).unwrap();
        let err = sv(db, &["election", "create", "--file", file.to_str().unwrap()]).fails();
        assert!(err.contains("public_url") && err.contains("--public-url"), "{err}");
        assert!(sv(db, &["election", "list"]).ok().contains("no elections yet"));

        let id = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", "https://Vote.Example.org/"]).ok().trim().to_owned();
        let shown = show(db, &id);
        assert_eq!(shown["origin"], format!("vote.example.org/elections/{id}"));
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        // Issued from a process with no public URL, or another one: the election's links.
        let out = db.path("t.csv");
        sv(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        for row in read_token_csv(&out) {
            assert_eq!(row["ballot_url"], format!("https://vote.example.org/vote?token={}", row["token"]));
        }
        let text = sv(db, &["tokens", "reissue", "--election", &id, "--member", "M1", "--public-url", "https://elsewhere.example.net"]).ok();
        assert!(text.contains("ballot url: https://vote.example.org/vote?token=SV-"), "{text}");
    }
}

both_backends! {
    async fn a_server_on_a_public_address_needs_a_public_url(db: &TestDb) {
        let port = free_port();
        let out = bare(db)
            .env("STRIKEVOTE_BIND", format!("0.0.0.0:{port}"))
            .env("STRIKEVOTE_DATABASE_URL", &db.url)
            .arg("serve")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("public_url"), "{stderr}");
    }
}

both_backends! {
    async fn backup_copies_a_running_database(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        for (_, token) in &tokens {
            assert_eq!(app.cast(token, "no").await.0, 200);
        }
        let copy = db.path("backup.db");
        let text = sv(db, &["backup", "--out", copy.to_str().unwrap()]).ok();
        match db.backend {
            Backend::Sqlite => {
                assert!(text.contains("wrote a consistent copy"), "{text}");
                let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
                assert_eq!(ballots_used_in(db, &copy, &id), 3, "the copy lacks ballots");
                // A second backup never overwrites the first.
                let err = sv(db, &["backup", "--out", copy.to_str().unwrap()]).fails();
                assert!(err.contains("must not exist"), "{err}");
            }
            Backend::Postgres => {
                assert!(text.contains("pg_dump --format=custom"), "{text}");
                assert!(!copy.exists());
            }
        }
    }
}

both_backends! {
    fn database_and_key_files_are_private(db: &TestDb) {
        let (id, _) = prepared_election(db, 2);
        sv(db, &["election", "open", &id]).ok();
        let mut files = vec![db.path("strikevote.key"), db.path(&format!("strikevote.key.heads/{id}"))];
        if db.backend == Backend::Sqlite {
            files.push(db.path("strikevote.db"));
            // Keep a connection open so the WAL exists to be looked at.
            let _pool = db.pool();
            files.push(db.path("strikevote.db-wal"));
            for f in &files {
                let mode = std::fs::metadata(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())).permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is mode {:o}", f.display(), mode & 0o777);
            }
        } else {
            for f in &files {
                let mode = std::fs::metadata(f).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is mode {:o}", f.display(), mode & 0o777);
            }
        }
    }
}

both_backends! {
    fn a_restored_older_database_is_refused_and_nothing_is_signed(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 4);
        sv(db, &["election", "open", &id]).ok();
        cast_directly(db, &tokens[0].1);
        let snapshot = db.snapshot();
        let receipt = cast_directly(db, &tokens[1].1);
        let size_before = show(db, &id)["log_size"].as_u64().unwrap();
        db.restore(snapshot);

        // The restored database has lost the acknowledged ballot...
        let restored = show(db, &id)["log_size"].as_u64().unwrap();
        assert!(restored < size_before);
        // ...and nothing will sign over it: not the CLI, not the server.
        let err = sv(db, &["election", "close", &id]).fails();
        assert!(err.contains("holds only") && err.contains("older backup") && err.contains("docs/OPERATIONS.md"), "{err}");
        let err = sv(db, &["tokens", "reissue", "--election", &id, "--member", &tokens[2].0]).fails();
        assert!(err.contains("older backup"), "{err}");
        let settings = strikevote::settings::Settings {
            database_url: db.url.clone(),
            bind: "127.0.0.1:0".into(),
            signing_key_path: db.path("strikevote.key"),
            ..Default::default()
        };
        let err = match strikevote::startup::Application::build(settings) {
            Ok(_) => panic!("a server started on a database behind its signed log"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("older backup"), "{err}");
        assert_eq!(show(db, &id)["log_size"].as_u64().unwrap(), restored, "something was appended");
        // The lost ballot's receipt is not in the restored log; nobody was told otherwise.
        assert!(!String::from_utf8_lossy(&db.everything_stored()).contains(&receipt));
    }
}

#[test]
fn every_deployment_file_that_can_turns_core_files_off() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, says) in [
        ("deploy/systemd/strikevote.service", "\nLimitCORE=0\n"),
        (
            "deploy/systemd/strikevote-witness.service",
            "\nLimitCORE=0\n",
        ),
        ("deploy/compose.yaml", "    ulimits:\n      core: 0\n"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(text.contains(says), "{file} does not turn core files off");
    }
}

#[test]
fn the_deployment_files_use_only_known_variables() {
    let known: Vec<String> = documented_variables()
        .into_iter()
        .chain(strikevote::settings::OTHER_ENV.map(String::from))
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for file in [
        "deploy/Dockerfile",
        "deploy/compose.yaml",
        "deploy/systemd/strikevote.service",
        "deploy/k8s/strikevote.yaml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for (at, _) in text.match_indices("STRIKEVOTE_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            assert!(
                known.contains(&name),
                "{file} sets {name}, which strikevote would refuse at start"
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "{seen}");
}

both_backends! {
    fn a_server_whose_output_is_no_longer_read_still_stops_cleanly(db: &TestDb) {
        use std::io::BufRead;
        let port = free_port();
        let mut child = bare(db)
            .env("STRIKEVOTE_BIND", format!("127.0.0.1:{port}"))
            .env("STRIKEVOTE_DATABASE_URL", &db.url)
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Read the "listening" line, then stop reading: the pipe closes, as under a supervisor
        // that went away.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("listening"), "{line}");
        // Stop it once it serves (its signal handlers are in place by then).
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        let status = child.wait().unwrap();
        assert!(status.success(), "serve did not stop cleanly: {status}");
    }
}

#[test]
fn the_kubernetes_manifests_pass_the_schemas_and_the_deployment_policy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let check = |file: &std::path::Path| {
        Command::new(venv_tool("python"))
            .arg(root.join("tests/deploy/check_k8s.py"))
            .arg(file)
            .output()
            .unwrap()
    };
    let manifest = root.join("deploy/k8s/strikevote.yaml");
    let out = check(&manifest);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("7 resources valid against Kubernetes 1.30"),
        "{said}"
    );

    // The checker catches a schema error and each policy it holds the file to.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let broken = text
        .replace("replicas: 3", "replicas: 1")
        .replace(
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
        )
        .replace("defaultMode: 0400", "defaultMode: 0444")
        .replace(
            "protocol: TCP}\n            - {name: metrics",
            "protocl: TCP}\n            - {name: metrics",
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).unwrap();
    let out = check(&path);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    for problem in [
        "the Deployment runs fewer than 2 replicas",
        "container strikevote: root filesystem is writable",
        "is not mode 0400",
        "Additional properties are not allowed ('protocl' was unexpected)",
    ] {
        assert!(said.contains(problem), "{problem} not in {said}");
    }
}

/// Runs `strikevote ARGS --database-url URL` from `dir` (not the test's scratch directory),
/// with extra environment.
fn sv_from(db: &TestDb, dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .args(args)
        .arg("--database-url")
        .arg(&db.url)
        .current_dir(dir)
        .env_remove("STRIKEVOTE_CONFIG")
        .env_remove("STRIKEVOTE_DATABASE_URL")
        .env_remove("STRIKEVOTE_SIGNING_KEY_PATH")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

both_backends! {
    fn no_command_signs_an_election_with_a_second_key_from_another_directory(db: &TestDb) {
        // Before: run from another directory, an appending command created a second
        // strikevote.key there and signed the election's log with it; the fingerprint on the
        // notices no longer verified the election's own bundle.
        let (id, _) = prepared_election(db, 3);
        let expected = show(db, &id)["key_fingerprint"].as_str().unwrap().to_owned();
        let size = || show(db, &id)["log_size"].as_u64().unwrap();
        let before = size();
        let elsewhere = db.path("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let roster = write_roster(db, "again.csv", &[("M0", "600"), ("M1", "700"), ("M2", "871"), ("M9", "600")]);
        let tokens_out = elsewhere.join("tokens.csv");
        let pass = db.path("teller.pass");
        let state = teller_state(db, 1);
        let appending: Vec<Vec<&str>> = vec![
            vec!["roster", "import", "--election", &id, &roster],
            vec!["tokens", "issue", "--election", &id, "--out", tokens_out.to_str().unwrap()],
            vec!["tokens", "reissue", "--election", &id, "--member", "M0"],
            vec!["election", "open", &id],
            vec!["election", "close", &id],
            vec!["election", "certify", &id],
            vec!["teller", "decrypt", "--election", &id, "--state", state.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(), "--confirm-early-close"],
            vec!["election", "create", "--file", "election.toml", "--public-url", PUBLIC_URL],
        ];
        std::fs::write(elsewhere.join("election.toml"), definition_toml(&[("600", 1)])).unwrap();

        // A key file of another deployment: every appending command refuses it, appending
        // nothing (and creating no election).
        let other = elsewhere.join("other.key");
        drop(strikevote::log::key::load_or_create(&other, None).unwrap());
        let env = [("STRIKEVOTE_SIGNING_KEY_PATH", other.to_str().unwrap())];
        for args in &appending {
            let err = sv_from(db, &elsewhere, args, &env).fails();
            assert!(err.contains(&format!("election {id}'s log is signed with another key than {}", other.display())), "{args:?}: {err}");
        }
        assert_eq!(size(), before, "something was appended");
        let listed = sv(db, &["election", "list", "--json"]).ok();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&listed).unwrap().as_array().unwrap().len(), 1);

        // No key where one is looked for: none is created beside a database with elections.
        let missing = elsewhere.join("missing.key");
        let env = [("STRIKEVOTE_SIGNING_KEY_PATH", missing.to_str().unwrap())];
        for args in &appending {
            let err = sv_from(db, &elsewhere, args, &env).fails();
            assert!(err.contains("no signing key at") && err.contains("a new key would make their logs unverifiable"), "{args:?}: {err}");
            assert!(!missing.exists(), "{args:?} created a key");
        }
        assert_eq!(size(), before, "something was appended");

        // With the defaults, the key follows a SQLite database wherever the command runs;
        // PostgreSQL has no file to follow, and a missing key is not created.
        let reissued = sv_from(db, &elsewhere, &["tokens", "reissue", "--election", &id, "--member", "M0"], &[]);
        match db.backend {
            Backend::Sqlite => {
                assert_eq!(reissued.code, 0, "{}", reissued.stderr);
                assert_eq!(size(), before + 2);
            }
            Backend::Postgres => {
                assert!(reissued.stderr.contains("no signing key at strikevote.key"), "{}", reissued.stderr);
                assert_eq!(size(), before);
            }
        }
        assert!(!elsewhere.join("strikevote.key").exists(), "a second key was created");
        assert_eq!(show(db, &id)["key_fingerprint"], expected.as_str());
        let bundle = db.path("bundle");
        sv(db, &["audit", "export", "--election", &id, "--out", bundle.to_str().unwrap()]).ok();
        let origin = show(db, &id)["origin"].as_str().unwrap().to_owned();
        sv(db, &["audit", "verify", bundle.to_str().unwrap(), "--key", &expected, "--origin", &origin]).ok();
    }
}
