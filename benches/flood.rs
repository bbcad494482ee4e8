//! Floods anyone can send, against a real `strikevote serve` process while members vote:
//! wrong sign-ins for unknown usernames from many addresses (each under every per-address
//! limit, so only the password gate bounds them), requests with invented HTTP methods (each
//! once a new metrics series), and 31 MB bodies to the public tally-share route. Reports the
//! voters' latency (p50, p99) and errors and the server's peak resident memory, quiet and under
//! the floods, and how each flood was answered. A documented script, not part of CI: the
//! tests (tests/api/security.rs, metrics.rs, tellers.rs) assert the bounds; this gives figures.
//!
//! Run: `cargo bench --bench flood`. Knobs: FLOOD_SECONDS (default 20), FLOOD_RATE (ballots/s,
//! default 50), FLOOD_LOGINS (sign-ins in flight, default 400), BENCH_BACKENDS (default
//! "sqlite"), STRIKEVOTE_TEST_POSTGRES_URL.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{database, env_or, prepare, psql, rss_mib, runtime, serve_with};

/// Answers by status code.
type Statuses = Arc<Mutex<BTreeMap<String, u64>>>;

fn count(statuses: &Statuses, status: String) {
    *statuses.lock().unwrap().entry(status).or_default() += 1;
}

fn main() {
    let seconds = env_or("FLOOD_SECONDS", 20) as u64;
    let rate = env_or("FLOOD_RATE", 50).max(1);
    let logins = env_or("FLOOD_LOGINS", 400);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    let runtime = runtime();
    for backend in backends.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let (url, cleanup) = database(backend, dir.path());
        let members = rate * (seconds as usize + 10);
        let tokens = prepare(&url, dir.path(), members);
        let id = std::fs::read_to_string(dir.path().join("id")).unwrap();
        // Behind a (trusted) proxy, so each flooder can name another address.
        let (mut child, address) = serve_with(
            &url,
            dir.path(),
            100,
            // Each failed sign-in logs a warning: only errors, so the report stays readable.
            &[
                ("STRIKEVOTE_TRUSTED_PROXIES", "127.0.0.1"),
                ("RUST_LOG", "error"),
            ],
        );
        let pid = child.id();
        println!(
            "flood {backend}: {rate} ballots/s; {logins} sign-ins in flight, invented methods, 31 MB shares"
        );
        println!(
            "  {:<8} {:>8} {:>7} {:>8} {:>8} {:>9}",
            "phase", "ballots", "errors", "p50 ms", "p99 ms", "peak MiB"
        );
        let tokens = Arc::new(Mutex::new(tokens));
        runtime.block_on(async {
            let quiet = phase(&address, &tokens, rate, Duration::from_secs(5), pid).await;
            quiet.print("quiet");
            let stop = Arc::new(AtomicBool::new(false));
            let answers: Statuses = Arc::default();
            let floods = start_floods(&address, &id, logins, &stop, &answers);
            let flooded = phase(&address, &tokens, rate, Duration::from_secs(seconds), pid).await;
            stop.store(true, Ordering::Relaxed);
            for f in floods {
                let _ = f.await;
            }
            flooded.print("flooded");
            println!("  flood answers: {:?}", answers.lock().unwrap());
        });
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = child.wait();
        if let Some((admin, name)) = cleanup {
            psql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"));
        }
    }
}

/// What voters saw in one phase.
struct Seen {
    latencies: Vec<Duration>,
    errors: u64,
    peak_mib: f64,
}

impl Seen {
    fn print(&self, name: &str) {
        let mut l = self.latencies.clone();
        l.sort();
        let at = |q: f64| {
            l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "  {name:<8} {:>8} {:>7} {:>8.1} {:>8.1} {:>9.0}",
            l.len(),
            self.errors,
            at(0.5),
            at(0.99),
            self.peak_mib
        );
    }
}

/// Members cast at `rate` per second for `length` (an open loop), while the server's memory
/// is sampled every 100 ms.
async fn phase(
    address: &str,
    tokens: &Arc<Mutex<Vec<String>>>,
    rate: usize,
    length: Duration,
    pid: u32,
) -> Seen {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut casts = Vec::new();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            while start.elapsed() < length {
                peak.fetch_max((rss_mib(pid) * 1024.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    while start.elapsed() < length {
        tick.tick().await;
        let Some(token) = tokens.lock().unwrap().pop() else {
            break;
        };
        let (client, url) = (client.clone(), format!("{address}/api/v1/ballots"));
        casts.push(tokio::spawn(async move {
            let sent = Instant::now();
            let res = client
                .post(url)
                .json(&serde_json::json!({ "token": token, "choice": "yes    " }))
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => Some(sent.elapsed()),
                _ => None,
            }
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for c in casts {
        match c.await.ok().flatten() {
            Some(took) => latencies.push(took),
            None => errors += 1,
        }
    }
    let _ = sampler.await;
    Seen {
        latencies,
        errors,
        peak_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
    }
}

/// Starts the three floods; each runs until `stop`.
fn start_floods(
    address: &str,
    id: &str,
    logins: usize,
    stop: &Arc<AtomicBool>,
    answers: &Statuses,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for worker in 0..logins {
        let (address, stop, answers) = (address.to_owned(), stop.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let client = reqwest::Client::builder()
                    .cookie_store(true)
                    .build()
                    .unwrap();
                let Ok(page) = client.get(format!("{address}/login")).send().await else {
                    continue;
                };
                let page = page.text().await.unwrap_or_default();
                let csrf = page
                    .split("name=\"csrf\" value=\"")
                    .nth(1)
                    .map(|r| r[..32.min(r.len())].to_owned())
                    .unwrap_or_default();
                // Every attempt from another address: no per-address limit is reached.
                let from = format!("10.{}.{}.{}", worker % 250, (n / 250) % 250, n % 250);
                let res = client
                    .post(format!("{address}/login"))
                    .header("X-Forwarded-For", from)
                    .form(&[
                        ("username", format!("nobody{worker}-{n}").as_str()),
                        ("password", "wrong wrong wrong"),
                        ("csrf", &csrf),
                    ])
                    .send()
                    .await;
                let status = res.map_or("failed".into(), |r| r.status().as_u16().to_string());
                count(&answers, format!("login {status}"));
            }
        }));
    }
    for worker in 0..4 {
        let (address, stop, answers) = (address.to_owned(), stop.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let method = reqwest::Method::from_bytes(format!("X{worker}M{n}").as_bytes())
                    .unwrap_or(reqwest::Method::GET);
                let res = client
                    .request(method, format!("{address}/healthz"))
                    .send()
                    .await;
                let status = res.map_or("failed".into(), |r| r.status().as_u16().to_string());
                count(&answers, format!("method {status}"));
            }
        }));
    }
    let body = Arc::new(vec![b'x'; 31 * 1024 * 1024]);
    for _ in 0..6 {
        let (address, stop, answers, body) = (
            address.to_owned(),
            stop.clone(),
            answers.clone(),
            body.clone(),
        );
        let url = format!("{address}/api/v1/elections/{}/tally-shares", id.trim());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let res = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body.as_ref().clone())
                    .send()
                    .await;
                let status = res.map_or("failed".into(), |r| r.status().as_u16().to_string());
                count(&answers, format!("share {status}"));
            }
        }));
    }
    tasks
}
