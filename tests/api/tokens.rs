//! Ballot tokens: issued once per member, stored only hashed, reissue revokes.

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use strikevote::db::schema::tokens;

use crate::both_backends;
use crate::helpers::*;

fn status_of(db: &TestDb, token: &str) -> Option<String> {
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    tokens::table
        .filter(tokens::hash.eq(hash))
        .select(tokens::status)
        .first(&mut db.conn())
        .optional()
        .unwrap()
}

both_backends! {
    fn issuing_gives_every_member_one_token_and_a_rerun_only_the_missing(db: &TestDb) {
        let id = create_election(db);
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "700"), ("M3", "871")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let out = db.path("tokens.csv");
        let printed = sv(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        assert!(printed.contains("issued 3 token(s)"), "{printed}");

        let rows = read_token_csv(&out);
        let ids: Vec<_> = rows.iter().map(|r| r["member_id"].as_str()).collect();
        assert_eq!(ids, ["M1", "M2", "M3"]);
        for r in &rows {
            assert!(r["token"].starts_with("SV-") && r["token"].len() == 37, "{r:?}");
            assert_eq!(r["ballot_url"], format!("http://localhost:8080/vote?token={}", r["token"]));
            assert_eq!(r["email"], format!("{}@example.org", r["member_id"].to_lowercase()));
            assert_eq!(status_of(db, &r["token"]).as_deref(), Some("live"));
        }
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);

        // Nobody is missing a token now.
        let again = db.path("again.csv");
        let printed = sv(db, &["tokens", "issue", "--election", &id, "--out", again.to_str().unwrap()]).ok();
        assert!(printed.contains("nothing issued"), "{printed}");
        assert!(!again.exists());

        // Two members join: only they get tokens.
        let roster = write_roster(db, "r2.csv", &[("M1", "600"), ("M2", "700"), ("M3", "871"), ("M4", "600"), ("M5", "700")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        sv(db, &["tokens", "issue", "--election", &id, "--out", again.to_str().unwrap()]).ok();
        let ids: Vec<_> = read_token_csv(&again).into_iter().map(|r| r["member_id"].clone()).collect();
        assert_eq!(ids, ["M4", "M5"]);
        let shown = show(db, &id);
        assert_eq!(shown["locals"]["600"]["tokens_live"], 2);
        assert_eq!(shown["locals"]["700"]["tokens_live"], 2);
    }
}

both_backends! {
    fn a_token_is_found_nowhere_in_the_database_or_the_logs(db: &TestDb) {
        let id = create_election(db);
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "700")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let out = db.path("tokens.csv");
        let run = sv_with_env(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()], &[("RUST_LOG", "trace")]);
        let logs = run.stderr.clone();
        run.ok();
        let reissued = sv_with_env(db, &["tokens", "reissue", "--election", &id, "--member", "M2"], &[("RUST_LOG", "trace")]);
        let new_token = reissued
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("token:"))
            .map(|t| t.trim().to_owned())
            .expect("reissue prints the token");
        assert!(!reissued.stderr.contains(&new_token));

        let stored = db.everything_stored();
        let mut tokens: Vec<String> = read_token_csv(&out).into_iter().map(|r| r["token"].clone()).collect();
        tokens.push(new_token);
        for token in &tokens {
            let body = token.replace('-', "");
            for form in [token.clone(), body.clone(), body[2..].to_string(), token.to_lowercase()] {
                assert!(
                    !stored.windows(form.len()).any(|w| w == form.as_bytes()),
                    "token found in the database ({:?})", db.backend
                );
                assert!(!logs.contains(&form), "token found in the logs");
            }
            assert!(status_of(db, token).is_some(), "the token's hash is stored");
        }
    }
}

both_backends! {
    fn reissue_revokes_the_old_token_and_issues_a_new_one(db: &TestDb) {
        let id = create_election(db);
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "700")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let out = db.path("tokens.csv");
        sv(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        let old = read_token_csv(&out).into_iter().find(|r| r["member_id"] == "M2").unwrap()["token"].clone();

        let printed = sv(db, &["tokens", "reissue", "--election", &id, "--member", "M2"]).ok();
        let new = printed.lines().find_map(|l| l.strip_prefix("token:")).unwrap().trim().to_owned();
        assert_ne!(new, old);
        assert!(printed.contains(&format!("ballot url: http://localhost:8080/vote?token={new}")), "{printed}");
        assert_eq!(status_of(db, &old).as_deref(), Some("revoked"));
        assert_eq!(status_of(db, &new).as_deref(), Some("live"));
        let shown = show(db, &id);
        assert_eq!(shown["locals"]["700"]["tokens_live"], 1);
        assert_eq!(shown["locals"]["700"]["tokens_revoked"], 1);

        // Issuing again does not give M2 a second live token.
        let again = db.path("again.csv");
        assert!(sv(db, &["tokens", "issue", "--election", &id, "--out", again.to_str().unwrap()]).ok().contains("nothing issued"));

        let err = sv(db, &["tokens", "reissue", "--election", &id, "--member", "M404"]).fails();
        assert!(err.contains("member `M404` is not on the roster"), "{err}");
    }
}

both_backends! {
    fn issuing_refuses_to_overwrite_an_existing_file(db: &TestDb) {
        let id = create_election(db);
        let roster = write_roster(db, "r.csv", &[("M1", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let out = db.path("tokens.csv");
        std::fs::write(&out, "precious\n").unwrap();
        let err = sv(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).fails();
        assert!(err.contains("refusing to overwrite"), "{err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
        assert_eq!(show(db, &id)["locals"]["600"]["tokens_live"], 0, "no token issued");

        // An unwritable destination issues nothing either.
        let err = sv(db, &["tokens", "issue", "--election", &id, "--out", "/no/such/dir/t.csv"]).fails();
        assert!(err.contains("cannot write"), "{err}");
        assert_eq!(show(db, &id)["locals"]["600"]["tokens_live"], 0, "no token issued");
    }
}

both_backends! {
    fn two_issuers_at_once_never_give_a_member_two_tokens(db: &TestDb) {
        let id = create_election(db);
        let members: Vec<(String, &str)> = (0..300).map(|i| (format!("M{i}"), ["600", "700", "871"][i % 3])).collect();
        let pairs: Vec<(&str, &str)> = members.iter().map(|(m, l)| (m.as_str(), *l)).collect();
        let roster = write_roster(db, "r.csv", &pairs);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();

        let runs: Vec<_> = (0..4)
            .map(|i| {
                let out = db.path(&format!("t{i}.csv"));
                let args: Vec<String> = ["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]
                    .iter().map(|s| s.to_string()).collect();
                let url = db.url.clone();
                let dir = db.dir().to_owned();
                std::thread::spawn(move || {
                    std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"))
                        .args(&args)
                        .args(["--database-url", &url])
                        .current_dir(dir)
                        .output()
                        .unwrap()
                })
            })
            .collect();
        for r in runs {
            let out = r.join().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let mut issued: Vec<String> = Vec::new();
        for i in 0..4 {
            let path = db.path(&format!("t{i}.csv"));
            if path.exists() {
                issued.extend(read_token_csv(&path).into_iter().map(|r| r["member_id"].clone()));
            }
        }
        issued.sort();
        let before = issued.len();
        issued.dedup();
        assert_eq!(before, issued.len(), "a member got two tokens");
        assert_eq!(issued.len(), 300);
        let shown = show(db, &id);
        let live: i64 = ["600", "700", "871"].iter().map(|l| shown["locals"][l]["tokens_live"].as_i64().unwrap()).sum();
        assert_eq!(live, 300);
    }
}
