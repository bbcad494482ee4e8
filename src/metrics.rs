//! What `/metrics` reports, in Prometheus text format (the `prometheus` crate): the recorder
//! only (the route is [`crate::http::health::metrics`]). What is counted is about the
//! service, never about a member: no metric has a token, a receipt, a member, a local or a
//! choice among its labels, and the ballot counters are totals over every election, so they say
//! nothing the public turnout does not. Labels are drawn from fixed sets (error codes, route
//! patterns, HTTP methods and statuses) or are election ids.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::Pool;
use crate::error::ErrorCode;

/// The HTTP methods the `method` label names; every other method string counts as `other`.
const KNOWN_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Every metric the service keeps, registered in its own registry (one per server, so that
/// several servers in one test process do not share counts).
pub struct Metrics {
    registry: Registry,
    ballots_accepted: IntCounter,
    ballots_refused: IntCounterVec,
    batch_size: Histogram,
    batch_commit: Histogram,
    http: HistogramVec,
    pool_wait: Histogram,
    pool_connections: IntGaugeVec,
    log_entries: IntGaugeVec,
    elections: IntGaugeVec,
    scrape_errors: IntCounter,
    logins: IntCounterVec,
}

/// The outcomes the `strikevote_logins_total` metric counts; any other word counts as `other`.
const LOGIN_OUTCOMES: [&str; 7] = [
    "signed_in",
    "wrong_password",
    "unknown_user",
    "locked",
    "disabled",
    "address_throttled",
    "busy",
];

/// Latency buckets, in seconds: 1 ms to 10 s.
const LATENCY: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Batch-size buckets, in ballots.
const BATCH: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
];

/// Makes metrics and registers each in one registry as it is made.
struct Reg<'a>(&'a Registry);

impl Reg<'_> {
    fn add<C: prometheus::core::Collector + Clone + 'static>(
        &self,
        metric: C,
    ) -> prometheus::Result<C> {
        self.0.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn counter(&self, name: &str, help: &str) -> prometheus::Result<IntCounter> {
        self.add(IntCounter::new(name, help)?)
    }

    fn counter_vec(
        &self,
        name: &str,
        help: &str,
        label: &str,
    ) -> prometheus::Result<IntCounterVec> {
        self.add(IntCounterVec::new(Opts::new(name, help), &[label])?)
    }

    fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> prometheus::Result<Histogram> {
        self.add(Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        )?)
    }

    fn gauge_vec(&self, name: &str, help: &str, label: &str) -> prometheus::Result<IntGaugeVec> {
        self.add(IntGaugeVec::new(Opts::new(name, help), &[label])?)
    }
}

impl Metrics {
    /// Builds and registers every metric (and the process metrics: memory, CPU, open files).
    pub fn new(backend: &str) -> prometheus::Result<Arc<Self>> {
        let registry = Registry::new();
        let r = Reg(&registry);
        let http = r.add(HistogramVec::new(
            HistogramOpts::new(
                "strikevote_http_request_duration_seconds",
                "HTTP requests by method, route pattern and status.",
            )
            .buckets(LATENCY.to_vec()),
            &["method", "route", "status"],
        )?)?;
        let m = Self {
            ballots_accepted: r.counter(
                "strikevote_ballots_accepted_total",
                "Ballots accepted and logged (all elections).",
            )?,
            ballots_refused: r.counter_vec(
                "strikevote_ballots_refused_total",
                "Ballots refused when their batch committed, by reason (an error code).",
                "reason",
            )?,
            batch_size: r.histogram(
                "strikevote_batch_size_ballots",
                "Ballots per batch commit.",
                &BATCH,
            )?,
            batch_commit: r.histogram(
                "strikevote_batch_commit_seconds",
                "Time to commit one batch of ballots (seal, log, sign, fsync).",
                &LATENCY,
            )?,
            http,
            pool_wait: r.histogram(
                "strikevote_db_pool_wait_seconds",
                "Time a request waited for a database connection.",
                &LATENCY,
            )?,
            pool_connections: r.gauge_vec(
                "strikevote_db_pool_connections",
                "Database connections of this process, by state.",
                "state",
            )?,
            log_entries: r.gauge_vec(
                "strikevote_log_entries",
                "Entries in each election's log.",
                "election",
            )?,
            elections: r.gauge_vec("strikevote_elections", "Elections by state.", "state")?,
            scrape_errors: r.counter(
                "strikevote_metrics_scrape_errors_total",
                "Scrapes that could not read the database (log sizes may be stale).",
            )?,
            logins: r.counter_vec(
                "strikevote_logins_total",
                "Officials' sign-in attempts by outcome (the page answers every failure alike).",
                "outcome",
            )?,
            registry,
        };
        let build = IntGauge::with_opts(
            Opts::new("strikevote_build_info", "The running build (always 1).")
                .const_label("version", env!("CARGO_PKG_VERSION"))
                .const_label("backend", backend),
        )?;
        build.set(1);
        let r = &m.registry;
        r.register(Box::new(build))?;
        // process_resident_memory_bytes, process_cpu_seconds_total, … (Linux only).
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Arc::new(m))
    }

    /// One sign-in attempt's outcome (a word of [`LOGIN_OUTCOMES`]; any other counts as
    /// `other`).
    pub fn login(&self, outcome: &str) {
        let outcome = LOGIN_OUTCOMES
            .iter()
            .find(|o| **o == outcome)
            .copied()
            .unwrap_or("other");
        self.logins.with_label_values(&[outcome]).inc();
    }

    /// One batch committed: its size, how long it took, and each ballot's outcome.
    pub fn batch(&self, outcomes: &[Option<ErrorCode>], took: Duration) {
        self.batch_size.observe(outcomes.len() as f64);
        self.batch_commit.observe(took.as_secs_f64());
        for outcome in outcomes {
            match outcome {
                None => self.ballots_accepted.inc(),
                Some(code) => self.refused(*code, 1),
            }
        }
    }

    /// Ballots refused for one reason (a whole failed batch counts as `server_error`).
    pub fn refused(&self, code: ErrorCode, n: u64) {
        self.ballots_refused
            .with_label_values(&[code.as_str()])
            .inc_by(n);
    }

    /// One HTTP request answered. `route` is the matched pattern (`/api/v1/elections/{id}`),
    /// never the path itself, so no id, token or receipt becomes a label.
    /// The method label comes from a fixed set (any other method string is `other`), so no
    /// client can add series by inventing methods.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let method = KNOWN_METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        self.http
            .with_label_values(&[method, route, &status.to_string()])
            .observe(took.as_secs_f64());
    }

    /// Time spent waiting for a pooled connection.
    pub fn pool_wait(&self, took: Duration) {
        self.pool_wait.observe(took.as_secs_f64());
    }

    /// The text exposition, after reading the gauges that are read at scrape time.
    pub fn render(&self, pool: &Pool, elections: Option<Vec<(String, String, u64)>>) -> String {
        let state = pool.state();
        let idle = i64::from(state.idle_connections);
        self.pool_connections.with_label_values(&["idle"]).set(idle);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(state.connections) - idle);
        match elections {
            Some(list) => {
                self.log_entries.reset();
                self.elections.reset();
                for (id, state, size) in list {
                    self.log_entries
                        .with_label_values(&[&id])
                        .set(i64::try_from(size).unwrap_or(i64::MAX));
                    self.elections.with_label_values(&[&state]).inc();
                }
            }
            None => self.scrape_errors.inc(),
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
