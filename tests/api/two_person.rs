//! The two-person rule: while a vote is open, closing it early, reissuing a token and replacing
//! every unused token wait for a second admin, who approves on the dashboard; the log's
//! `admin` entry then names both. An election may turn the rule off in its definition.

use crate::both_backends;
use crate::helpers::*;
use strikevote::log::entry::{Body, Entry};

/// The pending actions on a dashboard: (id, what it does).
fn pending_of(page: &str) -> Vec<(String, String)> {
    let Some(list) = page.split("<ul id=\"pending\">").nth(1) else {
        return Vec::new();
    };
    let list = list.split("</ul>").next().unwrap();
    list.split("<li>")
        .skip(1)
        .map(|item| {
            let what = item
                .split("<strong>")
                .nth(1)
                .unwrap()
                .split("</strong>")
                .next()
                .unwrap()
                .to_owned();
            let id = item
                .split("name=\"pending\" value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned();
            (id, what)
        })
        .collect()
}

/// Every entry of the election's exported log, which must verify.
fn verified_bodies(db: &TestDb, id: &str, name: &str) -> Vec<Body> {
    let bundle = export_bundle(db, id, name);
    strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key)
        .expect("the log verifies");
    bundle
        .log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| Entry::parse(line).unwrap().body)
        .collect()
}

/// The `account` entries of the election's log: (action, account, by, approved_by).
fn account_entries(
    db: &TestDb,
    id: &str,
    name: &str,
) -> Vec<(String, String, String, Option<String>)> {
    verified_bodies(db, id, name)
        .into_iter()
        .filter_map(|body| match body {
            Body::Account(c) => {
                Some((c.action.as_str().to_owned(), c.account, c.by, c.approved_by))
            }
            _ => None,
        })
        .collect()
}

/// The `admin` entries of the election's log: (action, by, approved_by).
fn admin_entries(db: &TestDb, id: &str, name: &str) -> Vec<(String, String, Option<String>)> {
    verified_bodies(db, id, name)
        .into_iter()
        .filter_map(|body| match body {
            Body::Admin(a) => Some((a.action.to_string(), a.by, a.approved_by)),
            _ => None,
        })
        .collect()
}

