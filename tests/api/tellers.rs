//! The key ceremony through `strikevote teller setup`, as tellers run it: three tellers, any two
//! needed; the vote cannot open before the election key is ready; mistakes get plain errors.

use crate::both_backends;
use crate::helpers::*;

/// An election with three tellers, two needed (no ceremony yet); each teller's invitation code
/// is in `invitation-N`.
fn three_tellers(db: &TestDb) -> String {
    let text = definition_toml(&[("600", 3)]).replace(
        "tellers = { count = 1, threshold = 1 }",
        "tellers = { count = 3, threshold = 2, names = [\"Ana\", \"Bo\", \"Cy\"] }",
    );
    let id = create_election_from(db, &text);
    invite(db, &id);
    id
}

/// Issues every teller a fresh invitation code, written to `invitation-N`.
fn invite(db: &TestDb, id: &str) {
    for line in sv(db, &["teller", "invite", "--election", id]).ok().lines() {
        let mut words = line.split(' ');
        let (Some("teller"), Some(n)) = (words.next(), words.next()) else {
            continue;
        };
        let code = line.rsplit(' ').next().unwrap();
        std::fs::write(db.path(&format!("invitation-{n}")), format!("{code}\n")).unwrap();
    }
}

/// `teller setup` for `teller`, beside the server's database, with its invitation and any
/// further arguments (`--confirm N=FP`, …).
fn setup_with(db: &TestDb, id: &str, teller: u32, extra: &[&str]) -> Run {
    let pass = db.path(&format!("pass-{teller}"));
    std::fs::write(&pass, format!("the passphrase of teller {teller}\n")).unwrap();
    let state = db.path(&format!("teller-{teller}.state"));
    let invitation = db.path(&format!("invitation-{teller}"));
    let n = teller.to_string();
    let mut args = vec![
        "teller",
        "setup",
        "--election",
        id,
        "--teller",
        &n,
        "--state",
        state.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
        "--invitation-file",
        invitation.to_str().unwrap(),
        "--work-factor",
        "2",
    ];
    args.extend_from_slice(extra);
    sv(db, &args)
}

fn setup(db: &TestDb, id: &str, teller: u32) -> Run {
    setup_with(db, id, teller, &[])
}

/// How teller `teller` reaches the server from their own machine: teller 1 with the service's
/// `strikevote teller` (no database settings: it reaches only the server), the others with
/// the `strikevote-teller` program alone.
fn teller_command(teller: u32) -> std::process::Command {
    if teller == 1 {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"));
        command.args([
            "--database-url",
            "sqlite://does-not-exist/nowhere.db",
            "teller",
        ]);
        command
    } else {
        std::process::Command::new(teller_program())
    }
}

/// The last line a command printed.
fn last_line(out: &str) -> String {
    out.trim().lines().last().unwrap_or_default().to_owned()
}

/// Runs the ceremony of `tellers` tellers through `teller setup` beside the database: each
/// publishes its key, they confirm each other's fingerprints, then run until the key is ready.
/// Returns the fingerprints and the last line printed.
fn ceremony_by_cli(db: &TestDb, id: &str, tellers: u32) -> (Vec<String>, String) {
    let fps: Vec<String> = (1..=tellers)
        .map(|t| fingerprint_in(&setup(db, id, t).ok()))
        .collect();
    let confirms = |me: u32| -> Vec<String> {
        (1..=tellers)
            .filter(|t| *t != me)
            .map(|t| format!("{t}={}", fps[t as usize - 1]))
            .collect()
    };
    let mut last = String::new();
    for _round in 0..4 {
        for t in 1..=tellers {
            let c = confirms(t);
            let mut extra = Vec::new();
            for x in &c {
                extra.push("--confirm");
                extra.push(x.as_str());
            }
            last = last_line(&setup_with(db, id, t, &extra).ok());
        }
    }
    (fps, last)
}

fn teller_decrypt(db: &TestDb, id: &str, teller: u32) -> Run {
    let pass = db.path(&format!("pass-{teller}"));
    let state = db.path(&format!("teller-{teller}.state"));
    teller_decrypt_with(db, id, &state, &pass)
}

/// Issues every member a token and casts a `yes` ballot with the first `n`.
fn cast_some(db: &TestDb, id: &str, n: usize) {
    for (_, token) in issue_tokens(db, id).iter().take(n) {
        cast_directly(db, token);
    }
}

