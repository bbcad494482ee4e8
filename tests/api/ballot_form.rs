//! The member's HTML pages over HTTP (the browser tests drive the same pages in Chromium).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::both_backends;
use crate::helpers::*;

/// No `href` of `page` carries `secret` (what a browser would keep in its history).
fn assert_no_link_holds(page: &str, secret: &str) {
    for part in page.split("href=\"").skip(1) {
        let link = &part[..part.find('"').unwrap_or(part.len())];
        assert!(!link.contains(secret), "a link holds the secret: {link}");
    }
}

both_backends! {
    async fn a_vote_not_yet_open_or_already_over_says_when(db: &TestDb) {
        // The second vote's window ends soon, but after two key ceremonies even on a loaded CI
        // machine (it has to be opened first).
        let soon_at = chrono::Utc::now() + chrono::Duration::seconds(20);
        let soon = soon_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let text = definition_toml(&[("600", 1)])
            .replace("opens_at = \"2026-01-01T00:00:00Z\"", "opens_at = \"2035-06-01T07:00:00Z\"");
        let later = create_election_from(db, &text);
        let ending = create_election_from(db, &definition_toml(&[("600", 1)]).replace("closes_at = \"2036-01-01T00:00:00Z\"", &format!("closes_at = \"{soon}\"")));
        let mut tokens = Vec::new();
        for (k, id) in [&later, &ending].into_iter().enumerate() {
            run_ceremony(db, id);
            let roster = write_roster(db, &format!("r{k}.csv"), &[("M1", "600")]);
            sv(db, &["roster", "import", "--election", id, &roster]).ok();
            tokens.push(issue_tokens(db, id)[0].1.clone());
            sv(db, &["election", "open", id]).ok();
        }
        let app = spawn_app(db).await;
        let client = browser();
        let (status, page) = get(&client, &format!("{}/vote?token={}", app.address, tokens[0])).await;
        assert_eq!(status, 409);
        assert!(page.contains("Voting has not started yet. It opens on 2035-06-01 07:00 UTC."), "{page}");
        let (_, page) = get(&client, &format!("{}/vote?token={}&lang=es", app.address, tokens[0])).await;
        assert!(page.contains("La votación aún no ha empezado. Se abre el 2035-06-01 07:00 UTC."), "{page}");
        let left = (soon_at - chrono::Utc::now()).to_std().unwrap_or_default();
        std::thread::sleep(left + std::time::Duration::from_secs(1));
        let (status, page) = get(&client, &format!("{}/vote?token={}", app.address, tokens[1])).await;
        assert_eq!(status, 409);
        let closed = soon.replace('T', " ");
        assert!(page.contains(&format!("Voting has ended. It closed on {} UTC.", &closed[..16])), "{page}");
    }
}

both_backends! {
    async fn a_link_opened_after_an_early_close_or_the_result_says_what_happened(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 2);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let client = browser();
        let token = |m: &str| tokens.iter().find(|(id, _)| id == m).map(|(_, t)| t.clone()).unwrap();
        let (voter, other) = (token("M0"), token("M1"));
        vote_by_form(&app, &voter, "yes").await;

        // Closed by the officials long before the window's end (2036): members are told the day.
        let before = chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string();
        sv(db, &["election", "close", &id]).ok();
        let after = chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string();
        let (status, page) = get(&client, &format!("{}/vote?token={other}", app.address)).await;
        assert_eq!(status, 409);
        let said = |at: &str| format!("Voting has ended. The officials closed it early, on {at} UTC.");
        assert!(page.contains(&said(&before)) || page.contains(&said(&after)), "{page}");
        assert!(!page.contains("It closed on 2036"), "not the window's end: {page}");
        let (_, page) = get(&client, &format!("{}/vote?token={other}&lang=es", app.address)).await;
        assert!(page.contains("Los responsables la cerraron antes de tiempo, el 20"), "{page}");

        // After the result, the member who voted is not shown an error but the result.
        decrypt(db, &id);
        sv(db, &["election", "certify", &id]).ok();
        let (status, page) = get(&client, &format!("{}/vote?token={voter}", app.address)).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<p class=\"notice\" id=\"notice\">You have voted: this ballot token was used, and the vote is over."), "{page}");
        assert!(page.contains(&format!("<p id=\"result-link\"><a href=\"/elections/{id}/result")), "{page}");
        assert!(!page.contains("error-summary") && !page.contains(&voter), "no error, and the token is not typed back: {page}");
        let (status, page) = get(&client, &format!("{}/vote?token={voter}&lang=es", app.address)).await;
        assert_eq!(status, 200);
        assert!(page.contains("Usted ya votó: este código se usó y la votación terminó."), "{page}");
        // The member who did not vote is still told the vote ended, as an error to read.
        let (status, page) = get(&client, &format!("{}/vote?token={other}", app.address)).await;
        assert_eq!(status, 409);
        assert!(page.contains("error-summary") && page.contains("closed it early"), "{page}");
    }
}

