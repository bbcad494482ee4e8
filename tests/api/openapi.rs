//! The OpenAPI document: served at `/api/v1/openapi.json`, and true. schemathesis (PyPI, in
//! tests/.venv) drives every operation it describes against a live `strikevote serve` holding
//! a real election — an open vote with a roster, a finished key ceremony, tokens and a ballot —
//! and holds every answer to the document: no server error, a documented status, content type,
//! headers and body, and on errors only the codes the document names for that status.

use crate::both_backends;
use crate::helpers::*;

/// What schemathesis checks on every answer.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

both_backends! {
    async fn schemathesis_finds_every_answer_as_documented_and_no_server_error(db: &TestDb) {
        let admin = official(db, "ops", "admin");
        // Every request comes from 127.0.0.1: no per-address limit, or most would be 429s.
        let env = [
            ("RUST_LOG", "warn".to_owned()),
            ("STRIKEVOTE_DATABASE_URL", db.url.clone()),
            ("STRIKEVOTE_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        ];
        let served = serve_process(db, &[], &env);
        let app = served.app();
        let url = |path: &str| format!("{}{path}", app.address);

        let (status, doc) = app.get_json("/api/v1/openapi.json").await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["openapi"], "3.1.0");
        let operations: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert!(operations >= 27, "{operations}");

        // An election with something in it, made over the API itself.
        let res = app.client.post(url("/api/v1/elections")).bearer_auth(&admin)
            .body(definition_toml(&[("600", 2), ("700", 1)])).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let created: serde_json::Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let code = created["teller_invitations"][0]["code"].as_str().unwrap().to_owned();
        let roster = write_roster(db, "roster.csv", &[("M1", "600"), ("M2", "700"), ("M3", "600")]);
        let res = app.client.post(url(&format!("/api/v1/elections/{id}/roster"))).bearer_auth(&admin)
            .body(std::fs::read(roster).unwrap()).send().await.unwrap();
        assert_eq!(res.status(), 200);
        run_ceremony(db, &id);
        let res = app.client.post(url(&format!("/api/v1/elections/{id}/tokens"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let mailing = db.path("mailing.csv");
        std::fs::write(&mailing, res.bytes().await.unwrap()).unwrap();
        let tokens = read_token_csv(&mailing);
        assert_eq!(tokens.len(), 3);
        let res = app.client.post(url(&format!("/api/v1/elections/{id}/open"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let (status, cast) = app.cast(&tokens[0]["token"], "yes").await;
        assert_eq!(status, 200, "{cast}");
        let receipt = cast["receipt"].as_str().unwrap();

        // schemathesis reaches into that election: its id, a teller's number and invitation,
        // the ballot's receipt; officials' routes with the admin's API token.
        let config = db.path("schemathesis.toml");
        std::fs::write(&config, format!(
            "headers = {{ Authorization = \"Bearer {admin}\" }}\n\
             [parameters]\n\"path.id\" = \"{id}\"\n\"path.teller\" = 1\n\"path.receipt\" = \"{receipt}\"\n\
             [[operations]]\ninclude-path-regex = \"/tellers/[^/]+/(board|messages|shares)$\"\nheaders = {{ Authorization = \"Teller {code}\" }}\n"
        )).unwrap();
        let out = std::process::Command::new(venv_tool("schemathesis"))
            .current_dir(db.dir())
            .args(["--config-file", config.to_str().unwrap(), "run", &url("/api/v1/openapi.json")])
            .args(["--checks", CHECKS, "--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", "25", "--seed", "1", "--workers", "1", "--request-timeout", "30"])
            .output()
            .expect("run schemathesis");
        let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "schemathesis found answers unlike the document:\n{report}");
        // Every operation but the one serving the document, which schemathesis leaves out
        // (fetched and checked above).
        let others = operations - 1;
        assert!(report.contains(&format!("Selected: {others}/{others}")) && report.contains(&format!("Tested: {others}")),
            "not every operation was tested:\n{report}");
        assert!(report.contains(" passed"), "{report}");
        served.stop();
    }
}
