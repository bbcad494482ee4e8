//! "Check it first" (a Benaloh challenge), and which sealing code sealed each ballot (log format
//! v7), played with the page's own code (the served bytes under node) against a live server:
//! a checked ballot shows what it held, is logged so that anyone can re-seal it and can never
//! be cast; a challenge that does not hold is refused and logs nothing; the log names every
//! sealing code before the first ballot it sealed — also the code of a server that started
//! serving another version while the vote was open.

use base64::Engine;
use diesel::prelude::*;
use serde_json::{Value, json};
use strikevote_core::ElectionId;
use strikevote_core::crypto::PublicKey;

use crate::helpers::{TestApp, TestDb};
use crate::sealing::{Page, key_from_log};

/// The election key as a member's page reads it: base64url of its 32 bytes.
fn key_text(key: &PublicKey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// What the page seals for option `choice` of 2 in `local`: ballot, tracker and secrets.
fn page_seal(page: &mut Page, key: &str, id: &str, local: &str, choice: usize) -> Value {
    page.ask(json!({"op": "seal", "key": key, "election": id, "local": local, "options": 2, "choice": choice}))
}

/// The code this server serves, as its header names it.
async fn served_code(app: &TestApp) -> String {
    let res = app
        .client
        .get(format!("{}/static/sealing.js", app.address))
        .send()
        .await
        .unwrap();
    res.headers()["x-sealing-code-sha256"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every entry of the election's log, parsed (as far as its latest checkpoint).
async fn log_entries(app: &TestApp, id: &str) -> Vec<Value> {
    let (_, checkpoint) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let (status, text) = app
        .get(&format!(
            "/api/v1/elections/{id}/entries?start=0&end={size}"
        ))
        .await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// The election's log entries of `kind`.
async fn entries_of(app: &TestApp, id: &str, kind: &str) -> Vec<Value> {
    log_entries(app, id)
        .await
        .into_iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

fn token_of(tokens: &[(String, String)], member: &str) -> String {
    tokens.iter().find(|(m, _)| m == member).unwrap().1.clone()
}

/// The body of a challenge of what `sealed` (the page's answer) holds, naming `code`.
fn challenge_body(token: &str, sealed: &Value, choice: &str, code: &str) -> Value {
    json!({
        "token": token,
        "tracker": sealed["tracker"],
        "choice": choice,
        "randomness": sealed["secrets"]["randomness"],
        "sealing_code": code,
    })
}

crate::both_backends! {
    async fn a_checked_ballot_shows_what_it_held_is_logged_for_anyone_and_can_never_be_cast(db: &TestDb) {
        let (id, tokens) = crate::helpers::prepared_election(db, 3);
        crate::helpers::sv(db, &["election", "open", &id]).ok();
        let app = crate::helpers::spawn_app(db).await;
        let code = served_code(&app).await;
        let key = key_text(&key_from_log(db, &id));
        let mut page = Page::start();
        let m1 = token_of(&tokens, "M1"); // local 700
        // The page seals "no"; the member checks it first.
        let checked = page_seal(&mut page, &key, &id, "700", 1);
        let (status, answer) = app.post_json("/api/v1/challenges", &challenge_body(&m1, &checked, "no", &code)).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!((answer["choice"].as_str(), answer["local"].as_str()), (Some("no"), Some("700")));
        assert_eq!(answer["tracker"], checked["tracker"]);
        assert_eq!(answer["checks_left"], 4);
        // The log holds it, in the form anyone re-seals: no member, no token.
        let index = answer["leaf_index"].as_u64().unwrap();
        let (_, line) = app.get(&format!("/api/v1/elections/{id}/entries?start={index}&end={}", index + 1)).await;
        let entry: Value = serde_json::from_str(line.trim_end()).unwrap();
        let fields: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, ["v", "type", "election", "local", "sealing_code", "tracker", "choice", "randomness"]);
        assert_eq!((entry["type"].as_str(), entry["sealing_code"].as_str()), (Some("challenge"), Some(code.as_str())));
        // The token is still unused; the checked ballot itself can never be cast, nor checked again.
        let (_, status_answer) = app.post_json("/api/v1/token-status", &json!({"token": m1})).await;
        assert_eq!(status_answer["status"], "not_used");
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "ballot": checked["ballot"], "sealing_code": code})).await;
        assert_eq!((status, cast["error"].as_str()), (409, Some("ballot_seen")), "{cast}");
        let (status, again) = app.post_json("/api/v1/challenges", &challenge_body(&m1, &checked, "no", &code)).await;
        assert_eq!((status, again["error"].as_str()), (409, Some("ballot_seen")), "{again}");
        // The member seals again and casts; another member's page has no JavaScript.
        let cast_one = page_seal(&mut page, &key, &id, "700", 0);
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "ballot": cast_one["ballot"], "sealing_code": code})).await;
        assert_eq!(status, 200, "{cast}");
        let (status, _) = app.cast(&token_of(&tokens, "M2"), "yes").await;
        assert_eq!(status, 200);
        let ballots = entries_of(&app, &id, "ballot").await;
        let sealers: Vec<(&str, Value)> = ballots.iter().map(|b| (b["sealed_by"].as_str().unwrap(), b["sealing_code"].clone())).collect();
        assert!(sealers.contains(&("member", json!(code))) && sealers.contains(&("server", Value::Null)), "{sealers:?}");
        // Anyone confirms it from the bundle: the auditor's verifier, given the tracker the
        // member was shown, and the independent verifier written from LOG_FORMAT.md.
        crate::helpers::export_bundle(db, &id, "checked");
        let dir = db.path("checked");
        let verifier = crate::interop::auditor_verifier();
        let tracker = checked["tracker"].as_str().unwrap();
        let out = std::process::Command::new(&verifier)
            .args([dir.to_str().unwrap(), "--trust-bundle-key", "--tracker", tracker])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
        assert!(said.contains(&format!("tracker {tracker}: checked by its member instead of cast")) && said.contains("It held `no`"), "{said}");
        assert!(said.contains(&format!("1 ballot(s), 1 checked first (every one held its stated choice): members' pages running sealing code {code}")), "{said}");
        assert!(said.contains("1 ballot(s) by the server from a plain choice"), "{said}");
        let cast_tracker = cast_one["tracker"].as_str().unwrap();
        let out = std::process::Command::new(&verifier)
            .args([dir.to_str().unwrap(), "--trust-bundle-key", "--tracker", cast_tracker])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("a ballot in this log; it is counted"));
        let (ok, out) = crate::interop::python_verify(&dir, &["--trust-bundle-key"]);
        assert!(ok && out.contains(&format!("sealed by {code}: 1 ballot(s), 1 checked first")), "{out}");
    }
}