both_backends! {
    async fn closing_early_and_reissuing_wait_for_a_second_admin_and_the_log_names_both(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 6);
        let alice = official(db, "alice", "admin");
        official(db, "bob", "admin");
        let app = spawn_app(db).await;
        let api = |path: &str| format!("{}/api/v1/elections/{id}{path}", app.address);
        let dashboard = format!("{}/admin/elections/{id}", app.address);

        // A draft: one admin reissues at once (the rule covers an open vote).
        let res = app.client.post(api("/tokens/reissue")).bearer_auth(&alice).json(&serde_json::json!({"member": "M0"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        sv(db, &["election", "open", &id]).ok();
        let m1 = tokens.iter().find(|(m, _)| m == "M1").unwrap().1.clone();

        // Open: alice's reissue and early close wait, and nothing changes.
        let res = app.client.post(api("/tokens/reissue")).bearer_auth(&alice).json(&serde_json::json!({"member": "M1"})).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let waiting: serde_json::Value = res.json().await.unwrap();
        assert_eq!(waiting["pending"]["action"], "token_reissue", "{waiting}");
        assert_eq!(waiting["pending"]["member"], "M1");
        assert_eq!(waiting["pending"]["requested_by"], "alice");
        assert!(waiting["message"].as_str().unwrap().contains("second admin"), "{waiting}");
        assert!(waiting.get("token").is_none(), "no token before approval");
        let res = app.client.post(api("/close")).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": m1})).await;
        assert_eq!(st["status"], "not_used", "the old token still works until approval");
        let (_, shown) = app.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!(shown["state"], "open");

        // Asking again is the same pending action.
        let res = app.client.post(api("/close")).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let a = signed_in(&app, "alice").await;
        let (_, page) = get(&a, &dashboard).await;
        let pending = pending_of(&page);
        assert_eq!(pending.len(), 2, "{page}");
        assert!(pending[0].1.contains("reissue the token of member M1"), "{pending:?}");
        assert!(pending[0].1.contains("local 700)"), "whose token it is, as the roster says: {pending:?}");
        assert!(pending[1].1.contains("close the vote now"), "{pending:?}");
        assert!(page.contains("(another admin must approve)"), "alice gets no Approve button for her own");
        // The list of elections tells bob, not alice, that two requests wait for him.
        let (_, list) = get(&a, &format!("{}/admin", app.address)).await;
        assert!(!list.contains("id=\"waiting\""), "alice's own requests do not wait for her: {list}");
        let (_, list) = get(&signed_in(&app, "bob").await, &format!("{}/admin", app.address)).await;
        assert!(list.contains("Waiting for your approval") && list.contains(&format!("<a href=\"/admin/elections/{id}#pending-heading\">")) && list.contains("): 2 requests</li>"), "{list}");

        // Alice cannot approve her own request, even by posting the form.
        let csrf = csrf_of(&page);
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[1].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 409);
        assert!(page.contains("a different admin must approve it"), "{page}");
        let (_, shown) = app.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!(shown["state"], "open");

        // Bob approves the reissue. He does not see the new token: the approval waits for
        // alice, who asked, and both pages say so.
        let b = signed_in(&app, "bob").await;
        let (_, page) = get(&b, &dashboard).await;
        assert!(page.contains("<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>"), "{page}");
        let csrf = csrf_of(&page);
        // Without his password again (someone at his unlocked screen), nothing is approved.
        for password in ["", "not bob's password at all"] {
            let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve"), ("password", password)]).await;
            assert_eq!(status, 401, "{page}");
            assert!(!page.contains("Approved by bob"), "{page}");
        }
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Approved: reissue the token of member M1. alice carries it out"), "{page}");
        assert!(!page.contains("new-token") && !page.contains("SV-"), "the approver never sees the token: {page}");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": m1})).await;
        assert_eq!(st["status"], "not_used", "nothing is done until alice carries it out");
        assert!(page.contains("alice carries it out and alone sees the new token(s)"), "{page}");
        // Approving it twice does nothing more; bob cannot carry it out either.
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 409);
        assert!(page.contains("bob approved this already"), "{page}");
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "carry_out"), ("password", PASSWORD)]).await;
        assert_eq!(status, 403);
        assert!(page.contains("only alice carries this out"), "{page}");
        // Alice is told, warned, and carries it out: the new token is shown to her, once.
        let (_, page) = get(&a, &dashboard).await;
        assert!(page.contains("<strong>Approved by bob</strong>") && page.contains("do not share your screen"), "{page}");
        let csrf_a = csrf_of(&page);
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf_a), ("pending", &pending[0].0), ("decision", "carry_out"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        let fresh = page.split("<code id=\"new-token\">").nth(1).and_then(|r| r.split("</code>").next()).unwrap().to_owned();
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": m1})).await;
        assert_eq!(st["status"], "revoked");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": fresh})).await;
        assert_eq!(st["status"], "not_used");
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf_a), ("pending", &pending[0].0), ("decision", "carry_out"), ("password", PASSWORD)]).await;
        assert_eq!(status, 404, "once only");
        assert!(page.contains("no such action is waiting"), "{page}");

        // Bob approves the close.
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[1].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Approved: the vote is closed (asked for by alice)."), "{page}");
        assert!(page.contains("close by alice, approved by bob"), "{page}");
        let (_, shown) = app.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!(shown["state"], "closed");
        assert!(pending_of(&get(&b, &dashboard).await.1).is_empty());

        let admin = admin_entries(db, &id, "two-person");
        assert!(admin.contains(&("token_reissue".into(), "alice".into(), None)), "the draft's reissue: {admin:?}");
        assert!(admin.contains(&("token_reissue".into(), "alice".into(), Some("bob".into()))), "{admin:?}");
        assert!(admin.contains(&("close".into(), "alice".into(), Some("bob".into()))), "{admin:?}");
    }
}

