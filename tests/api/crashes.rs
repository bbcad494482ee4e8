//! Failures in the middle of casting: an error injected at each step of the batch commit
//! (failpoints, the `fail` crate; `bash tests/run.sh` builds with them) and the server killed
//! with SIGKILL under load. Nobody is told "accepted" for a ballot the log lacks, nothing is
//! half-written, and the log still verifies.

use strikevote::audit::verify_bundle;

use crate::both_backends;
use crate::helpers::*;

/// The size line of the election's latest checkpoint, and the whole note.
async fn checkpoint(app: &TestApp, id: &str) -> (u64, String) {
    let (status, note) = app.get(&format!("/api/v1/elections/{id}/checkpoint")).await;
    assert_eq!(status, 200, "{note}");
    (note.lines().nth(1).unwrap().parse().unwrap(), note)
}

async fn token_status(app: &TestApp, token: &str) -> String {
    let (_, st) = app
        .post_json("/api/v1/token-status", &serde_json::json!({"token": token}))
        .await;
    st["status"].as_str().unwrap().to_owned()
}

/// The steps of the batch commit, in order, each with a failpoint.
#[cfg(feature = "failpoints")]
const STEPS: [&str; 5] = [
    "cast::locked",
    "cast::redeemed",
    "cast::sealed",
    "log::entries_stored",
    "log::head_signed",
];

#[cfg(feature = "failpoints")]
both_backends! {
    async fn an_error_at_any_step_of_the_batch_commit_accepts_nobody_and_writes_nothing(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 2 * STEPS.len() + 1);
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        // Failpoints are global to the process: one scenario at a time (each targets only its
        // own election, so the other tests never notice).
        let scenario = fail::FailScenario::setup();
        for (n, step) in STEPS.iter().enumerate() {
            let (before, note_before) = checkpoint(&app, &id).await;
            fail::cfg(*step, &format!("return({id})")).unwrap();
            let pair = [&tokens[2 * n].1, &tokens[2 * n + 1].1];
            let (a, b) = tokio::join!(app.cast(pair[0], "yes"), app.cast(pair[1], "no"));
            fail::remove(*step);
            for (status, body) in [a, b] {
                assert_eq!(status, 503, "{step}: {body}");
                assert_eq!(body["error"], "unavailable", "{step}: {body}");
                assert!(body.get("receipt").is_none(), "{step}: nobody is given a receipt: {body}");
                assert!(body["message"].as_str().unwrap().contains("check your token's status"), "{body}");
            }
            let (after, note_after) = checkpoint(&app, &id).await;
            assert_eq!((after, &note_after), (before, &note_before), "{step}: the log did not move");
            for token in pair {
                assert_eq!(token_status(&app, token).await, "not_used", "{step}: the token is still live");
            }
            // The same members then vote, and are counted once.
            for token in pair {
                let (status, cast) = app.cast(token, "yes").await;
                assert_eq!(status, 200, "{step}: {cast}");
            }
            assert_eq!(checkpoint(&app, &id).await.0, before + 2, "{step}");
        }
        // After the commit, recording the signed head beside the key fails: the ballot is in
        // the log, whole, and the member is not told "accepted" but sent to the token status,
        // which says the truth.
        let last = &tokens[2 * STEPS.len()].1;
        let (before, _) = checkpoint(&app, &id).await;
        fail::cfg("log::committed", &format!("return({id})")).unwrap();
        let (status, body) = app.cast(last, "no").await;
        fail::remove("log::committed");
        assert_eq!(status, 503, "{body}");
        assert!(body.get("receipt").is_none(), "{body}");
        assert_eq!(token_status(&app, last).await, "used");
        assert_eq!(checkpoint(&app, &id).await.0, before + 1);
        scenario.teardown();

        // Every ballot in the log is a used token's, and the log verifies.
        let bundle = export_bundle(db, &id, "bundle");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        assert_eq!(report.types["ballot"], 2 * STEPS.len() as u64 + 1);
        let mut used = 0;
        for (_, token) in &tokens {
            used += u64::from(token_status(&app, token).await == "used");
        }
        assert_eq!(used, report.types["ballot"]);
        // A restart accepts the database and the recorded heads (the log is ahead of the
        // head recorded before the last failure, which is allowed: it extends it).
        let again = spawn_app(db).await;
        assert_eq!(checkpoint(&again, &id).await.0, before + 1);
    }
}

