//! Elections through the CLI, and the CLI's behaviour on bad settings.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    fn an_election_created_from_a_file_is_listed_and_shown(db: &TestDb) {
        let id = create_election(db);
        assert_eq!(id.len(), 36, "prints the UUID alone: {id}");

        let list: serde_json::Value =
            serde_json::from_str(&sv(db, &["election", "list", "--json"]).ok()).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["id"], id.as_str());
        assert_eq!(list[0]["state"], "draft");
        assert_eq!(list[0]["opens_at"], "2026-01-01T00:00:00Z");

        let shown = show(db, &id);
        let d = &shown["definition"];
        assert_eq!(d["title"], "Strike authorization 2026");
        assert_eq!(d["rule"], "delegates");
        assert_eq!(d["local_threshold"], serde_json::json!({"num": 3, "den": 4, "cmp": "at_least"}));
        assert_eq!(d["quorum"], serde_json::Value::Null);
        let codes: Vec<_> = d["locals"].as_array().unwrap().iter().map(|l| l["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["600", "700", "871"]);
        assert_eq!(shown["locals"]["700"]["eligible"], 0);

        let text = sv(db, &["election", "show", &id]).ok();
        assert!(text.contains("threshold:  1/2 more_than"), "{text}");
        assert!(text.contains("  600 "), "{text}");
        assert!(sv(db, &["election", "list"]).ok().contains(&id));
    }
}

both_backends! {
    fn an_invalid_definition_lists_every_problem_and_creates_nothing(db: &TestDb) {
        let file = db.path("bad.toml");
        let text = definition_toml(&[("600", 0), ("600", 5)])
            .replace("num = 3, den = 4", "num = 5, den = 4")
            .replace("\"2036-01-01T00:00:00Z\"", "\"2025-09-01T07:00:00Z\"");
        std::fs::write(&file, text).unwrap();
        let err = sv(db, &["election", "create", "--file", file.to_str().unwrap()]).fails();
        for expected in [
            "local_threshold: 5/4 is outside (0, 1]",
            "closes_at: the vote must close after it opens",
            "locals[0].delegates: must be at least 1",
            "locals[1].code: local code `600` is used twice",
        ] {
            assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
        }
        assert!(sv(db, &["election", "list"]).ok().contains("no elections yet"));
    }
}

both_backends! {
    fn showing_an_unknown_or_malformed_id_is_a_clear_error(db: &TestDb) {
        let err = sv(db, &["election", "show", "00000000-0000-0000-0000-000000000000"]).fails();
        assert!(err.contains("there is no election with id 00000000-0000-0000-0000-000000000000"), "{err}");
        let err = sv(db, &["election", "show", "not-a-uuid"]).fails();
        assert!(err.contains("`not-a-uuid` is not an election id"), "{err}");
    }
}

both_backends! {
    fn migrate_is_idempotent(db: &TestDb) {
        let first = sv(db, &["migrate"]).ok();
        assert!(first.contains("migration(s) applied"), "{first}");
        let again = sv(db, &["migrate"]).ok();
        assert!(again.ends_with(": 0 migration(s) applied\n"), "{again}");
    }
}