both_backends! {
    async fn a_pending_action_can_be_cancelled_and_replacing_every_token_waits_too(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 3);
        official(db, "alice", "admin");
        official(db, "bob", "admin");
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let dashboard = format!("{}/admin/elections/{id}", app.address);
        let a = signed_in(&app, "alice").await;
        let (_, page) = get(&a, &format!("{dashboard}/reissue-all")).await;
        let csrf = csrf_of(&page);
        let (status, page) = post(&a, &format!("{dashboard}/reissue-all"), &[("csrf", &csrf), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Waiting for a second admin: replace every unused token"), "{page}");
        for (_, token) in &tokens {
            let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": token})).await;
            assert_eq!(st["status"], "not_used");
        }
        let pending = pending_of(&page);
        assert_eq!(pending.len(), 1, "{page}");

        // Alice thinks better of it; nothing was done, nothing is logged.
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "cancel")]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Cancelled: replace every unused token"), "{page}");
        assert!(pending_of(&page).is_empty());
        let admin = admin_entries(db, &id, "cancelled");
        assert!(!admin.iter().any(|(action, _, _)| action == "tokens_reissue_all"), "{admin:?}");

        // Asked again and approved by bob: the mailing file, and both names in the log.
        let (_, page) = post(&a, &format!("{dashboard}/reissue-all"), &[("csrf", &csrf), ("password", PASSWORD)]).await;
        let pending = pending_of(&page);
        let b = signed_in(&app, "bob").await;
        let (_, page) = get(&b, &dashboard).await;
        let csrf = csrf_of(&page);
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(!page.contains("SV-"), "{page}");
        let (_, page) = get(&a, &dashboard).await;
        let csrf = csrf_of(&page);
        let res = a.post(format!("{dashboard}/pending")).form(&[("csrf", csrf.as_str()), ("pending", pending[0].0.as_str()), ("decision", "carry_out"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-strikevote-issued"], "3");
        for (_, token) in &tokens {
            let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": token})).await;
            assert_eq!(st["status"], "revoked");
        }
        let admin = admin_entries(db, &id, "approved");
        assert!(admin.contains(&("tokens_reissue_all".into(), "alice".into(), Some("bob".into()))), "{admin:?}");
    }
}

both_backends! {
    async fn an_election_may_turn_the_rule_off_and_entry_0_says_so(db: &TestDb) {
        let definition = definition_toml(&[("600", 2)]).replace("tellers = {", "two_person_rule = false\ntellers = {");
        let id = create_election_from(db, &definition);
        run_ceremony(db, &id);
        let roster = write_roster(db, "roster.csv", &[("M1", "600"), ("M2", "600")]);
        sv(db, &["roster", "import", "--election", &id, &roster]).ok();
        issue_tokens(db, &id);
        sv(db, &["election", "open", &id]).ok();
        let alice = official(db, "alice", "admin");
        let app = spawn_app(db).await;
        let res = app.client.post(format!("{}/api/v1/elections/{id}/close", app.address)).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let closed: serde_json::Value = res.json().await.unwrap();
        assert_eq!(closed["state"], "closed", "{closed}");
        let bundle = export_bundle(db, &id, "off");
        let entry0 = String::from_utf8(bundle.log.split(|b| *b == b'\n').next().unwrap().to_vec()).unwrap();
        assert!(entry0.contains("\"two_person_rule\":false"), "{entry0}");
        assert!(admin_entries(db, &id, "off2").contains(&("close".into(), "alice".into(), None)));

        // With the rule on (the default), entry 0 does not carry the field.
        let on = create_election_only(db);
        let bundle = export_bundle(db, &on, "on");
        let entry0 = String::from_utf8(bundle.log.split(|b| *b == b'\n').next().unwrap().to_vec()).unwrap();
        assert!(!entry0.contains("two_person_rule"), "{entry0}");
    }
}

both_backends! {
    async fn an_admin_account_made_during_the_vote_waits_for_a_second_admin_and_then_neither_asks_nor_approves(db: &TestDb) {
        // The sock puppet: alice makes a second admin account once the vote is open, to ask
        // for a reissue and approve it as the puppet. On the old code the account was made at
        // once and the log said nothing of it.
        let (id, tokens) = prepared_election(db, 3);
        official(db, "alice", "admin");
        official(db, "bob", "admin");
        sv(db, &["election", "open", &id]).ok();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let app = spawn_app(db).await;
        let dashboard = format!("{}/admin/elections/{id}", app.address);
        let accounts = format!("{}/admin/accounts", app.address);
        let a = signed_in(&app, "alice").await;
        let (_, page) = get(&a, &accounts).await;
        let csrf = csrf_of(&page);
        let puppet = [("csrf", csrf.as_str()), ("action", "create_account"), ("username", "sockpuppet"), ("password", PASSWORD), ("role", "admin")];
        let (status, page) = post(&a, &accounts, &puppet).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("a second admin must approve this (create the admin account sockpuppet)"), "{page}");
        assert!(!page.contains(PASSWORD), "{page}");
        // Not made yet: the puppet cannot sign in.
        assert!(!sv(db, &["admin", "list"]).ok().contains("sockpuppet"));
        // It waits on the dashboard; alice cannot approve her own request.
        let (_, page) = get(&a, &dashboard).await;
        let pending = pending_of(&page);
        assert_eq!(pending.len(), 1, "{page}");
        assert!(pending[0].1.contains("create the admin account sockpuppet"), "{pending:?}");
        let csrf = csrf_of(&page);
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 409, "{page}");
        // bob approves: the account is made, and every running election's log says so.
        let b = signed_in(&app, "bob").await;
        let (_, page) = get(&b, &dashboard).await;
        let csrf_b = csrf_of(&page);
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf_b), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Approved: the admin account sockpuppet is created (asked for by alice)."), "{page}");
        // (The console made alice's and bob's accounts before the vote opened: logged too.)
        let made: Vec<_> = account_entries(db, &id, "puppet-made").into_iter().filter(|(_, _, by, _)| !by.starts_with("cli:")).collect();
        assert_eq!(made, vec![("create".to_owned(), "sockpuppet".to_owned(), "alice".to_owned(), Some("bob".to_owned()))]);
        // The puppet, made during the vote, neither approves alice's reissue nor asks.
        let (_, page) = get(&a, &dashboard).await;
        let csrf = csrf_of(&page);
        let (status, page) = post(&a, &format!("{dashboard}/reissue"), &[("csrf", &csrf), ("member", "M1"), ("confirm", "yes"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{page}");
        let pending = pending_of(&page);
        assert_eq!(pending.len(), 1, "{page}");
        let s = signed_in(&app, "sockpuppet").await;
        let (_, page) = get(&s, &dashboard).await;
        let csrf = csrf_of(&page);
        let (status, page) = post(&s, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("the account `sockpuppet` was made after this vote opened"), "{page}");
        let (_, page) = get(&s, &dashboard).await;
        let csrf = csrf_of(&page);
        let (status, page) = post(&s, &format!("{dashboard}/reissue"), &[("csrf", &csrf), ("member", "M2"), ("confirm", "yes"), ("password", PASSWORD)]).await;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("was made after this vote opened"), "{page}");
        let m1 = tokens.iter().find(|(m, _)| m == "M1").unwrap().1.clone();
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": m1})).await;
        assert_eq!(st["status"], "not_used");
        assert!(!admin_entries(db, &id, "puppet").iter().any(|(_, _, second)| second.is_some()));
    }
}

both_backends! {
    async fn an_admins_api_token_during_the_vote_waits_and_only_its_asker_sees_it(db: &TestDb) {
        // A stolen session makes a lasting API token: while the vote is open that needs a
        // second admin, and the token goes to the admin it is for, once.
        let (id, _) = prepared_election(db, 3);
        let alice_api = official(db, "alice", "admin");
        let bob = official(db, "bob", "admin");
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let dashboard = format!("{}/admin/elections/{id}", app.address);
        let accounts = format!("{}/admin/accounts", app.address);
        let a = signed_in(&app, "alice").await;
        let (_, page) = get(&a, &accounts).await;
        let csrf = csrf_of(&page);
        let make = [("csrf", csrf.as_str()), ("action", "create_token"), ("username", "alice"), ("name", "ci")];
        let (status, page) = post(&a, &accounts, &make).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("a second admin must approve this"), "{page}");
        assert!(!page.contains("svapi_"), "no token before approval: {page}");
        // An observer's account needs no approval, and the log says who made it.
        let observer = [("csrf", csrf.as_str()), ("action", "create_account"), ("username", "oscar"), ("password", PASSWORD), ("role", "observer")];
        let (status, page) = post(&a, &accounts, &observer).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Account oscar (observer) created."), "{page}");
        // bob approves from the API; the token waits for alice.
        let (_, page) = get(&a, &dashboard).await;
        let pending = pending_of(&page);
        assert_eq!(pending.len(), 1, "{page}");
        let decide = |token: &str, decision: &str| {
            app.client
                .post(format!("{}/api/v1/elections/{id}/pending/{}", app.address, pending[0].0))
                .bearer_auth(token.to_owned())
                .json(&serde_json::json!({"decision": decision, "password": PASSWORD}))
                .send()
        };
        let res = decide(&bob, "approve").await.unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body.get("api_token").is_none(), "the approver never sees it: {body}");
        // Only alice carries it out, and sees it once.
        let res = decide(&bob, "carry_out").await.unwrap();
        assert_eq!(res.status(), 403);
        let res = decide(&alice_api, "carry_out").await.unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        let token = body["api_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("svapi_"), "{body}");
        let res = app.client.get(format!("{}/api/v1/elections/{id}/turnout", app.address)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200, "the new token works");
        let res = decide(&alice_api, "carry_out").await.unwrap();
        assert_eq!(res.status(), 404, "once");
        let changes: Vec<_> = account_entries(db, &id, "token").into_iter().filter(|(_, _, by, _)| !by.starts_with("cli:")).collect();
        assert_eq!(
            changes,
            vec![
                ("create".to_owned(), "oscar".to_owned(), "alice".to_owned(), None),
                ("api_token_create".to_owned(), "alice".to_owned(), "alice".to_owned(), Some("bob".to_owned())),
            ]
        );
    }
}

