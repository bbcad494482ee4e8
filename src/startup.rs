//! Builds the HTTP application: database pool, migrations, middleware and routes.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use anyhow::Context;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ballot::pool::CastingPool;
use crate::db::{self, Pool};
use crate::log::{LogSigner, key};
use crate::settings::Settings;
use crate::web;

/// Shared, read-only state every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Database connections.
    pub pool: Pool,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The checkpoint signing key.
    pub signer: Arc<LogSigner>,
    /// Where ballots wait for their batch.
    pub casting: CastingPool,
    /// Failed logins per client address (this process's share of the throttle).
    pub login_failures: Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>,
}

/// A bound, not yet running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects to the database (migrating it), binds the listener and builds the server.
    /// Binding port 0 picks a free port, which [`Application::port`] reports (for tests).
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let url = settings.database()?;
        let pool = db::connect(&url, settings.db_pool_size)?;
        let signer = key::load_or_create(&settings.signing_key_path)?;
        Self::build_with(settings, pool, signer)
    }

    /// Builds the server over an existing pool and signing key.
    pub fn build_with(settings: Settings, pool: Pool, signer: LogSigner) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let signer = Arc::new(signer);
        let casting = CastingPool::start(
            pool.clone(),
            signer.clone(),
            Duration::from_millis(settings.batch_period_ms),
            settings.batch_max,
        );
        let state = AppState {
            pool,
            settings: Arc::new(settings),
            signer,
            casting,
            login_failures: Arc::default(),
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(actix_web::web::Data::new(state.clone()))
                .configure(|cfg| web::configure(cfg, state.settings.body_limit_bytes))
                .wrap(actix_web::middleware::from_fn(web::auth::authorize))
                .wrap(web::security_headers())
                .wrap(actix_web::middleware::from_fn(web::log_request))
        })
        // SIGTERM and SIGINT stop accepting, then let requests in flight finish.
        .shutdown_timeout(30)
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
