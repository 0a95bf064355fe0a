//! Running one attempt of one step: the step kinds that do work (`noop`,
//! `shell`, `http`). `sleep` needs no executor: it is a durable timer kept
//! by the run's driver.

mod capture;
mod group;
mod http;
mod shell;

use std::sync::Arc;

use baton_model::StepKind;
use baton_model::kinds::NoopArgs;
use serde_json::Value as Json;
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::EngineConfig;

/// Everything an attempt needs, with `with` already rendered.
#[derive(Debug, Clone)]
pub struct Request {
    pub run_id: Uuid,
    pub key: String,
    pub attempt: u32,
    pub kind: StepKind,
    pub with: Json,
    pub timeout: Option<std::time::Duration>,
    /// Stable across attempts and restarts: `<run id>/<step key>`.
    pub idempotency_key: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    /// Stopped because the run was cancelled or failed elsewhere.
    Cancelled,
    /// Stopped because this node is shutting down; it will run again.
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub outputs: Option<Json>,
    pub exit_code: Option<i32>,
    pub stdout_tail: Option<String>,
    pub stderr_tail: Option<String>,
    pub reason: Option<String>,
    pub log: Option<(String, u64)>,
    /// The signal that ended a shell step someone else killed.
    pub signal: Option<i32>,
}

impl Outcome {
    pub fn new(status: Status) -> Self {
        Outcome {
            status,
            outputs: None,
            exit_code: None,
            stdout_tail: None,
            stderr_tail: None,
            reason: None,
            log: None,
            signal: None,
        }
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        Outcome { reason: Some(reason.into()), ..Outcome::new(Status::Failed) }
    }

    fn stopped(stop: Stop) -> Self {
        match stop {
            Stop::Cancel => Outcome { reason: Some("cancelled".into()), ..Outcome::new(Status::Cancelled) },
            Stop::Interrupt => {
                Outcome { reason: Some("interrupted by shutdown".into()), ..Outcome::new(Status::Interrupted) }
            }
        }
    }
}

/// Why an attempt in flight is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Cancel,
    Interrupt,
}

/// What the executors share: the HTTP client, limits and the clock.
pub struct Executor {
    http: std::sync::OnceLock<reqwest::Client>,
    pub config: EngineConfig,
    pub clock: Arc<dyn Clock>,
}

impl Executor {
    pub fn new(config: EngineConfig, clock: Arc<dyn Clock>) -> Self {
        Executor { http: std::sync::OnceLock::new(), config, clock }
    }

    /// The HTTP client, built on first use: loading the system's root
    /// certificates takes a while and most servers never need them.
    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            // reqwest is built without a default TLS backend; ring is ours.
            // Installing twice is harmless (the first provider stays).
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
                // A host that never answers the handshake fails the attempt
                // (and may be retried) instead of holding it until the step timeout.
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default()
        })
    }

    /// Runs the attempt until it ends, times out, or `stop` says otherwise.
    pub async fn run(&self, req: Request, stop: watch::Receiver<Option<Stop>>) -> Outcome {
        match req.kind {
            StepKind::Noop => noop(&req),
            StepKind::Shell => shell::run(self, &req, stop).await,
            StepKind::Http => http::run(self, &req, stop).await,
            StepKind::Sleep => Outcome::failed("a sleep step has no executor (this is a bug in baton)"),
        }
    }
}

pub fn noop(req: &Request) -> Outcome {
    match serde_json::from_value::<NoopArgs>(req.with.clone()) {
        Ok(args) => Outcome { outputs: args.outputs, ..Outcome::new(Status::Succeeded) },
        Err(e) => Outcome::failed(format!("invalid `with` for a noop step: {e}")),
    }
}

/// Resolves when `stop` asks the attempt to stop, with the reason.
async fn stopped(stop: &mut watch::Receiver<Option<Stop>>) -> Stop {
    loop {
        if let Some(reason) = *stop.borrow_and_update() {
            return reason;
        }
        if stop.changed().await.is_err() {
            // The driver is gone: nobody will read the result; stop as for a shutdown.
            return Stop::Interrupt;
        }
    }
}

/// Resolves when the step's timeout elapses on the engine's clock (never without one).
async fn timed_out(clock: &dyn Clock, timeout: Option<std::time::Duration>) {
    match timeout.and_then(|t| crate::clock::after(clock.now(), t)) {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}