both_backends! {
    fn three_tellers_make_one_election_key_and_only_then_the_vote_opens(db: &TestDb) {
        let id = three_tellers(db);
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let err = sv(db, &["election", "open", &id]).fails();
        assert!(err.contains("its election key is not ready (0 of 3 tellers"), "{err}");
        let shown = sv(db, &["election", "show", &id]).ok();
        assert!(shown.contains("key ceremony: round 1 of 3: 0 of 3 tellers have published their keys"), "{shown}");

        let out = setup(db, &id, 1).ok();
        assert!(out.starts_with("teller 1: your fingerprint is "), "{out}");
        assert_eq!(last_line(&out), "teller 1: round 1 done; waiting for the keys of tellers 2, 3");
        assert_eq!(last_line(&setup(db, &id, 2).ok()), "teller 2: round 1 done; waiting for the keys of tellers 3");
        // Every key is in, but nobody goes past round 1 before confirming the others'
        // fingerprints, read to them outside the server.
        let out = last_line(&setup(db, &id, 3).ok());
        assert!(out.starts_with("teller 3: round 1 done; every teller's key is in. Before going on, confirm"), "{out}");
        assert!(out.contains("--confirm 1=<fingerprint teller 1 reads you> --confirm 2=<fingerprint teller 2 reads you>"), "{out}");
        assert_eq!(show(db, &id)["key_ceremony"]["polynomials"], 0);
        let (fps, last) = ceremony_by_cli(db, &id, 3);
        assert_eq!(last, "the election key is ready: all 3 tellers hold their key shares");
        // The verifier names every teller's fingerprint, as they read them to each other.
        let bundle = export_bundle(db, &id, "ceremony");
        let report = strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.tellers.values().cloned().collect::<Vec<_>>(), fps);
        let json = show(db, &id);
        assert_eq!(json["key_ceremony"]["complete"], true, "{json}");
        assert_eq!(json["key_ceremony"]["ready"], 3, "{json}");
        assert!(sv(db, &["election", "show", &id]).ok().contains("key ceremony: complete: the election key is ready (2 of 3 tellers needed to decrypt)"));
        // Running again is harmless.
        assert_eq!(last_line(&setup(db, &id, 2).ok()), "the election key is ready: all 3 tellers hold their key shares");

        // The state files and the shares passed through the server are encrypted.
        for t in 1..=3 {
            let state = std::fs::read(db.path(&format!("teller-{t}.state"))).unwrap();
            assert!(state.starts_with(b"age-encryption.org/v1\n-> scrypt "), "teller {t}");
            let text = String::from_utf8_lossy(&state);
            assert!(!text.contains("AGE-SECRET-KEY") && !text.contains("stage"), "teller {t}");
        }
        let shares: Vec<Vec<u8>> = {
            use diesel::prelude::*;
            use strikevote::db::schema::teller_shares;
            teller_shares::table.select(teller_shares::sealed).load(&mut db.conn()).unwrap()
        };
        assert_eq!(shares.len(), 6, "each teller sends each other one share");
        assert!(shares.iter().all(|s| s.starts_with(b"age-encryption.org/v1\n-> X25519 ")));

        sv(db, &["election", "open", &id]).ok();
        // After the vote opened, the ceremony is over for good.
        let fresh = db.path("late.state");
        let pass = db.path("pass-1");
        let invitation = db.path("invitation-1");
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "1", "--state", fresh.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(), "--invitation-file", invitation.to_str().unwrap(), "--work-factor", "2"]).fails();
        assert!(err.contains("is over") || err.contains("someone else holds your seat"), "{err}");
        assert!(!fresh.exists(), "the unused state file is removed");
        cast_some(db, &id, 2);
        // Before close, a teller decrypts nothing.
        let err = teller_decrypt(db, &id, 2).fails();
        assert!(err.contains("has not closed") && err.contains("tellers decrypt only after close"), "{err}");
        sv(db, &["election", "close", &id]).ok();
        // Any two of the three: here 2 and 3. One alone opens nothing. Each names the log it
        // checked, to compare with the published checkpoint.
        let closed = export_bundle(db, &id, "closed").checkpoint;
        let (size, root) = (closed.lines().nth(1).unwrap().to_owned(), closed.lines().nth(2).unwrap().to_owned());
        let out = teller_decrypt(db, &id, 2).ok();
        assert!(out.contains(&format!("teller 2: the log checks out ({size} entries, root {root}); the vote closed at entry")), "{out}");
        assert!(out.contains("teller 2: shares submitted"), "{out}");
        let code = out.split("log code ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
        assert!(out.contains("waiting for the tellers: 1 of the 2 decryptions needed are in (1 more)"), "{out}");
        let out = teller_decrypt(db, &id, 2).ok();
        assert!(out.contains("teller 2's shares are already in"), "{out}");
        let err = sv(db, &["results", &id]).fails();
        assert!(err.contains("1 of the 2 decryptions needed are in"), "{err}");
        let out = teller_decrypt(db, &id, 3).ok();
        assert!(out.contains("decrypted by teller(s) 2, 3"), "{out}");
        // Both tellers saw the same vote: the same code to read to each other.
        assert!(out.contains(&format!("log code {code} ")), "{out}");
        let results: serde_json::Value = serde_json::from_str(&sv(db, &["results", &id, "--json"]).ok()).unwrap();
        assert_eq!(results["popular"]["counts"], serde_json::json!({"yes": 2, "no": 0, "abstain": 0}));
        let out = teller_decrypt(db, &id, 1).ok();
        assert!(out.contains("already decrypted"), "{out}");
        let bundle = export_bundle(db, &id, "b");
        let report = strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.types["teller_key"], 3);
        assert_eq!(report.types["teller_polynomial"], 3);
        assert_eq!(report.types["election_key"], 1);
        assert_eq!(report.types["teller_ready"], 3);
        assert_eq!(report.types["tally_share"], 2);
        assert_eq!(report.result.unwrap().1.tellers, [2, 3]);
    }
}