both_backends! {
    fn settings_come_from_a_config_file_and_the_flag_wins(db: &TestDb) {
        // The file names a database that does not exist; --database-url (added by `sv`) wins.
        let config = db.path("strikevote.toml");
        std::fs::write(&config, "database_url = \"postgres://nobody@127.0.0.1:1/none\"\npublic_url = \"https://vote.example.org\"\n").unwrap();
        let file = db.path("election.toml");
        std::fs::write(&file, definition_toml(&[("600", 76)])).unwrap();
        let id = sv(db, &["--config", config.to_str().unwrap(), "election", "create", "--file", file.to_str().unwrap()]).ok().trim().to_owned();
        let roster = write_roster(db, "r.csv", &[("M1", "600")]);
        sv(db, &["--config", config.to_str().unwrap(), "roster", "import", "--election", &id, &roster]).ok();
        let out = db.path("t.csv");
        sv(db, &["--config", config.to_str().unwrap(), "tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        let rows = read_token_csv(&out);
        assert!(rows[0]["ballot_url"].starts_with("https://vote.example.org/vote?token=SV-"), "{:?}", rows[0]);

        let bad = db.path("bad.toml");
        std::fs::write(&bad, "databse_url = \"x\"\n").unwrap();
        let err = sv(db, &["--config", bad.to_str().unwrap(), "election", "list"]).fails();
        assert!(err.contains("databse_url"), "{err}");
    }
}

both_backends! {
    fn plain_http_to_another_machine_is_refused_by_serve_create_and_the_teller(db: &TestDb) {
        // Members' tokens, officials' passwords and a teller's invitation would cross the
        // network unencrypted: refused before anything is read or written.
        let file = db.path("election.toml");
        std::fs::write(&file, definition_toml(&[("600", 76)])).unwrap();
        let err = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", "http://vote.example.org"]).fails();
        assert!(err.contains("public_url `http://vote.example.org` is plain http:// to another machine"), "{err}");
        assert_eq!(sv(db, &["election", "list"]).ok().lines().count(), 1, "no election was created");
        let err = sv(db, &["serve", "--bind", "0.0.0.0:0", "--public-url", "http://10.0.0.5:8080"]).fails();
        assert!(err.contains("is plain http:// to another machine"), "{err}");
        let id = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL]).ok().trim().to_owned();
        let (state, pass, invitation) = (db.path("t.state"), db.path("t.pass"), db.path("t.invitation"));
        std::fs::write(&pass, "a long enough teller passphrase").unwrap();
        std::fs::write(&invitation, "not needed before the address is refused").unwrap();
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "1", "--state", state.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(), "--invitation-file", invitation.to_str().unwrap(), "--server", "http://vote.example.org"]).fails();
        assert!(err.contains("--server `http://vote.example.org` is plain http:// to another machine"), "{err}");
        assert!(!state.exists(), "no state file was written");
    }
}

#[test]
fn an_unreachable_database_is_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (url, expected) in [
        (
            "postgres://nobody:s3cret@127.0.0.1:1/none",
            "cannot connect to the database at postgres://nobody:***@127.0.0.1:1/none",
        ),
        ("mysql://root@localhost/x", "unsupported database URL"),
        (
            "sqlite:///no/such/dir/x.db",
            "directory /no/such/dir does not exist",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"))
            .args(["election", "list", "--database-url", url])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
        assert!(stderr.contains(expected), "{url}: {stderr}");
        assert!(
            !stderr.contains("s3cret") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

#[test]
fn election_check_warns_of_a_lone_teller_a_begun_window_and_a_full_quorum() {
    let db = TestDb::new(Backend::Sqlite);
    let text = definition_toml(&[("600", 1)]).replace(
        "tellers = {",
        "quorum = { num = 1, den = 1, cmp = \"at_least\" }\ntellers = {",
    );
    std::fs::write(db.path("d.toml"), text).unwrap();
    let file = db.path("d.toml");
    let run = sv(
        &db,
        &["election", "check", "--file", file.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "valid, only warned about: {}", run.stderr);
    for said in [
        "warning: tellers.threshold is 1: any one of the 1 teller(s) can decrypt alone",
        "warning: opens_at (2026-01-01T00:00:00Z) has passed",
        "warning: The quorum is 100%",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
}

#[cfg(unix)]
#[test]
fn output_into_a_closed_pipe_ends_quietly_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let db = TestDb::new(Backend::Sqlite);
    // `strikevote election list | head -0`: the reader is gone before anything is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .args(["election", "list", "--database-url", &db.url])
        .current_dir(db.dir())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc_sigpipe()),
        "ended by SIGPIPE: {:?} {stderr}",
        out.status
    );
}

/// SIGPIPE's number on the platforms the tests run on.
#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13
}