crate::both_backends! {
    async fn a_challenge_that_does_not_hold_is_refused_and_logs_nothing(db: &TestDb) {
        let (id, tokens) = crate::helpers::prepared_election(db, 3);
        crate::helpers::sv(db, &["election", "open", &id]).ok();
        let app = crate::helpers::spawn_app(db).await;
        let code = served_code(&app).await;
        let key = key_text(&key_from_log(db, &id));
        let mut page = Page::start();
        let (m1, m2) = (token_of(&tokens, "M1"), token_of(&tokens, "M2")); // 700, 871
        let sealed = page_seal(&mut page, &key, &id, "700", 1);
        let other = page_seal(&mut page, &key, &id, "700", 1);
        let body = challenge_body(&m1, &sealed, "no", &code);
        let with = |change: &dyn Fn(&mut Value)| {
            let mut b = body.clone();
            change(&mut b);
            b
        };
        let padded = format!("{}=", sealed["secrets"]["randomness"][0].as_str().unwrap());
        let refusals = [
            // An altered page says "yes" about the ballot it sealed for "no".
            (with(&|b| b["choice"] = json!("yes")), 400, "challenge_mismatch"),
            (with(&|b| b["tracker"] = other["tracker"].clone()), 400, "challenge_mismatch"),
            // M1's ballot, revealed with another local's token: it was sealed for 700, not 871.
            (with(&|b| b["token"] = json!(m2)), 400, "challenge_mismatch"),
            (with(&|b| { b["randomness"].as_array_mut().unwrap().pop(); }), 400, "invalid_ballot"),
            (with(&|b| b["randomness"][0] = json!(padded)), 400, "invalid_ballot"),
            (with(&|b| b["choice"] = json!("maybe")), 400, "invalid_choice"),
            (with(&|b| b["sealing_code"] = json!("ab".repeat(32))), 400, "unknown_sealing_code"),
            (with(&|b| b["sealing_code"] = json!("not hex")), 400, "unknown_sealing_code"),
            (with(&|b| b["token"] = json!("SV-ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345")), 400, "token_unknown"),
        ];
        for (request, status, error) in &refusals {
            let (got, answer) = app.post_json("/api/v1/challenges", request).await;
            assert_eq!((got, answer["error"].as_str()), (*status, Some(*error)), "{request}: {answer}");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
        }
        assert!(entries_of(&app, &id, "challenge").await.is_empty(), "a refused challenge is logged nowhere");
        // Five checks per token, then the member must cast.
        for left in (0..5).rev() {
            let fresh = page_seal(&mut page, &key, &id, "700", 0);
            let (status, answer) = app.post_json("/api/v1/challenges", &challenge_body(&m1, &fresh, "yes", &code)).await;
            assert_eq!((status, answer["checks_left"].as_u64()), (201, Some(left)), "{answer}");
        }
        let (status, answer) = app.post_json("/api/v1/challenges", &body).await;
        assert_eq!((status, answer["error"].as_str()), (409, Some("too_many_challenges")), "{answer}");
        assert_eq!(entries_of(&app, &id, "challenge").await.len(), 5);
        // A ballot naming a code the log does not name is refused, and uses nothing up.
        let ballot = page_seal(&mut page, &key, &id, "700", 0);
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "ballot": ballot["ballot"], "sealing_code": "cd".repeat(32)})).await;
        assert_eq!((status, cast["error"].as_str()), (400, Some("unknown_sealing_code")), "{cast}");
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "ballot": ballot["ballot"], "choice": "yes    "})).await;
        assert_eq!((status, cast["error"].as_str()), (400, Some("invalid_choice")), "{cast}");
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "choice": "yes    ", "sealing_code": code})).await;
        assert_eq!((status, cast["error"].as_str()), (400, Some("invalid_ballot")), "{cast}");
        let (status, cast) = app.post_json("/api/v1/ballots", &json!({"token": m1, "ballot": ballot["ballot"]})).await;
        assert_eq!(status, 200, "{cast}");
        // A used token checks nothing more.
        let late = page_seal(&mut page, &key, &id, "700", 0);
        let (status, answer) = app.post_json("/api/v1/challenges", &challenge_body(&m1, &late, "yes", &code)).await;
        assert_eq!((status, answer["error"].as_str()), (409, Some("token_used")), "{answer}");
        // Sealed by the member's own software naming no code: `null`, counted as such.
        let ballots = entries_of(&app, &id, "ballot").await;
        assert_eq!((ballots[0]["sealed_by"].as_str(), &ballots[0]["sealing_code"]), (Some("member"), &Value::Null));
    }
}