both_backends! {
    fn teller_mistakes_get_plain_errors_and_change_nothing(db: &TestDb) {
        let id = three_tellers(db);
        setup(db, &id, 1).ok();
        let before = export_bundle(db, &id, "before").log;
        let state = db.path("teller-1.state");
        let wrong = db.path("wrong");
        std::fs::write(&wrong, "not the right passphrase\n").unwrap();
        let inv = |t: u32| db.path(&format!("invitation-{t}")).to_str().unwrap().to_owned();
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "1", "--state", state.to_str().unwrap(), "--passphrase-file", wrong.to_str().unwrap(), "--invitation-file", &inv(1)]).fails();
        assert!(err.contains("the passphrase does not open"), "{err}");
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "2", "--state", state.to_str().unwrap(), "--passphrase-file", db.path("pass-1").to_str().unwrap(), "--invitation-file", &inv(2)]).fails();
        assert!(err.contains("is teller 1's state for election"), "{err}");
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "4", "--state", db.path("t4").to_str().unwrap(), "--passphrase-file", wrong.to_str().unwrap(), "--invitation-file", &inv(1)]).fails();
        assert!(err.contains("this is not the invitation code of this teller"), "{err}");
        // Beside the server too, a teller needs its own invitation: another teller's is refused.
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "2", "--state", db.path("t2").to_str().unwrap(), "--passphrase-file", db.path("pass-1").to_str().unwrap(), "--invitation-file", &inv(1), "--work-factor", "2"]).fails();
        assert!(err.contains("this is not the invitation code of this teller"), "{err}");
        let run = sv(db, &["teller", "setup", "--election", &id, "--teller", "2", "--state", db.path("t2").to_str().unwrap(), "--passphrase-file", db.path("pass-1").to_str().unwrap(), "--work-factor", "2"]);
        assert!(run.code != 0 && run.stderr.contains("--invitation-file"), "{}", run.stderr);
        std::fs::write(&wrong, "short\n").unwrap();
        let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "2", "--state", db.path("t2").to_str().unwrap(), "--passphrase-file", wrong.to_str().unwrap(), "--invitation-file", &inv(2)]).fails();
        assert!(err.contains("at least 12 characters"), "{err}");
        assert!(!db.path("t2").exists() && !db.path("t4").exists());
        assert_eq!(export_bundle(db, &id, "after").log, before, "nothing was logged");
    }
}