both_backends! {
    async fn console_account_changes_are_in_every_running_log_and_a_certified_one_is_left_alone(db: &TestDb) {
        // A certified election: its log is finished, and takes no more entries.
        let (done, tokens) = prepared_election(db, 2);
        sv(db, &["election", "open", &done]).ok();
        cast_directly(db, &tokens[0].1);
        sv(db, &["election", "close", &done]).ok();
        decrypt(db, &done);
        sv(db, &["election", "certify", &done]).ok();
        let certified_size = show(db, &done)["log_size"].clone();
        let (running, _) = prepared_election(db, 2);
        official(db, "alice", "admin");
        sv(db, &["election", "open", &running]).ok();
        create_account(db, "late", "admin", PASSWORD).ok();
        sv(db, &["admin", "disable", "--username", "late"]).ok();
        let changes = account_entries(db, &running, "console");
        let console = changes.iter().filter(|(_, _, by, _)| by.starts_with("cli:")).count();
        assert!(changes.contains(&("create".to_owned(), "late".to_owned(), changes[0].2.clone(), None)), "{changes:?}");
        assert!(changes.iter().any(|(action, account, _, _)| action == "disable" && account == "late"), "{changes:?}");
        assert_eq!(console, changes.len(), "the test's accounts are made from the console: {changes:?}");
        // No secret in the log: no password, no token, no token name.
        let bundle = export_bundle(db, &running, "console-secrets");
        let log = String::from_utf8(bundle.log).unwrap();
        assert!(!log.contains(PASSWORD) && !log.contains("svapi_") && !log.contains("\"tests\""), "{log}");
        assert_eq!(show(db, &done)["log_size"], certified_size);
        assert!(account_entries(db, &done, "certified").iter().all(|(_, account, _, _)| account != "late"));
    }
}

