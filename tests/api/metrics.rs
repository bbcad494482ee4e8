//! `/metrics`: Prometheus text on the internal listener or with the bearer token, counts that
//! follow what happened, and nothing about any member, token, receipt or choice.

use crate::both_backends;
use crate::helpers::*;

/// The value of the sample whose line starts with `name` (name plus labels, exactly).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

const TOKEN: &str = "metrics-secret-0123456789";

both_backends! {
    async fn metrics_count_ballots_and_requests_and_never_name_a_member(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 4);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app_custom(db, |s| {
            s.metrics_bind = Some("127.0.0.1:0".into());
            s.metrics_token = Some(TOKEN.into());
        })
        .await;
        let internal = app.metrics_address.clone().expect("the internal listener");
        let client = reqwest::Client::new();

        // The public port: only with the token.
        let res = client.get(format!("{}/metrics", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 401);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{body}");
        let res = client.get(format!("{}/metrics", app.address)).bearer_auth("metrics-secret-0123456788").send().await.unwrap();
        assert_eq!(res.status(), 401);

        // Two ballots accepted, one refused as already used, one malformed request.
        let mut receipts = Vec::new();
        for (_, token) in &tokens[..2] {
            let (status, cast) = app.cast(token, "yes").await;
            assert_eq!(status, 200, "{cast}");
            receipts.push(cast["receipt"].as_str().unwrap().to_owned());
        }
        let (status, _) = app.cast(&tokens[0].1, "no").await;
        assert_eq!(status, 409);
        let (status, _) = app.cast("SV-NOT-A-TOKEN", "no").await;
        assert_eq!(status, 400);

        let res = client.get(format!("{internal}/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200, "the internal listener needs no token");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = res.text().await.unwrap();
        assert_eq!(sample(&text, "strikevote_ballots_accepted_total"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "strikevote_ballots_refused_total{reason=\"token_used\"}"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "strikevote_batch_size_ballots_sum"), Some(3.0), "three ballots reached a batch: {text}");
        assert!(sample(&text, "strikevote_batch_commit_seconds_count").unwrap() >= 1.0);
        assert_eq!(sample(&text, "strikevote_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/ballots\",status=\"200\"}"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "strikevote_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/ballots\",status=\"409\"}"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "strikevote_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/ballots\",status=\"400\"}"), Some(1.0), "{text}");
        assert!(sample(&text, "strikevote_db_pool_wait_seconds_count").unwrap() >= 1.0);
        assert!(sample(&text, "strikevote_db_pool_connections{state=\"idle\"}").is_some(), "{text}");
        assert_eq!(sample(&text, "strikevote_elections{state=\"open\"}"), Some(1.0), "{text}");
        let (_, checkpoint) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
        let size: f64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
        assert_eq!(sample(&text, &format!("strikevote_log_entries{{election=\"{id}\"}}")), Some(size), "{text}");
        let backend = if db.url.starts_with("postgres") { "postgres" } else { "sqlite" };
        let build = format!("strikevote_build_info{{backend=\"{backend}\",version=\"{}\"}}", env!("CARGO_PKG_VERSION"));
        assert_eq!(sample(&text, &build), Some(1.0), "{text}");
        assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 0.0, "{text}");

        // Nothing about anyone: no token, receipt, member, local or choice.
        for (member, token) in &tokens {
            assert!(!text.contains(token.as_str()) && !text.contains(&format!("\"{member}\"")), "{text}");
        }
        for receipt in &receipts {
            assert!(!text.contains(receipt.as_str()), "{text}");
        }
        for label in ["choice=", "member=", "token=", "local=", "receipt=", "\"yes\"", "\"no\""] {
            assert!(!text.contains(label), "{label} in {text}");
        }

        // With the token, the public port answers the same exposition.
        let res = client.get(format!("{}/metrics", app.address)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("strikevote_ballots_accepted_total 2"));
    }
}

both_backends! {
    async fn without_a_metrics_setting_the_public_port_says_how_to_turn_them_on(db: &TestDb) {
        let app = spawn_app(db).await;
        assert!(app.metrics_address.is_none());
        let (status, body) = app.get_json("/metrics").await;
        assert_eq!(status, 404);
        assert_eq!(body["error"], "not_found");
        assert!(body["message"].as_str().unwrap().contains("metrics_bind"), "{body}");
        // A token sent to a server without one is no key either.
        let res = app.client.get(format!("{}/metrics", app.address)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
}

both_backends! {
    async fn invented_http_methods_add_no_metrics_series(db: &TestDb) {
        // Before: every new method string became a `method` label value, held forever (33,000
        // requests gave 45,030 series and 40 MB never freed).
        let app = spawn_app_custom(db, |s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
        let internal = app.metrics_address.clone().expect("the internal listener");
        let client = reqwest::Client::new();
        for i in 0..200 {
            let method = reqwest::Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
            let res = client.request(method, format!("{}/healthz", app.address)).send().await.unwrap();
            assert!(res.status().is_client_error(), "{}", res.status());
        }
        let text = client.get(format!("{internal}/metrics")).send().await.unwrap().text().await.unwrap();
        let methods: std::collections::BTreeSet<&str> = text
            .lines()
            .filter(|l| l.starts_with("strikevote_http_request_duration_seconds_count{"))
            .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
            .collect();
        assert!(methods.len() <= 8, "{methods:?}");
        assert!(methods.contains("other"), "{methods:?}");
        let others: f64 = text
            .lines()
            .filter(|l| l.starts_with("strikevote_http_request_duration_seconds_count{method=\"other\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert_eq!(others, 200.0, "{text}");
    }
}
