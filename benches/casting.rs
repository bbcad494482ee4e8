//! Casting throughput: many concurrent clients cast ballots over HTTP against a real
//! `strikevote serve` process; prints durable ballots/s and p50/p99 latency per backend.
//! Asserts nothing about time; it does check every ballot was answered and counted.
//!
//! Run: `cargo bench --bench casting`. Knobs (environment): BENCH_BALLOTS (default 30000),
//! BENCH_CLIENTS (concurrent clients, default 1000), BENCH_POOL (database connections of the
//! server, default 4), BENCH_PERIOD_MS (the pool's batch period, default 100),
//! BENCH_BATCH_MAX (the most ballots one batch commits, default half the clients),
//! BENCH_BACKENDS (default "sqlite,postgres"), STRIKEVOTE_TEST_POSTGRES_URL, BENCH_LOG (the
//! server's RUST_LOG, default "warn"; "info" prints each batch's commit time),
//! BENCH_WITNESS_DIR (where the witnesses keep their state, default beside the database),
//! BENCH_WITNESSES (default "0,2": each backend is run without witnesses and with two on
//! loopback, both needed) and BENCH_REPEATS (default 3: the runs are interleaved, 0,2,0,2,…,
//! so that a slow minute of the machine falls on both; the medians are compared).
//!
//! What "rate" means here: with a batch limit below the number of clients, the committing
//! thread always has a full batch waiting, so the rate is what the server can sustain — and
//! the witnesses' round trip, made by another thread while the next batch commits, costs it
//! only the CPU it takes. With one batch holding every client (BENCH_BATCH_MAX ≥
//! BENCH_CLIENTS) each client waits for the round trip before casting again, so the rate
//! falls by the share of the cycle the round trip takes: that measures latency, not capacity.

mod common;

use std::process::Command;

use common::{
    cast_bodies, cpu_seconds, database, env_or, prepare_with, psql, runtime, serve_with, turnout,
    witnesses,
};

fn main() {
    let ballots = env_or("BENCH_BALLOTS", 30_000);
    let clients = env_or("BENCH_CLIENTS", 1000);
    let period = env_or("BENCH_PERIOD_MS", 100);
    let batch_max = env_or("BENCH_BATCH_MAX", clients.div_ceil(2));
    let repeats = env_or("BENCH_REPEATS", 3).max(1);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "casting: {ballots} ballots, {clients} concurrent clients, batch period {period} ms, \
         at most {batch_max} per batch, {repeats} rounds"
    );
    let runtime = runtime();
    let counts: Vec<usize> = std::env::var("BENCH_WITNESSES")
        .unwrap_or_else(|_| "0,2".into())
        .split(',')
        .map(|c| c.trim().parse().unwrap())
        .collect();
    let shape = Shape {
        ballots,
        clients,
        period,
        batch_max,
    };
    for backend in backends.split(',') {
        let mut rates: Vec<(usize, Vec<f64>)> = counts.iter().map(|&n| (n, Vec::new())).collect();
        for _ in 0..repeats {
            for (count, runs) in &mut rates {
                runs.push(run(&runtime, backend, *count, &shape));
            }
        }
        report(backend, &rates);
    }
}

/// How the runs are shaped.
struct Shape {
    ballots: usize,
    clients: usize,
    period: usize,
    batch_max: usize,
}

/// Each witness count's median rate, and with witnesses its share of the rate without (the
/// medians', and the lowest and highest of the rounds').
fn report(backend: &str, rates: &[(usize, Vec<f64>)]) {
    let median = |runs: &[f64]| {
        let mut sorted = runs.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    for (n, runs) in rates {
        println!(
            "{backend:>8}: {n} witnesses: median {:.0} ballots/s over {} runs",
            median(runs),
            runs.len()
        );
    }
    let Some((_, base)) = rates.iter().find(|(n, _)| *n == 0) else {
        return;
    };
    for (n, runs) in rates.iter().filter(|(n, _)| *n > 0) {
        let shares: Vec<f64> = runs.iter().zip(base).map(|(w, b)| w / b).collect();
        let low = shares.iter().copied().fold(f64::INFINITY, f64::min);
        let high = shares.iter().copied().fold(0.0, f64::max);
        println!(
            "{backend:>8}: with {n} witnesses {:.2} of the rate without (medians; rounds {low:.2}–{high:.2})",
            median(runs) / median(base)
        );
    }
}

/// One run: `count` witnesses (all needed), `ballots` cast by `clients`; returns ballots/s.
fn run(
    runtime: &tokio::runtime::Runtime,
    backend: &str,
    count: usize,
    &Shape {
        ballots,
        clients,
        period,
        batch_max,
    }: &Shape,
) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (url, cleanup) = database(backend, dir.path());
    let (mut witnessing, table) = witnesses(&url, dir.path(), count, count);
    let tokens = prepare_with(&url, dir.path(), ballots, &table);
    let batch_max = batch_max.to_string();
    let mut server = serve_with(
        &url,
        dir.path(),
        period,
        &[("STRIKEVOTE_BATCH_MAX", &batch_max)],
    );
    let address = server.1.clone();
    // A quarter "no"; the choice padded to one width, as the API asks.
    let bodies: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let choice = if i % 4 == 0 { "no     " } else { "yes    " };
            serde_json::json!({ "token": token, "choice": choice }).to_string()
        })
        .collect();
    let (elapsed, mut latencies, failures) =
        runtime.block_on(cast_bodies(&address, bodies, clients));
    let server_cpu = cpu_seconds(server.0.id());
    let witness_cpu: f64 = witnessing.iter().map(|w| cpu_seconds(w.id())).sum::<f64>() + 0.0;
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
        "{backend:>8}: {rate:>7.0} ballots/s  p50 {:>4} ms  p99 {:>4} ms  ({} ok, {failures} failed, {counted} counted, {:.1} s, {count} witnesses; CPU: server {server_cpu:.1} s, witnesses {witness_cpu:.1} s)",
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
