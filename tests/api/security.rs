//! What attackers tried: login redirects, racing the throttles, weak passwords, secrets in the
//! request log and in caches, and what TLS and proxies change.

use crate::both_backends;
use crate::helpers::*;

/// A browser with a fresh login form: (client, csrf).
async fn login_form(app: &TestApp) -> (reqwest::Client, String) {
    let client = browser();
    let (_, form) = get(&client, &format!("{}/login", app.address)).await;
    let csrf = csrf_of(&form);
    (client, csrf)
}

both_backends! {
    async fn login_follows_only_same_site_paths(db: &TestDb) {
        let app = spawn_app(db).await;
        official(db, "alice", "admin");
        for (next, expected) in [
            ("/admin/elections/x", "/admin/elections/x"),
            ("/\t/evil.example", "/admin"),
            ("/\n/evil", "/admin"),
            ("/\r\nSet-Cookie: x=y", "/admin"),
            ("//evil.example", "/admin"),
            ("/\\evil.example", "/admin"),
            ("/%09/evil.example", "/%09/evil.example"),
            ("https://evil.example/", "/admin"),
            ("/ /evil", "/admin"),
            ("/\u{3000}/evil", "/admin"),
        ] {
            let (client, csrf) = login_form(&app).await;
            let res = client.post(format!("{}/login", app.address))
                .form(&[("username", "alice"), ("password", PASSWORD), ("csrf", &csrf), ("next", next)])
                .send().await.unwrap();
            assert_eq!(res.status(), 303, "next={next:?}");
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            assert_eq!(location, expected, "next={next:?}");
            // What a browser would do with it stays on this site.
            let cleaned: String = location.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
            assert!(cleaned.starts_with('/') && !cleaned[1..].starts_with(['/', '\\']), "{location:?}");
        }
        // The login page's hidden field is cleaned the same way.
        let (_, page) = get(&browser(), &format!("{}/login?next=%2F%09%2Fevil.example", app.address)).await;
        assert!(page.contains("name=\"next\" value=\"/admin\""), "{page}");
    }
}