/// Opens the election as a server serving the sealing code `code` would (an older version,
/// say), with the log key of the test's server.
fn open_with_code(db: &TestDb, id: &str, code: &str) {
    use strikevote::log::entry;
    let signer = strikevote::log::key::load(&db.path("strikevote.key"), None, false).unwrap();
    let id = ElectionId::parse(id).unwrap();
    let mut conn = db.conn();
    strikevote::log::store::transaction(&mut conn, |conn| {
        let election = strikevote::election::lock(conn, id)?;
        diesel::update(strikevote::db::schema::elections::table.find(id.to_string()))
            .set(strikevote::db::schema::elections::state.eq(strikevote::election::State::Open))
            .execute(conn)?;
        let entries = [
            entry::admin(&id, entry::AdminAction::Open, "cli:older"),
            entry::open(&id, chrono::Utc::now(), code),
        ];
        strikevote::log::store::append(conn, &election, &entries, &signer)
    })
    .unwrap();
}

crate::both_backends! {
    async fn a_server_serving_another_sealing_code_names_it_in_the_log_before_its_first_ballot(db: &TestDb) {
        let (id, tokens) = crate::helpers::prepared_election(db, 3);
        let older = "0f".repeat(32);
        open_with_code(db, &id, &older);
        let app = crate::helpers::spawn_app(db).await;
        let code = served_code(&app).await;
        assert_ne!(code, older);
        let key = key_text(&key_from_log(db, &id));
        let mut page = Page::start();
        // A page of this server seals; its code is named right before its ballot, once.
        for (member, local) in [("M1", "700"), ("M2", "871")] {
            let sealed = page_seal(&mut page, &key, &id, local, 0);
            let body = json!({"token": token_of(&tokens, member), "ballot": sealed["ballot"], "sealing_code": code});
            let (status, cast) = app.post_json("/api/v1/ballots", &body).await;
            assert_eq!(status, 200, "{cast}");
        }
        // A page the older server served still casts under the code the log named for it.
        let sealed = page_seal(&mut page, &key, &id, "600", 1);
        let body = json!({"token": token_of(&tokens, "M0"), "ballot": sealed["ballot"], "sealing_code": older});
        let (status, cast) = app.post_json("/api/v1/ballots", &body).await;
        assert_eq!(status, 200, "{cast}");
        let kinds: Vec<String> = log_entries(&app, &id).await.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
        let at = kinds.iter().position(|k| k == "sealing_code").expect("the new code is named");
        assert_eq!(kinds[at + 1], "ballot", "named in the append of its first ballot: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| *k == "sealing_code").count(), 1, "{kinds:?}");
        let named: Vec<Value> = entries_of(&app, &id, "sealing_code").await;
        assert_eq!(named[0]["sealing_code"], json!(code));
        // The audit page names both codes, and the one served now.
        let (status, audit) = app.get(&format!("/elections/{id}/audit")).await;
        assert_eq!(status, 200, "{audit}");
        let listed = &audit[audit.find("id=\"sealing-codes\"").unwrap()..];
        assert!(listed.contains(&format!("<code>{older}</code>")) && listed.contains(&format!("<code>{code}</code>")), "{audit}");
        assert!(audit.contains(&format!(r#"<code id="sealing-served">{code}</code>"#)), "{audit}");
        // Both verifiers count each code's ballots.
        crate::helpers::export_bundle(db, &id, "two-codes");
        let report = crate::helpers::sv(db, &["audit", "verify", db.path("two-codes").to_str().unwrap(), "--trust-bundle-key"]).ok();
        assert!(report.contains(&format!("1 ballot(s), 0 checked first (every one held its stated choice): members' pages running sealing code {older}")), "{report}");
        assert!(report.contains(&format!("2 ballot(s), 0 checked first (every one held its stated choice): members' pages running sealing code {code}")), "{report}");
        let (ok, out) = crate::interop::python_verify(&db.path("two-codes"), &["--trust-bundle-key"]);
        assert!(ok && out.contains(&format!("sealed by {older}: 1 ballot(s)")) && out.contains(&format!("sealed by {code}: 2 ballot(s)")), "{out}");
    }
}
