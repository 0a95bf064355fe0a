//! Live progress of a run from its event stream, surviving a server
//! restart: the stream is reopened and picks up from a fresh snapshot.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use baton_engine::Event;
use baton_model::{RunState, StepState};
use baton_server::api::{RunDetail, StreamItem};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::Method;

use super::{clock_time, span};
use crate::client::{Client, segment};

/// How long to keep trying to reach a server that went away.
const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// Prints the run's progress until it ends; returns its final state.
pub async fn follow(client: &Client, run: &str, json: bool) -> Result<RunState> {
    let mut view = View { json, ..View::default() };
    let mut lost_since: Option<std::time::Instant> = None;
    loop {
        match stream_once(client, run, &mut view).await {
            Ok(Some(state)) => return Ok(state),
            Ok(None) | Err(_) if lost_since.is_some_and(|t| t.elapsed() > RECONNECT_FOR) => {
                bail!(
                    "lost the server for more than {}s; the run goes on: `baton get runs {run}`",
                    RECONNECT_FOR.as_secs()
                )
            }
            Err(e) if lost_since.is_none() && !view.connected => return Err(e),
            Ok(None) | Err(_) => {
                if lost_since.is_none() && !json {
                    eprintln!("{}  connection to the server lost; reconnecting…", clock_time(Utc::now()));
                }
                lost_since.get_or_insert_with(std::time::Instant::now);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        if view.connected {
            lost_since = None;
            view.connected = false;
        }
    }
}

/// Reads one connection's worth of the stream; `Some` once the run ended.
async fn stream_once(client: &Client, run: &str, view: &mut View) -> Result<Option<RunState>> {
    let request = client.request(Method::GET, &format!("/api/v1/runs/{}/events", segment(run)));
    let response = client.send(request).await?;
    view.connected = true;
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk?);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let item: StreamItem = serde_json::from_slice(&line)?;
            if let Some(state) = view.show(item) {
                return Ok(Some(state));
            }
        }
    }
    Ok(None)
}

#[derive(Default)]
struct View {
    json: bool,
    connected: bool,
    header_shown: bool,
    /// What was last printed per step, so that a new snapshot repeats nothing.
    shown: HashMap<String, (StepState, u32)>,
    started: HashMap<String, DateTime<Utc>>,
    run_started: Option<DateTime<Utc>>,
}

impl View {
    fn show(&mut self, item: StreamItem) -> Option<RunState> {
        if self.json {
            println!("{}", serde_json::to_string(&item).unwrap_or_default());
        }
        match item {
            StreamItem::Snapshot { run } => self.snapshot(&run),
            StreamItem::Event { event } => self.event(event),
            StreamItem::Heartbeat { .. } => None,
        }
    }

    fn snapshot(&mut self, detail: &RunDetail) -> Option<RunState> {
        let r = &detail.run;
        self.run_started = r.started_at.or(Some(r.created_at));
        if !self.header_shown && !self.json {
            println!("run {}: {} v{} ({})", r.id, r.workflow, r.version, r.state);
            self.header_shown = true;
        }
        for s in &detail.steps {
            let attempt_start = s.attempt_started_at.or(s.started_at);
            if let Some(t) = attempt_start {
                self.started.insert(s.key.clone(), t);
            }
            let at = s.finished_at.or(attempt_start).unwrap_or(r.created_at);
            self.step(&s.key, s.state, s.attempt, at, s.reason.as_deref(), s.exit_code);
        }
        r.state
            .is_terminal()
            .then(|| self.run_end(r.state, r.finished_at.unwrap_or_else(Utc::now), r.reason.as_deref()))
    }

    fn event(&mut self, event: Event) -> Option<RunState> {
        match event {
            Event::Step { key, state, attempt, at, reason, exit_code, .. } => {
                if state == StepState::Running {
                    self.started.insert(key.clone(), at);
                }
                self.step(&key, state, attempt, at, reason.as_deref(), exit_code);
                None
            }
            Event::Run { state, at, reason, .. } if state.is_terminal() => {
                Some(self.run_end(state, at, reason.as_deref()))
            }
            Event::Run { state, at, reason, .. } => {
                if !self.json && state == RunState::Compensating {
                    println!("{}  run compensating: {}", clock_time(at), reason.unwrap_or_default());
                }
                None
            }
            Event::Misfire { .. } => None,
        }
    }

    fn step(
        &mut self,
        key: &str,
        state: StepState,
        attempt: u32,
        at: DateTime<Utc>,
        reason: Option<&str>,
        exit: Option<i32>,
    ) {
        if self.shown.get(key) == Some(&(state, attempt)) {
            return;
        }
        self.shown.insert(key.to_string(), (state, attempt));
        if self.json {
            return;
        }
        let mut detail = String::new();
        if attempt > 1 {
            detail.push_str(&format!("  attempt {attempt}"));
        }
        if state == StepState::Succeeded
            && let Some(start) = self.started.get(key)
        {
            detail.push_str(&format!("  {}", span(*start, at)));
        }
        if let (Some(code), StepState::Failed) = (exit, state) {
            detail.push_str(&format!("  exit {code}"));
        }
        if let Some(reason) = reason.filter(|_| state != StepState::Succeeded) {
            detail.push_str(&format!("  — {reason}"));
        }
        println!("{}  {key:<24} {state}{detail}", clock_time(at));
    }

    fn run_end(&self, state: RunState, at: DateTime<Utc>, reason: Option<&str>) -> RunState {
        if !self.json {
            let took = self.run_started.map(|s| format!(" in {}", span(s, at))).unwrap_or_default();
            let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
            println!("{}  run {state}{took}{why}", clock_time(at));
        }
        state
    }
}