both_backends! {
    fn the_service_refuses_ceremony_messages_out_of_turn_and_logs_nothing(db: &TestDb) {
        use rand::SeedableRng;
        use strikevote::log::entry;
        use strikevote_core::crypto::TellerParams;
        use strikevote_core::crypto::ceremony::run_locally;

        let id = three_tellers(db);
        let eid = strikevote::election::ElectionId::parse(&id).unwrap();
        let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
        let mut conn = db.conn();
        // Messages from a ceremony held elsewhere, by the rules' own shape.
        let params = TellerParams::new(3, 2).unwrap();
        let other = run_locally(params, &mut rand::rngs::StdRng::seed_from_u64(3)).unwrap();
        let publish = |conn: &mut _, m| strikevote::teller::store::publish(conn, eid, m, &signer);
        let before = export_bundle(db, &id, "before").log;
        let key = || age::x25519::Identity::generate().to_public().to_string();
        let who: Vec<strikevote_core::crypto::identity::Identity> = (1..=4u8)
            .map(|t| strikevote_core::crypto::identity::Identity::from_seed(&[t; 32]))
            .collect();

        // A recipient nobody could encrypt a share to.
        let err = publish(&mut conn, entry::teller_key(&eid, 1, &who[0], "age1x", &other.commitments[0])).unwrap_err();
        assert!(err.to_string().contains("teller 1's recipient is not an age X25519 key"), "{err}");
        // A polynomial before every teller's commitment.
        let err = publish(&mut conn, entry::teller_polynomial(&eid, 1, &other.polynomials[0], &who[0])).unwrap_err();
        assert!(err.to_string().contains("a polynomial before every teller's commitment"), "{err}");
        // A teller the election does not have.
        let err = publish(&mut conn, entry::teller_key(&eid, 4, &who[3], &key(), &other.commitments[0])).unwrap_err();
        assert!(err.to_string().contains("teller 4 is not one of the election's 3 tellers"), "{err}");
        assert_eq!(export_bundle(db, &id, "mid").log, before, "nothing was logged");

        // Commitments in, then a polynomial that is not the committed one.
        for t in 0..3 {
            publish(&mut conn, entry::teller_key(&eid, t + 1, &who[t as usize], &key(), &other.commitments[t as usize])).unwrap();
        }
        let err = publish(&mut conn, entry::teller_key(&eid, 2, &who[1], &key(), &other.commitments[1])).unwrap_err();
        assert!(err.to_string().contains("teller 2 publishes a second key"), "{err}");
        let err = publish(&mut conn, entry::teller_polynomial(&eid, 1, &other.polynomials[1], &who[0])).unwrap_err();
        assert!(err.to_string().contains("teller 1: the polynomial does not match the commitment"), "{err}");
        // The right ones: the service adds the election key after the last.
        for t in 0..3 {
            publish(&mut conn, entry::teller_polynomial(&eid, t + 1, &other.polynomials[t as usize], &who[t as usize])).unwrap();
        }
        let bundle = export_bundle(db, &id, "after");
        let types: Vec<String> = bundle.log.split(|&b| b == b'\n').filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(&types[types.len() - 4..], ["teller_polynomial", "teller_polynomial", "teller_polynomial", "election_key"]);
        let roster = write_roster(db, "r.csv", &[("M1", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let err = sv(db, &["election", "open", &id]).fails();
        assert!(err.contains("(0 of 3 tellers have finished"), "{err}");
    }
}

both_backends! {
    fn tellers_on_their_own_machines_run_the_ceremony_over_http_with_their_invitations(db: &TestDb) {
        // Teller 1 runs the service's own `strikevote teller`; teller 2 has only the
        // `strikevote-teller` program (built from the core alone): one election key, one result.
        let text = definition_toml(&[("600", 3)]).replace(
            "tellers = { count = 1, threshold = 1 }",
            "tellers = { count = 2, threshold = 2 }",
        );
        let file = db.path("e.toml");
        std::fs::write(&file, text).unwrap();
        let created = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL, "--json"]).ok();
        let created: serde_json::Value = serde_json::from_str(&created).unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let codes: Vec<String> = created["teller_invitations"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
        assert_eq!(codes.len(), 2);
        // A real server process: the tellers' commands talk to it over HTTP.
        let served = serve_process(db, &["--database-url", &db.url], &[]);
        let address = format!("http://127.0.0.1:{}", served.port);
        let confirmed = std::cell::RefCell::new(std::collections::BTreeMap::<u32, String>::new());
        let remote = |teller: u32, code: &str| {
            let invitation = db.path(&format!("invitation-{teller}"));
            std::fs::write(&invitation, format!("{code}\n")).unwrap();
            let pass = db.path(&format!("pass-{teller}"));
            std::fs::write(&pass, "a teller's own passphrase\n").unwrap();
            let state = db.path(&format!("remote-{teller}.state"));
            let n = teller.to_string();
            let args = [
                "setup", "--election", &id, "--teller", &n, "--state", state.to_str().unwrap(),
                "--passphrase-file", pass.to_str().unwrap(), "--work-factor", "2",
                "--server", &address, "--invitation-file", invitation.to_str().unwrap(),
            ];
            let confirms: Vec<String> = confirmed.borrow().iter().filter(|(t, _)| **t != teller)
                .flat_map(|(t, fp)| ["--confirm".to_owned(), format!("{t}={fp}")]).collect();
            let out = teller_command(teller).args(args).args(&confirms).current_dir(db.dir()).output().unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
        };
        // A wrong code is refused and creates nothing.
        let (ok, out) = remote(1, &codes[1]);
        assert!(!ok && out.contains("this is not the invitation code of this teller"), "{out}");
        assert!(!db.path("remote-1.state").exists());
        for t in 1..=2u32 {
            let (ok, out) = remote(t, &codes[t as usize - 1]);
            assert!(ok, "{out}");
            confirmed.borrow_mut().insert(t, fingerprint_in(&out));
        }
        // Teller 2 published and cannot go on: the officials restart the ceremony, giving the
        // seat to someone new, who has only the `strikevote-teller` program; teller 1's command,
        // over HTTP, follows the restart and keeps its fingerprint.
        let said = sv(db, &["teller", "invite", "--election", &id, "--teller", "2", "--restart"]).ok();
        let new2 = said.lines().find(|l| l.starts_with("teller 2 ")).unwrap().rsplit(' ').next().unwrap().to_owned();
        let codes = [codes[0].clone(), new2];
        std::fs::rename(db.path("remote-2.state"), db.path("departed-2.state")).unwrap();
        let (ok, out) = remote(2, &codes[1]);
        assert!(ok, "{out}");
        let old2 = confirmed.borrow_mut().insert(2, fingerprint_in(&out)).unwrap();
        assert_ne!(confirmed.borrow()[&2], old2);
        let (ok, out) = remote(1, &codes[0]);
        assert!(ok && out.contains("the officials restarted the key ceremony: the seat of teller(s) 2 went to someone else"), "{out}");
        assert_eq!(fingerprint_in(&out), confirmed.borrow()[&1]);
        let mut last = String::new();
        for _round in 0..3 {
            for t in 1..=2u32 {
                let (ok, out) = remote(t, &codes[t as usize - 1]);
                assert!(ok, "{out}");
                last = out;
            }
        }
        assert_eq!(last_line(&last), "the election key is ready: all 2 tellers hold their key shares");
        // Issuing codes again replaces them: the old one stops working, the new one works.
        let fresh = sv(db, &["teller", "invite", "--election", &id]).ok();
        let new1 = fresh.lines().find(|l| l.starts_with("teller 1 ")).unwrap().rsplit(' ').next().unwrap().to_owned();
        let (ok, out) = remote(1, &codes[0]);
        assert!(!ok && out.contains("this is not the invitation code of this teller"), "{out}");
        let (ok, out) = remote(1, &new1);
        assert!(ok && out.contains("the election key is ready"), "{out}");
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        sv(db, &["election", "open", &id]).ok();

        // After open, issuing codes is refused.
        let err = sv(db, &["teller", "invite", "--election", &id]).fails();
        assert!(err.contains("is over"), "{err}");

        // After close, each teller decrypts from its own machine, checking the log it is sent.
        cast_some(db, &id, 1);
        sv(db, &["election", "close", &id]).ok();
        let decrypt_remote = |teller: u32| {
            let state = db.path(&format!("remote-{teller}.state"));
            let pass = db.path(&format!("pass-{teller}"));
            let out = teller_command(teller)
                .args(["decrypt", "--election", &id, "--state", state.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(), "--server", &address, "--confirm-early-close"])
                .current_dir(db.dir())
                .output()
                .unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
        };
        let (ok, out) = decrypt_remote(1);
        assert!(ok && out.contains("1 of the 2 decryptions needed are in"), "{out}");
        let (ok, out) = decrypt_remote(2);
        assert!(ok && out.contains("decrypted by teller(s) 1, 2"), "{out}");
        let results: serde_json::Value = serde_json::from_str(&sv(db, &["results", &id, "--json"]).ok()).unwrap();
        assert_eq!(results["popular"]["counts"], serde_json::json!({"yes": 1, "no": 0, "abstain": 0}));
        served.stop();
    }
}

both_backends! {
    fn the_demo_keeps_its_tellers_state_where_the_teller_command_opens_it(db: &TestDb) {
        let served = serve_process(db, &["--demo", "--database-url", &db.url], &[]);
        let dir = db.dir().join("demo-tellers");
        // The socket listens before the demo is seeded: wait for the seeding to finish.
        for _ in 0..100 {
            if sv(db, &["election", "list", "--json"]).ok().contains("\"open\"") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
        assert!(readme.starts_with("INSECURE DEMO"), "{readme}");
        let listed: serde_json::Value = serde_json::from_str(&sv(db, &["election", "list", "--json"]).ok()).unwrap();
        let id = listed[0]["id"].as_str().unwrap().to_owned();
        let pass = db.path("demo-pass");
        std::fs::write(&pass, "insecure demo passphrase 3\n").unwrap();
        let state = dir.join("teller-3.state");
        let invitation = dir.join("invitation-3.txt");
        let out = sv(db, &["teller", "setup", "--election", &id, "--teller", "3", "--state", state.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(), "--invitation-file", invitation.to_str().unwrap()]).ok();
        assert_eq!(last_line(&out), "the election key is ready: all 3 tellers hold their key shares");
        served.stop();
    }
}

both_backends! {
    fn shares_for_hundreds_of_locals_reach_the_service_over_http(db: &TestDb) {
        // 300 locals × 2 choices, a ballot in each (only totals with ballots are shared): the
        // teller's shares are about 120 kB, twice the JSON limit.
        let codes: Vec<String> = (0..300).map(|i| format!("L{i}")).collect();
        let locals: Vec<(&str, u32)> = codes.iter().map(|c| (c.as_str(), 1)).collect();
        let id = create_election_from(db, &definition_toml(&locals));
        run_ceremony(db, &id);
        let members: Vec<(String, &str)> = codes.iter().map(|c| (format!("M-{c}"), c.as_str())).collect();
        let pairs: Vec<(&str, &str)> = members.iter().map(|(m, c)| (m.as_str(), *c)).collect();
        let roster = write_roster(db, "r.csv", &pairs);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        sv(db, &["election", "open", &id]).ok();
        let tokens = issue_tokens(db, &id);
        cast_batch(db, &tokens.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>());
        sv(db, &["election", "close", &id]).ok();
        let served = serve_process(db, &["--database-url", &db.url], &[]);
        let address = format!("http://127.0.0.1:{}", served.port);
        let state = teller_state(db, 1);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"))
            .args(["teller", "decrypt", "--election", &id, "--state", state.to_str().unwrap()])
            .args(["--passphrase-file", db.path("teller.pass").to_str().unwrap(), "--server", &address, "--confirm-early-close"])
            .args(["--database-url", "sqlite://does-not-exist/nowhere.db"])
            .current_dir(db.dir())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("decrypted by teller(s) 1"), "{text}");
        let results: serde_json::Value = serde_json::from_str(&sv(db, &["results", &id, "--json"]).ok()).unwrap();
        assert_eq!(results["popular"]["counts"], serde_json::json!({"yes": 300, "no": 0, "abstain": 0}));
        served.stop();
    }
}

/// Sends a POST whose head declares `length` bytes of body but only `first` of them, and
/// returns the answer's first bytes: what the server says before the body is all there.
async fn answer_before_the_body(address: &str, path: &str, length: usize, first: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    let mut answer = vec![0u8; 8192];
    let wait = std::time::Duration::from_secs(10);
    let n = tokio::time::timeout(wait, stream.read(&mut answer))
        .await
        .expect("an answer before the body")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

both_backends! {
    async fn a_share_body_is_bounded_by_the_election_and_refused_unread_before_close(db: &TestDb) {
        // Before: the public tally-share route read and parsed bodies up to the upload limit
        // (32 MB) from anyone, before any check.
        let (id, _) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let path = format!("/api/v1/elections/{id}/tally-shares");
        let declared = 30 * 1024 * 1024;
        let answer = answer_before_the_body(&app.address, &path, declared, b"{").await;
        assert!(answer.starts_with("HTTP/1.1 409"), "{answer}");
        assert!(answer.contains("election_not_open"), "{answer}");
        sv(db, &["election", "close", &id]).ok();
        // Three locals, two choices: a few kilobytes at most; more is refused as it arrives.
        let answer = answer_before_the_body(&app.address, &path, declared, &vec![b' '; 64 * 1024]).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("payload_too_large"), "{answer}");
        // A teller number the election does not have is refused before the log is read.
        let share = serde_json::json!({"teller": 9, "closed": {"size": 1, "root": "AA=="}, "shares": {}, "signature": "00"});
        let res = reqwest::Client::new().post(format!("{}{path}", app.address)).json(&share).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "bad_share", "{body}");
        assert!(body["message"].as_str().unwrap().contains("has 1 teller(s): there is no teller 9"), "{body}");
    }
}

both_backends! {
    fn a_new_state_file_needs_a_passphrase_as_strong_as_an_officials_password(db: &TestDb) {
        let id = create_election_only(db);
        invite(db, &id);
        let state = db.path("weak.state");
        for weak in ["Password1234", "aaaaaaaaaaaaaaaa", "Solidarity Forever"] {
            let pass = db.path("weak-pass");
            std::fs::write(&pass, format!("{weak}\n")).unwrap();
            let err = sv(db, &["teller", "setup", "--election", &id, "--teller", "1", "--state", state.to_str().unwrap(), "--passphrase-file", pass.to_str().unwrap(), "--invitation-file", db.path("invitation-1").to_str().unwrap(), "--work-factor", "2"]).fails();
            assert!(err.contains("the passphrase is too weak") && err.contains("common passphrases"), "{weak}: {err}");
            assert!(!state.exists(), "{weak}: no state file is written");
        }
        let out = setup(db, &id, 1).ok();
        assert!(out.starts_with("teller 1: your fingerprint is "), "{out}");
    }
}

both_backends! {
    fn the_console_writes_each_tellers_printable_sheet_once(db: &TestDb) {
        let id = three_tellers(db);
        let out = db.path("sheets.pdf");
        let said = sv(db, &["teller", "invite", "--election", &id, "--pdf", out.to_str().unwrap()]).ok();
        assert!(said.contains("3 teller invitation(s) written"), "{said}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the sheets hold the invitation codes");
        }
        let sheets = pdf_pages(&out);
        assert_eq!(sheets.len(), 3, "{sheets:?}");
        for (n, name) in [(1, "Ana"), (2, "Bo"), (3, "Cy")] {
            let sheet = &sheets[n - 1];
            assert!(sheet.contains(&format!("Teller {n}, {name}: your invitation")), "{sheet}");
            assert!(sheet.contains(&format!("--teller {n} --state teller-{n}.state")), "{sheet}");
            // The code printed is the teller's: the ceremony takes it.
            let code = sheet.split("Invitation code (save it as invitation.txt)").nth(1).unwrap().split_whitespace().next().unwrap();
            std::fs::write(db.path(&format!("invitation-{n}")), format!("{code}\n")).unwrap();
            let first = setup(db, &id, n as u32).ok();
            assert!(first.contains("your fingerprint is"), "{first}");
        }
        let refused = sv(db, &["teller", "invite", "--election", &id, "--pdf", out.to_str().unwrap()]).fails();
        assert!(refused.contains("refusing to overwrite"), "{refused}");
    }
}

