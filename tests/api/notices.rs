//! Ballots by email through a real SMTP server (aiosmtpd): each token is made as its message is
//! sent and kept nowhere; the member's language; a refused address becomes a letter; two
//! instances never send one message twice.

use crate::both_backends;
use crate::helpers::*;

/// A roster with an English member, a Spanish one, one without email and one whose mailbox
/// does not exist; returns the election id.
fn mailed_election(db: &TestDb) -> String {
    let id = create_election(db);
    let roster = db.path("mailed.csv");
    std::fs::write(
        &roster,
        "member_id,local,name,email,language\n\
         M0,600,Ana {link} Smith,m0@example.org,\n\
         M1,700,Berta Ruiz,m1@example.org,es\n\
         M2,871,Carl Post,,\n\
         M3,600,Dee Gone,bounce-m3@example.org,en\n",
    )
    .unwrap();
    sv(
        db,
        &[
            "roster",
            "import",
            "--election",
            &id,
            roster.to_str().unwrap(),
        ],
    )
    .ok();
    id
}

async fn send(app: &TestApp, admin: &str, id: &str, kind: &str) -> (u16, serde_json::Value) {
    let res = app
        .client
        .post(format!("{}/api/v1/elections/{id}/notices", app.address))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "kind": kind }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// An election whose roster is `n` members of local 600 (`M0`, `M1`, …), each with an
/// address at example.org.
fn election_of(db: &TestDb, n: usize) -> String {
    let id = create_election(db);
    let ids: Vec<String> = (0..n).map(|i| format!("M{i}")).collect();
    let pairs: Vec<(&str, &str)> = ids.iter().map(|m| (m.as_str(), "600")).collect();
    let roster = write_roster(db, "roster.csv", &pairs);
    sv(db, &["roster", "import", "--election", &id, &roster]).ok();
    id
}