both_backends! {
    async fn a_member_votes_through_the_form_and_checks_the_receipt(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        let app = spawn_app(db).await;
        let client = browser();
        let token = &tokens[0].1; // M0, local 600
        let vote = format!("{}/vote", app.address);

        // Before opening: a plain message and a 409, on the token form.
        let (status, page) = get(&client, &format!("{vote}?token={token}")).await;
        assert_eq!(status, 409);
        assert!(page.contains("Voting is not open for this election right now."), "{page}");
        sv(db, &["election", "open", &id]).ok();

        // The ballot: question, local, large labelled radios, the token kept in the form.
        let res = client.get(format!("{vote}?token={token}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("sv_csrf=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        let page = res.text().await.unwrap();
        assert!(page.contains("<html lang=\"en\">"));
        assert!(page.contains("Do you authorize a strike if the producers do not reach an agreement?"));
        assert!(page.contains("600 — Local 600"));
        assert!(page.contains(r#"<input type="radio" id="choice-yes" name="choice" value="yes    " autocomplete="off">"#), "choices are padded to one width");
        // Nothing of the choice in the browser's form restore (back button, session restore).
        assert!(page.contains(r#"<form id="ballot-form" method="post" action="/vote" autocomplete="off" novalidate"#), "{page}");
        // Without JavaScript the page says the server seals the choice; its code, for when
        // JavaScript is on, is the served file, named by its integrity hash.
        assert!(page.contains("With JavaScript off, the server seals your choice"), "{page}");
        let code = strikevote::sealing_code::sealing_code_sha256();
        assert!(page.contains(&format!(r#"data-code="{code}""#)), "{page}");
        assert!(page.contains(&format!(r#"<script type="module" src="/static/sealing.js" integrity="{}"></script>"#, strikevote::sealing_code::sealing_code_integrity())), "{page}");
        assert!(page.contains(r#"<label for="choice-no">No</label>"#));
        assert!(!page.contains("choice-abstain"), "this election offers no abstention");
        let csrf = csrf_of(&page);

        // No choice: the ballot again, the error tied to the choices, nothing spent.
        let (status, page) = post(&client, &vote, &[("token", token), ("csrf", &csrf)]).await;
        assert_eq!(status, 400);
        assert!(page.contains(r#"aria-describedby="choice-error""#) && page.contains("Choose one option before casting your vote."), "{page}");
        // A forged request without the cookie's value: refused.
        let (status, page) = post(&browser(), &vote, &[("token", token), ("choice", "yes"), ("csrf", &csrf)]).await;
        assert_eq!(status, 403);
        assert!(page.contains("This form has expired"), "{page}");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": token})).await;
        assert_eq!(st["status"], "not_used");

        // Cast: post-redirect-get, the receipt carried by a cookie for that one page only.
        let res = client.post(&vote).form(&[("token", token.as_str()), ("choice", "yes"), ("csrf", &csrf)]).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "/vote/done?lang=en");
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("sv_done=") && cookie.contains("Path=/vote/done") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let (status, page) = get(&client, &format!("{}/vote/done?lang=en", app.address)).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Your vote is recorded"));
        assert!(page.contains("JavaScript was off, so the server sealed your choice"), "{page}");
        // Without the cookie the page has nothing to show: to the receipt check.
        let (status, _) = get(&browser(), &format!("{}/vote/done", app.address)).await;
        assert_eq!(status, 303);
        // The page shows the receipt and the ballot's tracker, never the choice.
        assert!(!page.contains("id=\"choice\"") && !page.contains(">Yes<"), "{page}");
        assert!(page.contains("It does not show your choice."), "{page}");
        let receipt = receipt_of(&page);
        let (_, found) = app.get_json(&format!("/api/v1/receipts/{receipt}")).await;
        assert_eq!(found["verified"], true);
        let tracker = found["tracker"].as_str().unwrap();
        assert!(page.contains(&format!("<code id=\"tracker\" class=\"tracker\">{tracker}</code>")), "{page}");
        assert_no_link_holds(&page, &receipt);
        // Switching language keeps the receipt (posted, not put in an address).
        let (status, spanish) = post(&client, &format!("{}/receipt", app.address), &[("receipt", &receipt), ("csrf", &csrf), ("lang", "es")]).await;
        assert_eq!(status, 200);
        assert!(spanish.contains("<html lang=\"es\">") && spanish.contains("Su voto quedó registrado"), "{spanish}");
        assert_eq!(receipt_of(&spanish), receipt);
        assert!(spanish.contains(&format!("<code id=\"tracker\" class=\"tracker\">{tracker}</code>")), "{spanish}");
        // Saved as a file: the receipt and tracker, never the choice.
        let res = client.post(format!("{}/receipt/file", app.address)).form(&[("receipt", receipt.as_str()), ("csrf", csrf.as_str()), ("lang", "en")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains("ballot-receipt.txt"));
        let file = res.text().await.unwrap();
        assert!(file.contains(&format!("Your receipt: {receipt}")) && file.contains(&format!("Ballot tracker: {tracker}")), "{file}");
        assert!(file.contains("JavaScript was off, so the server sealed your choice"), "who sealed it, in plain words: {file}");
        // (The receipt's base32 could hold the letters YES by chance: not counted.)
        assert!(file.contains("/verify") && !file.replace(receipt.as_str(), "").to_lowercase().contains("yes"), "{file}");
        assert!(page.contains(&format!("<dd id=\"leaf-index\">{}</dd>", found["leaf_index"])));

        // Again: refused with whom to contact.
        let (status, page) = post(&client, &vote, &[("token", token), ("choice", "no"), ("csrf", &csrf)]).await;
        assert_eq!(status, 409);
        assert!(page.contains("already been used to vote. If you did not vote, contact your election officials."), "{page}");

        // The member checks their token and their receipt.
        let (_, form) = get(&client, &format!("{}/token-status", app.address)).await;
        let csrf = csrf_of(&form);
        let (status, page) = post(&client, &format!("{}/token-status", app.address), &[("token", &token.to_lowercase()), ("csrf", &csrf)]).await;
        assert_eq!(status, 200);
        assert!(page.contains("This token has been used to vote."), "{page}");
        // The receipt is looked up by a form post: it never enters an address.
        let verify = format!("{}/verify", app.address);
        let (_, form) = get(&client, &verify).await;
        assert!(form.contains("<form method=\"post\" action=\"/verify\""), "{form}");
        let csrf = csrf_of(&form);
        let (status, page) = post(&client, &verify, &[("receipt", &receipt.replace('-', " ")), ("csrf", &csrf)]).await;
        assert_eq!(status, 200);
        assert!(page.contains("Your ballot is in the log.") && page.contains("checks out against the latest signed checkpoint"), "{page}");
        assert!(page.contains(&format!("<code id=\"found-tracker\" class=\"tracker\">{tracker}</code>")) && page.contains("this page cannot show your choice"), "{page}");
        assert_no_link_holds(&page, &receipt);
        // The raw entry (the sealed ballot's JSON) only behind the disclosure.
        let raw = page.find("<details id=\"found-raw\">").expect("a disclosure for the raw entry");
        let entry = page.find("random_element").expect("the raw entry is on the page");
        assert!(entry > raw && page[raw..entry].find("</details>").is_none(), "{page}");
        let (status, page) = post(&client, &verify, &[("receipt", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG"), ("csrf", &csrf)]).await;
        assert_eq!(status, 404);
        assert!(page.contains("No ballot with this receipt is in the log."), "{page}");
        // An old-style link with the receipt in it looks nothing up.
        let (status, page) = get(&client, &format!("{verify}?receipt={receipt}")).await;
        assert_eq!(status, 200);
        assert!(!page.contains("Your ballot is in the log."), "{page}");
        let (status, _) = post(&client, &verify, &[("receipt", &receipt), ("csrf", "forged")]).await;
        assert_eq!(status, 403);
    }
}

both_backends! {
    async fn bad_tokens_get_plain_words_in_english_or_spanish(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        sv(db, &["tokens", "reissue", "--election", &id, "--member", "M2"]).ok();
        let old = tokens.iter().find(|(m, _)| m == "M2").unwrap().1.clone();
        let app = spawn_app(db).await;
        let client = browser();
        let vote = format!("{}/vote", app.address);
        let (status, page) = get(&client, &format!("{vote}?token=hello")).await;
        assert_eq!(status, 400);
        assert!(page.contains(r#"aria-invalid="true""#) && page.contains("That does not look like a ballot token."), "{page}");
        let (status, page) = get(&client, &format!("{vote}?token=SV-0000-0000-0000-0000-0000-0000-0000")).await;
        assert_eq!(status, 404);
        assert!(page.contains("We do not know this ballot token."), "{page}");
        let (status, page) = get(&client, &format!("{vote}?token={old}")).await;
        assert_eq!(status, 409);
        assert!(page.contains("replaced by a newer one"), "{page}");

        // Spanish from the browser's language, or by the visible switch.
        let res = client.get(format!("{vote}?token={}", tokens[0].1)).header("Accept-Language", "es-MX,es;q=0.9,en;q=0.5").send().await.unwrap();
        let page = res.text().await.unwrap();
        assert!(page.contains("<html lang=\"es\">") && page.contains("Emitir mi voto") && page.contains(">Sí</label>"), "{page}");
        assert!(page.contains(&format!("href=\"/vote?token={}&#38;lang=en\"", tokens[0].1)), "the switch keeps the token");
        let (_, page) = get(&client, &format!("{vote}?token=hello&lang=es")).await;
        assert!(page.contains("Eso no parece un código de votación."), "{page}");
        // A form that is not a form: an HTML error, not a crash.
        let (status, page) = post(&client, &vote, &[("nonsense", "1")]).await;
        assert_eq!(status, 400);
        assert!(page.contains("<html") && page.contains("There is a problem"), "{page}");
    }
}

both_backends! {
    async fn the_access_log_never_holds_a_token(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let mut server = Command::new(env!("CARGO_BIN_EXE_strikevote"))
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &db.url])
            .current_dir(db.dir())
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
        let banner = lines.next().unwrap().unwrap();
        let address = banner.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
        let client = browser();
        let token = &tokens[0].1;
        let (_, page) = get(&client, &format!("{address}/vote?token={token}")).await;
        let csrf = csrf_of(&page);
        let (status, page) = post(&client, &format!("{address}/vote"), &[("token", token), ("choice", "no"), ("csrf", &csrf)]).await;
        assert_eq!(status, 200, "{page}");
        let receipt = receipt_of(&page);
        let (status, _) = post(&client, &format!("{address}/vote"), &[("token", token), ("choice", "yes"), ("csrf", &csrf)]).await;
        assert_eq!(status, 409);
        unsafe_kill(&mut server);
        let logs = std::io::read_to_string(server.stderr.take().unwrap()).unwrap();
        assert!(logs.contains("path=\"/vote\""), "requests are logged: {logs}");
        assert!(logs.contains("ballot batch committed"), "{logs}");
        assert!(logs.contains("No admin account yet. Create one with:"), "first start says how to add an admin: {logs}");
        for secret in [token.as_str(), &token.replace('-', ""), &receipt, "\"no\"", "choice=no"] {
            assert!(!logs.contains(secret), "the log holds `{secret}`");
        }
    }
}

/// Stops the server with SIGTERM (graceful) and waits for it.
fn unsafe_kill(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

both_backends! {
    async fn the_election_speaks_the_members_language_names_its_contact_and_keeps_its_time_zone(db: &TestDb) {
        let text = definition_toml(&[("600", 1)])
            .replace("opens_at = \"2026-01-01T00:00:00Z\"", "opens_at = \"2035-06-01T15:00:00Z\"")
            .replacen("tellers = {", "time_zone = \"America/Los_Angeles\"\ncontact = \"Election committee: (555) 010-0100\"\ntellers = {", 1)
            + "\n[labels]\nyes = \"Yes, I authorize a strike\"\n"
            + "\n[translations.es]\ntitle = \"Autorización de huelga\"\nquestion = \"¿Autoriza usted una huelga?\"\n"
            + "\n[translations.es.labels]\nyes = \"Sí, autorizo la huelga\"\n";
        let id = create_election_from(db, &text);
        run_ceremony(db, &id);
        let roster = write_roster(db, "r.csv", &[("M1", "600"), ("M2", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let tokens = issue_tokens(db, &id);
        let app = spawn_app(db).await;
        let client = browser();
        // Not open yet: the date in the election's zone, and whom to contact.
        let (status, page) = get(&client, &format!("{}/vote?token={}", app.address, tokens[0].1)).await;
        assert_eq!(status, 409);
        assert!(page.contains("Voting has not started yet. It opens on 2035-06-01 08:00 PDT."), "{page}");
        assert!(page.contains("<p id=\"contact\">Election committee: (555) 010-0100</p>"), "{page}");
        sv(db, &["election", "open", &id]).ok();
        // Until the window opens the ballot is refused, so move it for the ballot page: a
        // second election whose window is open, with the same texts.
        let open_text = text.replace("opens_at = \"2035-06-01T15:00:00Z\"", "opens_at = \"2026-01-01T00:00:00Z\"");
        let open_id = create_election_from(db, &open_text);
        run_ceremony(db, &open_id);
        sv(db, &["roster", "import", "--election", &open_id, &roster]).ok();
        let open_tokens = issue_tokens(db, &open_id);
        sv(db, &["election", "open", &open_id]).ok();
        let (status, page) = get(&client, &format!("{}/vote?token={}&lang=es", app.address, open_tokens[0].1)).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Autorización de huelga") && page.contains("¿Autoriza usted una huelga?"), "{page}");
        assert!(!page.contains("Do you authorize a strike"), "{page}");
        // The definition's wording of a choice in Spanish; an unworded choice by the page's word.
        assert!(page.contains("<label for=\"choice-yes\">Sí, autorizo la huelga</label>"), "{page}");
        assert!(page.contains("<label for=\"choice-no\">No</label>"), "{page}");
        assert!(page.contains("hreflang=\"en\" lang=\"en\">English</a>"), "the switch offers English: {page}");
        let (_, page) = get(&client, &format!("{}/vote?token={}&lang=en", app.address, open_tokens[0].1)).await;
        assert!(page.contains("Do you authorize a strike if the producers do not reach an agreement?"), "{page}");
        assert!(page.contains("<label for=\"choice-yes\">Yes, I authorize a strike</label>"), "{page}");
        assert!(page.contains("hreflang=\"es\" lang=\"es\">Español</a>"), "{page}");
        assert!(page.contains("Election committee: (555) 010-0100"), "{page}");
        // A used token's error names the contact too.
        vote_by_form(&app, &open_tokens[0].1, "yes").await;
        let (status, page) = get(&client, &format!("{}/vote?token={}", app.address, open_tokens[0].1)).await;
        assert_eq!(status, 409);
        assert!(page.contains("already been used") && page.contains("<p id=\"contact\">Election committee: (555) 010-0100</p>"), "{page}");
        // The published result reads in the member's language.
        sv(db, &["election", "close", &open_id]).ok();
        decrypt(db, &open_id);
        let (status, page) = get(&client, &format!("{}/elections/{open_id}/result?lang=es", app.address)).await;
        assert_eq!(status, 200);
        assert!(page.contains("<h1>Autorización de huelga</h1>") && page.contains("¿Autoriza usted una huelga?"), "{page}");
    }
}