both_backends! {
    fn a_teller_who_cannot_take_part_is_replaced_before_publishing_and_the_ceremony_completes(db: &TestDb) {
        let id = three_tellers(db);
        // Tellers 1 and 2 publish their keys; teller 3 never shows up.
        let fp1 = fingerprint_in(&setup(db, &id, 1).ok());
        let fp2 = fingerprint_in(&setup(db, &id, 2).ok());
        let old3 = std::fs::read_to_string(db.path("invitation-3")).unwrap();
        let old1 = std::fs::read_to_string(db.path("invitation-1")).unwrap();
        // A published seat cannot be handed over: its key is in the log.
        let refused = sv(db, &["teller", "invite", "--election", &id, "--teller", "1"]).fails();
        assert!(refused.contains("teller 1 has already published their key"), "{refused}");
        let refused = sv(db, &["teller", "invite", "--election", &id, "--teller", "4"]).fails();
        assert!(refused.contains("teller 4 does not exist"), "{refused}");
        // Teller 3's seat goes to someone else: a new code for it alone.
        let said = sv(db, &["teller", "invite", "--election", &id, "--teller", "3"]).ok();
        let lines: Vec<&str> = said.lines().filter(|l| l.starts_with("teller ")).collect();
        assert_eq!(lines.len(), 1, "{said}");
        assert!(lines[0].starts_with("teller 3 (Cy): "), "{said}");
        let new3 = lines[0].rsplit(' ').next().unwrap();
        assert_ne!(new3.trim(), old3.trim());
        // The old code no longer takes the seat; teller 1's is unchanged.
        let err = setup(db, &id, 3).fails();
        assert!(err.contains("this is not the invitation code of this teller"), "{err}");
        assert_eq!(std::fs::read_to_string(db.path("invitation-1")).unwrap(), old1);
        std::fs::write(db.path("invitation-3"), format!("{new3}\n")).unwrap();
        let fp3 = fingerprint_in(&setup(db, &id, 3).ok());
        // The three confirm each other and finish: one election key.
        let fps = [fp1, fp2, fp3];
        let mut last = String::new();
        for _round in 0..4 {
            for t in 1..=3u32 {
                let confirms: Vec<String> = (1..=3u32).filter(|o| *o != t).map(|o| format!("{o}={}", fps[o as usize - 1])).collect();
                let mut extra = Vec::new();
                for c in &confirms {
                    extra.extend(["--confirm", c.as_str()]);
                }
                last = last_line(&setup_with(db, &id, t, &extra).ok());
            }
        }
        assert_eq!(last, "the election key is ready: all 3 tellers hold their key shares");
    }
}

