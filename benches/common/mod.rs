//! What the casting and soak benchmarks share: a prepared open election with `n` members and
//! their tokens, a `strikevote serve` process, turnout, and PostgreSQL housekeeping.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The multi-threaded runtime the benchmarks' HTTP clients run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A numeric knob from the environment.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A database URL for `backend` (`sqlite` in `dir`, or a new PostgreSQL database) and what to
/// drop afterwards.
pub fn database(backend: &str, dir: &Path) -> (String, Option<(String, String)>) {
    match backend {
        "sqlite" => (format!("sqlite://{}", dir.join("bench.db").display()), None),
        "postgres" => {
            let admin = std::env::var("STRIKEVOTE_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("sv_bench_{}", uuid::Uuid::new_v4().simple());
            psql(&admin, &format!("CREATE DATABASE {name}"));
            let (base, _) = admin.rsplit_once('/').unwrap();
            (format!("{base}/{name}"), Some((admin, name)))
        }
        other => panic!("unknown backend {other}"),
    }
}

pub fn sv(url: &str, dir: &Path, args: &[&str]) -> String {
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
/// Locals in every benchmark election (as IATSE in 2021).
pub const LOCALS: usize = 36;

/// The benchmark election's definition: IATSE's rule, `LOCALS` locals `L0`…, the window given.
pub fn definition_toml(opens_at: &str, closes_at: &str) -> String {
    let mut toml = format!(
        "title = \"Bench\"\nquestion = \"Strike?\"\nchoices = [\"yes\", \"no\"]\nrule = \"delegates\"\n\
         threshold = {{ num = 1, den = 2, cmp = \"more_than\" }}\n\
         local_threshold = {{ num = 3, den = 4, cmp = \"at_least\" }}\n\
         opens_at = \"{opens_at}\"\ncloses_at = \"{closes_at}\"\n\
         tellers = {{ count = 1, threshold = 1 }}\n",
    );
    for i in 0..LOCALS {
        toml.push_str(&format!(
            "\n[[locals]]\ncode = \"L{i}\"\nname = \"Local {i}\"\ndelegates = {}\n",
            10 + i
        ));
    }
    toml
}

pub fn prepare(url: &str, dir: &Path, n: usize) -> Vec<String> {
    prepare_with(url, dir, n, "")
}

/// [`prepare`] with more of the definition (`[witnesses]`, say) appended.
pub fn prepare_with(url: &str, dir: &Path, n: usize, extra: &str) -> Vec<String> {
    let toml = definition_toml("2026-01-01T00:00:00Z", "2036-01-01T00:00:00Z") + extra;
    std::fs::write(dir.join("e.toml"), toml).unwrap();
    let mut csv = String::from("member_id,local,name,email\n");
    for i in 0..n {
        csv.push_str(&format!("M{i},L{},,\n", (i * i) % 36));
    }
    std::fs::write(dir.join("r.csv"), csv).unwrap();
    let created: serde_json::Value = serde_json::from_str(&sv(
        url,
        dir,
        &[
            "election",
            "create",
            "--file",
            "e.toml",
            "--public-url",
            "http://localhost:8080",
            "--json",
        ],
    ))
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["teller_invitations"][0]["code"].as_str().unwrap();
    std::fs::write(dir.join("invitation"), code).unwrap();
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
                "--invitation-file",
                "invitation",
            ],
        )
        .contains("the election key is ready")
    });
    assert!(ready, "the key ceremony did not complete");
    sv(url, dir, &["election", "open", &id]);
    std::fs::write(dir.join("id"), &id).unwrap();
    members(dir).into_iter().map(|(token, _)| token).collect()
}

/// Each member's token and local, from the mailing file [`prepare_with`] wrote.
pub fn members(dir: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(dir.join("t.csv")).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[4].to_owned(), r[1].to_owned())
        })
        .collect()
}

pub fn serve(url: &str, dir: &Path, period: usize) -> (Child, String) {
    serve_with(url, dir, period, &[])
}

/// [`serve`] with more settings in the environment (`STRIKEVOTE_…`).
pub fn serve_with(url: &str, dir: &Path, period: usize, env: &[(&str, &str)]) -> (Child, String) {
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
        // BENCH_LOG=info (or strikevote=debug) shows each batch's and each cosigning's time.
        .env(
            "RUST_LOG",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .envs(env.iter().copied())
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

pub fn turnout(url: &str, dir: &Path) -> usize {
    let id = std::fs::read_to_string(dir.join("id")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&sv(url, dir, &["turnout", &id, "--json"])).unwrap();
    json["cast"].as_u64().unwrap() as usize
}

pub fn psql(admin: &str, sql: &str) {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let mut conn = PgConnection::establish(admin).expect("PostgreSQL reachable");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

/// The server's resident memory, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU time a process has used so far (user + system), in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time the whole machine has been busy so far (every core, every process, the kernel's
/// own work included), in seconds: the first line of /proc/stat, all but idle and iowait.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: f64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy / 100.0
}

/// `count` witnesses (`strikevote witness serve`) on free loopback ports, each witnessing this
/// deployment's log key; returns their processes and the definition's `[witnesses]` table
/// (all of them needed, or `quorum`).
pub fn witnesses(url: &str, dir: &Path, count: usize, quorum: usize) -> (Vec<Child>, String) {
    if count == 0 {
        return (Vec::new(), String::new());
    }
    let log_key = sv(url, dir, &["key", "show"]).trim().to_owned();
    let mut table = format!("\n[witnesses]\nquorum = {quorum}\n");
    let mut children = Vec::new();
    // BENCH_WITNESS_DIR (e.g. /dev/shm) puts the witnesses' state on another disk, as on
    // their own machines: on one disk their fsyncs queue with the database's.
    let base = std::env::var_os("BENCH_WITNESS_DIR").map_or_else(
        || dir.to_path_buf(),
        |d| tempfile::tempdir_in(d).unwrap().keep(),
    );
    for i in 0..count {
        let wdir = base.join(format!("witness-{i}"));
        let run = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_strikevote"))
                .arg("witness")
                .arg("--dir")
                .arg(&wdir)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let vkey = run(&["init", "--name", &format!("w{i}.bench.example")])
            .lines()
            .last()
            .unwrap()
            .to_owned();
        run(&[
            "add-log",
            "--origin-prefix",
            "localhost:8080/elections/",
            "--log-key",
            &log_key,
        ]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_strikevote"))
            .arg("witness")
            .arg("--dir")
            .arg(&wdir)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        children.push(child);
        table.push_str(&format!(
            "[[witnesses.list]]\nname = \"Witness {i}\"\nkey = \"{vkey}\"\nurl = \"http://127.0.0.1:{port}\"\n"
        ));
    }
    (children, table)
}

/// Casts `bodies` (JSON for `POST /api/v1/ballots`) from `clients` concurrent clients: the time
/// it took, each accepted ballot's latency, and how many were refused.
pub async fn cast_bodies(
    address: &str,
    bodies: Vec<String>,
    clients: usize,
) -> (std::time::Duration, Vec<std::time::Duration>, usize) {
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let url = format!("{address}/api/v1/ballots");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (bodies, next, url, client) =
                (bodies.clone(), next.clone(), url.clone(), client.clone());
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = std::time::Instant::now();
                    let res = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
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
    let (mut all, mut failures) = (Vec::new(), 0);
    for w in workers {
        let (l, f) = w.await.unwrap();
        all.extend(l);
        failures += f;
    }
    (started.elapsed(), all, failures)
}
