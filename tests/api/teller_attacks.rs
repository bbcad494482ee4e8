//! The operator attacks the tellers (docs/DESIGN.md invariant 9), each as it was done against
//! the code before tellers checked what the server hands them: a relay that swaps a teller's
//! key in the ceremony, a seat taken before the real teller joins, a fork of the log signed
//! with a fresh key or with the deployment's own key, a close forged mid-vote on a copy beside
//! the server with its heads folder elsewhere. Each ends with the teller refusing, saying why,
//! and nothing decrypted.

use std::sync::{Arc, Mutex};

use strikevote_core::crypto::identity::Identity;
use strikevote_core::entry::{Body, Entry};

use crate::both_backends;
use crate::helpers::*;

/// Creates an election with `tellers` tellers (all needed) through `election create --json`;
/// writes each teller's invitation code to `invitation-N`; returns the id.
fn election_with_tellers(db: &TestDb, tellers: u32) -> String {
    let text = definition_toml(&[("600", 3)]).replace(
        "tellers = { count = 1, threshold = 1 }",
        &format!("tellers = {{ count = {tellers}, threshold = {tellers} }}"),
    );
    let file = db.path("e.toml");
    std::fs::write(&file, text).unwrap();
    let created = sv(
        db,
        &[
            "election",
            "create",
            "--file",
            file.to_str().unwrap(),
            "--public-url",
            PUBLIC_URL,
            "--json",
        ],
    )
    .ok();
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    for (n, c) in created["teller_invitations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let code = c["code"].as_str().unwrap();
        std::fs::write(
            db.path(&format!("invitation-{}", n + 1)),
            format!("{code}\n"),
        )
        .unwrap();
    }
    created["id"].as_str().unwrap().to_owned()
}

/// `teller setup` as teller `teller` with state file `state`, on its own machine (`server`) or
/// beside the database (`None`).
fn setup(
    db: &TestDb,
    id: &str,
    teller: u32,
    state: &str,
    server: Option<&str>,
    extra: &[&str],
) -> Run {
    let pass = db.path(&format!("pass-{state}"));
    std::fs::write(&pass, "a teller's own passphrase\n").unwrap();
    let n = teller.to_string();
    let (state, invitation) = (db.path(state), db.path(&format!("invitation-{teller}")));
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
        "--work-factor",
        "2",
        "--invitation-file",
        invitation.to_str().unwrap(),
    ];
    if let Some(url) = server {
        args.extend(["--server", url]);
    }
    args.extend_from_slice(extra);
    match server {
        // On its own machine the teller has no database: a URL that leads nowhere.
        Some(_) => sv_url(db, "sqlite://does-not-exist/nowhere.db", &args, &[]),
        None => sv(db, &args),
    }
}

/// The vote cannot open: nobody went past round 1, so no election key exists.
fn nothing_past_round_one(db: &TestDb, id: &str) {
    let shown = show(db, id);
    assert_eq!(shown["key_ceremony"]["polynomials"], 0, "{shown}");
    assert_eq!(shown["key_ceremony"]["complete"], false, "{shown}");
    let roster = write_roster(db, "r.csv", &[("M1", "600")]);
    sv(db, &["roster", "import", "--election", id, &roster]).ok();
    let err = sv(db, &["election", "open", id]).fails();
    assert!(err.contains("its election key is not ready"), "{err}");
}