/// `--confirm N=FP` arguments for teller `me` from everyone's fingerprints (1-based order).
fn confirmations(fps: &[String], me: u32) -> Vec<String> {
    (1..=fps.len() as u32)
        .filter(|o| *o != me)
        .map(|o| format!("{o}={}", fps[o as usize - 1]))
        .collect()
}

/// `teller setup` for `teller` confirming the others' fingerprints `fps`; the last line.
fn setup_confirming(db: &TestDb, id: &str, teller: u32, fps: &[String]) -> Run {
    let confirms = confirmations(fps, teller);
    let mut extra = Vec::new();
    for c in &confirms {
        extra.extend(["--confirm", c.as_str()]);
    }
    setup_with(db, id, teller, &extra)
}

/// The log's entry types, in order.
fn log_types(db: &TestDb, id: &str, name: &str) -> Vec<String> {
    let bundle = export_bundle(db, id, name);
    bundle
        .log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

both_backends! {
    async fn a_teller_who_published_and_vanished_is_replaced_by_a_restart_and_the_vote_is_counted(db: &TestDb) {
        let id = three_tellers(db);
        // All three publish their keys; 1 and 2 confirm each other and go on; teller 3 has
        // confirmed nothing and stops answering: the ceremony is stuck in round 2.
        let mut fps: Vec<String> = (1..=3).map(|t| fingerprint_in(&setup(db, &id, t).ok())).collect();
        for t in [1, 2] {
            setup_confirming(db, &id, t, &fps).ok();
        }
        assert_eq!(show(db, &id)["key_ceremony"]["polynomials"], 2);
        // Without asking for the restart, a published seat is not handed over.
        let refused = sv(db, &["teller", "invite", "--election", &id, "--teller", "3"]).fails();
        assert!(refused.contains("teller 3 has already published their key") && refused.contains("Ask for the restart"), "{refused}");
        let said = sv(db, &["teller", "invite", "--election", &id, "--teller", "3", "--restart"]);
        assert_eq!(said.code, 0, "{}", said.stderr);
        assert!(said.stderr.contains("The key ceremony restarted"), "{}", said.stderr);
        let line = said.stdout.lines().find(|l| l.starts_with("teller 3 (Cy): ")).unwrap();
        let new3 = line.rsplit(' ').next().unwrap().to_owned();
        // The log says who restarted it and whose seat went to someone else; the shares sent
        // for the void ceremony are gone.
        let types = log_types(db, &id, "restarted");
        assert_eq!(&types[types.len() - 2..], ["admin", "ceremony_restart"]);
        let bundle = export_bundle(db, &id, "restarted");
        let last: Vec<serde_json::Value> = bundle.log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
        let n = last.len();
        assert_eq!(last[n - 2]["action"], "ceremony_restart");
        assert!(last[n - 2]["by"].as_str().unwrap().starts_with("cli:"), "{}", last[n - 2]);
        assert_eq!(last[n - 1]["replaced"], serde_json::json!([3]));
        assert_eq!(show(db, &id)["key_ceremony"]["keys"], 0);
        assert_eq!(show(db, &id)["key_ceremony"]["restarts"], 1);
        assert!(sv(db, &["election", "show", &id]).ok().contains("key ceremony: restarted 1×; round 1 of 3: 0 of 3 tellers have published their keys"));
        let shares: i64 = {
            use diesel::prelude::*;
            use strikevote::db::schema::teller_shares;
            teller_shares::table.count().get_result(&mut db.conn()).unwrap()
        };
        assert_eq!(shares, 0);
        // The departed teller's state file can never take part again, even with the new code.
        std::fs::write(db.path("invitation-3"), format!("{new3}\n")).unwrap();
        let err = setup(db, &id, 3).fails();
        assert!(err.contains("gave your seat (teller 3) to someone else"), "{err}");
        std::fs::rename(db.path("teller-3.state"), db.path("departed-3.state")).unwrap();
        // Tellers 1 and 2 run their same command: their program says the ceremony restarted
        // and publishes the same identity key again.
        for t in [1u32, 2] {
            let out = setup_confirming(db, &id, t, &fps).ok();
            assert!(out.contains("the officials restarted the key ceremony: the seat of teller(s) 3 went to someone else"), "{out}");
            assert_eq!(fingerprint_in(&out), fps[t as usize - 1]);
        }
        let new_fp3 = fingerprint_in(&setup(db, &id, 3).ok());
        assert_ne!(new_fp3, fps[2]);
        // Teller 1, still confirming the departed teller's fingerprint, is stopped: the seat's
        // key is not the one read to them.
        let err = setup_confirming(db, &id, 1, &fps).fails();
        assert!(err.contains("teller 3's key on the server") && err.contains("is not the one teller 3 read to you"), "{err}");
        // Teller 2, confirming nothing new, waits for the new teller's fingerprint.
        let out = last_line(&setup(db, &id, 2).ok());
        assert!(out.contains("--confirm 3=<fingerprint teller 3 reads you>") && !out.contains("--confirm 1="), "{out}");
        // With the new teller's fingerprint read to them, the ceremony completes.
        fps[2] = new_fp3.clone();
        let mut last = String::new();
        for _round in 0..4 {
            for t in 1..=3u32 {
                last = last_line(&setup_confirming(db, &id, t, &fps).ok());
            }
        }
        assert_eq!(last, "the election key is ready: all 3 tellers hold their key shares");
        // Once complete, no restart: the election key stands.
        let err = sv(db, &["teller", "invite", "--election", &id, "--teller", "1", "--restart"]).fails();
        assert!(err.contains("a restart of a complete key ceremony"), "{err}");

        // As the operator, with teller 2's invitation: after the restart no other identity
        // key takes teller 2's seat — the server refuses it, as every verifier would.
        let app = spawn_app(db).await;
        let code2 = std::fs::read_to_string(db.path("invitation-2")).unwrap().trim().to_owned();
        let eid = strikevote::election::ElectionId::parse(&id).unwrap();
        let forged = strikevote_core::entry::teller_key(&eid, 2, &strikevote_core::crypto::identity::Identity::from_seed(&[9; 32]), "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj", &[0; 32]);
        let res = app.client.post(format!("{}/api/v1/elections/{id}/tellers/2/messages", app.address))
            .header("authorization", format!("Teller {code2}"))
            .json(&serde_json::json!({"entry": String::from_utf8(forged.bytes).unwrap()}))
            .send().await.unwrap();
        assert_eq!(res.status(), 409);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "ceremony_refused", "{body}");

        // The vote runs and is counted with the new teller's share.
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "600"), ("M3", "600"), ("M4", "600"), ("M5", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        sv(db, &["election", "open", &id]).ok();
        cast_some(db, &id, 5);
        sv(db, &["election", "close", &id]).ok();
        teller_decrypt(db, &id, 1).ok();
        let out = teller_decrypt(db, &id, 3).ok();
        assert!(out.contains("decrypted by teller(s) 1, 3"), "{out}");
        let bundle = export_bundle(db, &id, "counted");
        let report = strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.tellers.values().cloned().collect::<Vec<_>>(), fps);
        assert_eq!(report.replaced.len(), 1);
        assert_eq!(report.replaced[0].0, 3);
        assert_ne!(report.replaced[0].1, new_fp3);
        assert_eq!(report.types["teller_key"], 6);
        assert_eq!(report.result.unwrap().1.tellers, [1, 3]);
    }
}

