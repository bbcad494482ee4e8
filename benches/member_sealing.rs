//! Ballots sealed on members' devices, cast over HTTP, against the server's own rate of
//! checking their proofs: the server checks every member-sealed ballot's proofs (on every core,
//! in the batch) before it redeems a token, so that check bounds the casting rate. Prints both
//! rates per backend and their share; asserts nothing about time (it checks every ballot was
//! accepted and counted).
//!
//! Run: `cargo bench --bench member_sealing`. Knobs (environment): BENCH_BALLOTS (default
//! 20000), BENCH_CLIENTS (concurrent clients, default 500), BENCH_PERIOD_MS (default 100),
//! BENCH_BATCH_MAX (default half the clients), BENCH_BACKENDS (default "sqlite,postgres"),
//! BENCH_POOL, BENCH_LOG, STRIKEVOTE_TEST_POSTGRES_URL (as for `casting`).
//!
//! The ballots are sealed before the clock starts (by the core, on every core — the page's
//! own sealing is measured in Chromium by tests/sealing/bench.mjs); the same ballots are first
//! checked by the core in one process (the "proof-checking rate", every core), then cast over
//! HTTP by concurrent clients against a `strikevote serve` process on the same machine.

mod common;

use std::process::Command;
use std::time::Instant;

use base64::Engine;
use common::{
    cast_bodies, cpu_seconds, database, env_or, machine_busy_seconds, members, prepare, psql,
    runtime, serve_with, sv, turnout,
};
use strikevote_core::ElectionId;
use strikevote_core::crypto::PublicKey;
use strikevote_core::crypto::ballot::{Context, SealedBallot, seal_many, validity};

fn main() {
    let ballots = env_or("BENCH_BALLOTS", 20_000);
    let clients = env_or("BENCH_CLIENTS", 500);
    let period = env_or("BENCH_PERIOD_MS", 100);
    let batch_max = env_or("BENCH_BATCH_MAX", clients.div_ceil(2));
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "member sealing: {ballots} ballots sealed on members' devices, {clients} concurrent \
         clients, batch period {period} ms, at most {batch_max} per batch, {cores} cores"
    );
    let runtime = runtime();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let (url, cleanup) = database(backend, dir.path());
        prepare(&url, dir.path(), ballots);
        let id = std::fs::read_to_string(dir.path().join("id")).unwrap();
        let key = key_from_log(&url, dir.path(), &id);
        let members = members(dir.path());
        let election = ElectionId::parse(&id).unwrap();
        let sealed = seal_for(&key, &election, &members);

        // The server's own proof checking: the same check the casting path runs, every core.
        let pairs: Vec<(Context<'_>, &SealedBallot)> = members
            .iter()
            .zip(&sealed)
            .map(|((_, local), b)| {
                (
                    Context {
                        election: &election,
                        local,
                    },
                    b,
                )
            })
            .collect();
        let (started, cpu) = (Instant::now(), cpu_seconds(std::process::id()));
        let valid = validity(&key, 2, &pairs);
        let check_rate = pairs.len() as f64 / started.elapsed().as_secs_f64();
        let check_cpu = (cpu_seconds(std::process::id()) - cpu) / pairs.len() as f64;
        assert!(valid.iter().all(|v| *v), "every sealed ballot verifies");

        let batch_max = batch_max.to_string();
        let (mut server, address) = serve_with(
            &url,
            dir.path(),
            period,
            &[("STRIKEVOTE_BATCH_MAX", &batch_max)],
        );
        let bodies: Vec<String> = members
            .iter()
            .zip(&sealed)
            .map(|((token, _), b)| serde_json::json!({"token": token, "ballot": b}).to_string())
            .collect();
        let (machine, clients_cpu) = (machine_busy_seconds(), cpu_seconds(std::process::id()));
        let (elapsed, latencies, failures) =
            runtime.block_on(cast_bodies(&address, bodies, clients));
        // What the server, its database and the kernel used: all but the load generator.
        let service_cpu =
            (machine_busy_seconds() - machine) - (cpu_seconds(std::process::id()) - clients_cpu);
        let service_cpu = service_cpu / latencies.len().max(1) as f64;
        let counted = turnout(&url, dir.path());
        let _ = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status();
        let _ = server.wait();
        let http_rate = latencies.len() as f64 / elapsed.as_secs_f64();
        let mut sorted = latencies;
        sorted.sort();
        let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
        println!(
            "{backend:>8}: proofs checked by the core {check_rate:>7.0} ballots/s; cast over HTTP \
             {http_rate:>7.0} ballots/s (p50 {} ms, p99 {} ms, {:.1} s): {:.2} of the checking rate",
            pct(0.5).as_millis(),
            pct(0.99).as_millis(),
            elapsed.as_secs_f64(),
            http_rate / check_rate
        );
        println!(
            "{backend:>8}: CPU per ballot: the core's check {:.3} ms; the service (server, \
             database, kernel; not the load generator) {:.3} ms: {:.2} of the checking rate \
             on cores of its own",
            check_cpu * 1e3,
            service_cpu * 1e3,
            check_cpu / service_cpu
        );
        assert_eq!(failures, 0, "every member-sealed ballot must be accepted");
        assert_eq!(counted, ballots, "every accepted ballot must be counted");
        if let Some((admin, name)) = cleanup {
            psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
        }
    }
}

/// The election key, from the `election_key` entry of the exported log.
fn key_from_log(url: &str, dir: &std::path::Path, id: &str) -> PublicKey {
    sv(
        url,
        dir,
        &["audit", "export", "--election", id, "--out", "bundle"],
    );
    let log = std::fs::read_to_string(dir.join("bundle").join("log.jsonl")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(r#""type":"election_key""#))
        .unwrap();
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    let text = entry["keys"]["shared_key"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap();
    PublicKey::from_bytes(&bytes).unwrap()
}

/// One ballot per member, for its local, a quarter of them "no".
fn seal_for(
    key: &PublicKey,
    election: &ElectionId,
    members: &[(String, String)],
) -> Vec<SealedBallot> {
    let wanted: Vec<(Context<'_>, usize)> = members
        .iter()
        .enumerate()
        .map(|(i, (_, local))| (Context { election, local }, usize::from(i % 4 == 0)))
        .collect();
    seal_many(key, 2, &wanted).expect("valid choices")
}
