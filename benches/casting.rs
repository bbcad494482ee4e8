//! Casting throughput: many concurrent clients cast ballots over HTTP against a real
//! `strikevote serve` process; prints durable ballots/s and p50/p99 latency per backend.
//! Asserts nothing about time; it does check every ballot was answered and counted.
//!
//! Run: `cargo bench --bench casting`. Knobs (environment): BENCH_BALLOTS (default 30000),
//! BENCH_CLIENTS (concurrent clients, default 1000), BENCH_POOL (database connections of the
//! server, default 4), BENCH_PERIOD_MS (the pool's batch period,
//! default 100), BENCH_BACKENDS (default "sqlite,postgres"), STRIKEVOTE_TEST_POSTGRES_URL,
//! BENCH_WITNESSES (default "0,2": each backend is run without witnesses and with two on
//! loopback, both needed, and the rate with them is printed as a share of the rate without).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{database, env_or, prepare_with, psql, serve, turnout, witnesses};

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
    let counts = std::env::var("BENCH_WITNESSES").unwrap_or_else(|_| "0,2".into());
    for backend in backends.split(',') {
        let mut rates = Vec::new();
        for count in counts
            .split(',')
            .map(|c| c.trim().parse::<usize>().unwrap())
        {
            rates.push((
                count,
                run(&runtime, backend, count, (ballots, clients, period)),
            ));
        }
        // Whatever the order of the runs (the first on PostgreSQL can leave checkpoints and
        // autovacuum to the second: `BENCH_WITNESSES=2,0` reverses it).
        if let Some(&(_, base)) = rates.iter().find(|(n, _)| *n == 0) {
            for (n, rate) in rates.iter().filter(|(n, _)| *n > 0) {
                println!(
                    "{backend:>8}: with {n} witnesses {:.2} of the rate without",
                    rate / base
                );
            }
        }
    }
}

/// One run: `count` witnesses (all needed), `ballots` cast by `clients`; returns ballots/s.
fn run(
    runtime: &tokio::runtime::Runtime,
    backend: &str,
    count: usize,
    (ballots, clients, period): (usize, usize, usize),
) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (url, cleanup) = database(backend, dir.path());
    let (mut witnessing, table) = witnesses(&url, dir.path(), count, count);
    let tokens = prepare_with(&url, dir.path(), ballots, &table);
    let mut server = serve(&url, dir.path(), period);
    let address = server.1.clone();
    let (elapsed, mut latencies, failures) = runtime.block_on(cast_all(&address, tokens, clients));
    let counted = turnout(&url, dir.path());
    let _ = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status();
    let _ = server.0.wait();
    for w in &mut witnessing {
        let _ = w.kill();
        let _ = w.wait();
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{backend:>8}: {rate:>7.0} ballots/s  p50 {:>4} ms  p99 {:>4} ms  ({} ok, {failures} failed, {counted} counted, {:.1} s, {count} witnesses)",
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
    rate
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