/// Gives teller `teller`'s seat to someone new with a restart of the key ceremony: their new
/// invitation is written to `invitation-N` and the departed teller's state file moved aside.
fn restart_for(db: &TestDb, id: &str, teller: u32) {
    let said = sv(
        db,
        &[
            "teller",
            "invite",
            "--election",
            id,
            "--teller",
            &teller.to_string(),
            "--restart",
        ],
    );
    assert_eq!(said.code, 0, "{}", said.stderr);
    let prefix = format!("teller {teller} (");
    let line = said
        .stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap();
    let code = line.rsplit(' ').next().unwrap();
    std::fs::write(
        db.path(&format!("invitation-{teller}")),
        format!("{code}\n"),
    )
    .unwrap();
    let state = db.path(&format!("teller-{teller}.state"));
    std::fs::rename(&state, db.path(&format!("departed-{teller}.state"))).unwrap();
}

both_backends! {
    fn a_second_teller_who_vanishes_after_a_restart_is_replaced_by_another_restart(db: &TestDb) {
        // Before: a restart named only tellers who had published since the last one, yet a
        // teller who stayed through a restart kept their seat (their identity key carries
        // over): when they vanished too, their seat took a new code without a restart, the new
        // teller's key was refused, and the ceremony could never complete.
        let id = three_tellers(db);
        let mut fps: Vec<String> = (1..=3).map(|t| fingerprint_in(&setup(db, &id, t).ok())).collect();
        // Teller 3 vanishes: the first restart; teller 1 publishes again, the new teller 3 too.
        restart_for(db, &id, 3);
        setup(db, &id, 1).ok();
        fps[2] = fingerprint_in(&setup(db, &id, 3).ok());
        // Now teller 2 vanishes before publishing again: their seat is still theirs.
        let refused = sv(db, &["teller", "invite", "--election", &id, "--teller", "2"]).fails();
        assert!(refused.contains("teller 2 has already published their key") && refused.contains("Ask for the restart"), "{refused}");
        restart_for(db, &id, 2);
        let bundle = export_bundle(db, &id, "twice");
        let entries: Vec<serde_json::Value> = bundle.log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
        let restarts: Vec<&serde_json::Value> = entries.iter().filter(|e| e["type"] == "ceremony_restart").map(|e| &e["replaced"]).collect();
        assert_eq!(restarts, [&serde_json::json!([3]), &serde_json::json!([2])]);
        assert_eq!(show(db, &id)["key_ceremony"]["restarts"], 2);
        // The new teller 2 takes the seat; with their fingerprint read to the others, the
        // ceremony completes.
        fps[1] = fingerprint_in(&setup(db, &id, 2).ok());
        let mut last = String::new();
        for _round in 0..4 {
            for t in 1..=3u32 {
                last = last_line(&setup_confirming(db, &id, t, &fps).ok());
            }
        }
        assert_eq!(last, "the election key is ready: all 3 tellers hold their key shares");
        let bundle = export_bundle(db, &id, "complete");
        let report = strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.tellers.values().cloned().collect::<Vec<_>>(), fps);
        let replaced: Vec<u32> = report.replaced.iter().map(|(teller, _)| *teller).collect();
        assert_eq!(replaced, [3, 2]);
    }
}

