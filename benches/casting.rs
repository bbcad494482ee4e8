//! Casting throughput: many concurrent clients cast ballots over HTTP against a real
//! `strikevote serve` process; prints durable ballots/s and p50/p99 latency per backend.
//! Asserts nothing about time; it does check every ballot was answered and counted.
//!
//! Run: `cargo bench --bench casting`. Knobs (environment): BENCH_BALLOTS (default 30000),
//! BENCH_CLIENTS (concurrent clients, default 1000), BENCH_POOL (database connections of the
//! server, default 4), BENCH_PERIOD_MS (the pool's batch period,
//! default 100), BENCH_BACKENDS (default "sqlite,postgres"), STRIKEVOTE_TEST_POSTGRES_URL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let ballots = env_or("BENCH_BALLOTS", 30_000);
    let clients = env_or("BENCH_CLIENTS", 1000);
    let period = env_or("BENCH_PERIOD_MS", 100);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("casting: {ballots} ballots, {clients} concurrent clients, batch period {period} ms");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let (url, cleanup) = match backend {
            "sqlite" => (
                format!("sqlite://{}", dir.path().join("bench.db").display()),
                None,
            ),
            "postgres" => {
                let admin = std::env::var("STRIKEVOTE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("sv_bench_{}", uuid::Uuid::new_v4().simple());
                psql(&admin, &format!("CREATE DATABASE {name}"));
                let (base, _) = admin.rsplit_once('/').unwrap();
                (format!("{base}/{name}"), Some((admin, name)))
            }
            other => panic!("unknown backend {other}"),
        };
        let tokens = prepare(&url, dir.path(), ballots);
        let mut server = serve(&url, dir.path(), period);
        let address = server.1.clone();
        let (elapsed, mut latencies, failures) =
            runtime.block_on(cast_all(&address, tokens, clients));
        let counted = turnout(&url, dir.path());
        let _ = Command::new("kill")
            .args(["-TERM", &server.0.id().to_string()])
            .status();
        let _ = server.0.wait();
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "{backend:>8}: {:>7.0} ballots/s  p50 {:>4} ms  p99 {:>4} ms  ({} ok, {failures} failed, {counted} counted, {:.1} s)",
            latencies.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50).as_millis(),
            pct(0.99).as_millis(),
            latencies.len(),
            elapsed.as_secs_f64()
        );
        assert_eq!(failures, 0, "every ballot must be accepted");
        assert_eq!(counted, ballots, "every accepted ballot must be counted");
        if let Some((admin, name)) = cleanup {
            psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
        }
    }
}

fn sv(url: &str, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .args(args)
        .args(["--database-url", url])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An open election with `n` members; returns their tokens.
fn prepare(url: &str, dir: &Path, n: usize) -> Vec<String> {
    let mut toml = String::from(
        "title = \"Bench\"\nquestion = \"Strike?\"\nchoices = [\"yes\", \"no\"]\nrule = \"delegates\"\n\
         threshold = { num = 1, den = 2, cmp = \"more_than\" }\n\
         local_threshold = { num = 3, den = 4, cmp = \"at_least\" }\n\
         opens_at = \"2026-01-01T00:00:00Z\"\ncloses_at = \"2036-01-01T00:00:00Z\"\n\
         tellers = { count = 1, threshold = 1 }\n",
    );
    for i in 0..36 {
        toml.push_str(&format!(
            "\n[[locals]]\ncode = \"L{i}\"\nname = \"Local {i}\"\ndelegates = {}\n",
            10 + i
        ));
    }
    std::fs::write(dir.join("e.toml"), toml).unwrap();
    let mut csv = String::from("member_id,local,name,email\n");
    for i in 0..n {
        csv.push_str(&format!("M{i},L{},,\n", (i * i) % 36));
    }
    std::fs::write(dir.join("r.csv"), csv).unwrap();
    let id = sv(
        url,
        dir,
        &[
            "election",
            "create",
            "--file",
            "e.toml",
            "--public-url",
            "http://localhost:8080",
        ],
    )
    .trim()
    .to_owned();
    sv(url, dir, &["roster", "import", "--election", &id, "r.csv"]);
    sv(
        url,
        dir,
        &["tokens", "issue", "--election", &id, "--out", "t.csv"],
    );
    // The one teller's key ceremony, run beside the server (a few passes).
    std::fs::write(dir.join("pass"), "bench teller passphrase\n").unwrap();
    let ready = (0..6).any(|_| {
        sv(
            url,
            dir,
            &[
                "teller",
                "setup",
                "--election",
                &id,
                "--teller",
                "1",
                "--state",
                "t1.state",
                "--passphrase-file",
                "pass",
                "--work-factor",
                "2",
            ],
        )
        .contains("the election key is ready")
    });
    assert!(ready, "the key ceremony did not complete");
    sv(url, dir, &["election", "open", &id]);
    std::fs::write(dir.join("id"), &id).unwrap();
    let mut reader = csv::Reader::from_path(dir.join("t.csv")).unwrap();
    reader.records().map(|r| r.unwrap()[4].to_owned()).collect()
}

fn serve(url: &str, dir: &Path, period: usize) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strikevote"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", url])
        .current_dir(dir)
        .env("STRIKEVOTE_BATCH_PERIOD_MS", period.to_string())
        .env(
            "STRIKEVOTE_DB_POOL_SIZE",
            std::env::var("BENCH_POOL").unwrap_or_else(|_| "4".into()),
        )
        // Every simulated member comes from 127.0.0.1: no per-address limit here.
        .env("STRIKEVOTE_RATE_LIMIT_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let address = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    (child, address)
}

async fn cast_all(
    address: &str,
    tokens: Vec<String>,
    clients: usize,
) -> (Duration, Vec<Duration>, usize) {
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{address}/api/v1/ballots");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            let (tokens, next, url, client) =
                (tokens.clone(), next.clone(), url.clone(), client.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let choice = if (i + w) % 4 == 0 { "no" } else { "yes" };
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .json(&serde_json::json!({ "token": token, "choice": choice }))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            latencies.push(t.elapsed());
                        }
                        _ => failures += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failures = 0;
    for w in workers {
        let (l, f) = w.await.unwrap();
        all.extend(l);
        failures += f;
    }
    (started.elapsed(), all, failures)
}

fn turnout(url: &str, dir: &Path) -> usize {
    let id = std::fs::read_to_string(dir.join("id")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&sv(url, dir, &["turnout", &id, "--json"])).unwrap();
    json["cast"].as_u64().unwrap() as usize
}

fn psql(admin: &str, sql: &str) {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let mut conn = PgConnection::establish(admin).expect("PostgreSQL reachable");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}
