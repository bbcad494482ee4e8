//! The HTTP skeleton: probes, JSON errors, security headers.

use crate::both_backends;
use crate::helpers::*;

both_backends! {
    async fn the_probes_report_the_process_and_the_database(db: &TestDb) {
        let app = spawn_app(db).await;
        let res = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}));

        let res = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ready", "database": "ok"}));
    }
}

both_backends! {
    async fn unknown_routes_and_methods_get_clear_errors(db: &TestDb) {
        let app = spawn_app(db).await;
        let res = app.client.get(format!("{}/api/v1/no/such?token=SV-SECRET", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
        assert_eq!(body["message"], "nothing here: /api/v1/no/such");

        // A browser path gets an HTML page saying the same.
        let res = app.client.get(format!("{}/no/such/page", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 404);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = res.text().await.unwrap();
        assert!(body.contains("nothing here: /no/such/page") && body.contains("<html lang=\"en\">"), "{body}");

        let res = app.client.post(format!("{}/healthz", app.address)).body("x").send().await.unwrap();
        assert_eq!(res.status(), 405);
        // RFC 9110: a 405 lists the methods the path has.
        assert_eq!(res.headers()["allow"], "GET");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed");
        assert_eq!(body["message"], "method POST is not allowed here");
        let res = app.client.delete(format!("{}/api/v1/elections", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers()["allow"], "GET, POST");
        let res = app.client.put(format!("{}/vote", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers()["allow"], "GET, POST");
        assert!(res.text().await.unwrap().contains("<html"));
    }
}

/// PostgreSQL only: a server-side database can vanish under a running service (dropped,
/// failed over); a SQLite file held open by the process cannot be taken away like that.
#[tokio::test]
async fn readiness_fails_with_a_json_503_when_the_database_goes_away() {
    let db = TestDb::new(Backend::Postgres);
    let app = spawn_app(&db).await;
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    db.drop_postgres_database();
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the database is unavailable"),
        "{body}"
    );
    // Liveness is not readiness: the process still answers.
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
}