both_backends! {
    async fn an_admin_makes_no_api_token_for_another_admin(db: &TestDb) {
        // With a token for gina, alice could ask as gina and approve as herself.
        official(db, "alice", "admin");
        official(db, "gina", "admin");
        let app = spawn_app(db).await;
        let a = signed_in(&app, "alice").await;
        let accounts = format!("{}/admin/accounts", app.address);
        let (_, page) = get(&a, &accounts).await;
        let csrf = csrf_of(&page);
        let make = [("csrf", csrf.as_str()), ("action", "create_token"), ("username", "gina"), ("name", "for gina")];
        let (status, page) = post(&a, &accounts, &make).await;
        assert_eq!(status, 403, "{page}");
        assert!(page.contains("you may create API tokens only for your own account (alice)"), "{page}");
        assert!(!page.contains("svapi_"), "{page}");
        let (_, page) = get(&a, &accounts).await;
        assert!(!page.contains("gina/for gina"), "no token was made: {page}");
        let mine = [("csrf", csrf.as_str()), ("action", "create_token"), ("username", "alice"), ("name", "mine")];
        let (status, page) = post(&a, &accounts, &mine).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("svapi_"), "{page}");
    }
}

both_backends! {
    async fn an_approval_whose_action_fails_is_kept_not_lost(db: &TestDb) {
        // Approved, then the member votes with the old token before alice carries it out: the
        // reissue is refused, and the approval and the old token stand as they were.
        let (id, tokens) = prepared_election(db, 3);
        official(db, "alice", "admin");
        official(db, "bob", "admin");
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let dashboard = format!("{}/admin/elections/{id}", app.address);
        let a = signed_in(&app, "alice").await;
        let (_, page) = get(&a, &dashboard).await;
        let csrf = csrf_of(&page);
        let (_, page) = post(&a, &format!("{dashboard}/reissue"), &[("csrf", &csrf), ("member", "M1"), ("confirm", "yes"), ("password", PASSWORD)]).await;
        let pending = pending_of(&page);
        let b = signed_in(&app, "bob").await;
        let (_, page) = get(&b, &dashboard).await;
        let csrf_b = csrf_of(&page);
        let (status, _) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf_b), ("pending", &pending[0].0), ("decision", "approve"), ("password", PASSWORD)]).await;
        assert_eq!(status, 200);
        let m1 = tokens.iter().find(|(m, _)| m == "M1").unwrap().1.clone();
        let (status, _) = app.cast(&m1, "yes").await;
        assert_eq!(status, 200);
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "carry_out"), ("password", PASSWORD)]).await;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("has already cast a ballot"), "{page}");
        let (_, page) = get(&a, &dashboard).await;
        assert!(page.contains("<strong>Approved by bob</strong>"), "the approval is kept: {page}");
        assert_eq!(pending_of(&page).len(), 1);
        assert!(!admin_entries(db, &id, "failed").iter().any(|(action, _, _)| action == "token_reissue"));
    }
}

