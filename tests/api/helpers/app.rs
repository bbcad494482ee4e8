//! Running servers: in-process instances and real `strikevote serve` processes.

use super::*;

/// A running server on a free port (cheap to clone: the client shares its connections).
#[derive(Clone)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The internal metrics listener, when the settings asked for one.
    pub metrics_address: Option<String>,
}

/// Starts the service on a free port, with the same database and key file as the CLI runs.
pub async fn spawn_app(db: &TestDb) -> TestApp {
    spawn_app_with(db, Settings::default().batch_period_ms).await
}

impl TestApp {
    /// GET a path; returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// GET a path that answers JSON.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(path).await;
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path} answered non-JSON ({e}): {body}"));
        (status, value)
    }
}

impl TestApp {
    /// POST JSON; returns status and the JSON answer.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("POST {path} answered non-JSON ({e}): {text}"));
        (status, value)
    }

    /// Casts through the JSON API.
    pub async fn cast(&self, token: &str, choice: &str) -> (u16, serde_json::Value) {
        self.post_json(
            "/api/v1/ballots",
            &serde_json::json!({ "token": token, "choice": format!("{choice:<7}") }),
        )
        .await
    }
}

/// Starts a second instance on the same database and key (as behind a load balancer).
pub async fn spawn_app_with(db: &TestDb, batch_period_ms: u64) -> TestApp {
    spawn_app_custom(db, |s| s.batch_period_ms = batch_period_ms).await
}

/// Starts an instance with settings adjusted by `adjust`.
pub async fn spawn_app_custom(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings {
        database_url: db.url.clone(),
        bind: "127.0.0.1:0".into(),
        signing_key_path: db.path("strikevote.key"),
        // Tests open and close their votes themselves, unless one asks for the schedule.
        schedule_seconds: 0,
        ..Settings::default()
    };
    adjust(&mut settings);
    let app = Application::build(settings).expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        metrics_address,
    }
}

impl TestApp {
    /// GET with an API token; status and JSON.
    pub async fn get_json_as(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("GET {path}: non-JSON ({e}): {text}")),
        )
    }
}

/// A `strikevote serve` process answering on `port`.
pub struct Served {
    pub child: std::process::Child,
    pub port: u16,
}

/// Starts `strikevote serve ARGS` in the scratch directory with no inherited `STRIKEVOTE_*`
/// variables besides `env`, on a free port unless `env` or `args` choose one; returns once it
/// accepts connections. The free port is found by binding port 0 and letting it go, so another
/// test may take it first: a server that then fails to bind is started again on another port.
pub fn serve_process(db: &TestDb, args: &[&str], env: &[(&str, String)]) -> Served {
    for _attempt in 0..5 {
        if let Some(served) = try_serve(db, args, env) {
            return served;
        }
    }
    panic!("serve could not bind a free port in five attempts");
}

/// One attempt: `None` if the server exited because its port was taken meanwhile.
fn try_serve(db: &TestDb, args: &[&str], env: &[(&str, String)]) -> Option<Served> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_strikevote"));
    command.current_dir(db.dir()).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("STRIKEVOTE_") {
            command.env_remove(k);
        }
    }
    command.env("STRIKEVOTE_BIND", format!("127.0.0.1:{port}"));
    // Tests open and close their votes themselves, unless one asks for the schedule.
    command.env("STRIKEVOTE_SCHEDULE_SECONDS", "0");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .arg("serve")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let exited = |child: &mut std::process::Child| -> Option<String> {
        child.try_wait().unwrap()?;
        let mut err = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
        }
        Some(err)
    };
    loop {
        if let Some(err) = exited(&mut child) {
            if err.contains("Address already in use") || err.contains("address in use") {
                return None;
            }
            panic!("serve exited: {err}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Whoever answered, our server must still be running (not beaten to the port).
            std::thread::sleep(std::time::Duration::from_millis(100));
            if let Some(err) = exited(&mut child) {
                if err.contains("Address already in use") || err.contains("address in use") {
                    return None;
                }
                panic!("serve exited: {err}");
            }
            return Some(Served { child, port });
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

impl Served {
    /// A client of it.
    pub fn app(&self) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{}", self.port),
            client: reqwest::Client::new(),
            metrics_address: None,
        }
    }

    /// Stops it with SIGTERM; asserts a clean exit and returns what it logged.
    pub fn stop(self) -> String {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let out = self.child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "serve did not stop cleanly: {stderr}");
        stderr
    }
}