both_backends! {
    fn a_relay_that_swaps_a_tellers_key_makes_the_ceremony_stop_before_any_key_exists(db: &TestDb) {
        let id = election_with_tellers(db, 2);
        let served = serve_process(db, &["--database-url", &db.url], &[]);
        let upstream = format!("http://127.0.0.1:{}", served.port);
        // What the relay does to teller 2's key entry on teller 1's board.
        let mode = Arc::new(Mutex::new("recipient"));
        let relay_identity = Arc::new(Identity::from_seed(&[0x5a; 32]));
        let relay_recipient = age::x25519::Identity::generate().to_public().to_string();
        let relay = {
            let (mode, who) = (Arc::clone(&mode), Arc::clone(&relay_identity));
            start_relay(move |req| {
                let mut answer = forward(&upstream, req);
                if !req.path.ends_with("/tellers/1/board") || answer.status != 200 {
                    return answer;
                }
                let mut board: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                for text in board["entries"].as_array_mut().unwrap() {
                    let mut entry = Entry::parse(text.as_str().unwrap().as_bytes()).unwrap();
                    let Body::TellerKey(key) = &mut entry.body else { continue };
                    if key.teller != 2 {
                        continue;
                    }
                    match *mode.lock().unwrap() {
                        "recipient" => key.recipient = relay_recipient.clone(),
                        "whole" => {
                            key.recipient = relay_recipient.clone();
                            key.identity = who.public_hex();
                            who.sign_entry(&mut entry);
                        }
                        _ => {}
                    }
                    *text = String::from_utf8(entry.to_bytes()).unwrap().into();
                }
                answer.body = serde_json::to_vec(&board).unwrap();
                answer
            })
        };
        let relayed = relay.url();
        let direct = format!("http://127.0.0.1:{}", served.port);
        let one = setup(db, &id, 1, "t1.state", Some(&relayed), &[]).ok();
        let fp1 = fingerprint_in(&one);
        let two = setup(db, &id, 2, "t2.state", Some(&direct), &[]).ok();
        let fp2 = fingerprint_in(&two);
        let confirm2 = format!("2={fp2}");
        let confirm1 = format!("1={fp1}");

        // Another recipient in teller 2's signed entry: the signature gives it away.
        let run = setup(db, &id, 1, "t1.state", Some(&relayed), &["--confirm", &confirm2]);
        let err = run.fails();
        assert!(err.contains("the server's ceremony log breaks the rules: teller 2's key entry: its signature is not the teller's identity key's"), "{err}");

        // The whole entry replaced and signed by the relay's own key: the fingerprint teller 2
        // read out gives it away.
        *mode.lock().unwrap() = "whole";
        let err = setup(db, &id, 1, "t1.state", Some(&relayed), &["--confirm", &confirm2]).fails();
        let relay_fp = relay_identity.fingerprint();
        assert!(err.contains(&format!("teller 2's key on the server (fingerprint {relay_fp}) is not the one teller 2 read to you ({fp2})")), "{err}");
        assert!(err.contains("do not let the vote open"), "{err}");
        // Teller 2, reached directly, goes on once it confirmed teller 1; but no election key
        // can exist while teller 1 refuses.
        setup(db, &id, 2, "t2.state", Some(&direct), &["--confirm", &confirm1]).ok();
        nothing_past_round_one_for_teller(db, &id, 1);
        let shown = show(db, &id);
        assert_eq!(shown["key_ceremony"]["complete"], false, "{shown}");
        let roster = write_roster(db, "r.csv", &[("M1", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let err = sv(db, &["election", "open", &id]).fails();
        assert!(err.contains("its election key is not ready"), "{err}");
        served.stop();
    }
}

/// Teller `teller`'s polynomial is not in the log.
fn nothing_past_round_one_for_teller(db: &TestDb, id: &str, teller: u32) {
    let bundle = export_bundle(db, id, &format!("after-{teller}"));
    let polynomials = bundle
        .log
        .split(|&b| b == b'\n')
        .filter(|l| {
            let text = String::from_utf8_lossy(l);
            text.contains(r#""type":"teller_polynomial""#)
                && text.contains(&format!(r#""teller":{teller},"#))
        })
        .count();
    assert_eq!(polynomials, 0);
}

both_backends! {
    fn someone_who_takes_a_tellers_seat_is_named_and_the_vote_cannot_open(db: &TestDb) {
        let id = election_with_tellers(db, 2);
        // The operator, beside the server, with teller 2's invitation code (printed to whoever
        // created the election), right after `election create`.
        let squat = setup(db, &id, 2, "operator-2.state", None, &[]).ok();
        let operator_fp = fingerprint_in(&squat);
        // The real teller 2 is told plainly, and shows its own fingerprint to the others.
        let run = setup(db, &id, 2, "real-2.state", None, &[]);
        let real_fp = fingerprint_in(&run.stdout);
        let err = run.fails();
        assert!(err.contains("someone else holds your seat"), "{err}");
        assert!(err.contains(&format!("(fingerprint {operator_fp}) is not the one in your state file (fingerprint {real_fp})")), "{err}");
        assert!(err.contains("tell the other tellers and the officials; do not let the vote open"), "{err}");
        assert!(!db.path("real-2.state").exists(), "the unused state file is removed");
        // Teller 1 heard the real teller 2's fingerprint and refuses the squatter's.
        let confirm = format!("2={real_fp}");
        let err = setup(db, &id, 1, "t1.state", None, &["--confirm", &confirm]).fails();
        assert!(err.contains(&format!("teller 2's key on the server (fingerprint {operator_fp}) is not the one teller 2 read to you ({real_fp})")), "{err}");
        nothing_past_round_one(db, &id);
    }
}

/// An open election (one teller, pinned by the in-process ceremony) with two ballots cast.
fn open_with_ballots(db: &TestDb) -> String {
    let (id, tokens) = prepared_election(db, 6);
    sv(db, &["election", "open", &id]).ok();
    for (_, token) in tokens.iter().take(2) {
        cast_directly(db, token);
    }
    id
}

/// `teller decrypt` as the test's teller, against `server` or the database at `url`, with
/// extra environment; never confirms an early close unless asked.
fn decrypt_at(
    db: &TestDb,
    id: &str,
    server: Option<&str>,
    url: &str,
    env: &[(&str, &str)],
    extra: &[&str],
) -> Run {
    let state = teller_state(db, 1);
    let pass = db.path("teller.pass");
    let mut args = vec![
        "teller",
        "decrypt",
        "--election",
        id,
        "--state",
        state.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ];
    if let Some(s) = server {
        args.extend(["--server", s]);
    }
    args.extend_from_slice(extra);
    sv_url(db, url, &args, env)
}

/// As an operator holding the database at `url` would: signs every stored checkpoint of the
/// election again with the key at `key` (created if missing).
fn resign_checkpoints(url: &str, id: &str, key: &std::path::Path) {
    use diesel::prelude::*;
    use strikevote::db::schema::checkpoints;
    let signer = strikevote::log::key::load_or_create(key, None).unwrap();
    let url = strikevote::db::DatabaseUrl::parse(url).unwrap();
    let pool = strikevote::db::connect(&url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let eid = strikevote::election::ElectionId::parse(id).unwrap();
    let origin = strikevote::election::find(&mut conn, eid).unwrap().origin;
    for c in strikevote::log::store::all_checkpoints(&mut conn, eid).unwrap() {
        let note = signer.sign_checkpoint(&strikevote::log::Checkpoint {
            origin: origin.clone(),
            size: c.size,
            root: c.root,
        });
        diesel::update(
            checkpoints::table
                .filter(checkpoints::election_id.eq(id))
                .filter(checkpoints::size.eq(c.size as i64)),
        )
        .set(checkpoints::note.eq(note))
        .execute(&mut *conn)
        .unwrap();
    }
}

/// The log at `url` has no decryption shares.
fn no_shares_at(db: &TestDb, url: &str, id: &str) {
    no_shares_with(db, url, id, &[]);
}

/// As [`no_shares_at`], with extra environment (another key).
fn no_shares_with(db: &TestDb, url: &str, id: &str, env: &[(&str, &str)]) {
    let out = db.path(&format!("bundle-{}", uuid::Uuid::new_v4().simple()));
    sv_url(
        db,
        url,
        &[
            "audit",
            "export",
            "--election",
            id,
            "--out",
            out.to_str().unwrap(),
        ],
        env,
    )
    .ok();
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap();
    assert!(
        !log.contains(r#""type":"tally_share""#),
        "a share was submitted"
    );
}

both_backends! {
    fn a_fork_closed_and_signed_with_a_fresh_key_is_refused(db: &TestDb) {
        let id = open_with_ballots(db);
        let fork = db.fork();
        // The operator signs the copy's checkpoints again with a key of its own (the service
        // refuses to append with another key than the election's), closes it and serves it.
        let fresh = db.path("fresh.key");
        resign_checkpoints(&fork, &id, &fresh);
        let env = [("STRIKEVOTE_SIGNING_KEY_PATH", fresh.to_str().unwrap())];
        sv_url(db, &fork, &["election", "close", &id], &env).ok();
        let served = serve_process(db, &["--database-url", &fork], &[("STRIKEVOTE_SIGNING_KEY_PATH", fresh.display().to_string())]);
        let address = format!("http://127.0.0.1:{}", served.port);
        let err = decrypt_at(db, &id, Some(&address), "sqlite://does-not-exist/nowhere.db", &[], &["--confirm-early-close"]).fails();
        assert!(err.contains("the server's log is signed with another key"), "{err}");
        assert!(err.contains("decrypts nothing"), "{err}");
        served.stop();
        no_shares_with(db, &fork, &id, &env);
        // The real election is still open, its results embargoed.
        let err = sv(db, &["results", &id]).fails();
        assert!(err.contains("results are embargoed until the vote closes"), "{err}");
    }
}

both_backends! {
    fn a_fork_signed_with_the_deployments_own_key_is_refused(db: &TestDb) {
        let id = open_with_ballots(db);
        sv(db, &["election", "close", &id]).ok();
        let real = export_bundle(db, &id, "real");
        let signer = strikevote::log::key::load_or_create(&db.path("strikevote.key"), None).unwrap();
        let lines: Vec<String> = String::from_utf8(real.log.clone()).unwrap().lines().map(str::to_owned).collect();
        let origin = real.checkpoint.lines().next().unwrap().to_owned();
        // An impostor that answers from a forged log, signed with the real key.
        let impostor = |lines: Vec<String>| {
            let leaves: Vec<_> = lines.iter().map(|l| strikevote_core::merkle::leaf_hash(l.as_bytes())).collect();
            let note = signer.sign_checkpoint(&strikevote_core::note::Checkpoint {
                origin: origin.clone(),
                size: lines.len() as u64,
                root: strikevote_core::merkle::root_of(&leaves),
            });
            start_impostor(note, real.key.clone(), lines)
        };
        // Another definition under the same election id (here: another question).
        let mut other = lines.clone();
        other[0] = other[0].replace("Do you authorize a strike", "Do you oppose a strike");
        let fake = impostor(other);
        let err = decrypt_at(db, &id, Some(&fake.url()), "sqlite://does-not-exist/nowhere.db", &[], &["--confirm-early-close"]).fails();
        assert!(err.contains("the log's entry 0 (the election's definition"), "{err}");
        // The same definition, but an entry the teller saw at the ceremony changed.
        let mut changed = lines.clone();
        let admin = changed.iter().position(|l| l.contains(r#""type":"admin""#)).unwrap();
        changed[admin] = changed[admin].replace(r#""by":""#, r#""by":"x"#);
        let fake = impostor(changed);
        let err = decrypt_at(db, &id, Some(&fake.url()), "sqlite://does-not-exist/nowhere.db", &[], &["--confirm-early-close"]).fails();
        assert!(err.contains("the log does not extend the one this teller saw at the key ceremony"), "{err}");
        // The same definition and ceremony, a ballot moved to another local (the fork oracle's
        // trick: a local of one ballot opens that ballot): its proofs are bound to its local.
        let mut moved = lines.clone();
        let ballot = moved.iter().position(|l| l.contains(r#""type":"ballot""#)).unwrap();
        let local = if moved[ballot].contains(r#""local":"600""#) { "600" } else { "700" };
        let other_local = if local == "600" { "871" } else { "600" };
        moved[ballot] = moved[ballot].replace(&format!(r#""local":"{local}""#), &format!(r#""local":"{other_local}""#));
        let fake = impostor(moved);
        let err = decrypt_at(db, &id, Some(&fake.url()), "sqlite://does-not-exist/nowhere.db", &[], &["--confirm-early-close"]).fails();
        assert!(err.contains(&format!("entry {ballot}: the ballot's proofs do not verify")), "{err}");
        assert!(err.contains("sealed for this election and local"), "{err}");
        // The real log, served honestly, decrypts.
        let out = decrypt_at(db, &id, None, &db.url, &[], &["--confirm-early-close"]).ok();
        assert!(out.contains("decrypted by teller(s) 1"), "{out}");
    }
}

both_backends! {
    fn a_close_forged_mid_vote_on_a_copy_with_its_heads_folder_elsewhere_is_refused(db: &TestDb) {
        let id = open_with_ballots(db);
        let fork = db.fork();
        let heads = db.path("empty-heads");
        std::fs::create_dir_all(&heads).unwrap();
        let env = [("STRIKEVOTE_HEADS_DIR", heads.to_str().unwrap())];
        sv_url(db, &fork, &["election", "close", &id], &env).ok();
        // Beside the server, on the copy: the teller's own clock says the vote is still on.
        let err = decrypt_at(db, &id, None, &fork, &env, &[]).fails();
        assert!(err.contains("the log says it was closed early"), "{err}");
        assert!(err.contains("by `cli:"), "{err}");
        assert!(err.contains("run again with --confirm-early-close"), "{err}");
        no_shares_at(db, &fork, &id);
        // The real election is still open: nothing there to decrypt either.
        let err = decrypt_at(db, &id, None, &db.url, &[], &["--confirm-early-close"]).fails();
        assert!(err.contains("has not closed"), "{err}");
    }
}

both_backends! {
    fn shares_a_teller_made_on_a_fork_never_combine_with_the_real_log(db: &TestDb) {
        let id = open_with_ballots(db);
        let fork = db.fork();
        sv(db, &["election", "close", &id]).ok();
        // The copy is closed a moment later: the same ballots, another close entry.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let heads = db.path("fork-heads");
        std::fs::create_dir_all(&heads).unwrap();
        let env = [("STRIKEVOTE_HEADS_DIR", heads.to_str().unwrap())];
        sv_url(db, &fork, &["election", "close", &id], &env).ok();
        // The teller, shown the copy, finds it consistent with what it pinned (the copy differs
        // only after the ceremony: witnesses are what would catch it) and decrypts there.
        let out = decrypt_at(db, &id, None, &fork, &env, &["--confirm-early-close"]).ok();
        assert!(out.contains("decrypted by teller(s) 1"), "{out}");
        let code = |text: &str| text.split("log code ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
        let fork_code = code(&out);
        // Whoever holds that share cannot use it on the real log: it is bound to the copy's.
        let bundle = db.path("fork-bundle");
        sv_url(db, &fork, &["audit", "export", "--election", &id, "--out", bundle.to_str().unwrap()], &[]).ok();
        let log = std::fs::read_to_string(bundle.join("log.jsonl")).unwrap();
        let share_line = log.lines().find(|l| l.contains(r#""type":"tally_share""#)).unwrap();
        let mut fields: serde_json::Value = serde_json::from_str(share_line).unwrap();
        for envelope in ["v", "type", "election"] {
            fields.as_object_mut().unwrap().remove(envelope);
        }
        let served = serve_process(db, &["--database-url", &db.url], &[]);
        let url = format!("http://127.0.0.1:{}/api/v1/elections/{id}/tally-shares", served.port);
        let answer = match ureq::post(&url).send_json(&fields) {
            Err(ureq::Error::Status(status, r)) => (status, r.into_json::<serde_json::Value>().unwrap()),
            other => panic!("the share was not refused: {:?}", other.map(|r| r.status())),
        };
        assert_eq!(answer.0, 400, "{}", answer.1);
        assert_eq!(answer.1["error"], "bad_share", "{}", answer.1);
        let message = answer.1["message"].as_str().unwrap();
        assert!(message.contains("were made on another log"), "{message}");
        served.stop();
        no_shares_at(db, &db.url, &id);
        // On the real log the teller makes shares of its own, with another code: the tellers
        // comparing codes see the difference.
        let out = decrypt_at(db, &id, None, &db.url, &[], &["--confirm-early-close"]).ok();
        assert!(out.contains("decrypted by teller(s) 1"), "{out}");
        assert_ne!(code(&out), fork_code);
    }
}

both_backends! {
    fn a_teller_given_the_log_key_from_the_notices_refuses_a_server_with_another(db: &TestDb) {
        let id = election_with_tellers(db, 1);
        let before = export_bundle(db, &id, "before").log;
        // The fingerprint on the notices is not the key this server signs with.
        let err = setup(db, &id, 1, "t1.state", None, &["--log-key", "0000-0000-0000-0000-0000-0000-0000-0000"]).fails();
        assert!(err.contains("the server's log key has the fingerprint") && err.contains("not 0000-0000-0000-0000-0000-0000-0000-0000 from the notices"), "{err}");
        assert_eq!(export_bundle(db, &id, "after").log, before, "nothing was published");
        // With the right one, the teller pins it and goes on.
        let fingerprint = show(db, &id)["key_fingerprint"].as_str().unwrap().to_owned();
        let out = setup(db, &id, 1, "t1.state", None, &["--log-key", &fingerprint]).ok();
        assert!(out.contains(&format!("pinned the election's log key {fingerprint}")), "{out}");
    }
}