both_backends! {
    async fn approving_carrying_out_and_cancelling_work_from_the_api_too(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 4);
        let alice = official(db, "alice", "admin");
        let bob = official(db, "bob", "admin");
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let api = |path: &str| format!("{}/api/v1/elections/{id}{path}", app.address);
        let decide = |pending: &str, token: &str, decision: &str| {
            app.client.post(api(&format!("/pending/{pending}"))).bearer_auth(token).json(&serde_json::json!({"decision": decision, "password": PASSWORD})).send()
        };

        // A reissue: bob approves and gets no token; alice carries it out and gets it.
        let res = app.client.post(api("/tokens/reissue")).bearer_auth(&alice).json(&serde_json::json!({"member": "M1"})).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let asked: serde_json::Value = res.json().await.unwrap();
        let reissue = asked["pending"]["id"].as_str().unwrap().to_owned();
        // A stolen API token alone approves nothing: the password is asked again.
        let res = app.client.post(api(&format!("/pending/{reissue}"))).bearer_auth(&bob).json(&serde_json::json!({"decision": "approve"})).send().await.unwrap();
        assert_eq!(res.status(), 401);
        let res = decide(&reissue, &bob, "approve").await.unwrap();
        assert_eq!(res.status(), 200);
        let said: serde_json::Value = res.json().await.unwrap();
        assert!(said.get("reissued").is_none(), "{said}");
        assert!(said["message"].as_str().unwrap().contains("alice carries it out"), "{said}");
        let (status, listed) = app.get_json_as(&format!("/api/v1/elections/{id}/pending"), &bob).await;
        assert_eq!(status, 200);
        assert_eq!(listed["pending"][0]["approved_by"], "bob", "{listed}");
        let res = decide(&reissue, &bob, "carry_out").await.unwrap();
        assert_eq!(res.status(), 403);
        let res = decide(&reissue, &alice, "carry_out").await.unwrap();
        assert_eq!(res.status(), 200);
        let got: serde_json::Value = res.json().await.unwrap();
        let fresh = got["reissued"]["token"].as_str().unwrap().to_owned();
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": fresh})).await;
        assert_eq!(st["status"], "not_used");
        let m1 = tokens.iter().find(|(m, _)| m == "M1").unwrap().1.clone();
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": m1})).await;
        assert_eq!(st["status"], "revoked");

        // An early close: asked, cancelled, asked again, approved by bob — closed at once.
        let res = app.client.post(api("/close")).bearer_auth(&alice).send().await.unwrap();
        let asked: serde_json::Value = res.json().await.unwrap();
        let close = asked["pending"]["id"].as_str().unwrap().to_owned();
        let res = decide(&close, &alice, "approve").await.unwrap();
        assert_eq!(res.status(), 409);
        let res = decide(&close, &bob, "cancel").await.unwrap();
        assert_eq!(res.status(), 200);
        let res = decide(&close, &bob, "approve").await.unwrap();
        assert_eq!(res.status(), 404);
        let res = app.client.post(api("/close")).bearer_auth(&alice).send().await.unwrap();
        let asked: serde_json::Value = res.json().await.unwrap();
        let close = asked["pending"]["id"].as_str().unwrap().to_owned();
        let res = decide(&close, &bob, "approve").await.unwrap();
        assert_eq!(res.status(), 200);
        let (_, shown) = app.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!(shown["state"], "closed");
        let admin = admin_entries(db, &id, "api");
        assert!(admin.contains(&("token_reissue".into(), "alice".into(), Some("bob".into()))), "{admin:?}");
        assert!(admin.contains(&("close".into(), "alice".into(), Some("bob".into()))), "{admin:?}");
        // The approval and the close commit in one (nested) log transaction: the head it signed
        // is recorded beside the key, so a restart accepts the database, and a restored older
        // copy would be refused.
        let entries = export_bundle(db, &id, "heads").log.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
        let store = strikevote::log::heads::HeadStore::open(&strikevote::log::heads::dir_for_key(&db.path("strikevote.key"))).unwrap();
        let election = strikevote::election::ElectionId::parse(&id).unwrap();
        assert_eq!(store.recorded(election).unwrap().map(|h| h.size), Some(entries));
        let again = spawn_app(db).await;
        let (status, shown) = again.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!((status, shown["state"].as_str()), (200, Some("closed")), "{shown}");
    }
}
