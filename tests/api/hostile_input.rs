//! Text that attacks whoever reads it later: spreadsheet formulas in exports, terminal escapes
//! and bidirectional overrides in what the CLI prints, and uploads too large for a web request.

use reqwest::multipart::Form;

use crate::both_backends;
use crate::helpers::*;

const FORMULAS: [&str; 5] = [
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "+1+1",
    "-A1",
    "=HYPERLINK(\"http://evil.example\")",
];

both_backends! {
    async fn exported_csv_cells_never_start_a_formula(db: &TestDb) {
        let file = db.path("e.toml");
        std::fs::write(&file, definition_toml(&[("600", 2), ("700", 1)]).replace("name = \"Local 600\"", "name = \"=HYPERLINK(\\\"http://evil.example\\\")\"")).unwrap();
        let id = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL]).ok().trim().to_owned();
        run_ceremony(db, &id);
        let mut csv = String::from("member_id,local,name,email\n");
        for (i, name) in FORMULAS.iter().enumerate() {
            csv.push_str(&format!("M{i},600,\"{}\",\n", name.replace('"', "\"\"")));
        }
        csv.push_str("-M9,700,Plain Name,\n");
        std::fs::write(db.path("r.csv"), &csv).unwrap();
        sv(db, &["roster", "import", "--election", &id, db.path("r.csv").to_str().unwrap()]).ok();
        let out = db.path("t.csv");
        sv(db, &["tokens", "issue", "--election", &id, "--out", out.to_str().unwrap()]).ok();
        let rows = read_token_csv(&out);
        for row in &rows {
            for (column, cell) in row {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{column} = {cell:?}");
            }
        }
        let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str()).collect();
        for f in FORMULAS {
            assert!(names.contains(&format!("'{f}").as_str()), "{f} in {names:?}");
        }
        assert!(rows.iter().any(|r| r["member_id"] == "'-M9" && r["name"] == "Plain Name"));

        // results.csv, after the vote.
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        assert_eq!(app.cast(&rows[0]["token"], "yes").await.0, 200);
        sv(db, &["election", "close", &id]).ok();
        decrypt(db, &id);
        let (status, text) = app.get(&format!("/elections/{id}/results.csv")).await;
        assert_eq!(status, 200);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let mut seen = false;
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell:?}");
                seen |= cell == "'=HYPERLINK(\"http://evil.example\")";
            }
        }
        assert!(seen, "{text}");
    }
}

both_backends! {
    fn control_and_bidi_characters_are_refused_naming_the_field_and_line(db: &TestDb) {
        let file = db.path("e.toml");
        let text = definition_toml(&[("600", 2)])
            .replace("title = \"Strike authorization 2026\"", "title = \"Strike \\u001b]0;pwned\\u0007vote\"")
            .replace("question = \"Do you", "question = \"\\u202eDo you")
            .replace("name = \"Local 600\"", "name = \"Local\\r600\"");
        std::fs::write(&file, text).unwrap();
        let err = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL]).fails();
        for expected in ["title: contains an escape character", "question: contains a bidirectional control character", "locals[0].name: contains a line break"] {
            assert!(err.contains(expected), "missing `{expected}` in {err:?}");
        }
        assert!(!err.contains('\u{1b}') && !err.contains('\u{202e}') && !err.contains('\r'), "raw control characters echoed: {err:?}");
        // A multi-line question is fine.
        let ok = definition_toml(&[("600", 2)]).replace("question = \"Do you authorize", "question = \"\"\"Do you\nauthorize").replace("agreement?\"", "agreement?\"\"\"");
        std::fs::write(&file, ok).unwrap();
        let id = sv(db, &["election", "create", "--file", file.to_str().unwrap(), "--public-url", PUBLIC_URL]).ok().trim().to_owned();
        run_ceremony(db, &id);

        let roster = "member_id,local,name,email\nM1,600,\"Ann \u{1b}[31mRed\",\n\u{202e}M2,600,Bo,\nM3,600,\"Cy\u{200b}\",\nM4,\u{1b}[2J600,Di,\nM5,600,Ed,\n";
        std::fs::write(db.path("r.csv"), roster).unwrap();
        let err = sv(db, &["roster", "import", "--election", &id, db.path("r.csv").to_str().unwrap()]).fails();
        for expected in ["line 2: name contains an escape character", "line 3: member_id contains a bidirectional control character", "line 4: name contains an invisible character", "line 5: local `\\u{1b}[2J600`"] {
            assert!(err.contains(expected), "missing `{expected}` in {err:?}");
        }
        assert!(!err.contains('\u{1b}') && !err.contains('\u{202e}'), "raw control characters echoed: {err:?}");
        assert_eq!(show(db, &id)["locals"]["600"]["eligible"], 0, "nothing imported");
    }
}

