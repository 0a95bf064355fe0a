//! W1, W2 and W3.

use std::time::Instant;

use anyhow::{Result, bail};
use futures_util::StreamExt;
use serde_json::{Map, Value as Json, json};

use crate::Step;
use crate::server::Server;

fn workflow(name: &str, steps: &[String]) -> String {
    format!("apiVersion: baton/v1\nkind: Workflow\nmetadata: {{name: {name}}}\nspec:\n  steps:\n{}", steps.concat())
}

fn step(id: &str, needs: &[String], kind: Step) -> String {
    let needs = if needs.is_empty() { String::new() } else { format!("      needs: [{}]\n", needs.join(", ")) };
    format!("    - id: {id}\n      {}\n{needs}", kind.yaml())
}

/// Starts a run and follows its event stream to the end; returns the wall time.
async fn one_run(server: &Server, name: &str) -> Result<f64> {
    let started = Instant::now();
    let run: Json = server
        .http
        .post(format!("{}/api/v1/workflows/{name}/runs", server.base))
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let id = run["id"].as_str().unwrap_or_default().to_string();
    follow_to_success(server, &id).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Follows a run's event stream until it succeeds (an error if it ends otherwise).
pub async fn follow_to_success(server: &Server, id: &str) -> Result<()> {
    let response = server.http.get(format!("{}/api/v1/runs/{id}/events", server.base)).send().await?;
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = body.next().await {
        buffer.extend_from_slice(&chunk?);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let item: Json = serde_json::from_slice(&line)?;
            let state = match item["type"].as_str() {
                Some("snapshot") => item["run"]["state"].as_str().map(String::from),
                Some("event") if item["event"]["type"] == "run" => item["event"]["state"].as_str().map(String::from),
                _ => None,
            };
            match state.as_deref() {
                Some("succeeded") => return Ok(()),
                Some("failed" | "cancelled" | "timed_out") => bail!("run {id} ended {state:?}"),
                _ => {}
            }
        }
    }
    bail!("the event stream of run {id} ended early")
}

pub async fn w1(server: &Server, kind: Step) -> Result<Map<String, Json>> {
    let steps: Vec<String> = (0..100)
        .map(|i| step(&format!("s{i}"), &if i == 0 { vec![] } else { vec![format!("s{}", i - 1)] }, kind))
        .collect();
    server.apply(workflow("w1", &steps)).await?;
    let wall = one_run(server, "w1").await?;
    Ok(figures(json!({"steps": 100, "wall_s": round(wall, 4), "per_step_ms": round(wall * 1000.0 / 100.0, 3)})))
}

pub async fn w3(server: &Server, kind: Step) -> Result<Map<String, Json>> {
    let middle: Vec<String> = (0..500).map(|i| format!("p{i}")).collect();
    let mut steps = vec![step("start", &[], kind)];
    steps.extend(middle.iter().map(|id| step(id, &["start".to_string()], kind)));
    steps.push(step("join", &middle, kind));
    server.apply(workflow("w3", &steps)).await?;
    let wall = one_run(server, "w3").await?;
    Ok(figures(json!({"steps": 502, "wall_s": round(wall, 4)})))
}

pub async fn w2(server: &Server, kind: Step) -> Result<Map<String, Json>> {
    const RUNS: usize = 1000;
    // Each submission returns only once its run is durably recorded, so
    // throughput comes from group commit: enough requests must be in flight
    // to fill a commit. 64 connections (override: W2_CLIENTS).
    let clients: usize = std::env::var("W2_CLIENTS").ok().and_then(|c| c.parse().ok()).unwrap_or(64);
    server.apply(workflow("w2", &[step("only", &[], kind)])).await?;
    let started = Instant::now();
    let submitters = (0..clients).map(|c| async move {
        for _ in (c..RUNS).step_by(clients) {
            let r =
                server.http.post(format!("{}/api/v1/workflows/w2/runs", server.base)).json(&json!({})).send().await?;
            if !r.status().is_success() {
                bail!("submitting a run failed: {}", r.text().await?);
            }
        }
        Ok(())
    });
    for result in futures_util::future::join_all(submitters).await {
        result?;
    }
    let submitted = started.elapsed().as_secs_f64();
    loop {
        let active: Json = server
            .http
            .get(format!("{}/api/v1/runs?workflow=w2&state=active&limit=1", server.base))
            .send()
            .await?
            .json()
            .await?;
        if active["items"].as_array().is_some_and(|a| a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let done: Json = server
        .http
        .get(format!("{}/api/v1/runs?workflow=w2&state=succeeded&limit=1000", server.base))
        .send()
        .await?
        .json()
        .await?;
    let succeeded = done["items"].as_array().map_or(0, Vec::len);
    if succeeded != RUNS {
        bail!("{succeeded} of {RUNS} runs succeeded");
    }
    Ok(figures(json!({
        "runs": RUNS, "clients": clients, "wall_s": round(wall, 4), "submit_s": round(submitted, 4),
        "runs_per_s": round(RUNS as f64 / wall, 1),
    })))
}

pub fn figures(value: Json) -> Map<String, Json> {
    value.as_object().cloned().unwrap_or_default()
}

pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}
