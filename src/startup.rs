//! Builds the HTTP application: database pool, migrations, middleware and routes.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use anyhow::Context;

use std::time::{Duration, Instant};

use crate::ballot::pool::CastingPool;
use crate::db::{self, Pool};
use crate::http::state::AppState;
use crate::log::LogKey;
use crate::metrics::Metrics;
use crate::settings::Settings;

use crate::http::health::MetricsAccess;

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    /// The internal `/metrics` listener, when `metrics_bind` is set: its port and server.
    metrics_server: Option<(u16, Server)>,
    state: AppState,
    casting_thread: Option<std::thread::JoinHandle<()>>,
}

impl Application {
    /// Connects to the database (migrating it), binds the listener and builds the server.
    /// Binding port 0 picks a free port, which [`Application::port`] reports (for tests).
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let url = settings.database()?;
        let pool = db::connect(&url, settings.db_pool_size)?;
        // The key that signed this database's elections (never a new one beside them), and a
        // database restored from an older backup, are checked before anything is served.
        let mut conn = pool.get().map_err(crate::error::Error::from)?;
        let signer = crate::log::signing::signing_key(
            &mut conn,
            &settings.signing_key_path,
            settings.heads_dir.as_deref(),
        )?;
        crate::log::store::check_heads(&mut conn, &signer)?;
        drop(conn);
        Self::build_with(settings, pool, signer)
    }

    /// Builds the server over an existing pool and signing key.
    pub fn build_with(settings: Settings, pool: Pool, signer: LogKey) -> anyhow::Result<Self> {
        // Refuse a public address without a public URL before listening on it at all.
        if settings.public_url.is_none() {
            settings.serving_public_url(0)?;
        }
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let public_url = settings.serving_public_url(port)?;
        let signer = Arc::new(signer);
        let backend = match settings.database()?.backend() {
            db::Backend::Postgres => "postgres",
            db::Backend::Sqlite => "sqlite",
        };
        let metrics = Metrics::new(backend).context("cannot set up the metrics")?;
        let (casting, casting_thread) = CastingPool::start(
            pool.clone(),
            signer.clone(),
            metrics.clone(),
            crate::ballot::pool::Batching {
                period: Duration::from_millis(settings.batch_period_ms),
                max: settings.batch_max,
                witness_wait: Duration::from_secs(settings.witness_wait_seconds),
            },
        );
        let state = AppState {
            pool,
            settings: Arc::new(settings),
            signer,
            casting,
            public_url,
            metrics,
            password_gate: Arc::default(),
        };
        let metrics_server = metrics_server(&state)?;
        let app_state = state.clone();
        // Browser paths' errors in the pages' own look and language.
        crate::http::set_error_page(crate::web::page::error_page);
        let limits = crate::http::limit::Limits::new(
            state.settings.rate_limit_per_minute,
            &state.settings.trusted_proxies,
        );
        let server = HttpServer::new(move || {
            App::new()
                .app_data(actix_web::web::Data::new(state.clone()))
                .configure(|cfg| {
                    crate::http::configure(cfg, state.settings.body_limit_bytes, |cfg| {
                        crate::routes::configure(cfg, &limits)
                    })
                })
                .wrap(crate::http::security_headers())
                .wrap(actix_web::middleware::from_fn(crate::http::privacy_headers))
                .wrap(actix_web::middleware::from_fn(crate::http::log_request))
        })
        // SIGTERM and SIGINT stop accepting, then let requests in flight finish.
        .shutdown_timeout(30)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            metrics_server,
            state: app_state,
            casting_thread,
        })
    }

    /// The state handlers share (pool, signer, public URL).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the internal metrics listener, if `metrics_bind` set one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Serves until SIGTERM/SIGINT, then shuts down gracefully: requests in flight finish,
    /// the casting pool commits and answers what it holds, every database connection closes,
    /// and a SQLite write-ahead log is checkpointed into the database file (so a copy of the
    /// file alone, made after the stop, holds every ballot).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            metrics_server,
            state,
            casting_thread,
            ..
        } = self;
        let schedule = start_schedule(&state);
        let mut sender = start_sender(&state);
        let internal = metrics_server.map(|(_, s)| {
            let handle = s.handle();
            (handle, tokio::spawn(s))
        });
        let served = server.await;
        if let Some((handle, task)) = internal {
            handle.stop(true).await;
            let _ = task.await;
        }
        if let Some(task) = schedule {
            task.abort();
        }
        if let Some(sender) = sender.as_mut() {
            // The message in hand is finished (or its lease runs out and another sends it).
            sender.stop();
        }
        let url = state.settings.database();
        drop(state);
        if let Some(thread) = casting_thread {
            // The thread ends once every handle is gone (the workers' copies went with them).
            let deadline = Instant::now() + Duration::from_secs(30);
            while !thread.is_finished() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if let Ok(url) = url {
            match db::checkpoint_wal(&url) {
                Ok(()) => tracing::info!(database = %url, "database closed cleanly"),
                Err(e) => tracing::error!(error = %e, "could not checkpoint the database on stop"),
            }
        }
        served
    }
}

/// The internal listener that serves only `/metrics`, without credentials (`metrics_bind`).
fn metrics_server(state: &AppState) -> anyhow::Result<Option<(u16, Server)>> {
    let Some(bind) = state.settings.metrics_bind.as_deref() else {
        return Ok(None);
    };
    let listener = TcpListener::bind(bind)
        .with_context(|| format!("cannot listen on {bind} (metrics_bind)"))?;
    let port = listener.local_addr()?.port();
    let state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(actix_web::web::Data::new(state.clone()))
            .app_data(actix_web::web::Data::new(MetricsAccess::Internal))
            .route(
                "/metrics",
                actix_web::web::get().to(crate::http::health::metrics),
            )
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok(Some((port, server)))
}

/// The outbox's sender, when `smtp_url` is set.
fn start_sender(state: &AppState) -> Option<crate::notices::sender::SenderHandle> {
    let server = state.settings.mail().ok().flatten()?;
    match crate::notices::sender::start(state.pool.clone(), state.signer.clone(), server) {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!(error = %e, "the mail sender could not start; nothing is sent");
            None
        }
    }
}

/// Every `schedule_seconds`, opens and closes the votes whose time has come
/// ([`crate::election::schedule`]); `None` when the setting is 0.
fn start_schedule(state: &AppState) -> Option<actix_web::rt::task::JoinHandle<()>> {
    let every = Duration::from_secs(state.settings.schedule_seconds);
    if every.is_zero() {
        return None;
    }
    let (pool, signer) = (state.pool.clone(), state.signer.clone());
    Some(actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let (pool, signer) = (pool.clone(), signer.clone());
            let done = actix_web::web::block(move || {
                let mut conn = pool.get().map_err(crate::error::Error::from)?;
                crate::election::schedule::run_due(&mut conn, &signer)
            })
            .await;
            match done {
                Ok(Ok(changes)) => {
                    for (id, action) in changes {
                        tracing::info!(election = %id, action = action.as_str(), "scheduled change made");
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "the schedule check failed; trying again"),
                Err(e) => tracing::warn!(error = %e, "the schedule check could not run"),
            }
        }
    }))
}