/// The sign-in outcomes counted by an app's internal metrics listener.
async fn login_outcomes(app: &TestApp) -> std::collections::BTreeMap<String, u64> {
    let address = app
        .metrics_address
        .clone()
        .expect("the internal metrics listener");
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("strikevote_logins_total{outcome=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(outcome, n)| (outcome.to_owned(), n.trim().parse().unwrap()))
        .collect()
}

both_backends! {
    async fn two_hundred_parallel_wrong_passwords_get_five_checks(db: &TestDb) {
        // As from a botnet: every attempt from another address (through a trusted proxy), so
        // only the account's own limit stands between them and the password.
        let behind_proxy = |s: &mut strikevote::settings::Settings| {
            s.rate_limit_per_minute = 0;
            s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            s.metrics_bind = Some("127.0.0.1:0".into());
        };
        let app = spawn_app_custom(db, behind_proxy).await;
        let other = spawn_app_custom(db, behind_proxy).await;
        official(db, "bob", "admin");
        let mut attempts = Vec::new();
        for i in 0..200 {
            let address = if i % 2 == 0 { app.address.clone() } else { other.address.clone() };
            let target = if i % 2 == 0 { &app } else { &other };
            let (client, csrf) = login_form(target).await;
            attempts.push(tokio::spawn(async move {
                let res = client.post(format!("{address}/login"))
                    .header("X-Forwarded-For", format!("198.18.{}.{}", i / 250, i % 250))
                    .form(&[("username", "bob"), ("password", "not the password at all"), ("csrf", &csrf)])
                    .send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }));
        }
        for a in attempts {
            let (status, body) = a.await.unwrap();
            match status {
                // A wrong password and a locked account get one answer (the page does not say
                // which usernames exist); the metrics tell the operator which it was.
                401 => assert!(body.contains("wrong username or password"), "{body}"),
                429 => assert!(body.contains("busy checking passwords"), "{body}"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        let count = |outcome: &str, a: &std::collections::BTreeMap<String, u64>, b: &std::collections::BTreeMap<String, u64>| {
            a.get(outcome).unwrap_or(&0) + b.get(outcome).unwrap_or(&0)
        };
        let (a, b) = (login_outcomes(&app).await, login_outcomes(&other).await);
        let checked = count("wrong_password", &a, &b);
        assert!(checked <= 5, "{checked} passwords were checked; the limit is 5: {a:?} {b:?}");
        assert_eq!(checked + count("locked", &a, &b) + count("busy", &a, &b), 200, "{a:?} {b:?}");
        // Attempts refused as "busy" never reached the account: the tries still left, one at a
        // time, are checked and used up.
        for i in checked..5 {
            let (client, csrf) = login_form(&app).await;
            let res = client.post(format!("{}/login", app.address))
                .header("X-Forwarded-For", format!("198.18.8.{i}"))
                .form(&[("username", "bob"), ("password", "not the password at all"), ("csrf", &csrf)])
                .send().await.unwrap();
            assert_eq!(res.status(), 401, "try {i}");
        }
        assert_eq!(login_outcomes(&app).await.get("wrong_password").unwrap_or(&0) + b.get("wrong_password").unwrap_or(&0), 5);
        // The account is locked now, even for the right password.
        let locked_before = login_outcomes(&app).await.get("locked").copied().unwrap_or(0);
        let (client, csrf) = login_form(&app).await;
        let res = client.post(format!("{}/login", app.address))
            .header("X-Forwarded-For", "198.18.9.9")
            .form(&[("username", "bob"), ("password", PASSWORD), ("csrf", &csrf)])
            .send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.text().await.unwrap().contains("wrong username or password"));
        assert_eq!(login_outcomes(&app).await.get("locked").copied().unwrap_or(0), locked_before + 1);
    }
}

both_backends! {
    async fn a_csrf_value_planted_in_a_cookie_does_not_pass_a_signed_in_form(db: &TestDb) {
        // A page on a sibling host (or plain http) can set a non-`__Host-` cookie for this
        // site: with a double-submit check alone, the value it planted passed any form.
        let app = spawn_app(db).await;
        official(db, "alice", "admin");
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = client.get(format!("{}/login", app.address)).send().await.unwrap();
        let first = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let csrf = csrf_of(&res.text().await.unwrap());
        let res = client.post(format!("{}/login", app.address)).header("Cookie", &first)
            .form(&[("username", "alice"), ("password", PASSWORD), ("csrf", &csrf)]).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let session = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).find(|c| c.starts_with("sv_session="))
            .unwrap().split(';').next().unwrap().to_owned();
        let accounts = format!("{}/admin/accounts", app.address);
        let planted = "0123456789abcdef0123456789abcdef";
        let make = |csrf: &str| [("csrf", csrf.to_owned()), ("action", "create_token".into()), ("username", "alice".into()), ("name", "script".into())];
        let res = client.post(&accounts).header("Cookie", format!("{session}; sv_csrf={planted}")).form(&make(planted)).send().await.unwrap();
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("This form has expired"));
        // The value the page gives, bound to the session, passes (with or without the cookie).
        let res = client.get(&accounts).header("Cookie", &session).send().await.unwrap();
        let bound = csrf_of(&res.text().await.unwrap());
        assert_ne!(bound, csrf, "signed in, the value changes");
        let res = client.post(&accounts).header("Cookie", &session).form(&make(&bound)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("id=\"api-token\">svapi_"));
    }
}

both_backends! {
    async fn a_flood_of_sign_ins_for_unknown_users_waits_its_turn_or_is_refused_at_once(db: &TestDb) {
        // Before: 400 parallel wrong sign-ins for unknown users from 25 addresses (under every
        // per-address limit) each ran argon2 at once: 108 MB to 1.48 GB, a voter stalled 9.8 s.
        let app = spawn_app_custom(db, |s| {
            s.rate_limit_per_minute = 0;
            s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        let mut attempts = Vec::new();
        for i in 0..200 {
            let (client, csrf) = login_form(&app).await;
            let address = app.address.clone();
            attempts.push(tokio::spawn(async move {
                let res = client.post(format!("{address}/login"))
                    .header("X-Forwarded-For", format!("198.18.1.{}", i % 25))
                    .form(&[("username", format!("nobody{i}").as_str()), ("password", "wrong wrong wrong"), ("csrf", &csrf)])
                    .send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }));
        }
        let (mut checked, mut busy) = (0, 0);
        for a in attempts {
            let (status, body) = a.await.unwrap();
            match status {
                401 => checked += 1,
                429 if body.contains("the server is busy checking passwords: try again in a few seconds") => busy += 1,
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(busy > 0, "all {checked} passwords were checked at once or queued: nothing bounds them");
        assert!(checked > 0, "no password was checked at all");
        // The flood over, sign-ins work again.
        official(db, "erin", "admin");
        let (client, csrf) = login_form(&app).await;
        let res = client.post(format!("{}/login", app.address))
            .form(&[("username", "erin"), ("password", PASSWORD), ("csrf", &csrf)])
            .send().await.unwrap();
        assert_eq!(res.status(), 303);
    }
}

both_backends! {
    async fn one_address_gets_twenty_failures_across_instances_whatever_it_forwards(db: &TestDb) {
        let app = spawn_app_custom(db, |s| s.rate_limit_per_minute = 0).await;
        let other = spawn_app_custom(db, |s| s.rate_limit_per_minute = 0).await;
        let mut throttled = 0;
        let mut failed = 0;
        for i in 0..30 {
            let target = if i % 2 == 0 { &app } else { &other };
            let (client, csrf) = login_form(target).await;
            // A spoofed X-Forwarded-For from a peer that is no trusted proxy changes nothing.
            let res = client.post(format!("{}/login", target.address))
                .header("X-Forwarded-For", format!("203.0.113.{i}"))
                .form(&[("username", format!("nobody{i}").as_str()), ("password", "wrong wrong wrong"), ("csrf", &csrf)])
                .send().await.unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            match status {
                401 => failed += 1,
                429 => {
                    assert!(body.contains("Too many failed logins from your address"), "{body}");
                    throttled += 1;
                }
                other => panic!("{other}: {body}"),
            }
        }
        assert_eq!((failed, throttled), (20, 10));
    }
}

#[test]
fn a_common_password_is_refused_for_an_official() {
    let db = TestDb::new(Backend::Sqlite);
    for password in [
        "correct horse battery staple",
        "Password1234",
        "aaaaaaaaaaaaaaaa",
        "Solidarity Forever",
    ] {
        let run = create_account(&db, "carol", "admin", password);
        let stderr = run.stderr;
        assert_eq!(run.code, 1, "{password}: {stderr}");
        assert!(stderr.contains("common passwords"), "{password}: {stderr}");
    }
}

both_backends! {
    fn no_official_may_take_the_name_the_log_gives_the_schedule(db: &TestDb) {
        // The log names the server's schedule `schedule`; an account of that name could pass
        // its own early close off as the schedule's.
        let run = create_account(db, "schedule", "admin", PASSWORD);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("`schedule` is how the log names the server"), "{}", run.stderr);
        // Nor the outbox's, `mail`: it could pass its own reissues off as the outbox's.
        let run = create_account(db, "mail", "admin", PASSWORD);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("`mail` is how the log names the server's outbox"), "{}", run.stderr);
        let listed = sv(db, &["admin", "list"]).ok();
        assert!(!listed.contains("schedule"), "{listed}");
        assert!(!listed.lines().any(|l| l.split_whitespace().next() == Some("mail")), "{listed}");
    }
}

both_backends! {
    async fn the_request_log_names_failed_logins_but_never_a_token_or_receipt(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        official(db, "dave", "admin");
        let served = serve_process(db, &["--database-url", &db.url], &[]);
        let app = served.app();
        let (status, cast) = app.cast(&tokens[0].1, "yes").await;
        assert_eq!(status, 200);
        let receipt = cast["receipt"].as_str().unwrap().to_owned();
        let token = &tokens[1].1;
        for path in [
            format!("/api/v1/receipts/{receipt}"),
            format!("/api/v1/receipts/{}", receipt.to_lowercase().replace('-', "")),
            format!("/vote?token={token}"),
            format!("/verify?receipt={receipt}"),
            format!("/api/v1/receipts/{}", &receipt[..20]),
            format!("/{token}"),
        ] {
            let _ = app.get(&path).await;
        }
        let (client, csrf) = login_form(&app).await;
        client.post(format!("{}/login", app.address))
            .form(&[("username", "dave"), ("password", "definitely not it"), ("csrf", &csrf)])
            .send().await.unwrap();
        let log = served.stop();
        assert!(log.contains("/api/v1/receipts/{redacted}"), "{log}");
        assert!(log.contains("login failed") && log.contains("\"dave\"") && log.contains("127.0.0.1"), "{log}");
        for secret in [receipt.as_str(), &receipt[..20], &receipt.replace('-', ""), token.as_str(), &token.replace('-', "")] {
            assert!(!log.to_uppercase().contains(&secret.to_uppercase()), "`{secret}` in the log:\n{log}");
        }
    }
}

both_backends! {
    async fn answers_with_tokens_receipts_or_results_are_never_cached(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let (_, cast) = app.cast(&tokens[0].1, "no").await;
        let receipt = cast["receipt"].as_str().unwrap();
        let client = reqwest::Client::new();
        let check = |res: reqwest::Response, what: &str| {
            let cc = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(cc.as_deref(), Some("no-store"), "{what}");
            assert!(res.headers().get("strict-transport-security").is_none(), "no HSTS over plain http: {what}");
        };
        for path in [
            format!("/vote?token={}", tokens[1].1),
            format!("/api/v1/receipts/{receipt}"),
            format!("/verify?receipt={receipt}"),
            "/token-status".to_owned(),
            format!("/api/v1/elections/{id}/checkpoint"),
            "/login".to_owned(),
        ] {
            check(client.get(format!("{}{path}", app.address)).send().await.unwrap(), &path);
        }
        check(client.post(format!("{}/api/v1/ballots", app.address)).json(&serde_json::json!({"token": tokens[2].1, "choice": "yes    "})).send().await.unwrap(), "cast");
        check(client.post(format!("{}/api/v1/token-status", app.address)).json(&serde_json::json!({"token": tokens[2].1})).send().await.unwrap(), "token status");
        for path in ["/verify", "/receipt", "/receipt/file"] {
            // Refused for want of the form's cookie, but not cached either.
            check(client.post(format!("{}{path}", app.address)).form(&[("receipt", receipt), ("csrf", "x")]).send().await.unwrap(), path);
        }
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        for path in [format!("/api/v1/elections/{id}/results"), format!("/elections/{id}/result"), format!("/elections/{id}/results.csv")] {
            check(client.get(format!("{}{path}", app.address)).send().await.unwrap(), &path);
        }
    }
}

both_backends! {
    async fn behind_https_the_session_and_csrf_cookies_are_host_only_and_hsts_is_sent(db: &TestDb) {
        let app = spawn_app_custom(db, |s| {
            s.public_url = Some(strikevote::settings::PublicUrl::parse("https://vote.example.org").unwrap());
            s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        official(db, "erin", "admin");
        let client = browser();
        // Through the (trusted) TLS proxy.
        let res = client.get(format!("{}/login", app.address)).header("X-Forwarded-Proto", "https").send().await.unwrap();
        assert!(res.headers().get("strict-transport-security").unwrap().to_str().unwrap().starts_with("max-age="));
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("__Host-sv_csrf=") && cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
        let csrf = csrf_of(&res.text().await.unwrap());
        let res = client.post(format!("{}/login", app.address))
            .header("X-Forwarded-Proto", "https")
            .form(&[("username", "erin"), ("password", PASSWORD), ("csrf", &csrf)])
            .send().await.unwrap();
        assert_eq!(res.status(), 303);
        let cookie = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|c| c.contains("sv_session")).unwrap();
        assert!(cookie.starts_with("__Host-sv_session=") && cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
        // The trusted proxy says this request came over plain http: no HSTS on it.
        let res = client.get(format!("{}/login", app.address)).header("X-Forwarded-Proto", "http").send().await.unwrap();
        assert!(res.headers().get("strict-transport-security").is_none());
    }
}

both_backends! {
    async fn forwarded_headers_count_only_from_trusted_proxies(db: &TestDb) {
        let https = strikevote::settings::PublicUrl::parse("https://vote.example.org").unwrap();
        let untrusted = spawn_app_custom(db, |s| { s.public_url = Some(https.clone()); s.rate_limit_per_minute = 0; }).await;
        // Not a trusted proxy: a forged "came over http" is ignored, HSTS stays.
        let res = reqwest::Client::new().get(format!("{}/login", untrusted.address)).header("X-Forwarded-Proto", "http").send().await.unwrap();
        assert!(res.headers().get("strict-transport-security").is_some());
        // A trusted proxy's X-Forwarded-For names the client: the throttle counts per client.
        let proxied = spawn_app_custom(db, |s| { s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]; s.rate_limit_per_minute = 0; }).await;
        for client_ip in ["198.51.100.1", "198.51.100.2"] {
            let mut statuses = Vec::new();
            for _ in 0..21 {
                let (client, csrf) = login_form(&proxied).await;
                let res = client.post(format!("{}/login", proxied.address))
                    .header("X-Forwarded-For", format!("203.0.113.9, {client_ip}"))
                    .form(&[("username", "nobody"), ("password", "wrong wrong wrong"), ("csrf", &csrf)])
                    .send().await.unwrap();
                statuses.push(res.status().as_u16());
            }
            assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 20, "{client_ip}: {statuses:?}");
            assert_eq!(statuses[20], 429);
        }
    }
}

both_backends! {
    async fn a_flood_of_token_and_receipt_guesses_gets_429_with_retry_after(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app_custom(db, |s| {
            s.rate_limit_per_minute = 30;
            s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        let client = reqwest::Client::new();
        let guess = |i: usize| format!("SV-{:04}-AAAA-BBBB-CCCC-DDDD-EEEE-FFFF", i % 10_000);
        // The API: JSON refusals once the address has used its minute.
        let mut statuses = Vec::new();
        for i in 0..40 {
            let res = client.post(format!("{}/api/v1/token-status", app.address))
                .header("X-Forwarded-For", "192.0.2.10")
                .json(&serde_json::json!({"token": guess(i)}))
                .send().await.unwrap();
            let status = res.status().as_u16();
            if status == 429 {
                let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(body["error"], "too_many_requests");
            }
            statuses.push(status);
        }
        assert!(statuses[..30].iter().all(|s| *s != 429), "{statuses:?}");
        assert!(statuses[30..].iter().all(|s| *s == 429), "{statuses:?}");
        // Receipts and casting share the API budget of that address.
        let res = client.get(format!("{}/api/v1/receipts/7K2M-9QXR-4HWD-B8NT-C3JF-6YPA-0VSE", app.address))
            .header("X-Forwarded-For", "192.0.2.10").send().await.unwrap();
        assert_eq!(res.status(), 429);
        // Pages: an HTML refusal.
        let mut last = None;
        for i in 0..31 {
            let res = client.get(format!("{}/vote?token={}", app.address, guess(i)))
                .header("X-Forwarded-For", "192.0.2.10").send().await.unwrap();
            last = Some(res);
        }
        let last = last.unwrap();
        assert_eq!(last.status(), 429);
        assert!(last.headers().contains_key("retry-after"));
        assert!(last.text().await.unwrap().contains("Too many requests came from your address"));
        // Another member, from another address, votes as usual; unlimited routes stay open.
        let res = client.post(format!("{}/api/v1/ballots", app.address))
            .header("X-Forwarded-For", "192.0.2.11")
            .json(&serde_json::json!({"token": tokens[0].1, "choice": "yes    "}))
            .send().await.unwrap();
        assert_eq!(res.status(), 200);
        for _ in 0..40 {
            let res = client.get(format!("{}/api/v1/elections/{id}/checkpoint", app.address))
                .header("X-Forwarded-For", "192.0.2.10").send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
    }
}

/// The body length of a form POST as reqwest sends it.
fn form_length(form: &[(&str, &str)]) -> usize {
    reqwest::Client::new()
        .post("http://127.0.0.1/vote")
        .form(form)
        .build()
        .unwrap()
        .body()
        .unwrap()
        .as_bytes()
        .unwrap()
        .len()
}

both_backends! {
    async fn every_choice_travels_in_requests_and_answers_of_one_length(db: &TestDb) {
        let file = db.path("e.toml");
        std::fs::write(&file, definition_toml(&[("600", 3)]).replace("choices = [\"yes\", \"no\"]", "choices = [\"yes\", \"no\", \"abstain\"]")).unwrap();
        let id = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL]).ok().trim().to_owned();
        run_ceremony(db, &id);
        let members: Vec<String> = (0..12).map(|i| format!("M{i:02}")).collect();
        let pairs: Vec<(&str, &str)> = members.iter().map(|m| (m.as_str(), "600")).collect();
        let roster = write_roster(db, "r.csv", &pairs);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        let out = db.path("t.csv");
        sv(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        let tokens: Vec<String> = read_token_csv(&out).into_iter().map(|r| r["token"].clone()).collect();
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        // Two ballots first, so every measured position has two digits.
        for t in &tokens[..2] {
            assert_eq!(app.cast(t, "yes").await.0, 200);
        }

        // The form: what the page submits, and the confirmation page, in both languages.
        let mut next = tokens[2..].iter();
        for lang in ["en", "es"] {
            let mut requests = Vec::new();
            let mut answers = Vec::new();
            let mut redirects = Vec::new();
            for choice in ["yes", "no", "abstain"] {
                let token = next.next().unwrap();
                let client = browser();
                let (_, page) = get(&client, &format!("{}/vote?token={token}&lang={lang}", app.address)).await;
                let at = page.find(&format!("id=\"choice-{choice}\" name=\"choice\" value=\"")).unwrap_or_else(|| panic!("{page}"));
                let rest = &page[at..];
                let start = rest.find("value=\"").unwrap() + 7;
                let value = &rest[start..start + rest[start..].find('"').unwrap()];
                let csrf = csrf_of(&page);
                let form = [("token", token.as_str()), ("csrf", csrf.as_str()), ("lang", lang), ("choice", value)];
                requests.push(form_length(&form));
                let res = client.post(format!("{}/vote", app.address)).form(&form).send().await.unwrap();
                assert_eq!(res.status(), 303, "post-redirect-get");
                let redirect: usize = res.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
                redirects.push(redirect);
                let (_, body) = get(&client, &format!("{}/vote/done?lang={lang}", app.address)).await;
                assert!(body.contains("id=\"receipt\""), "{body}");
                answers.push(body.len());
            }
            assert!(requests.windows(2).all(|w| w[0] == w[1]), "{lang} form requests differ by choice: {requests:?}");
            assert!(answers.windows(2).all(|w| w[0] == w[1]), "{lang} confirmation pages differ by choice: {answers:?}");
            assert!(redirects.windows(2).all(|w| w[0] == w[1]), "{lang} redirects differ by choice: {redirects:?}");
        }

        // The API, with choices padded as documented.
        let mut requests = Vec::new();
        let mut answers = Vec::new();
        for choice in ["yes", "no", "abstain"] {
            let token = next.next().unwrap();
            let body = serde_json::json!({"token": token, "choice": format!("{choice:<7}")});
            requests.push(body.to_string().len());
            let res = app.client.post(format!("{}/api/v1/ballots", app.address)).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let text = res.text().await.unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(json.get("choice").is_none() && json["tracker"].as_str().is_some_and(|t| t.len() == 64), "{json}");
            // The proof's length follows the ballot's position in the tree, not its choice (it
            // is there twice: as hex, and in the tlog-proof).
            answers.push(text.len() - json["inclusion_proof"].to_string().len() - json["tlog_proof"].to_string().len());
        }
        assert!(requests.windows(2).all(|w| w[0] == w[1]), "API requests differ: {requests:?}");
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "API answers differ beyond the proof: {answers:?}");
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Where `needle` occurs in `haystack`, if anywhere.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

both_backends! {
    async fn a_quiet_time_vote_leaves_no_choice_in_the_database_the_wal_the_service_log_or_the_bundle(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 6);
        quiet_time_vote(db, &id, &tokens, None).await;
    }
}

both_backends! {
    async fn with_witnesses_in_the_path_a_quiet_time_vote_leaves_no_choice_or_token_anywhere(db: &TestDb) {
        let w = WitnessProcess::start(db, "w1");
        let (id, tokens) = witnessed_election(db, &[&w], 1, 6);
        quiet_time_vote(db, &id, &tokens, Some(&w)).await;
    }
}

/// Six ballots one at a time (form and API), then every place a choice could linger is
/// searched: database files (WAL too), rows, bundle, the service's trace log — and, when the
/// election has a witness, the witness's own files; then the tellers count them.
async fn quiet_time_vote(
    db: &TestDb,
    id: &str,
    tokens: &[(String, String)],
    witness: Option<&WitnessProcess>,
) {
    {
        let id = id.to_owned();
        sv(db, &["election", "open", &id]).ok();
        let served = serve_process(
            db,
            &["--database-url", &db.url],
            &[("RUST_LOG", "trace".into())],
        );
        let app = served.app();
        let since = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
        // One at a time, as at a quiet hour: every batch holds one ballot.
        let choices = ["yes", "no", "yes", "no", "yes", "yes"];
        for (k, ((_, token), choice)) in tokens.iter().zip(choices).enumerate() {
            if k % 2 == 0 {
                vote_by_form(&app, token, choice).await;
            } else {
                let (status, body) = app.cast(token, choice).await;
                assert_eq!(status, 200, "{body}");
            }
        }
        // What a plain choice would look like anywhere: in a v1 entry, a form body, a column.
        let patterns: [&[u8]; 6] = [
            b"\"choice\":\"yes",
            b"\"choice\":\"no",
            b"\"choice\":",
            b"choice=yes",
            b"choice=no",
            b"choice: Yes",
        ];
        let searched = |what: &str, bytes: &[u8]| {
            for p in patterns {
                assert!(
                    find(bytes, p).is_none(),
                    "{what} holds `{}`",
                    String::from_utf8_lossy(p)
                );
            }
        };
        match db.files_on_disk(since) {
            Some(files) => {
                assert!(!files.is_empty());
                for (path, bytes) in &files {
                    searched(&path.display().to_string(), bytes);
                }
                if db.backend == Backend::Sqlite {
                    assert!(
                        files
                            .iter()
                            .any(|(p, b)| p.to_string_lossy().ends_with("-wal") && !b.is_empty()),
                        "the WAL was searched while it held the ballots"
                    );
                }
            }
            None => eprintln!(
                "the PostgreSQL data directory is not reachable from here: searching its rows only"
            ),
        }
        searched("the database's rows", &db.everything_stored());
        let bundle = export_bundle(db, &id, "bundle");
        searched("the bundle", &bundle.log);
        let logs = served.stop();
        assert!(logs.contains("ballot batch committed"), "{logs}");
        searched("the service's log (trace level)", logs.as_bytes());
        for (_, token) in tokens {
            assert!(!logs.contains(token.as_str()), "the log holds a token");
        }
        if let Some(w) = witness {
            // A witness is shown checkpoints only: sizes and roots, never a ballot or a token.
            let mut seen = 0;
            for entry in walk(&w.dir) {
                let bytes = std::fs::read(&entry).unwrap();
                searched(&entry.display().to_string(), &bytes);
                for (_, token) in tokens {
                    assert!(
                        find(&bytes, token.as_bytes()).is_none(),
                        "{} holds a token",
                        entry.display()
                    );
                }
                seen += 1;
            }
            assert!(
                seen >= 3,
                "the witness's key, configuration and checkpoint were searched"
            );
        }

        if db.backend == Backend::Postgres {
            // The transaction-id join still links each token to the entry written with it — and
            // that entry is a sealed ballot: the link reaches a ciphertext, never a choice.
            use diesel::prelude::*;
            #[derive(diesel::QueryableByName)]
            struct Linked {
                #[diesel(sql_type = diesel::sql_types::Binary)]
                body: Vec<u8>,
            }
            let linked: Vec<Linked> = diesel::sql_query(
                "SELECT l.body FROM tokens t JOIN log_entries l ON t.xmin::text = l.xmin::text \
                 WHERE l.election_id = $1 AND l.kind = 'ballot'",
            )
            .bind::<diesel::sql_types::Text, _>(&id)
            .load(&mut diesel::PgConnection::establish(&db.url).unwrap())
            .unwrap();
            assert_eq!(
                linked.len(),
                6,
                "quiet-time batches: one token per ballot entry"
            );
            for row in linked {
                let entry = strikevote::log::entry::Entry::parse(&row.body).unwrap();
                let strikevote::log::entry::Body::Ballot(ballot) = entry.body else {
                    panic!("not a ballot")
                };
                assert_eq!(ballot.ballot.len(), 2, "one ciphertext per choice");
                searched("a linked entry", &row.body);
            }
        }
        // The choices were there all along, sealed: the tellers open the totals.
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        let results: serde_json::Value =
            serde_json::from_str(&sv(db, &["results", &id, "--json"]).ok()).unwrap();
        assert_eq!(
            results["popular"]["counts"],
            serde_json::json!({"yes": 4, "no": 2, "abstain": 0})
        );
    }
}

both_backends! {
    fn an_api_token_name_with_control_or_invisible_characters_is_refused(db: &TestDb) {
        // Before: any character went into a token name, shown later on the accounts page and
        // in the accounts audit trail (a line break or an escape sequence included).
        official(db, "gina", "admin");
        for (name, named) in [
            ("deploy\u{1b}[2Jbot", "an escape character"),
            ("ci\nrobot", "a line break"),
            ("ci\u{2028}robot", "a line break"),
            ("bot\u{e0041}", "an invisible character"),
        ] {
            let run = sv(db, &["admin", "token", "create", "--username", "gina", "--name", name]);
            assert_eq!(run.code, 1, "{name:?}: {}", run.stdout);
            assert!(run.stderr.contains(&format!("the token name contains {named}")), "{name:?}: {}", run.stderr);
            assert!(!run.stdout.contains("svapi_"), "a token was printed for {name:?}");
        }
        let made = sv(db, &["admin", "token", "create", "--username", "gina", "--name", "nightly export"]);
        assert_eq!(made.code, 0, "{}", made.stderr);
    }
}

both_backends! {
    async fn a_crashed_server_leaves_no_memory_image_on_disk(db: &TestDb) {
        use std::os::unix::process::CommandExt;
        // As the operator's machine might be: core files on (`ulimit -c unlimited`), written
        // into the working directory (`core_pattern` "core" here). The server, holding tokens
        // and choices in memory, is made to crash.
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        command
            .current_dir(db.dir())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &db.url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: only setrlimit between fork and exec, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                let on = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
                let _ = libc::setrlimit(libc::RLIMIT_CORE, &raw const on);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "serve did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
        let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
        assert_eq!(core.split_whitespace().nth(4), Some("0"), "soft limit: {core}");
        assert_eq!(core.split_whitespace().nth(5), Some("0"), "hard limit: {core}");
        let _ = std::process::Command::new("kill").args(["-ABRT", &child.id().to_string()]).status();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the server was aborted");
        let cores: Vec<_> = std::fs::read_dir(db.dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("core"))
            .collect();
        assert!(cores.is_empty(), "core files written: {cores:?}");
    }
}

/// Every writable mapping of process `pid`'s memory (what `gcore` would save), read through
/// /proc as the machine's root can.
fn memory_image(pid: u32) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut image = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
        if !perms.starts_with("rw") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let mut chunk = vec![0; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut chunk).is_ok() {
            image.extend_from_slice(&chunk);
        }
    }
    image
}

fn occurs(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

crate::both_backends! {
    async fn the_server_wipes_what_members_sent_once_it_is_used(db: &TestDb) {
        // As the operator would look: a memory image of the running server taken right after
        // a vote, searched for the request bodies members sent — their tokens with their plain
        // choices (pages without JavaScript, API clients sending a choice), and the token-status
        // checks.
        let (id, tokens) = crate::helpers::prepared_election(db, 40);
        sv(db, &["election", "open", &id]).ok();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_strikevote"))
            .current_dir(db.dir())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--database-url", &db.url])
            .env("STRIKEVOTE_RATE_LIMIT_PER_MINUTE", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "serve did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for (k, (_, token)) in tokens.iter().enumerate() {
            let choice = if k % 2 == 0 { "yes    " } else { "no     " };
            if k % 4 < 2 {
                // The form, as a page without JavaScript posts it.
                let client = browser();
                let (_, page) = get(&client, &format!("{address}/vote?token={token}")).await;
                let csrf = csrf_of(&page);
                let body = format!("token={token}&choice={}&csrf={csrf}", choice.replace(' ', "+"));
                let res = client.post(format!("{address}/vote")).header("content-type", "application/x-www-form-urlencoded").body(body.clone()).send().await.unwrap();
                assert_eq!(res.status(), 303);
                sent.push(body.into_bytes());
            } else {
                let body = serde_json::json!({"token": token, "choice": choice}).to_string();
                let res = reqwest::Client::new().post(format!("{address}/api/v1/ballots")).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
                assert_eq!(res.status(), 200);
                sent.push(body.into_bytes());
            }
            let status = serde_json::json!({"token": token}).to_string();
            let res = reqwest::Client::new().post(format!("{address}/api/v1/token-status")).header("content-type", "application/json").body(status.clone()).send().await.unwrap();
            assert_eq!(res.status(), 200);
            sent.push(status.into_bytes());
        }
        // Other visitors come by, as on any live server: the HTTP layer reuses a buffer per
        // worker, which holds the last request each worker read until its next one.
        for _ in 0..10 {
            let _ = reqwest::Client::new().get(format!("{address}/healthz")).send().await.unwrap().text().await;
        }
        // A connection's read buffer lives until the connection ends (the server closes an idle
        // one after 5 s); once it is freed, what it held is gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let kept = loop {
            let image = memory_image(child.id());
            assert!(image.len() > 1 << 20, "a memory image was read: {} bytes", image.len());
            // The search itself works: the election's id is in the server's memory.
            assert!(occurs(&image, id.as_bytes()));
            let kept: Vec<String> = sent.iter().enumerate().filter(|(_, b)| occurs(&image, b)).map(|(k, b)| format!("#{k} {}", String::from_utf8_lossy(b))).collect();
            if kept.is_empty() || std::time::Instant::now() > deadline {
                break kept;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(kept.is_empty(), "{} of {} request bodies are still in the server's memory: {kept:?}", kept.len(), sent.len());
    }
}