/// What a member was told: accepted, with this receipt, tracker and signed checkpoint.
struct Acknowledged {
    receipt: String,
    tracker: String,
    checkpoint: String,
}

/// Casts the queued tokens from `clients` concurrent clients until the queue is empty or the
/// server stops answering; acknowledged ballots go to `acks`, the others back to the queue.
async fn cast_until_gone(
    address: String,
    queue: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    acks: std::sync::Arc<std::sync::Mutex<Vec<Acknowledged>>>,
    clients: usize,
) {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (address, queue, acks) = (address.clone(), queue.clone(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let Some(token) = queue.lock().unwrap().pop() else {
                    return;
                };
                let sent = client
                    .post(format!("{address}/api/v1/ballots"))
                    .json(&serde_json::json!({"token": token, "choice": "yes    "}))
                    .send()
                    .await;
                let answer = match sent {
                    Ok(res) if res.status() == 200 => res.json::<serde_json::Value>().await.ok(),
                    // 409 token_used: its ballot was committed before a crash took the answer.
                    Ok(res) if res.status() == 409 => continue,
                    // Unconfirmed: the token status tells, and the next try.
                    Ok(res) if res.status() == 503 => None,
                    Ok(res) => panic!(
                        "cast answered {}: {}",
                        res.status(),
                        res.text().await.unwrap_or_default()
                    ),
                    // No answer: the server died.
                    Err(_) => None,
                };
                match answer {
                    Some(cast) => acks.lock().unwrap().push(Acknowledged {
                        receipt: cast["receipt"].as_str().unwrap().to_owned(),
                        tracker: cast["tracker"].as_str().unwrap().to_owned(),
                        checkpoint: cast["checkpoint"].as_str().unwrap().to_owned(),
                    }),
                    None => {
                        // Not answered (the server died): try again on the next server.
                        queue.lock().unwrap().insert(0, token);
                        return;
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

both_backends! {
    async fn five_sigkills_under_load_lose_no_acknowledged_ballot(db: &TestDb) {
        let (id, tokens) = prepared_election(db, 600);
        sigkills_under_load(db, &id, &tokens, &[], |_| {}).await;
    }
}

both_backends! {
    async fn five_sigkills_under_load_with_witnesses_in_the_path_lose_no_acknowledged_ballot(db: &TestDb) {
        let mut w: Vec<WitnessProcess> = ["w1", "w2", "w3"].iter().map(|n| WitnessProcess::start(db, n)).collect();
        let (id, tokens) = witnessed_election(db, &w.iter().collect::<Vec<_>>(), 2, 600);
        let verifiers: Vec<_> = w.iter().map(|w| strikevote_core::witness::WitnessVerifier::parse(&w.vkey).unwrap()).collect();
        // One witness is killed (SIGKILL) before the third round and back before the fifth.
        sigkills_under_load(db, &id, &tokens, &verifiers, |round| match round {
            2 => w[0].kill(),
            4 => w[0].restart(),
            _ => {}
        })
        .await;
    }
}

/// Five rounds of: a `serve` process under load from 24 clients, killed with SIGKILL once the
/// round has had some ballots acknowledged (`between` runs before each round); then a sixth
/// finishes the vote, and every acknowledged ballot must be in the log as acknowledged, under a
/// checkpoint consistent with the final log — cosigned by two of `witnesses` when there are any.
async fn sigkills_under_load(
    db: &TestDb,
    id: &str,
    tokens: &[(String, String)],
    witnesses: &[strikevote_core::witness::WitnessVerifier],
    mut between: impl FnMut(u64),
) {
    {
        sv(db, &["election", "open", id]).ok();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(
            tokens.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        ));
        let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        // Request lines would fill the unread stderr pipe: warnings only.
        // Every client comes from 127.0.0.1: no per-address limit.
        let env = [
            ("RUST_LOG", "warn".to_owned()),
            ("STRIKEVOTE_DATABASE_URL", db.url.clone()),
            ("STRIKEVOTE_BATCH_PERIOD_MS", "20".to_owned()),
            ("STRIKEVOTE_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        ];
        for round in 0..5u64 {
            between(round);
            let served = serve_process(db, &[], &env);
            let load = tokio::spawn(cast_until_gone(
                served.app().address,
                queue.clone(),
                acks.clone(),
                24,
            ));
            // Kill it mid-load, once this round has had some ballots acknowledged.
            let target = 80 * (round as usize + 1);
            let started = std::time::Instant::now();
            while acks.lock().unwrap().len() < target
                && started.elapsed() < std::time::Duration::from_secs(30)
            {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            let mut child = served.child;
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            load.await.unwrap();
        }
        let acked = acks.lock().unwrap().len();
        assert!(acked > 0, "some ballots were acknowledged before the kills");
        assert!(
            !queue.lock().unwrap().is_empty(),
            "the load was still running at the last kill"
        );

        // A sixth start: the database and the recorded heads are accepted; finish the vote.
        let served = serve_process(db, &[], &env);
        let app = served.app();
        cast_until_gone(app.address.clone(), queue.clone(), acks.clone(), 8).await;
        assert!(queue.lock().unwrap().is_empty());
        let bundle = export_bundle(db, id, "bundle");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();

        // Every acknowledged ballot is in the log as it was acknowledged.
        let logged: std::collections::HashMap<String, String> =
            String::from_utf8(bundle.log.clone())
                .unwrap()
                .lines()
                .filter_map(|line| {
                    let entry = strikevote::log::entry::Entry::parse(line.as_bytes()).ok()?;
                    match entry.body {
                        strikevote::log::entry::Body::Ballot(b) => {
                            Some((b.receipt.clone(), b.tracker()))
                        }
                        _ => None,
                    }
                })
                .collect();
        let acks = std::mem::take(&mut *acks.lock().unwrap());
        for ack in acks.iter() {
            assert_eq!(
                logged.get(&ack.receipt),
                Some(&ack.tracker),
                "acknowledged receipt {} is in the log as cast",
                ack.receipt
            );
            if !witnesses.is_empty() {
                let cosigned =
                    strikevote_core::witness::check_quorum(&ack.checkpoint, witnesses, 2);
                assert!(
                    cosigned.is_ok(),
                    "an acknowledged checkpoint lacks its witnesses: {cosigned:?}"
                );
            }
        }
        // One ballot per token: every token was used exactly once, and nothing else is there.
        assert_eq!(report.types["ballot"], tokens.len() as u64);
        assert_eq!(logged.len(), tokens.len());
        let mut used = 0;
        for (_, token) in tokens {
            used += u64::from(token_status(&app, token).await == "used");
        }
        assert_eq!(used, report.types["ballot"], "ballots equal tokens used");

        // Every checkpoint a member was given is consistent with the final log.
        let (_, vkey) = app.get(&format!("/api/v1/elections/{id}/key")).await;
        let verifier = strikevote::log::Verifier::parse(&vkey).unwrap();
        let last = verifier.verify_checkpoint(&bundle.checkpoint).unwrap();
        let mut sizes = std::collections::BTreeMap::new();
        for ack in acks.iter() {
            let c = verifier.verify_checkpoint(&ack.checkpoint).unwrap();
            sizes.insert(c.size, c.root);
        }
        for (size, root) in sizes {
            let (_, proof) = app
                .get_json(&format!(
                    "/api/v1/elections/{id}/proof/consistency?from={size}&to={}",
                    last.size
                ))
                .await;
            assert!(
                strikevote::log::merkle::verify_consistency(
                    size,
                    last.size,
                    &root,
                    &last.root,
                    &hashes(&proof["hashes"])
                ),
                "checkpoint of size {size} is consistent with the final log"
            );
        }
        served.stop();
    }
}

/// A tmpfs of `megabytes` mounted at `dir` for the test's life (lazily unmounted on drop, even
/// when the test fails). Needs root, as CI and this machine run the tests.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path, megabytes: u32) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={megabytes}m,mode=0777"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a small tmpfs for the full-disk test needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir.to_owned())
    }

    /// Fills what is left with a file; returns its path (remove it to free the space).
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let small = vec![0u8; 512];
        while file.write_all(&small).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Moves the log's tables of a PostgreSQL test database to a tablespace on `dir` (and back).
fn log_tables_to(db: &TestDb, dir: Option<&std::path::Path>) {
    use diesel::RunQueryDsl;
    let mut conn = db.conn();
    let name = format!("sv_small_{}", db.url.rsplit('_').next().unwrap());
    let target = match dir {
        Some(dir) => {
            std::process::Command::new("chown")
                .arg("postgres")
                .arg(dir)
                .status()
                .unwrap();
            diesel::sql_query(format!(
                "CREATE TABLESPACE {name} LOCATION '{}'",
                dir.display()
            ))
            .execute(&mut conn)
            .unwrap();
            name.clone()
        }
        None => "pg_default".to_owned(),
    };
    for table in ["log_entries", "log_nodes", "checkpoints"] {
        diesel::sql_query(format!("ALTER TABLE {table} SET TABLESPACE {target}"))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!(
            "DO $$ DECLARE i text; BEGIN FOR i IN SELECT indexname FROM pg_indexes WHERE tablename = '{table}' LOOP EXECUTE format('ALTER INDEX %I SET TABLESPACE {target}', i); END LOOP; END $$"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    if dir.is_none() {
        diesel::sql_query(format!("DROP TABLESPACE {name}"))
            .execute(&mut conn)
            .unwrap();
    }
}

both_backends! {
    async fn a_full_disk_answers_503_says_so_and_acknowledges_nothing(db: &TestDb) {
        // SQLite: the whole scratch directory (database, key) on a small disk, mounted before
        // anything is in it. PostgreSQL: the log's tables in a tablespace on one.
        let sqlite = db.backend == Backend::Sqlite;
        let disk = if sqlite { SmallDisk::mount(db.dir(), 24) } else { SmallDisk::mount(&db.path("pgspace"), 4) };
        let (id, tokens) = prepared_election(db, 40);
        if !sqlite {
            log_tables_to(db, Some(&db.path("pgspace")));
        }
        sv(db, &["election", "open", &id]).ok();
        let app = spawn_app(db).await;
        let (status, cast) = app.cast(&tokens[0].1, "yes").await;
        assert_eq!(status, 200, "{cast}");

        let filler = disk.fill();
        // Whatever still fits in pages already allocated goes in; then the disk refuses.
        let mut refused = None;
        for (_, token) in &tokens[1..] {
            let (before, _) = checkpoint(&app, &id).await;
            let (status, body) = app.cast(token, "no").await;
            if status == 200 {
                continue;
            }
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["error"], "storage_full", "{body}");
            assert!(body["message"].as_str().unwrap().contains("storage is full, so nothing was recorded"), "{body}");
            assert!(body.get("receipt").is_none());
            assert_eq!(checkpoint(&app, &id).await.0, before, "the log did not move");
            assert_eq!(token_status(&app, token).await, "not_used");
            refused = Some(token.clone());
            break;
        }
        let refused = refused.expect("a full disk refused a ballot");
        // Space again: the same member votes.
        std::fs::remove_file(filler).unwrap();
        let (status, cast) = app.cast(&refused, "no").await;
        assert_eq!(status, 200, "{cast}");
        let bundle = export_bundle(db, &id, "bundle");
        let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
        let mut used = 0;
        for (_, token) in &tokens {
            used += u64::from(token_status(&app, token).await == "used");
        }
        assert_eq!(used, report.types["ballot"]);
        if !sqlite {
            log_tables_to(db, None);
        }
    }
}

/// haproxy (Debian's) in front of `servers`, on a free port: round robin, health checks on
/// `/readyz`, and a retry on another server only when the connection failed (a ballot is never
/// sent twice by the proxy).
fn haproxy(dir: &std::path::Path, servers: &[u16]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backends: String = servers
        .iter()
        .enumerate()
        .map(|(i, p)| format!("  server s{i} 127.0.0.1:{p} check\n"))
        .collect();
    let config = format!(
        "global\n  maxconn 4096\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n  retries 3\n  option redispatch\n  retry-on conn-failure\n\
         frontend vote\n  bind 127.0.0.1:{port}\n  default_backend strikevote\n\
         backend strikevote\n  balance roundrobin\n  option httpchk GET /readyz\n  http-check expect status 200\n  default-server inter 200ms fall 1 rise 2\n{backends}"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = std::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("haproxy (Debian's package; tests/run.sh installs it)");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "haproxy did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// The ballots one instance accepted, from its own /metrics.
async fn accepted_by(port: u16) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth("instances-metrics-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("strikevote_ballots_accepted_total ")?
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn three_instances_behind_haproxy_lose_nothing_when_one_is_killed() {
    // Several instances share one PostgreSQL (SQLite is one process's database).
    let db = TestDb::new(Backend::Postgres);
    let (id, tokens) = prepared_election(&db, 900);
    sv(&db, &["election", "open", &id]).ok();
    let env = [
        ("RUST_LOG", "warn".to_owned()),
        ("STRIKEVOTE_DATABASE_URL", db.url.clone()),
        ("STRIKEVOTE_BATCH_PERIOD_MS", "20".to_owned()),
        ("STRIKEVOTE_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        (
            "STRIKEVOTE_METRICS_TOKEN",
            "instances-metrics-token".to_owned(),
        ),
    ];
    let mut instances: Vec<Served> = (0..3).map(|_| serve_process(&db, &[], &env)).collect();
    let ports: Vec<u16> = instances.iter().map(|s| s.port).collect();
    let (mut proxy, address) = haproxy(db.dir(), &ports);

    let queue = std::sync::Arc::new(std::sync::Mutex::new(
        tokens.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(),
    ));
    let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let load = tokio::spawn(cast_until_gone(
        address.clone(),
        queue.clone(),
        acks.clone(),
        32,
    ));
    // Mid-load, SIGKILL the first instance.
    let started = std::time::Instant::now();
    while acks.lock().unwrap().len() < 250 && started.elapsed() < std::time::Duration::from_secs(60)
    {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut killed = instances.remove(0);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    load.await.unwrap();
    // Clients whose request died with the instance try again through the proxy.
    for _ in 0..5 {
        if queue.lock().unwrap().is_empty() {
            break;
        }
        cast_until_gone(address.clone(), queue.clone(), acks.clone(), 8).await;
    }
    assert!(
        queue.lock().unwrap().is_empty(),
        "every member voted through the proxy"
    );
    // The proxy spread the load: both survivors accepted ballots themselves.
    for port in &ports[1..] {
        assert!(
            accepted_by(*port).await > 0.0,
            "instance on {port} took no ballots"
        );
    }

    let bundle = export_bundle(&db, &id, "bundle");
    let report = verify_bundle(&bundle.log, &bundle.checkpoint, &bundle.key).unwrap();
    let logged: std::collections::HashMap<String, String> = String::from_utf8(bundle.log.clone())
        .unwrap()
        .lines()
        .filter_map(|line| {
            match strikevote::log::entry::Entry::parse(line.as_bytes())
                .ok()?
                .body
            {
                strikevote::log::entry::Body::Ballot(b) => Some((b.receipt.clone(), b.tracker())),
                _ => None,
            }
        })
        .collect();
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    for ack in &acks {
        assert_eq!(
            logged.get(&ack.receipt),
            Some(&ack.tracker),
            "acknowledged receipt {} is in the log as cast",
            ack.receipt
        );
    }
    // No token used twice: one ballot per token, as many ballots as tokens used.
    assert_eq!(report.types["ballot"], tokens.len() as u64);
    assert_eq!(logged.len(), tokens.len(), "receipts are unique");
    let app = instances[0].app();
    let mut used = 0;
    for (_, token) in &tokens {
        used += u64::from(token_status(&app, token).await == "used");
    }
    assert_eq!(used, report.types["ballot"]);
    let _ = proxy.kill();
    let _ = proxy.wait();
    for served in instances {
        served.stop();
    }
}
