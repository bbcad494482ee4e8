//! Officials: an election scripted end to end through the JSON API, and run through the admin
//! pages; sign-in throttling; every admin action in the log under the official's name.

use reqwest::multipart::{Form, Part};
use strikevote::audit::verify_bundle;

use crate::both_backends;
use crate::helpers::*;

/// One admin runs these elections alone, so they turn the two-person rule off
/// (tests/api/two_person.rs runs it with two).
fn definition() -> String {
    definition_toml(&[("600", 76), ("700", 56), ("871", 24)])
        .replace("tellers = {", "two_person_rule = false\ntellers = {")
}

both_backends! {
    async fn an_admin_scripts_an_election_end_to_end_with_an_api_token(db: &TestDb) {
        let app = spawn_app(db).await;
        let alice = official(db, "alice", "admin");
        let c = &app.client;
        let url = |p: &str| format!("{}{p}", app.address);

        let res = c.post(url("/api/v1/elections")).bearer_auth(&alice).body("title = ").send().await.unwrap();
        assert_eq!(res.status(), 400);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_definition");
        let res = c.post(url("/api/v1/elections")).bearer_auth(&alice).body(definition()).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let id = res.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        run_ceremony(db, &id);

        // A roster with a bad line names it and imports nothing.
        let bad = "member_id,local,name,email\nM1,600,A,\nM2,999,B,\n";
        let res = c.post(url(&format!("/api/v1/elections/{id}/roster"))).bearer_auth(&alice).body(bad).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("line 3: local `999`"), "{body}");
        let (_, shown) = app.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!(shown["locals"]["600"]["eligible"], 0);

        let roster: String = std::iter::once("member_id,local,name,email".to_owned())
            .chain((0..9).map(|i| format!("M{i},{},,", ["600", "700", "871"][i % 3])))
            .collect::<Vec<_>>()
            .join("\n");
        let res = c.post(url(&format!("/api/v1/elections/{id}/roster"))).bearer_auth(&alice).body(roster).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let res = c.post(url(&format!("/api/v1/elections/{id}/tokens"))).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(res.headers()["x-strikevote-issued"], "9");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let csv = res.text().await.unwrap();
        let tokens: Vec<(String, String)> = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .map(|r| { let r = r.unwrap(); (r[0].to_owned(), r[4].to_owned()) })
            .collect();
        assert_eq!(tokens.len(), 9);
        // The CSV downloads once: a second issue has nothing to give.
        let res = c.post(url(&format!("/api/v1/elections/{id}/tokens"))).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(res.headers()["x-strikevote-issued"], "0");

        let (status, fresh) = {
            let res = c.post(url(&format!("/api/v1/elections/{id}/tokens/reissue"))).bearer_auth(&alice).json(&serde_json::json!({"member": "M8"})).send().await.unwrap();
            (res.status().as_u16(), res.json::<serde_json::Value>().await.unwrap())
        };
        assert_eq!(status, 200);
        assert!(fresh["token"].as_str().unwrap().starts_with("SV-"));

        let res = c.post(url(&format!("/api/v1/elections/{id}/open"))).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["state"], "open");
        for (member, token) in &tokens {
            let token = if member == "M8" { fresh["token"].as_str().unwrap().to_owned() } else { token.clone() };
            let (status, _) = app.cast(&token, if member == "M0" { "no" } else { "yes" }).await;
            assert_eq!(status, 200);
        }
        for action in ["close", "certify"] {
            if action == "certify" {
                decrypt(db, &id);
            }
            let res = c.post(url(&format!("/api/v1/elections/{id}/{action}"))).bearer_auth(&alice).send().await.unwrap();
            assert_eq!(res.status(), 200, "{action}");
        }
        let (_, results) = app.get_json(&format!("/api/v1/elections/{id}/results")).await;
        assert_eq!(results["certified"], true);
        assert_eq!(results["results"]["popular"]["counts"], serde_json::json!({"yes": 8, "no": 1, "abstain": 0}));

        let bundle = export_bundle(db, &id, "bundle");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert!(report.result.is_some());
        let log = String::from_utf8(bundle.log).unwrap();
        for action in ["create", "roster_import", "tokens_issue", "token_reissue", "open", "close", "certify"] {
            assert!(log.contains(&format!("\"type\":\"admin\",\"election\":\"{id}\",\"action\":\"{action}\",\"by\":\"alice\"")), "{action} not logged as alice");
        }
        assert!(!log.contains("\"M8\""), "no member is named");

        // A revoked API token stops working.
        sv(db, &["admin", "token", "revoke", "--username", "alice", "--name", "tests"]).ok();
        let (status, _) = app.get_json_as("/api/v1/elections", &alice).await;
        assert_eq!(status, 401);
    }
}

/// The error shown on a sign-in page.
fn answer_of(page: &str) -> String {
    page.split("id=\"error-summary\"")
        .nth(1)
        .and_then(|rest| rest.split("<p>").nth(1))
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no error shown: {page}"))
        .to_owned()
}

