//! Soak: casts at a steady rate (half the measured capacity) for a long time against a real
//! `strikevote serve` process, and reports every 30 s the ballots answered, the errors, p99
//! latency and the server's resident memory (from /proc), which must stay flat. A documented
//! script, not part of CI: it asserts only that every ballot answered was counted.
//!
//! Run: `cargo bench --bench soak`. Knobs: SOAK_SECONDS (default 600), SOAK_RATE (ballots/s,
//! default 1300: half of the ~2,600/s `cargo bench --bench casting` measures on 2 cores),
//! SOAK_CLIENTS (most requests in flight, default 400), BENCH_BACKENDS (default "sqlite"),
//! STRIKEVOTE_TEST_POSTGRES_URL.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{database, env_or, prepare, psql, rss_mib, runtime, serve, turnout};

/// What one reporting interval saw.
#[derive(Default)]
struct Interval {
    ok: usize,
    errors: usize,
    latencies: Vec<Duration>,
}

fn main() {
    let seconds = env_or("SOAK_SECONDS", 600);
    let rate = env_or("SOAK_RATE", 1300).max(1);
    let clients = env_or("SOAK_CLIENTS", 400);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    let runtime = runtime();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let (url, cleanup) = database(backend, dir.path());
        let ballots = rate * seconds;
        println!(
            "soak {backend}: {rate} ballots/s for {seconds} s ({ballots} members), at most {clients} in flight"
        );
        let prepared = Instant::now();
        let tokens = prepare(&url, dir.path(), ballots);
        println!("  prepared in {:.0} s", prepared.elapsed().as_secs_f64());
        let (mut child, address) = serve(&url, dir.path(), 100);
        let pid = child.id();
        let (ok, errors) = runtime.block_on(soak(&address, tokens, rate, clients, pid));
        let counted = turnout(&url, dir.path());
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = child.wait();
        println!("  total: {ok} accepted, {errors} errors, {counted} counted");
        assert_eq!(counted, ok, "every accepted ballot is counted");
        if let Some((admin, name)) = cleanup {
            psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
        }
    }
}

/// Sends ballot `i` at `start + i / rate` (an open loop: a slow server does not slow the
/// senders), at most `clients` at a time; prints a line every 30 s.
async fn soak(
    address: &str,
    tokens: Vec<String>,
    rate: usize,
    clients: usize,
    pid: u32,
) -> (usize, usize) {
    let total = tokens.len();
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let interval = Arc::new(Mutex::new(Interval::default()));
    let url = format!("{address}/api/v1/ballots");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (tokens, next, url, client, interval) = (
                tokens.clone(),
                next.clone(),
                url.clone(),
                client.clone(),
                interval.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due).await;
                    let choice = if i % 4 == 0 { "no" } else { "yes" };
                    let sent = Instant::now();
                    let res = client
                        .post(&url)
                        .json(&serde_json::json!({ "token": token, "choice": format!("{choice:<7}") }))
                        .send()
                        .await;
                    let ok = match res {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    let mut seen = interval.lock().unwrap();
                    if ok {
                        seen.ok += 1;
                        seen.latencies.push(sent.elapsed());
                    } else {
                        seen.errors += 1;
                    }
                }
            })
        })
        .collect();
    println!(
        "  {:>6} {:>9} {:>7} {:>8} {:>9}",
        "t (s)", "accepted", "errors", "p99 ms", "RSS MiB"
    );
    let (mut ok, mut errors, mut answered) = (0, 0, 0);
    let mut tick =
        tokio::time::interval_at(start + Duration::from_secs(30), Duration::from_secs(30));
    while answered < total {
        tick.tick().await;
        let mut seen = std::mem::take(&mut *interval.lock().unwrap());
        seen.latencies.sort();
        let p99 = seen
            .latencies
            .get((seen.latencies.len() * 99 / 100).min(seen.latencies.len().saturating_sub(1)))
            .map_or(0, |d| d.as_millis());
        ok += seen.ok;
        errors += seen.errors;
        answered += seen.ok + seen.errors;
        println!(
            "  {:>6.0} {:>9} {:>7} {:>8} {:>9.1}",
            start.elapsed().as_secs_f64(),
            seen.ok,
            seen.errors,
            p99,
            rss_mib(pid)
        );
    }
    for w in workers {
        let _ = w.await;
    }
    (ok, errors)
}
