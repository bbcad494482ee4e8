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

/// The `admin` entries of the election's log: (action, by, approved_by).
fn admin_entries(db: &TestDb, id: &str, name: &str) -> Vec<(String, String, Option<String>)> {
    let bundle = export_bundle(db, id, name);
    strikevote::audit::verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key)
        .expect("the log verifies");
    bundle
        .log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|line| match Entry::parse(line).unwrap().body {
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
        assert!(pending[1].1.contains("close the vote now"), "{pending:?}");
        assert!(page.contains("(another admin must approve)"), "alice gets no Approve button for her own");

        // Alice cannot approve her own request, even by posting the form.
        let csrf = csrf_of(&page);
        let (status, page) = post(&a, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[1].0), ("decision", "approve")]).await;
        assert_eq!(status, 409);
        assert!(page.contains("a different admin must approve it"), "{page}");
        let (_, shown) = app.get_json_as(&format!("/api/v1/elections/{id}"), &alice).await;
        assert_eq!(shown["state"], "open");

        // Bob approves the reissue: he gets the new token; the old one is revoked.
        let b = signed_in(&app, "bob").await;
        let (_, page) = get(&b, &dashboard).await;
        assert!(page.contains("<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>"), "{page}");
        let csrf = csrf_of(&page);
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve")]).await;
        assert_eq!(status, 200, "{page}");
        let fresh = page.split("<code id=\"new-token\">").nth(1).and_then(|r| r.split("</code>").next()).unwrap().to_owned();
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": m1})).await;
        assert_eq!(st["status"], "revoked");
        let (_, st) = app.post_json("/api/v1/token-status", &serde_json::json!({"token": fresh})).await;
        assert_eq!(st["status"], "not_used");
        // Approving it twice does nothing more.
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[0].0), ("decision", "approve")]).await;
        assert_eq!(status, 404);
        assert!(page.contains("no such action is waiting"), "{page}");

        // Bob approves the close.
        let (status, page) = post(&b, &format!("{dashboard}/pending"), &[("csrf", &csrf), ("pending", &pending[1].0), ("decision", "approve")]).await;
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
        let (status, page) = post(&a, &format!("{dashboard}/reissue-all"), &[("csrf", &csrf)]).await;
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
        let (_, page) = post(&a, &format!("{dashboard}/reissue-all"), &[("csrf", &csrf)]).await;
        let pending = pending_of(&page);
        let b = signed_in(&app, "bob").await;
        let (_, page) = get(&b, &dashboard).await;
        let csrf = csrf_of(&page);
        let res = b.post(format!("{dashboard}/pending")).form(&[("csrf", csrf.as_str()), ("pending", pending[0].0.as_str()), ("decision", "approve")]).send().await.unwrap();
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