both_backends! {
    async fn five_wrong_passwords_lock_the_account(db: &TestDb) {
        let app = spawn_app(db).await;
        official(db, "bob", "admin");
        let client = browser();
        let (_, form) = get(&client, &format!("{}/login", app.address)).await;
        let csrf = csrf_of(&form);
        let login = |password: &'static str| {
            let client = client.clone();
            let csrf = csrf.clone();
            let url = format!("{}/login", app.address);
            async move {
                let res = client.post(url).form(&[("username", "bob"), ("password", password), ("csrf", &csrf)]).send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        for _ in 0..5 {
            let (status, page) = login("wrong password here").await;
            assert_eq!(status, 401);
            assert!(page.contains("wrong username or password"), "{page}");
        }
        let (status, locked) = login(PASSWORD).await;
        assert_eq!(status, 401, "locked even with the right password: {locked}");
        // A locked account, a wrong password and an unknown name get one answer: whoever
        // guesses cannot learn which usernames exist by locking them.
        let res = client.post(format!("{}/login", app.address)).form(&[("username", "nobody"), ("password", PASSWORD), ("csrf", &csrf)]).send().await.unwrap();
        assert_eq!(res.status(), 401);
        let unknown = res.text().await.unwrap();
        let (_, wrong) = login("wrong password here").await;
        assert_eq!(answer_of(&locked), answer_of(&unknown));
        assert_eq!(answer_of(&wrong), answer_of(&unknown));
        assert!(answer_of(&unknown).contains("wrong username or password"), "{unknown}");
        // One address trying many names is throttled too (20 failures per 15 minutes, every
        // failure counted alike).
        for i in 0..12 {
            let res = client.post(format!("{}/login", app.address)).form(&[("username", format!("guess{i}").as_str()), ("password", "nope nope nope"), ("csrf", &csrf)]).send().await.unwrap();
            assert_eq!(res.status(), 401, "attempt {i}");
        }
        let res = client.post(format!("{}/login", app.address)).form(&[("username", "nobody"), ("password", PASSWORD), ("csrf", &csrf)]).send().await.unwrap();
        assert_eq!(res.status(), 429);
        assert!(res.text().await.unwrap().contains("Too many failed logins from your address"));
    }
}

both_backends! {
    async fn an_admin_runs_the_vote_from_the_pages(db: &TestDb) {
        let app = spawn_app_custom(db, |s| s.teller_program = Some(teller_program())).await;
        official(db, "carol", "admin");
        let client = signed_in(&app, "carol").await;
        let base = app.address.clone();
        let (status, page) = get(&client, &format!("{base}/admin")).await;
        assert_eq!(status, 200);
        assert!(page.contains("carol (admin)"), "{page}");
        // Signed in, forms carry the value bound to the session.
        let csrf = csrf_of(&page);

        // A bad definition: every problem listed, nothing created.
        let bad = definition().replace("num = 3, den = 4", "num = 5, den = 4");
        let res = client.post(format!("{base}/admin/elections")).multipart(Form::new().text("csrf", csrf.clone()).text("definition", bad)).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        assert!(page.contains("local_threshold: 5/4 is outside (0, 1]"), "{page}");
        assert!(page.contains("num = 5, den = 4"), "the pasted text is kept to fix: {page}");
        assert!(sv(db, &["election", "list"]).ok().contains("no elections yet"));

        // The builder: the same validation, every answer kept after a problem.
        let (status, form) = get(&client, &format!("{base}/admin/elections/new")).await;
        assert_eq!(status, 200);
        assert!(form.contains("id=\"preset-iatse\" name=\"preset\" value=\"iatse\" checked"), "{form}");
        let mut answers = vec![
            ("csrf", csrf.clone()),
            ("title", "Contract ratification".to_owned()),
            ("question", "Do you ratify the agreement?".to_owned()),
            ("abstain", "yes".to_owned()),
            ("time_zone", "America/New_York".to_owned()),
            ("opens", "2026-01-01T09:00".to_owned()),
            ("closes", "2035-06-01T17:00".to_owned()),
            ("preset", "custom".to_owned()),
            ("custom_rule", "popular".to_owned()),
            ("threshold", "150".to_owned()),
            ("threshold_cmp", "more_than".to_owned()),
            ("quorum", "40".to_owned()),
            ("locals", "600, Local 600\n700, Local 700, 0".to_owned()),
            ("teller_count", "1".to_owned()),
            ("teller_threshold", "1".to_owned()),
            ("es_title", "Ratificación del contrato".to_owned()),
            ("es_question", "¿Ratifica usted el acuerdo?".to_owned()),
            ("label_yes", "Yes, I ratify".to_owned()),
            ("es_label_yes", "Sí, lo ratifico".to_owned()),
            ("es_label_no", "No, no lo ratifico".to_owned()),
        ];
        let res = client.post(format!("{base}/admin/elections/new")).form(&answers).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        assert!(page.contains("Threshold: a percentage from 0.01 to 100"), "{page}");
        assert!(page.contains("translations.es.labels.no: has no English wording: give `labels` for this choice first"), "{page}");
        assert!(page.contains("value=\"No, no lo ratifico\""), "{page}");
        assert!(page.contains("value=\"Contract ratification\"") && page.contains("¿Ratifica usted el acuerdo?</textarea>"), "{page}");
        assert!(page.contains("id=\"preset-custom\" name=\"preset\" value=\"custom\" checked"), "{page}");
        assert!(sv(db, &["election", "list"]).ok().contains("no elections yet"));
        answers.retain(|(k, _)| *k != "threshold");
        answers.push(("threshold", "50".to_owned()));
        answers.push(("label_no", "No, I do not ratify".to_owned()));
        answers.push(("one_admin", "yes".to_owned()));
        // Valid, but one teller could decrypt alone and the window has begun: the official is
        // told, and nothing is created until she confirms.
        let res = client.post(format!("{base}/admin/elections/new")).form(&answers).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains("Check before you create") && page.contains("tellers.threshold is 1") && page.contains("opens_at (2026-01-01T14:00:00Z) has passed"), "{page}");
        assert!(sv(db, &["election", "list"]).ok().contains("no elections yet"));
        answers.push(("accept_warnings", "yes".to_owned()));
        let res = client.post(format!("{base}/admin/elections/new")).form(&answers).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let built = res.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let d = &show(db, &built)["definition"];
        assert_eq!(d["rule"], "popular");
        assert_eq!(d["threshold"], serde_json::json!({"num": 1, "den": 2, "cmp": "more_than"}));
        assert_eq!(d["quorum"], serde_json::json!({"num": 2, "den": 5, "cmp": "at_least"}));
        assert_eq!(d["choices"], serde_json::json!(["yes", "no", "abstain"]));
        assert_eq!(d["opens_at"], "2026-01-01T14:00:00Z", "09:00 in New York");
        assert_eq!(d["time_zone"], "America/New_York");
        assert_eq!(d["translations"]["es"]["title"], "Ratificación del contrato");
        assert_eq!(d["labels"], serde_json::json!({"yes": "Yes, I ratify", "no": "No, I do not ratify"}));
        assert_eq!(d["translations"]["es"]["labels"], serde_json::json!({"yes": "Sí, lo ratifico", "no": "No, no lo ratifico"}));
        assert_eq!(d["locals"][0], serde_json::json!({"code": "600", "name": "Local 600", "delegates": 0}));
        assert_eq!(d["two_person_rule"], false, "the builder's checkbox turns the rule off");

        let file = Part::bytes(definition().into_bytes()).file_name("election.toml");
        let res = client.post(format!("{base}/admin/elections")).multipart(Form::new().text("csrf", csrf.clone()).part("definition_file", file)).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let dashboard = res.headers()["location"].to_str().unwrap().to_owned();
        let id = dashboard.rsplit('/').next().unwrap().to_owned();
        let next_step = |page: &str| page.split("<p id=\"next-step\"><strong>Next:</strong> ").nth(1).and_then(|r| r.split("</p>").next()).unwrap_or_default().to_owned();
        let (_, page) = get(&client, &format!("{base}{dashboard}")).await;
        assert!(page.contains("<li class=\"todo\"><span class=\"status\">To do:</span> Roster: not imported yet</li>"), "{page}");
        assert_eq!(next_step(&page), "import the roster (a CSV of member_id, local, name, email).");

        // A roster with a bad line: named, nothing imported. Then a good one.
        let roster = |text: &str| Form::new().text("csrf", csrf.clone()).part("roster", Part::bytes(text.as_bytes().to_vec()).file_name("roster.csv"));
        let res = client.post(format!("{base}{dashboard}/roster")).multipart(roster("member_id,local,name,email\nM1,600,A,\nM1,700,B,\n")).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        assert!(page.contains("line 3: member_id `M1` is a duplicate of line 2"), "{page}");
        assert!(page.contains("<td id=\"cast-total\">0</td>"));
        let good: String = std::iter::once("member_id,local,name,email".to_owned())
            .chain((0..6).map(|i| format!("M{i},{},,", ["600", "700", "871"][i % 3])))
            .collect::<Vec<_>>()
            .join("\n");
        let res = client.post(format!("{base}{dashboard}/roster")).multipart(roster(&good)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains("Roster imported: 6 members"));
        assert!(page.contains("<span class=\"status\">Done:</span> Roster imported: 6 members in 3 locals"), "{page}");
        assert_eq!(next_step(&page), "issue ballot tokens: 6 members have none yet.");
        let (status, page) = get(&client, &format!("{base}{dashboard}/tokens")).await;
        assert_eq!(status, 200);
        assert!(page.contains("<strong>6 members have no token yet</strong>") && page.contains("<tr><th scope=\"row\">600</th><td>2</td><td>0</td><td>2</td></tr>"), "{page}");

        let res = client.post(format!("{base}{dashboard}/tokens")).form(&[("csrf", csrf.as_str()), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = res.text().await.unwrap();
        let mut tokens: Vec<String> = csv::Reader::from_reader(csv.as_bytes()).records().map(|r| r.unwrap()[4].to_owned()).collect();
        assert_eq!(tokens.len(), 6);
        // The log key's fingerprint, as the audit page shows it, is on every row of the mailing
        // file and on the dashboard, for the notices to print.
        let (_, audit) = get(&client, &format!("{base}/elections/{id}/audit")).await;
        let fingerprint = between(&audit, "<pre id=\"fingerprint\">", "</pre>");
        assert!(csv.starts_with("member_id,local,name,email,token,ballot_url,key_fingerprint\n"), "{csv}");
        let printed: Vec<String> = csv::Reader::from_reader(csv.as_bytes()).records().map(|r| r.unwrap()[6].to_owned()).collect();
        assert!(printed.iter().all(|f| *f == fingerprint) && fingerprint.len() > 10, "{csv}");
        let (_, page) = get(&client, &format!("{base}{dashboard}")).await;
        assert!(page.contains(&format!("<code id=\"key-fingerprint\">{fingerprint}</code>")), "{page}");
        // The tellers' step comes next, and the dashboard says how it starts.
        assert!(next_step(&page).starts_with("give each teller their invitation (") && next_step(&page).contains("Issue teller invitations"), "{}", next_step(&page));
        run_ceremony(db, &id);
        let (_, page) = get(&client, &format!("{base}{dashboard}")).await;
        assert!(page.contains("<span class=\"status\">Done:</span> Ballot tokens issued: 6 of 6 members"), "{page}");
        assert!(page.contains("<span class=\"status\">Done:</span> Key ceremony: complete"), "{page}");
        assert_eq!(next_step(&page), "open the vote.");

        // Teller invitation codes from the page, shown once; each opens its teller's board.
        let res = client.post(format!("{base}{dashboard}/invitations")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        let code = between(&page, "<code class=\"unbroken\" id=\"invitation-code-1\">", "</code>");
        assert_eq!(code.len(), 34, "{page}");
        // The invitation gives the teller everything: the election, the address, the number,
        // the code unbroken, the log key's fingerprint and the exact command.
        let card = between(&page, "<section class=\"invitation\" id=\"invitation-1\"", "</section>");
        // (The test server's public address names the host `localhost`.)
        let public = base.replace("127.0.0.1", "localhost");
        for expected in [
            "<dt>Election id</dt><dd><code class=\"unbroken\">".to_owned() + &id,
            format!("<dt>Address of the vote</dt><dd><code class=\"unbroken\">{public}</code>"),
            "<dt>Teller number</dt><dd>1</dd>".to_owned(),
            format!("<dt>Log key fingerprint</dt><dd><code class=\"unbroken\">{fingerprint}</code>"),
            format!("strikevote-teller setup --election {id} --teller 1 --state teller-1.state --invitation-file invitation.txt --server {public} --log-key {fingerprint}"),
            // The teller checks the program they downloaded against the release's SHA-256.
            format!("<code class=\"unbroken\" id=\"program-sha256-1\">{}</code>", sha256_hex(&std::fs::read(teller_program()).unwrap())),
        ] {
            assert!(card.contains(&expected), "{expected} missing from {card}");
        }
        let res = reqwest::Client::new()
            .get(format!("{base}/api/v1/elections/{id}/tellers/1/board"))
            .header("authorization", format!("Teller {code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let board: serde_json::Value = res.json().await.unwrap();
        assert_eq!(board["tellers"]["count"], 1, "{board}");
        let res = client.post(format!("{base}{dashboard}/invitations")).form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(res.status(), 403);
        // The same as printable sheets: one page per teller, read back with pdftotext; its
        // code is the one that now works, and the card's code no longer does.
        let res = client.post(format!("{base}{dashboard}/invitations")).form(&[("csrf", csrf.as_str()), ("format", "pdf")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let file = db.path("invitations.pdf");
        std::fs::write(&file, res.bytes().await.unwrap()).unwrap();
        let sheets = pdf_pages(&file);
        assert_eq!(sheets.len(), 1, "{sheets:?}");
        let sha = sha256_hex(&std::fs::read(teller_program()).unwrap());
        for expected in [
            "Teller 1: your invitation".to_owned(),
            "Strike authorization 2026".to_owned(),
            id.clone(),
            public.clone(),
            fingerprint.clone(),
            sha,
            "strikevote-teller setup \\".to_owned(),
            "--teller 1 --state teller-1.state \\".to_owned(),
            "strikevote-teller decrypt \\".to_owned(),
        ] {
            assert!(sheets[0].contains(&expected), "the sheet lacks `{expected}`:\n{}", sheets[0]);
        }
        let printed = sheets[0].split("Invitation code (save it as invitation.txt)").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        assert_eq!(printed.len(), 34, "{printed}");
        for (code, works) in [(printed.as_str(), 200), (code.as_str(), 401)] {
            let res = reqwest::Client::new()
                .get(format!("{base}/api/v1/elections/{id}/tellers/1/board"))
                .header("authorization", format!("Teller {code}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), works, "{code}");
        }
        // One teller's seat can be handed over only before they publish their key, or with a
        // restart of the ceremony before it completes (here it is done), and the number must
        // be one.
        for (teller, restart, status, says) in [("1", "", 409, "teller 1 has already published their key"), ("1", "yes", 409, "a restart of a complete key ceremony"), ("x", "", 400, "`x` is not a teller number")] {
            let res = client.post(format!("{base}{dashboard}/invitations")).form(&[("csrf", csrf.as_str()), ("teller", teller), ("restart", restart)]).send().await.unwrap();
            assert_eq!(res.status(), status, "{teller}");
            let page = res.text().await.unwrap();
            assert!(page.contains(says), "{page}");
        }

        // Open with its confirmation step.
        let (status, page) = get(&client, &format!("{base}{dashboard}/confirm?action=open")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Open the vote?"));
        assert!(page.contains("<strong id=\"confirm-election\">Strike authorization 2026</strong>"), "{page}");
        let res = client.post(format!("{base}{dashboard}/state")).form(&[("csrf", csrf.as_str()), ("action", "open"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.status(), 303);

        // Reissuing names the member first and changes nothing until confirmed.
        let res = client.post(format!("{base}{dashboard}/reissue")).form(&[("csrf", csrf.as_str()), ("member", "M5")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains("Replace the token of member M5?") && page.contains("<dd>871 — Local 871</dd>"), "{page}");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": tokens[5]})).await;
        assert_eq!(st["status"], "not_used", "nothing changed before the confirmation");
        let res = client.post(format!("{base}{dashboard}/reissue")).form(&[("csrf", csrf.as_str()), ("member", "M5"), ("confirm", "yes"), ("password", PASSWORD)]).send().await.unwrap();
        let page = res.text().await.unwrap();
        let fresh = page.split("<code id=\"new-token\">").nth(1).and_then(|r| r.split("</code>").next()).unwrap().to_owned();
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": tokens[5]})).await;
        assert_eq!(st["status"], "revoked");
        tokens[5] = fresh;

        // The mailing file lost: every unused token replaced in one confirmed step.
        let (status, page) = get(&client, &format!("{base}{dashboard}/reissue-all")).await;
        assert_eq!(status, 200);
        assert!(page.contains("<strong>6 unused tokens will stop working at once</strong>"), "{page}");
        let res = client.post(format!("{base}{dashboard}/reissue-all")).form(&[("csrf", csrf.as_str()), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.headers()["x-strikevote-issued"], "6");
        let csv = res.text().await.unwrap();
        let replaced: Vec<String> = csv::Reader::from_reader(csv.as_bytes()).records().map(|r| r.unwrap()[4].to_owned()).collect();
        assert_eq!(replaced.len(), 6);
        for old in &tokens {
            let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": old})).await;
            assert_eq!(st["status"], "revoked");
        }
        tokens = replaced;

        for (i, token) in tokens.iter().enumerate() {
            vote_by_form(&app, token, if i == 0 { "no" } else { "yes" }).await;
        }
        let (_, page) = get(&client, &format!("{base}{dashboard}")).await;
        assert!(page.contains("<td id=\"cast-total\">6</td>") && !page.contains("Results by local"), "{page}");
        // Closing before the window ends says how early; certifying says what is certified.
        let (_, page) = get(&client, &format!("{base}{dashboard}/confirm?action=close")).await;
        assert!(page.contains("The voting window runs until 2036-01-01 00:00 UTC: closing now ends it") && page.contains("early. Members who have not voted yet will not be able to."), "{page}");
        for action in ["close", "certify"] {
            if action == "certify" {
                let (_, page) = get(&client, &format!("{base}{dashboard}")).await;
                assert!(page.contains("waiting for the tellers: 0 of the 1 decryptions needed are in"), "{page}");
                decrypt(db, &id);
                let (_, page) = get(&client, &format!("{base}{dashboard}/confirm?action=certify")).await;
                assert!(page.contains("You are certifying: PASSED: locals holding 80 of 156 delegates voted yes"), "{page}");
            }
            let res = client.post(format!("{base}{dashboard}/state")).form(&[("csrf", csrf.as_str()), ("action", action), ("password", PASSWORD)]).send().await.unwrap();
            assert_eq!(res.status(), 303, "{action}");
        }
        let (_, page) = get(&client, &format!("{base}{dashboard}")).await;
        assert!(page.contains("Results by local") && page.contains("id=\"decision\""), "{page}");
        assert!(page.contains("certify by carol"), "the action list names carol: {page}");
        // The turnout caption promises no reveal once the vote has closed (nor ever).
        assert!(page.contains("counts only. Nobody, officials included, can see who voted or how — during the vote or after it.") && !page.contains("before the vote closes"), "{page}");
        assert_eq!(next_step(&page), "nothing: the result is certified. Print the certificate and publish the audit page.");

        // The printable certified result, and the downloads.
        let (status, page) = get(&browser(), &format!("{base}/elections/{id}/result")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Certified result.") && page.contains("id=\"certified-checkpoint\""), "{page}");
        // A certificate: the window in the election's zone, the rule in words, who certified,
        // lines for the tellers to sign, and a PDF drawn by the server.
        assert!(page.contains("<dd id=\"certificate-window\">2026-01-01 00:00 UTC to 2036-01-01 00:00 UTC</dd>"), "{page}");
        assert!(page.contains("Delegates decide: yes needs more than half of all delegates. A local&#39;s delegates all count yes if at least 75% of its yes and no ballots are yes"), "{page}");
        assert!(page.contains("<dd id=\"certificate-by\">by carol on "), "{page}");
        assert!(page.contains("<li><span class=\"signature-line\"></span> teller 1</li>"), "{page}");
        let res = browser().get(format!("{base}/elections/{id}/certificate.pdf")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let pdf = res.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let file = db.path("certificate.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let text = pdf_pages(&file).concat();
        for expected in ["Certificate of the result", "PASSED: locals holding 80 of 156 delegates voted yes", "Certified by carol on", "Signing key fingerprint", "teller 1"] {
            assert!(text.contains(expected), "the PDF lacks `{expected}`:\n{text}");
        }
        assert!(page.contains("<strong>Popular vote (for information only):</strong> 83.33% of the yes and no ballots were yes"), "{page}");
        assert!(page.contains("<strong>Delegate vote (decides):</strong> 80 of 156 delegates yes; more than half needed — reached"), "{page}");
        assert!(page.contains("<strong>PASSED: locals holding 80 of 156 delegates voted yes; more than half needed. Local 600: 50.00% yes, at least 75% needed.</strong>"), "{page}");
        assert!(page.contains("50.00% <span class=\"needed\">(at least 75% needed)</span>"), "{page}");
        let (status, csv) = get(&browser(), &format!("{base}/elections/{id}/results.csv")).await;
        assert_eq!(status, 200);
        assert!(csv.lines().last().unwrap().starts_with("total,,6,6,100.00%,5,1,0,83.33%,true"), "{csv}");

        // Sign out: the dashboard asks for a login again.
        let res = client.post(format!("{base}/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let res = client.get(format!("{base}{dashboard}")).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert!(res.headers()["location"].to_str().unwrap().starts_with("/login?next="));
    }
}

both_backends! {
    async fn bad_input_on_every_admin_form_and_endpoint_changes_nothing(db: &TestDb) {
        let (id, _) = prepared_election(db, 3);
        let app = spawn_app(db).await;
        let alice = official(db, "alice", "admin");
        let before = show(db, &id);
        let base = app.address.clone();
        let api = |p: &str| format!("{base}/api/v1/elections{p}");

        // JSON API: each answer is a 4xx JSON error with a message.
        let c = &app.client;
        let attempts = vec![
            c.post(api("")).bearer_auth(&alice).body("\u{0}\u{1}garbage"),
            c.post(api("")).bearer_auth(&alice).body(vec![0xff, 0xfe, 0x00]),
            c.post(api(&format!("/{id}/roster"))).bearer_auth(&alice).body("not,a\nroster"),
            c.post(api(&format!("/{id}/tokens/reissue"))).bearer_auth(&alice).body("{"),
            c.post(api(&format!("/{id}/tokens/reissue"))).bearer_auth(&alice).json(&serde_json::json!({"member": "nobody"})),
            c.post(api(&format!("/{id}/close"))).bearer_auth(&alice),
            c.post(api(&format!("/{id}/certify"))).bearer_auth(&alice),
            c.post(api("/not-a-uuid/open")).bearer_auth(&alice),
            c.post(api("/00000000-0000-0000-0000-000000000000/open")).bearer_auth(&alice),
        ];
        for attempt in attempts {
            let res = attempt.send().await.unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap();
            assert!((400..500).contains(&status), "{status} {body}");
            assert!(body["error"].is_string() && body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        }

        // Pages: each answer is a 4xx HTML page saying what is wrong.
        let client = browser();
        let (_, form) = get(&client, &format!("{base}/login")).await;
        let csrf = csrf_of(&form);
        let res = client.post(format!("{base}/login")).form(&[("username", "alice"), ("password", PASSWORD), ("csrf", &csrf)]).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let (_, dashboard) = get(&client, &format!("{base}/admin")).await;
        let csrf = csrf_of(&dashboard);
        let page = |p: &str| format!("{base}/admin/elections{p}");
        let attempts = vec![
            client.post(page("")).form(&[("csrf", csrf.as_str())]),
            client.post(page("")).multipart(Form::new().text("csrf", "forged").text("definition", definition())),
            client.post(page(&format!("/{id}/roster"))).multipart(Form::new().text("csrf", csrf.clone()).part("roster", Part::bytes(b"\xff\xfe".to_vec()).file_name("r.csv"))),
            client.post(page(&format!("/{id}/reissue"))).form(&[("csrf", csrf.as_str())]),
            client.post(page(&format!("/{id}/reissue"))).form(&[("csrf", csrf.as_str()), ("member", "nobody")]),
            client.post(page(&format!("/{id}/state"))).form(&[("csrf", csrf.as_str()), ("action", "explode")]),
            client.post(page(&format!("/{id}/state"))).form(&[("csrf", "forged"), ("action", "open")]),
            client.post(page(&format!("/{id}/state"))).form(&[("csrf", csrf.as_str()), ("action", "certify"), ("password", PASSWORD)]),
            client.post(page(&format!("/{id}/state"))).form(&[("csrf", csrf.as_str()), ("action", "open"), ("password", "not my password at all")]),
            client.post(page(&format!("/{id}/tokens"))).form(&[("csrf", csrf.as_str())]),
            client.get(page(&format!("/{id}/confirm?action=explode"))),
        ];
        for attempt in attempts {
            let res = attempt.send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert!((400..500).contains(&status), "{status} {body}");
            assert!(body.contains("<html") && (body.contains("There is a problem") || body.contains("error-summary")), "{status} {body}");
        }
        // An upload over the limit: 413, before anything is parsed. (A small limit, so the
        // whole body sits in the socket buffers and the early answer cannot race the writer.)
        let small = spawn_app_custom(db, |s| s.upload_limit_bytes = 64 * 1024).await;
        let res = small.client.post(format!("{}/api/v1/elections/{id}/roster", small.address)).bearer_auth(&alice).body(vec![b'x'; 70 * 1024]).send().await.unwrap();
        assert_eq!(res.status(), 413);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "payload_too_large");
        assert_eq!(show(db, &id), before, "nothing changed");
        assert!(sv(db, &["election", "list"]).ok().lines().count() == 1, "no election was created");
    }
}

both_backends! {
    async fn an_admin_manages_accounts_and_api_tokens_from_the_pages_with_an_audit_trail(db: &TestDb) {
        official(db, "alice", "admin");
        let app = spawn_app(db).await;
        let base = app.address.clone();
        let client = browser();
        let (_, form) = get(&client, &format!("{base}/login")).await;
        let csrf = csrf_of(&form);
        let res = client.post(format!("{base}/login")).form(&[("username", "alice"), ("password", PASSWORD), ("csrf", &csrf)]).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let accounts = format!("{base}/admin/accounts");
        let (status, page) = get(&client, &accounts).await;
        assert_eq!(status, 200);
        assert!(page.contains("<td>alice</td><td>admin</td>"), "{page}");
        let csrf = csrf_of(&page);

        // A weak password is refused, naming why; nothing is created.
        let weak = [("csrf", csrf.as_str()), ("action", "create_account"), ("username", "olive"), ("password", "short"), ("role", "observer")];
        let res = client.post(&accounts).form(&weak).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("at least 12 characters"));
        let good = [("csrf", csrf.as_str()), ("action", "create_account"), ("username", "olive"), ("password", "a long enough passphrase"), ("role", "observer")];
        let page = client.post(&accounts).form(&good).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Account olive (observer) created.") && page.contains("<td>olive</td><td>observer</td>"), "{page}");

        // An API token for someone else is refused; one for herself is shown once and works
        // until it is revoked.
        let theirs = [("csrf", csrf.as_str()), ("action", "create_token"), ("username", "olive"), ("name", "turnout script")];
        let res = client.post(&accounts).form(&theirs).send().await.unwrap();
        assert_eq!(res.status(), 403);
        let make = [("csrf", csrf.as_str()), ("action", "create_token"), ("username", "alice"), ("name", "turnout script")];
        let page = client.post(&accounts).form(&make).send().await.unwrap().text().await.unwrap();
        let token = page.split("<code id=\"api-token\">").nth(1).and_then(|r| r.split("</code>").next()).unwrap().to_owned();
        assert!(token.starts_with("svapi_"), "{page}");
        let (status, _) = app.get_json_as("/api/v1/elections", &token).await;
        assert_eq!(status, 200);
        let (_, again) = get(&client, &accounts).await;
        assert!(!again.contains(&token), "the token is shown once");
        let revoke = [("csrf", csrf.as_str()), ("action", "revoke_token"), ("username", "alice"), ("name", "turnout script")];
        let page = client.post(&accounts).form(&revoke).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Token alice/turnout script revoked."), "{page}");
        let (status, _) = app.get_json_as("/api/v1/elections", &token).await;
        assert_eq!(status, 401);

        // The audit trail: who did what to whom, newest first; the CLI's own actions too.
        let trail: Vec<String> = page
            .split("<tbody>").last().unwrap()
            .split("<tr>").skip(1)
            .map(|row| row.split("<td>").skip(2).map(|c| c.split("</td>").next().unwrap()).collect::<Vec<_>>().join(" | "))
            .collect();
        assert_eq!(trail[..3], ["alice | api_token_revoke | alice/turnout script", "alice | api_token_create | alice/turnout script", "alice | account_create | olive (observer)"], "{trail:?}");
        assert!(trail[3].starts_with("cli:") && trail[3].ends_with("| api_token_create | alice/tests"), "{trail:?}");
        assert!(trail[4].starts_with("cli:") && trail[4].ends_with("| account_create | alice (admin)"), "{trail:?}");
        assert!(!page.contains("a long enough passphrase") && !page.contains(&token), "no secret in the trail");
    }
}

/// Makes every session of `username` look unused for `minutes`.
fn sessions_idle_for(db: &TestDb, username: &str, minutes: i64) {
    use diesel::prelude::*;
    use strikevote::db::schema::{accounts, sessions};
    let mut conn = db.conn();
    let id: String = accounts::table
        .filter(accounts::username.eq(username))
        .select(accounts::id)
        .first(&mut *conn)
        .unwrap();
    let then = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(minutes);
    let n = diesel::update(sessions::table.filter(sessions::account_id.eq(id)))
        .set(sessions::last_seen_at.eq(Some(then)))
        .execute(&mut *conn)
        .unwrap();
    assert!(n > 0, "{username} has no session");
}

both_backends! {
    async fn a_session_left_idle_ends_and_a_used_one_lives_on(db: &TestDb) {
        let app = spawn_app(db).await;
        official(db, "alice", "admin");
        let client = signed_in(&app, "alice").await;
        let admin = format!("{}/admin", app.address);
        // 29 idle minutes: still signed in, and the visit counts as use.
        sessions_idle_for(db, "alice", 29);
        let (status, page) = get(&client, &admin).await;
        assert_eq!(status, 200, "{page}");
        let (status, _) = get(&client, &admin).await;
        assert_eq!(status, 200);
        {
            use diesel::prelude::*;
            use strikevote::db::schema::sessions;
            let seen: Vec<Option<chrono::NaiveDateTime>> = sessions::table.select(sessions::last_seen_at).load(&mut *db.conn()).unwrap();
            let recent = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
            assert!(seen.iter().all(|t| t.is_some_and(|t| t > recent)), "the visit was recorded as use: {seen:?}");
        }
        // 31 idle minutes (a screen left signed in at the hall): sign in again.
        sessions_idle_for(db, "alice", 31);
        let res = client.get(&admin).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert!(res.headers()["location"].to_str().unwrap().starts_with("/login"));
    }
}

both_backends! {
    async fn a_disabled_account_is_signed_out_everywhere_and_cannot_sign_in(db: &TestDb) {
        let app = spawn_app(db).await;
        official(db, "alice", "admin");
        let bobs_token = official(db, "bob", "admin");
        let alice = signed_in(&app, "alice").await;
        let bob = signed_in(&app, "bob").await;
        let accounts = format!("{}/admin/accounts", app.address);
        let (_, page) = get(&alice, &accounts).await;
        let csrf = csrf_of(&page);
        assert!(page.contains("Disable bob") && !page.contains("Disable alice"), "no one disables themself from the page");

        // Alice disables bob: his open session ends at once, his API token stops working.
        let form = [("csrf", csrf.as_str()), ("action", "disable_account"), ("username", "bob")];
        let page = alice.post(&accounts).form(&form).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Account bob disabled"), "{page}");
        assert!(page.contains("<td>bob</td><td>admin</td>\n    <td>disabled"), "{page}");
        let res = bob.get(format!("{}/admin", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 303, "bob's session ended");
        let (status, body) = app.get_json_as("/api/v1/elections", &bobs_token).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")), "{body}");
        // Signing in with the right password gets the answer a stranger gets.
        let (_, form) = get(&bob, &format!("{}/login", app.address)).await;
        let login = [("username", "bob"), ("password", PASSWORD), ("csrf", &csrf_of(&form))];
        let res = bob.post(format!("{}/login", app.address)).form(&login).send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(answer_of(&res.text().await.unwrap()), strikevote::account::FAILED_LOGIN);
        // Nor can alice disable herself (another admin, or the console, can).
        let own = [("csrf", csrf.as_str()), ("action", "disable_account"), ("username", "alice")];
        let res = alice.post(&accounts).form(&own).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("you cannot disable your own account"));

        // The console lists and enables him; he signs in again and his token works again.
        let listed = sv(db, &["admin", "list"]).ok();
        assert!(listed.lines().any(|l| l.starts_with("bob ") && l.ends_with("admin (disabled)")), "{listed}");
        sv(db, &["admin", "enable", "--username", "bob"]).ok();
        let res = bob.post(format!("{}/login", app.address)).form(&login).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let (status, _) = app.get_json_as("/api/v1/elections", &bobs_token).await;
        assert_eq!(status, 200);
        // The trail says who did what.
        let (_, page) = get(&alice, &accounts).await;
        assert!(page.contains("<td>alice</td><td>account_disable</td><td>bob</td>"), "{page}");
        assert!(page.contains("</td><td>account_enable</td><td>bob</td>"), "{page}");
        let typo = sv(db, &["admin", "disable", "--username", "nobody"]).fails();
        assert!(typo.contains("there is no account `nobody`"), "{typo}");
    }
}

both_backends! {
    async fn a_screen_left_signed_in_cannot_change_the_vote_without_the_password(db: &TestDb) {
        // Whoever sits down at an official's unlocked screen has the session, not the password.
        let (id, _) = prepared_election(db, 3);
        let app = spawn_app(db).await;
        official(db, "alice", "admin");
        let client = signed_in(&app, "alice").await;
        let dashboard = format!("{}/admin/elections/{id}", app.address);
        let (_, page) = get(&client, &dashboard).await;
        let csrf = csrf_of(&page);
        let before = show(db, &id);
        for (path, form) in [
            ("/state", vec![("action", "open")]),
            ("/state", vec![("action", "open"), ("password", "a wrong password, typed")]),
            ("/tokens", vec![]),
            ("/reissue-all", vec![("password", "")]),
            ("/reissue", vec![("member", "M1"), ("confirm", "yes")]),
        ] {
            let mut form = form;
            form.push(("csrf", csrf.as_str()));
            let (status, page) = post(&client, &format!("{dashboard}{path}"), &form).await;
            assert_eq!(status, 401, "{path} {form:?}: {page}");
            assert!(page.contains("Your password, typed again, was missing or wrong: nothing was done."), "{page}");
        }
        assert_eq!(show(db, &id), before, "nothing changed");
        // With it, the same form opens the vote.
        let (status, _) = post(&client, &format!("{dashboard}/state"), &[("csrf", &csrf), ("action", "open"), ("password", PASSWORD)]).await;
        assert_eq!(status, 303);
        assert_eq!(show(db, &id)["state"], "open");
    }
}

both_backends! {
    async fn two_elections_of_the_same_title_are_told_apart_in_the_list(db: &TestDb) {
        let text = definition_toml(&[("600", 1)]);
        let day_before = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let first = create_election_from(db, &text);
        let second = create_election_from(db, &text.replace("closes_at = \"2036-01-01T00:00:00Z\"", "closes_at = \"2036-02-01T00:00:00Z\""));
        let app = spawn_app(db).await;
        official(db, "carol", "admin");
        let client = browser();
        let base = app.address.clone();
        let (_, form) = get(&client, &format!("{base}/login")).await;
        let csrf = csrf_of(&form);
        let res = client.post(format!("{base}/login")).form(&[("username", "carol"), ("password", PASSWORD), ("csrf", &csrf), ("next", "/admin")]).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let (_, page) = get(&client, &format!("{base}/admin")).await;
        // Each row: its voting window, when it was created and the start of its id.
        let row = |id: &str| {
            let at = page.find(&format!("<code title=\"{id}\">{}</code>", &id[..8])).unwrap_or_else(|| panic!("no row for {id}: {page}"));
            page[page[..at].rfind("<tr>").unwrap()..at].to_owned()
        };
        let (a, b) = (row(&first), row(&second));
        assert!(a.contains("2026-01-01 00:00 UTC → 2036-01-01 00:00 UTC") && b.contains("2026-01-01 00:00 UTC → 2036-02-01 00:00 UTC"), "{a}\n{b}");
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let created_today = |r: &str| r.contains(&format!("<td>{today} ")) || r.contains(&format!("<td>{day_before} "));
        assert!(created_today(&a) && created_today(&b), "the day each was created: {a}\n{b}");
        assert_ne!(&first[..8], &second[..8]);
    }
}