both_backends! {
    async fn an_oversized_roster_upload_is_refused_and_the_cli_takes_it(db: &TestDb) {
        let id = create_election(db);
        let app = spawn_app_custom(db, |s| s.upload_max_rows = 5).await;
        let admin = official(db, "uma", "admin");
        let members: Vec<(String, &str)> = (0..6).map(|i| (format!("M{i}"), "600")).collect();
        let pairs: Vec<(&str, &str)> = members.iter().map(|(m, l)| (m.as_str(), *l)).collect();
        let path = write_roster(db, "six.csv", &pairs);
        let body = std::fs::read_to_string(&path).unwrap();
        let res = app.client.post(format!("{}/api/v1/elections/{id}/roster", app.address)).bearer_auth(&admin).body(body.clone()).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error"], "roster_too_large");
        assert!(json["message"].as_str().unwrap().contains("6 rows") && json["message"].as_str().unwrap().contains("at most 5"), "{json}");

        // The page says the same in HTML.
        let client = browser();
        let (_, form) = get(&client, &format!("{}/login", app.address)).await;
        let csrf = csrf_of(&form);
        client.post(format!("{}/login", app.address)).form(&[("username", "uma"), ("password", PASSWORD), ("csrf", &csrf)]).send().await.unwrap();
        let (_, dashboard) = get(&client, &format!("{}/admin", app.address)).await;
        let csrf = csrf_of(&dashboard);
        let res = client.post(format!("{}/admin/elections/{id}/roster", app.address))
            .multipart(Form::new().text("csrf", csrf.clone()).text("roster", body)).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        assert!(page.contains("at most 5") && page.contains("strikevote roster import"), "{page}");
        assert_eq!(show(db, &id)["locals"]["600"]["eligible"], 0, "nothing imported");

        // The CLI has no such limit.
        sv(db, &["roster", "import", "--election", &id, &path]).ok();
        assert_eq!(show(db, &id)["locals"]["600"]["eligible"], 6);
    }
}

both_backends! {
    async fn a_body_over_its_routes_limit_is_refused_before_it_is_read(db: &TestDb) {
        // 8 KiB: under the deployment's 64 KiB, far over what a ballot, a token or a sign-in
        // carries. On the old code every route read and parsed up to 64 KiB.
        let admin = official(db, "alice", "admin");
        let app = spawn_app(db).await;
        let long = "A".repeat(8 * 1024);
        let res = app.client.post(format!("{}/api/v1/ballots", app.address)).json(&serde_json::json!({"token": long, "choice": "yes    "})).send().await.unwrap();
        assert_eq!(res.status(), 413);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "payload_too_large", "{body}");
        let res = app.client.post(format!("{}/api/v1/token-status", app.address)).json(&serde_json::json!({"token": long})).send().await.unwrap();
        assert_eq!(res.status(), 413);
        // The member's pages answer in HTML.
        let res = app.client.post(format!("{}/token-status", app.address)).form(&[("token", long.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 413);
        let page = res.text().await.unwrap();
        assert!(page.contains("<html") && page.contains("too large"), "{page}");
        let res = app.client.post(format!("{}/login", app.address)).form(&[("username", "alice"), ("password", long.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 413);
        // A definition of that size is read, and judged on what it says.
        let toml = format!("# {long}\n{}", definition_toml(&[("100", 3)]));
        let res = app.client.post(format!("{}/api/v1/elections", app.address)).bearer_auth(&admin).body(toml).send().await.unwrap();
        assert_ne!(res.status(), 413);
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
}