both_backends! {
    async fn officials_replace_a_teller_through_the_api_restarting_the_ceremony_only_when_asked(db: &TestDb) {
        let id = three_tellers(db);
        fingerprint_in(&setup(db, &id, 1).ok());
        let token = official(db, "alice", "admin");
        let app = spawn_app(db).await;
        let replace = |teller: &str, body: serde_json::Value| {
            let request = app.client.post(format!("{}/api/v1/elections/{id}/tellers/{teller}/replace", app.address)).bearer_auth(&token).json(&body);
            async move {
                let res = request.send().await.unwrap();
                let status = res.status().as_u16();
                let cache = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
                (status, cache, res.json::<serde_json::Value>().await.unwrap())
            }
        };
        // Teller 2 published nothing: a new code for their seat, no restart.
        let (status, cache, body) = replace("2", serde_json::json!({})).await;
        assert_eq!((status, cache.as_deref()), (200, Some("no-store")), "{body}");
        assert_eq!(body["restarted"], false);
        assert_eq!(body["invitation"]["teller"], 2);
        assert_eq!(body["invitation"]["name"], "Bo");
        let code = body["invitation"]["code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 34, "{body}");
        // Teller 1 published their key: refused unless the restart is asked for.
        let (status, _, body) = replace("1", serde_json::json!({"restart": false})).await;
        assert_eq!(status, 409);
        assert_eq!(body["error"], "ceremony_refused");
        assert!(body["message"].as_str().unwrap().contains("teller 1 has already published their key"), "{body}");
        assert_eq!(show(db, &id)["key_ceremony"]["keys"], 1, "nothing changed");
        let (status, _, body) = replace("1", serde_json::json!({"restart": true})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["restarted"], true);
        assert_eq!(show(db, &id)["key_ceremony"]["keys"], 0);
        let (_, log) = app.get(&format!("/api/v1/elections/{id}/entries")).await;
        let lines: Vec<&str> = log.lines().collect();
        let n = lines.len();
        assert!(lines[n - 2].ends_with(r#""action":"ceremony_restart","by":"alice"}"#), "{log}");
        assert!(lines[n - 1].contains(r#""type":"ceremony_restart""#) && lines[n - 1].ends_with(r#""replaced":[1]}"#), "{log}");
        // A seat the election lacks, a number that is none, a field the body does not have.
        for (teller, body, status, error) in [
            ("9", serde_json::json!({}), 400, "invalid_body"),
            ("x", serde_json::json!({}), 400, "invalid_query"),
            ("1", serde_json::json!({"restart": true, "tellers": [1]}), 400, "invalid_json"),
        ] {
            let (got, _, answer) = replace(teller, body).await;
            assert_eq!((got, answer["error"].as_str().unwrap()), (status, error), "{teller}: {answer}");
        }
    }
}