/// Waits until no message of the election is queued or being sent; returns the counts.
async fn drained(app: &TestApp, admin: &str, id: &str) -> serde_json::Value {
    for _ in 0..600 {
        let (status, outbox) = app
            .get_json_as(&format!("/api/v1/elections/{id}/notices"), admin)
            .await;
        assert_eq!(status, 200, "{outbox}");
        let pending = ["queued", "sending"]
            .iter()
            .map(|s| outbox["counts"]["ballot"][s].as_u64().unwrap_or(0))
            .sum::<u64>();
        if pending == 0 {
            return outbox;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the outbox did not drain");
}

both_backends! {
    async fn ballots_go_by_email_in_the_members_language_and_no_token_is_kept(db: &TestDb) {
        let id = mailed_election(db);
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        let since = std::time::SystemTime::now();
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        let (status, queued) = send(&app, &admin, &id, "ballot").await;
        assert_eq!(status, 200, "{queued}");
        assert_eq!(queued, serde_json::json!({"queued": 3, "without_email": 1, "already": 0, "holding_token": 0}));
        let outbox = drained(&app, &admin, &id).await;
        assert_eq!(outbox["counts"]["ballot"]["sent"], 2, "{outbox}");
        // The SMTP server refused M3's address (a 5xx): a bounce, which needs a letter.
        assert_eq!(outbox["counts"]["ballot"]["bounced"], 1, "{outbox}");
        assert_eq!(outbox["counts"]["ballot"]["failed"], serde_json::Value::Null, "{outbox}");
        assert_eq!(outbox["failed_ballots"], serde_json::json!(["M3"]), "{outbox}");
        // Sending again queues nobody twice.
        let (_, again) = send(&app, &admin, &id, "ballot").await;
        assert_eq!(again["queued"], 0, "{again}");
        assert_eq!(again["already"], 3, "{again}");

        let mails = sink.wait_for(2);
        assert_eq!(mails.len(), 2, "{mails:?}");
        let english = mails.iter().find(|m| m.to.contains("m0@example.org")).expect("M0's ballot");
        let spanish = mails.iter().find(|m| m.to.contains("m1@example.org")).expect("M1's ballot");
        assert!(english.subject.contains("Your ballot"), "{}", english.subject);
        assert!(english.body.contains("Dear Ana {link} Smith,"), "the name is never read as template: {}", english.body);
        assert!(english.body.contains("Local 871 Vote is holding a vote"), "{}", english.body);
        assert!(spanish.body.contains("Estimado/a Berta Ruiz:"), "{}", spanish.body);
        assert!(spanish.body.contains("Vote desde su teléfono"), "{}", spanish.body);
        let fingerprint = log_key_fingerprint(db);
        for mail in [english, spanish] {
            assert!(mail.raw.contains("From: \"Local 871 Vote\" <vote@local871.example>") || mail.raw.contains("From: Local 871 Vote <vote@local871.example>"), "{}", mail.raw);
            assert!(mail.body.contains(fingerprint.trim()), "{}", mail.body);
        }

        // Each link opens its member's ballot, and its token votes once.
        sv(db, &["election", "open", &id]).ok();
        for mail in [english, spanish] {
            let link = mail.link_path().expect("a ballot link");
            let (status, page) = app.get(&link).await;
            assert_eq!(status, 200, "{link}: {page}");
            let (status, cast) = app.cast(&mail.token().unwrap(), "yes").await;
            assert_eq!(status, 200, "{cast}");
        }

        // The log names the outbox as the issuer, and the bundle verifies.
        let bundle = export_bundle(db, &id, "bundle");
        let log = String::from_utf8(bundle.log.clone()).unwrap();
        assert!(log.contains(r#""action":"tokens_issue","by":"mail""#), "{log}");
        assert!(log.contains(r#""type":"tokens_issued","#) && log.contains(r#""count":3"#), "{log}");

        // No token is at rest: not in any table, database file, or the service's log.
        let tokens: Vec<String> = mails.iter().map(|m| m.token().unwrap()).collect();
        assert_kept_nowhere(db, &tokens, &served.stop(), since);
    }
}

/// No token of `tokens` is at rest: in no row of any table, no database file written since
/// `since`, nor the service's `logs` — as typed, or without its dashes.
fn assert_kept_nowhere(db: &TestDb, tokens: &[String], logs: &str, since: std::time::SystemTime) {
    assert!(!tokens.is_empty(), "no tokens to look for");
    let stored = db.everything_stored();
    for token in tokens {
        let bare = token.replace('-', "");
        for (what, bytes) in [
            ("the database's rows", &stored[..]),
            ("the service's log", logs.as_bytes()),
        ] {
            for form in [token.as_str(), bare.as_str()] {
                assert!(
                    !String::from_utf8_lossy(bytes)
                        .to_uppercase()
                        .contains(&form.to_uppercase()),
                    "a token in {what}"
                );
            }
        }
        if let Some(files) = db.files_on_disk(since) {
            for (path, bytes) in files {
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(token.as_str()),
                    "a token in {}",
                    path.display()
                );
            }
        }
    }
}

both_backends! {
    async fn two_instances_send_every_message_once(db: &TestDb) {
        let id = election_of(db, 40);
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        let first = serve_process(db, &["--database-url", &db.url], &sink.env());
        let second = serve_process(db, &["--database-url", &db.url], &sink.env());
        let (status, queued) = send(&first.app(), &admin, &id, "ballot").await;
        assert_eq!((status, queued["queued"].as_u64()), (200, Some(40)), "{queued}");
        let outbox = drained(&second.app(), &admin, &id).await;
        assert_eq!(outbox["counts"]["ballot"]["sent"], 40, "{outbox}");
        let mails = sink.wait_for(40);
        let mut to: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
        to.sort();
        to.dedup();
        assert_eq!((mails.len(), to.len()), (40, 40), "a message went twice or was lost");
        // Every link is live: 40 tokens, each its member's only live one.
        let bundle = export_bundle(db, &id, "bundle");
        let log = String::from_utf8(bundle.log).unwrap();
        let issued: u64 = log
            .lines()
            .filter(|l| l.contains(r#""type":"tokens_issued""#))
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["count"].as_u64().unwrap())
            .sum();
        assert_eq!(issued, 40, "{log}");
        first.stop();
        second.stop();
    }
}

both_backends! {
    async fn without_an_smtp_server_nothing_is_queued(db: &TestDb) {
        let id = mailed_election(db);
        let admin = official(db, "dave", "admin");
        let app = spawn_app(db).await;
        let (status, body) = send(&app, &admin, &id, "ballot").await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"], "mail_not_configured", "{body}");
        let (status, body) = send(&app, &admin, &id, "everyone").await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_action")), "{body}");
        let (_, outbox) = app.get_json_as(&format!("/api/v1/elections/{id}/notices"), &admin).await;
        assert_eq!(outbox["counts"], serde_json::json!({}), "{outbox}");
        assert_eq!(outbox["server"], serde_json::Value::Null, "{outbox}");
    }
}

both_backends! {
    async fn a_reminder_reaches_only_who_has_not_voted_and_its_link_replaces_the_old(db: &TestDb) {
        // The definition freezes the reminder's time (already come: the vote opened before it).
        let definition = definition_toml(&[("600", 76), ("700", 56), ("871", 24)]).replacen(
            "small_locals = { min_ballots = 1 }\n",
            "small_locals = { min_ballots = 1 }\nreminders = [\"2026-06-01T00:00:00Z\"]\n",
            1,
        );
        let id = create_election_from(db, &definition);
        run_ceremony(db, &id);
        let roster = write_roster(db, "roster.csv", &[("M0", "600"), ("M1", "700"), ("M2", "871")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        // Before the vote opens no reminder goes, though its time has passed.
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        let (status, queued) = send(&app, &admin, &id, "ballot").await;
        assert_eq!((status, queued["queued"].as_u64()), (200, Some(3)), "{queued}");
        drained(&app, &admin, &id).await;
        let ballots = sink.wait_for(3);
        served.stop();
        let token_of = |mails: &[Mail], who: &str| {
            mails.iter().find(|m| m.to.contains(who)).unwrap().token().unwrap()
        };
        let old_m1 = token_of(&ballots, "m1@");
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let (status, cast) = app.cast(&token_of(&ballots, "m0@"), "yes").await;
        assert_eq!(status, 200, "{cast}");

        // The server starts with the reminder's time come: M1 and M2 are reminded, M0 is not.
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        let mails = sink.wait_for(5);
        let reminders = &mails[3..];
        assert_eq!(reminders.len(), 2, "{reminders:?}");
        assert!(reminders.iter().all(|m| m.subject.contains("Reminder")), "{reminders:?}");
        assert!(!reminders.iter().any(|m| m.to.contains("m0@")), "a member who voted was reminded");
        let new_m1 = token_of(reminders, "m1@");
        assert_ne!(new_m1, old_m1);
        let (status, refused) = app.cast(&old_m1, "no").await;
        assert_eq!((status, refused["error"].as_str()), (409, Some("token_revoked")), "{refused}");
        let (status, cast) = app.cast(&new_m1, "no").await;
        assert_eq!(status, 200, "{cast}");
        // Officials see counts only; the log counts the replaced links as the outbox's reissue.
        let (_, outbox) = app.get_json_as(&format!("/api/v1/elections/{id}/notices"), &admin).await;
        assert_eq!(outbox["counts"]["reminder"]["sent"], 2, "{outbox}");
        let log = String::from_utf8(export_bundle(db, &id, "bundle").log).unwrap();
        assert!(log.contains(r#""action":"tokens_reissue","by":"mail""#), "{log}");
        assert!(log.contains(r#""reminders":["2026-06-01T00:00:00Z"]"#), "{log}");
        served.stop();
    }
}

both_backends! {
    async fn the_console_queues_and_follows_the_outbox(db: &TestDb) {
        let id = mailed_election(db);
        let sink = SmtpSink::start(db);
        let env: Vec<(&str, String)> = sink.env();
        let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Without an SMTP server the console refuses, and queues nothing.
        let refused = sv(db, &["notices", "send", "--election", &id]).fails();
        assert!(refused.contains("no SMTP server is configured"), "{refused}");
        let served = serve_process(db, &["--database-url", &db.url], &env);
        let out = sv_with_env(db, &["notices", "send", "--election", &id, "--wait"], &env_refs).ok();
        assert!(out.contains("3 ballot message(s) queued; 1 member(s) have no email address"), "{out}");
        assert!(out.contains("2 sent, 1 bounced, 0 failed, 0 skipped"), "{out}");
        let status = sv_with_env(db, &["notices", "status", "--election", &id], &env_refs).ok();
        assert!(status.contains("ballot    0 queued, 0 sending, 2 sent, 1 bounced, 0 failed, 0 skipped"), "{status}");
        assert!(status.contains("send these members a letter):\n  M3"), "{status}");
        assert_eq!(sink.wait_for(2).len(), 2);
        served.stop();
    }
}

both_backends! {
    async fn a_sender_killed_mid_send_loses_no_message_and_leaves_no_second_live_link(db: &TestDb) {
        let id = election_of(db, 30);
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        // Slow enough to be killed in the middle; a short lease so the test need not wait.
        let env = sink.env_with(&[("STRIKEVOTE_MAIL_PER_MINUTE", "300"), ("STRIKEVOTE_MAIL_LEASE_SECONDS", "5")]);
        let mut first = serve_process(db, &["--database-url", &db.url], &env);
        let (status, queued) = send(&first.app(), &admin, &id, "ballot").await;
        assert_eq!((status, queued["queued"].as_u64()), (200, Some(30)), "{queued}");
        sink.wait_for(5);
        first.child.kill().unwrap(); // SIGKILL: no clean stop, claims left behind
        first.child.wait().unwrap();
        let before = sink.mails().len();
        assert!(before < 30, "the sender finished before it was killed ({before})");
        let second = serve_process(db, &["--database-url", &db.url], &env);
        let app = second.app();
        let outbox = drained(&app, &admin, &id).await;
        assert_eq!(outbox["counts"]["ballot"]["sent"], 30, "{outbox}");
        let mails = sink.wait_for(30);
        // Every member got their ballot; at most the one message in flight went twice.
        let mut by_member: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for m in &mails {
            by_member.entry(m.to.clone()).or_default().push(m.token().unwrap());
        }
        assert_eq!(by_member.len(), 30, "a member got no ballot");
        let twice: Vec<_> = by_member.iter().filter(|(_, t)| t.len() > 1).collect();
        assert!(twice.len() <= 1 && mails.len() <= 31, "more than the message in flight went twice: {twice:?}");
        sv(db, &["election", "open", &id]).ok();
        for (member, tokens) in &by_member {
            let (last, earlier) = tokens.split_last().unwrap();
            for dead in earlier {
                let (status, refused) = app.cast(dead, "no").await;
                assert_eq!((status, refused["error"].as_str()), (409, Some("token_revoked")), "{member}: {refused}");
            }
            let (status, cast) = app.cast(last, "yes").await;
            assert_eq!(status, 200, "{member}'s link does not vote: {cast}");
        }
        // The log counts every token made, the ones sent again as the outbox's reissue.
        let log = String::from_utf8(export_bundle(db, &id, "bundle").log).unwrap();
        let made: u64 = log
            .lines()
            .filter(|l| l.contains(r#""type":"tokens_issued""#))
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["count"].as_u64().unwrap())
            .sum();
        assert!(made >= 30, "{log}");
        assert_eq!(made > 30, log.contains(r#""action":"tokens_reissue","by":"mail""#), "{log}");
        second.stop();
    }
}

both_backends! {
    async fn after_certification_every_member_with_an_address_gets_the_result(db: &TestDb) {
        let id = mailed_election(db);
        let admin = official(db, "dave", "admin");
        let tokens = issue_tokens(db, &id);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let m0 = &tokens.iter().find(|(m, _)| m == "M0").unwrap().1;
        assert_eq!(app.cast(m0, "yes").await.0, 200);
        sv(db, &["election", "close", &id]).ok();
        let sink = SmtpSink::start(db);
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        // Not before the result is certified.
        let (status, refused) = send(&app, &admin, &id, "result").await;
        assert_eq!((status, refused["error"].as_str()), (409, Some("election_closed")), "{refused}");
        assert!(refused["message"].as_str().unwrap().contains("only after the result is certified"), "{refused}");
        decrypt(db, &id);
        sv(db, &["election", "certify", &id]).ok();
        let (status, queued) = send(&app, &admin, &id, "result").await;
        // Voters and non-voters alike; the bounce is refused, the member without an address counted.
        assert_eq!(queued, serde_json::json!({"queued": 3, "without_email": 1, "already": 0, "holding_token": 0}), "{status}");
        let mails = sink.wait_for(2);
        let spanish = mails.iter().find(|m| m.to.contains("m1@")).unwrap();
        assert!(spanish.subject.contains("Resultado"), "{}", spanish.subject);
        let english = mails.iter().find(|m| m.to.contains("m0@")).unwrap();
        assert!(english.subject.contains("Result: Strike authorization 2026"), "{}", english.subject);
        assert!(english.token().is_none(), "a result notice carries no ballot link");
        for path in [format!("/elections/{id}/result"), format!("/elections/{id}/certificate.pdf")] {
            let link = format!("{PUBLIC_URL}{path}");
            assert!(english.body.contains(&link), "{link} not in {}", english.body);
            let (status, _) = app.get(&path).await;
            assert_eq!(status, 200, "{path}");
        }
        // The Spanish member's links open the result and its certificate in Spanish, whatever
        // language their browser asks for.
        for path in [format!("/elections/{id}/result?lang=es"), format!("/elections/{id}/certificate.pdf?lang=es")] {
            assert!(spanish.body.contains(&format!("{PUBLIC_URL}{path}")), "{path} not in {}", spanish.body);
        }
        let (_, page) = app.get(&format!("/elections/{id}/result?lang=es")).await;
        assert!(page.contains("<html lang=\"es\">") && page.contains("Certificado del resultado") && page.contains("Resultados por local"), "{page}");
        served.stop();
    }
}

both_backends! {
    async fn while_the_vote_is_open_one_admin_cannot_replace_working_links_by_email(db: &TestDb) {
        // An admin alone, mid-vote, tries to make every printed letter's link stop working by
        // emailing new ones: under the two-person rule that is a reissue, so those members are
        // left out and their letters still vote.
        let id = mailed_election(db);
        let letters = issue_tokens(db, &id);
        sv(db, &["election", "open", &id]).ok();
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        let (status, queued) = send(&app, &admin, &id, "ballot").await;
        assert_eq!(status, 200, "{queued}");
        assert_eq!(queued, serde_json::json!({"queued": 0, "without_email": 1, "already": 0, "holding_token": 3}));
        for (member, token) in &letters {
            let (status, cast) = app.cast(token, "yes").await;
            assert_eq!(status, 200, "{member}'s letter stopped working: {cast}");
        }
        assert!(sink.mails().is_empty());
        served.stop();
    }
}

/// Posts for the letters PDF; returns the status, how many were issued and the body.
async fn letters(app: &TestApp, admin: &str, id: &str) -> (u16, Option<String>, Vec<u8>) {
    let res = app
        .client
        .post(format!("{}/api/v1/elections/{id}/letters", app.address))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let issued = res
        .headers()
        .get("x-strikevote-issued")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, issued, res.bytes().await.unwrap().to_vec())
}

both_backends! {
    async fn a_bounce_and_a_member_without_email_get_letters_whose_link_and_qr_code_vote(db: &TestDb) {
        let id = create_election(db);
        let roster = db.path("letters.csv");
        // The address cell holds its lines as a spreadsheet writes them: line breaks in quotes.
        std::fs::write(
            &roster,
            "member_id,local,name,email,language,address\n\
             M0,600,Ana Mail,m0@example.org,,\n\
             M1,700,Zoë Ødegård-Łukasiewicz Дмитрий,,es,\"Calle Mayor 5, 2º\nSpringfield, IL 62701\"\n\
             M2,871,Dee Gone,bounce-m2@example.org,en,\"12 Elm St\nApt 3\n\nSpringfield, IL 62704\"\n\
             M3,600,,,,\n",
        )
        .unwrap();
        sv(db, &["roster", "import", "--election", &id, roster.to_str().unwrap()]).ok();
        let admin = official(db, "dave", "admin");
        let since = std::time::SystemTime::now();
        let sink = SmtpSink::start(db);
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        let (status, queued) = send(&app, &admin, &id, "ballot").await;
        assert_eq!(status, 200, "{queued}");
        let outbox = drained(&app, &admin, &id).await;
        assert_eq!(outbox["failed_ballots"], serde_json::json!(["M2"]), "{outbox}");
        assert_eq!(outbox["counts"]["ballot"]["bounced"], 1, "{outbox}");

        // A local the election does not have: a clear error, and nothing issued.
        let res = app.client.post(format!("{}/api/v1/elections/{id}/letters?local=999", app.address)).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!((body["error"].as_str(), body["message"].as_str()), (Some("unknown_local"), Some(format!("election {id} has no local `999`").as_str())), "{body}");

        // Letters for the bounce and the two without an address; the emailed member gets none.
        let (status, issued, pdf) = letters(&app, &admin, &id).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
        assert_eq!(issued.as_deref(), Some("3"));
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
        let file = db.path("letters.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let pages = pdf_pages(&file);
        assert_eq!(pages.len(), 3, "one page per letter: {pages:?}");
        let page = |member: &str| {
            pages
                .iter()
                .find(|p| p.contains(&format!(" {member} ")))
                .unwrap_or_else(|| panic!("no letter for {member}: {pages:?}"))
        };
        assert!(pages.iter().all(|p| !p.contains("Ana Mail")), "the emailed member got a letter");
        let fingerprint = log_key_fingerprint(db);
        let spanish = page("M1");
        for words in [
            "Zoë Ødegård-Łukasiewicz Дмитрий",
            "Calle Mayor 5, 2º",
            "Springfield, IL 62701",
            "Estimado/a Zoë Ødegård-Łukasiewicz Дмитрий:",
            "Su código de boleta",
            "2026-01-01 00:00",
            "2036-01-01 00:00",
            fingerprint.trim(),
            &format!("/elections/{id}/result"),
            "Local 871 Vote",
        ] {
            assert!(spanish.contains(words), "M1's letter lacks `{words}`:\n{spanish}");
        }
        let english = page("M2");
        for words in ["Dear Dee Gone,", "12 Elm St", "Apt 3", "Springfield, IL 62704", "Your ballot code"] {
            assert!(english.contains(words), "M2's letter lacks `{words}`:\n{english}");
        }
        assert!(page("M3").contains("Dear M3,"), "a member without a name is greeted by id");

        // Each page's QR code is the link printed on it, opens the ballot page and votes.
        let codes = pdf_qr_codes(&file, &db.path("letters-png"));
        assert_eq!(codes.len(), 3);
        let mut tokens = Vec::new();
        sv(db, &["election", "open", &id]).ok();
        for (text, qr) in pages.iter().zip(&codes) {
            assert_eq!(qr.len(), 1, "one QR code per page: {qr:?}");
            let link = &qr[0];
            let printed: String = text.split_whitespace().collect();
            assert!(printed.contains(link.as_str()), "the QR code {link} is not the link printed:\n{text}");
            let path = link.strip_prefix(PUBLIC_URL).expect("a link to this service");
            let (status, ballot) = app.get(path).await;
            assert_eq!(status, 200, "{path}: {ballot}");
            let token = link.split("token=").nth(1).unwrap();
            assert!(text.contains(token), "the ballot code is printed to type: {token}");
            let (status, cast) = app.cast(token, "yes").await;
            assert_eq!(status, 200, "{cast}");
            tokens.push(token.to_owned());
        }

        // Nobody needs a letter any more; the log names the official who printed them.
        let (status, issued, pdf) = letters(&app, &admin, &id).await;
        assert_eq!((status, issued.as_deref(), pdf.len()), (204, Some("0"), 0));
        let bundle = export_bundle(db, &id, "bundle");
        let log = String::from_utf8(bundle.log.clone()).unwrap();
        assert!(
            log.contains(r#""action":"tokens_issue","by":"dave"}"#) && log.contains(r#""count":3,"locals":{"600":1,"700":1,"871":1}"#),
            "{log}"
        );
        // The letters' tokens are in the PDF alone: in no table, database file or log line.
        std::fs::remove_file(&file).unwrap();
        assert_kept_nowhere(db, &tokens, &served.stop(), since);
    }
}

both_backends! {
    async fn the_console_prints_letters_once_to_a_private_file_and_never_over_one(db: &TestDb) {
        // No SMTP server at all: letters are how members without an address get their ballot;
        // a member holding a token from the mailing file gets no second link.
        let id = create_election(db);
        let roster = db.path("letters.csv");
        std::fs::write(
            &roster,
            "member_id,local,name,email\nM0,600,Ana Paper,\nM1,700,Ben Mail,m1@example.org\nM2,871,Cy Paper,\n",
        )
        .unwrap();
        sv(db, &["roster", "import", "--election", &id, roster.to_str().unwrap()]).ok();
        // One local at a time, for the mail house's batches: a local the election lacks is
        // refused and issues nothing; local 871's file holds its member alone.
        let refused = sv(db, &["notices", "letters", "--election", &id, "--local", "999", "--out", db.path("none.pdf").to_str().unwrap()]).fails();
        assert!(refused.contains("has no local `999`"), "{refused}");
        assert!(!db.path("none.pdf").exists());
        let local = db.path("letters-871.pdf");
        let printed = sv(db, &["notices", "letters", "--election", &id, "--local", "871", "--out", local.to_str().unwrap()]).ok();
        assert!(printed.contains("1 letter(s) written"), "{printed}");
        let pages = pdf_pages(&local);
        assert!(pages.len() == 1 && pages[0].contains("Dear Cy Paper,"), "{pages:?}");
        // Then every other local's.
        let out = db.path("letters-console.pdf");
        let printed = sv(db, &["notices", "letters", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        assert!(printed.contains("1 letter(s) written"), "{printed}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the letters hold live tokens");
        }
        let pages = pdf_pages(&out);
        assert_eq!(pages.len(), 1, "{pages:?}");
        assert!(pages[0].contains("Dear Ana Paper,"), "{pages:?}");
        assert!(pages.iter().all(|p| !p.contains("Ben Mail") && !p.contains("Cy Paper")));
        let refused = sv(db, &["notices", "letters", "--election", &id, "--out", out.to_str().unwrap()]).fails();
        assert!(refused.contains("refusing to overwrite"), "{refused}");
        let again = sv(db, &["notices", "letters", "--election", &id, "--out", db.path("again.pdf").to_str().unwrap()]).ok();
        assert!(again.contains("nobody needs a letter"), "{again}");
        assert!(!db.path("again.pdf").exists());
    }
}

both_backends! {
    async fn a_slow_pace_never_outlasts_a_claim_and_sends_nothing_twice(db: &TestDb) {
        // A provider allowing 30 messages a minute and a short lease: a sender that claimed more
        // than it could send before its lease ran out had messages taken and sent again by the
        // other instance. Now it claims what its lease allows, and a message waiting for its
        // turn keeps its claim.
        let id = election_of(db, 4);
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        let env = sink.env_with(&[("STRIKEVOTE_MAIL_PER_MINUTE", "30"), ("STRIKEVOTE_MAIL_LEASE_SECONDS", "5")]);
        let first = serve_process(db, &["--database-url", &db.url], &env);
        let second = serve_process(db, &["--database-url", &db.url], &env);
        let (status, queued) = send(&first.app(), &admin, &id, "ballot").await;
        assert_eq!((status, queued["queued"].as_u64()), (200, Some(4)), "{queued}");
        let outbox = drained(&second.app(), &admin, &id).await;
        assert_eq!(outbox["counts"]["ballot"]["sent"], 4, "{outbox}");
        // Wait out a lease more: a message sent twice would arrive by then.
        std::thread::sleep(std::time::Duration::from_secs(6));
        let mails = sink.wait_for(4);
        let mut to: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
        to.sort();
        to.dedup();
        assert_eq!((mails.len(), to.len()), (4, 4), "a message went twice or was lost: {to:?}");
        first.stop();
        second.stop();
    }
}

both_backends! {
    fn instances_sending_through_one_server_share_its_pace(db: &TestDb) {
        use strikevote::notices::pace::take_slot;
        // Two instances (each its own connection) ask for turns at the same moment: the turns
        // interleave one gap apart, so the SMTP server sees `mail_per_minute`, not twice it.
        let pool = db.pool();
        let (mut a, mut b) = (pool.get().unwrap(), pool.get().unwrap());
        let server = "smtp://mailer:<hidden>@mail.example.org:587";
        let gap = std::time::Duration::from_millis(100);
        let now = chrono::Utc::now();
        let mut turns = Vec::new();
        for i in 0..6 {
            let conn = if i % 2 == 0 { &mut a } else { &mut b };
            turns.push(take_slot(conn, server, gap, now).unwrap());
        }
        let expected: Vec<_> = (0..6).map(|k| now + chrono::Duration::milliseconds(100 * k)).collect();
        let micros = |t: &[chrono::DateTime<chrono::Utc>]| t.iter().map(|t| t.timestamp_micros()).collect::<Vec<_>>();
        assert_eq!(micros(&turns), micros(&expected));
        // Another server keeps its own pace; a turn asked for after the queue has passed is now.
        assert_eq!(take_slot(&mut a, "smtp://other.example.org:25", gap, now).unwrap().timestamp_micros(), now.timestamp_micros());
        let later = now + chrono::Duration::seconds(5);
        assert_eq!(take_slot(&mut b, server, gap, later).unwrap().timestamp_micros(), later.timestamp_micros());

        // Many senders at once, each on its own thread and connection: every turn is taken
        // once, and no two are closer than the gap.
        let start = later + chrono::Duration::seconds(5);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    (0..10).map(|_| take_slot(&mut conn, server, gap, start).unwrap().timestamp_micros()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort();
        let spaced: Vec<i64> = (0..40).map(|k| start.timestamp_micros() + 100_000 * k).collect();
        assert_eq!(all, spaced);
    }
}

both_backends! {
    async fn the_letters_page_prints_one_locals_letters_at_a_time(db: &TestDb) {
        // Members without email in two locals: the confirmation step counts each local's
        // letters, and choosing one issues and prints that local's alone.
        let id = create_election(db);
        let roster = db.path("letters.csv");
        std::fs::write(&roster, "member_id,local,name,email\nM0,600,Ana Paper,\nM1,600,Al Paper,\nM2,871,Cy Paper,\n").unwrap();
        sv(db, &["roster", "import", "--election", &id, roster.to_str().unwrap()]).ok();
        official(db, "dave", "admin");
        let app = spawn_app(db).await;
        let client = signed_in(&app, "dave").await;
        let page_url = format!("{}/admin/elections/{id}/letters", app.address);
        let (status, page) = get(&client, &page_url).await;
        assert_eq!(status, 200, "{page}");
        for option in ["<option value=\"\">Every local (3)</option>", "<option value=\"600\">Local 600 only (2, 2 without an address)</option>", "<option value=\"871\">Local 871 only (1, 1 without an address)</option>"] {
            assert!(page.contains(option), "{option} not in {page}");
        }
        let res = client.post(&page_url).form(&[("csrf", csrf_of(&page).as_str()), ("password", PASSWORD), ("local", "871")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-strikevote-issued"], "1");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&format!("letters-{id}-local-871.pdf")));
        let file = db.path("871.pdf");
        std::fs::write(&file, res.bytes().await.unwrap()).unwrap();
        let pages = pdf_pages(&file);
        assert!(pages.len() == 1 && pages[0].contains("Dear Cy Paper,"), "{pages:?}");
        // Asked again, the page counts local 600's two alone.
        let (_, page) = get(&client, &page_url).await;
        assert!(page.contains("<strong>2 members need a letter</strong>"), "{page}");
        assert!(!page.contains("value=\"871\""), "{page}");
    }
}

both_backends! {
    async fn an_email_that_bounces_later_is_marked_by_its_report_and_its_letter_replaces_the_link(db: &TestDb) {
        let id = election_of(db, 3);
        let admin = official(db, "dave", "admin");
        let since = std::time::SystemTime::now();
        let sink = SmtpSink::start(db);
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        send(&app, &admin, &id, "ballot").await;
        let outbox = drained(&app, &admin, &id).await;
        assert_eq!(outbox["counts"]["ballot"]["sent"], 3, "{outbox}");
        let mails = sink.wait_for(3);
        let m1 = mails.iter().find(|m| m.to.contains("m1@example.org")).unwrap();
        let (emailed, message_id) = (m1.token().unwrap(), message_id_of(m1));
        assert!(message_id.starts_with("<strikevote.") && message_id.ends_with("@local871.example>"), "the From address's domain: {message_id}");
        // The mail server later reports that M1's mailbox does not exist.
        let report = dsn("M1@example.org", "failed", &message_id);
        let (status, said) = report_bounce(&app, &admin, &id, &report).await;
        assert_eq!((status, said), (200, serde_json::json!({"bounced": 1, "already": 0, "not_failed": 0})));
        let (status, said) = report_bounce(&app, &admin, &id, &report).await;
        assert_eq!((status, said), (200, serde_json::json!({"bounced": 0, "already": 1, "not_failed": 0})));
        // Reports that are not ours, or not reports, change nothing.
        let other = dsn("m2@example.org", "failed", &message_id);
        let stranger = dsn("m1@example.org", "failed", "<strikevote.0192c7a0-5b1e-7c3d-9e8f-0a1b2c3d4e5f@example.org>");
        for (report, error) in [(other.as_str(), "bounce_not_ours"), (stranger.as_str(), "bounce_not_ours"), ("Subject: hello\r\n\r\nhi\r\n", "invalid_bounce")] {
            let (status, said) = report_bounce(&app, &admin, &id, report).await;
            assert_eq!((status, said["error"].as_str()), (400, Some(error)), "{said}");
            assert!(!said["message"].as_str().unwrap().is_empty());
        }
        let (_, outbox) = app.get_json_as(&format!("/api/v1/elections/{id}/notices"), &admin).await;
        assert_eq!((outbox["counts"]["ballot"]["bounced"].as_u64(), outbox["counts"]["ballot"]["sent"].as_u64()), (Some(1), Some(2)), "{outbox}");
        assert_eq!(outbox["failed_ballots"], serde_json::json!(["M1"]));
        // The console reads reports too: a delayed one does nothing; one not ours fails.
        let files = [("delayed.eml", dsn("m1@example.org", "delayed", &message_id)), ("other.eml", other.clone())];
        for (name, text) in &files {
            std::fs::write(db.path(name), text).unwrap();
        }
        let said = sv(db, &["notices", "bounces", "--election", &id, db.path("delayed.eml").to_str().unwrap()]).ok();
        assert!(said.contains("0 message(s) marked bounced") && said.contains("1 recipient(s) reported delayed or delivered"), "{said}");
        let err = sv(db, &["notices", "bounces", "--election", &id, db.path("other.eml").to_str().unwrap()]).fails();
        assert!(err.contains("went to another address") && err.contains("1 of 1 report(s) refused"), "{err}");

        // Before the vote opens, M1's letter replaces the link that never arrived.
        let (status, issued, pdf) = letters(&app, &admin, &id).await;
        assert_eq!((status, issued.as_deref()), (200, Some("1")));
        let file = db.path("letters.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let pages = pdf_pages(&file);
        assert_eq!(pages.len(), 1);
        assert!(pages[0].contains(" M1 "), "{}", pages[0]);
        let link = pdf_qr_codes(&file, &db.path("letters-png")).remove(0).remove(0);
        let printed = link.split("token=").nth(1).unwrap().to_owned();
        assert_ne!(printed, emailed);
        let types: Vec<String> = export_bundle(db, &id, "b").log.split(|&b| b == b'\n').filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(types.iter().filter(|t| *t == "token_reissued").count(), 1);
        sv(db, &["election", "open", &id]).ok();
        let (status, _) = app.cast(&emailed, "yes").await;
        assert_eq!(status, 409, "the emailed link died");
        let (status, cast) = app.cast(&printed, "yes").await;
        assert_eq!(status, 200, "{cast}");
        // Neither the emailed link nor the letter's is kept anywhere: rows, files, log.
        let logs = served.stop();
        assert_kept_nowhere(db, &[emailed, printed], &logs, since);
    }
}

both_backends! {
    async fn a_forged_bounce_report_mid_vote_cannot_kill_a_working_link_without_a_second_admin(db: &TestDb) {
        // Anyone can mail the union a report saying a member's email bounced. Mid-vote, under
        // the two-person rule, one admin's letters do not replace that member's link.
        let id = election_of(db, 2);
        let admin = official(db, "dave", "admin");
        let sink = SmtpSink::start(db);
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        send(&app, &admin, &id, "ballot").await;
        drained(&app, &admin, &id).await;
        let mails = sink.wait_for(2);
        let m0 = mails.iter().find(|m| m.to.contains("m0@example.org")).unwrap();
        let token = m0.token().unwrap();
        sv(db, &["election", "open", &id]).ok();
        for mail in &mails {
            let to = if mail.to.contains("m0@") { "m0@example.org" } else { "m1@example.org" };
            let (status, said) = report_bounce(&app, &admin, &id, &dsn(to, "failed", &message_id_of(mail))).await;
            assert_eq!((status, said["bounced"].as_u64()), (200, Some(1)), "{said}");
        }
        let (status, issued, _) = letters(&app, &admin, &id).await;
        assert_eq!((status, issued.as_deref()), (204, Some("0")));
        // The letters page says why those members are left out, and what to do instead.
        let client = signed_in(&app, "dave").await;
        let held = || async {
            let (status, page) = get(&client, &format!("{}/admin/elections/{id}/letters", app.address)).await;
            assert_eq!(status, 200);
            page.contains("id=\"letters-held\"").then(|| between(&page, "<p id=\"letters-held\"", "</p>"))
        };
        let said = held().await.unwrap();
        assert!(said.contains("2 members' email bounced after the mail server took it") && said.contains("needs a second admin"), "{said}");
        // A reissue (here from the console, outside the rule) gives M1 a new link: no longer
        // one the bounced email carried.
        sv(db, &["tokens", "reissue", "--election", &id, "--member", "M1"]).ok();
        assert!(held().await.unwrap().contains("1 member's email bounced"));
        let (status, cast) = app.cast(&token, "yes").await;
        assert_eq!(status, 200, "M0's emailed link still votes: {cast}");
        assert_eq!(held().await, None, "M0 voted");
        served.stop();
    }
}

both_backends! {
    async fn a_second_admin_approves_letters_for_the_members_whose_email_bounced_mid_vote(db: &TestDb) {
        // Mid-vote under the two-person rule, letters replacing bounced links are one request
        // naming the members the asker saw: the second admin approves that list, a report read
        // later adds nobody, a member who votes meanwhile keeps their ballot, and the asker alone
        // gets the letters.
        let since = std::time::SystemTime::now();
        let id = election_of(db, 3);
        let dave = official(db, "dave", "admin");
        let erin = official(db, "erin", "admin");
        let sink = SmtpSink::start(db);
        let served = serve_process(db, &["--database-url", &db.url], &sink.env());
        let app = served.app();
        send(&app, &dave, &id, "ballot").await;
        drained(&app, &dave, &id).await;
        let mails = sink.wait_for(3);
        let mail_of = |m: &str| mails.iter().find(|mail| mail.to.contains(&format!("{m}@example.org"))).unwrap();
        let api = |path: &str| format!("{}/api/v1/elections/{id}{path}", app.address);
        sv(db, &["election", "open", &id]).ok();
        // Nobody bounced yet: nothing to ask for.
        let res = app.client.post(api("/letters/bounced")).bearer_auth(&dave).send().await.unwrap();
        assert_eq!(res.status(), 409);
        let said: serde_json::Value = res.json().await.unwrap();
        assert_eq!(said["error"], "no_bounced_links", "{said}");
        for m in ["m0", "m1"] {
            let report = dsn(&format!("{m}@example.org"), "failed", &message_id_of(mail_of(m)));
            assert_eq!(report_bounce(&app, &dave, &id, &report).await.0, 200);
        }

        // Dave asks from the letters page, with his password: nothing changes yet.
        let client = signed_in(&app, "dave").await;
        let letters_page = format!("{}/admin/elections/{id}/letters", app.address);
        let (_, page) = get(&client, &letters_page).await;
        assert!(page.contains("Ask a second admin to approve letters for these 2 members"), "{page}");
        let form = [("csrf", csrf_of(&page)), ("password", PASSWORD.to_owned())];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, page) = post(&client, &format!("{letters_page}/bounced"), &form).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Waiting for a second admin: print letters replacing the ballot links of 2 members"), "{page}");
        let (_, listed) = app.get_json_as(&format!("/api/v1/elections/{id}/pending"), &erin).await;
        let asked = &listed["pending"][0];
        assert_eq!((asked["action"].as_str(), &asked["members"]), (Some("letters_bounced"), &serde_json::json!(["M0", "M1"])), "{listed}");
        let pending = asked["id"].as_str().unwrap().to_owned();
        // Asked again through the API, it is the same request.
        let res = app.client.post(api("/letters/bounced")).bearer_auth(&dave).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let again: serde_json::Value = res.json().await.unwrap();
        assert_eq!(again["pending"]["id"], pending.as_str(), "{again}");

        // Meanwhile M2's report arrives (not on the list), and M1 votes: the report was forged.
        let report = dsn("m2@example.org", "failed", &message_id_of(mail_of("m2")));
        assert_eq!(report_bounce(&app, &dave, &id, &report).await.0, 200);
        let (status, cast) = app.cast(&mail_of("m1").token().unwrap(), "yes").await;
        assert_eq!(status, 200, "{cast}");

        let decide = |token: &str, decision: &str| {
            app.client.post(api(&format!("/pending/{pending}"))).bearer_auth(token.to_owned()).json(&serde_json::json!({"decision": decision, "password": PASSWORD})).send()
        };
        assert_eq!(decide(&dave, "approve").await.unwrap().status(), 409, "not by the asker");
        let res = decide(&erin, "approve").await.unwrap();
        assert_eq!(res.status(), 200);
        let said: serde_json::Value = res.json().await.unwrap();
        assert!(said.get("letters").is_none() && said["message"].as_str().unwrap().contains("dave carries it out"), "{said}");
        assert_eq!(decide(&erin, "carry_out").await.unwrap().status(), 403, "the approver never sees the letters");
        let res = decide(&dave, "carry_out").await.unwrap();
        assert_eq!(res.status(), 200);
        let got: serde_json::Value = res.json().await.unwrap();
        use base64::Engine as _;
        let pdf = base64::engine::general_purpose::STANDARD.decode(got["letters"].as_str().expect("the letters")).unwrap();
        let file = db.path("bounced.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let pages = pdf_pages(&file);
        assert_eq!(pages.len(), 1, "M0 alone: M1 voted, M2 was not approved");
        assert!(pages[0].contains(" M0 "), "{}", pages[0]);
        let link = pdf_qr_codes(&file, &db.path("bounced-png")).remove(0).remove(0);
        let printed = link.split("token=").nth(1).unwrap().to_owned();

        // M0's emailed link died and the letter's votes; M2's emailed link still works.
        let emailed = mail_of("m0").token().unwrap();
        assert_eq!(app.cast(&emailed, "no").await.0, 409);
        assert_eq!(app.cast(&printed, "no").await.0, 200);
        let m2 = mail_of("m2").token().unwrap();
        let token_status = serde_json::json!({"token": m2});
        assert_eq!(app.post_json("/api/v1/token-status", &token_status).await.1["status"], "not_used");
        let (_, listed) = app.get_json_as(&format!("/api/v1/elections/{id}/pending"), &erin).await;
        assert_eq!(listed["pending"], serde_json::json!([]), "the request is gone: {listed}");

        // The console acts outside the rule (as its `tokens reissue` does): its letters replace
        // M2's bounced link at once.
        let out = db.path("console.pdf");
        let printed_by_console = sv(db, &["notices", "letters", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        assert!(printed_by_console.contains("1 letter(s) written"), "{printed_by_console}");
        let pages = pdf_pages(&out);
        assert!(pages.len() == 1 && pages[0].contains(" M2 "), "{pages:?}");
        assert_eq!(app.post_json("/api/v1/token-status", &token_status).await.1["status"], "revoked");
        // Two reissues in the log: the approved one with both names, the console's alone.
        let bundle = export_bundle(db, &id, "b");
        assert!(strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).is_ok());
        let entries: Vec<serde_json::Value> = bundle.log.split(|&c| c == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
        let reissues: Vec<(&str, &str)> = entries.iter().filter(|e| e["type"] == "admin" && e["action"] == "token_reissue")
            .map(|e| (e["by"].as_str().unwrap(), e["approved_by"].as_str().unwrap_or(""))).collect();
        assert_eq!(reissues.len(), 2, "{reissues:?}");
        assert_eq!(reissues[0], ("dave", "erin"));
        assert!(reissues[1].0.starts_with("cli:") && reissues[1].1.is_empty(), "{reissues:?}");
        let logs = served.stop();
        assert_kept_nowhere(db, &[emailed, printed, m2], &logs, since);
    }
}
