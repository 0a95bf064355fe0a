//! W4: 50 sequential triggers through the REST API and 50 through a signed
//! webhook (alternating); for each, the time from just before the call to the
//! start of the run's first step. With STEP=noop the start is the step's
//! recorded `started_at`; with STEP=shell the step itself prints the time
//! (`date +%s%N`), so the figure includes process spawn.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json, json};

use crate::Step;
use crate::server::Server;
use crate::workloads::{figures, follow_to_success, round};

const TRIGGERS: usize = 50;
const SECRET: &str = "w4-bench-secret-0123456789";

fn resources(step: Step) -> String {
    let body = match step {
        Step::Noop => "kind: noop".to_string(),
        Step::Shell => "kind: shell\n      with: {run: 'date +%s%N'}".to_string(),
    };
    format!(
        "apiVersion: baton/v1\nkind: Workflow\nmetadata: {{name: w4}}\nspec:\n  steps:\n    - id: first\n      {body}\n---\napiVersion: baton/v1\nkind: Trigger\nmetadata: {{name: w4}}\nspec:\n  type: webhook\n  workflow: w4\n  webhook:\n    secrets: [{{value: {SECRET}}}]\n    rate_limit: {{per_second: 1000, burst: 1000}}\n"
    )
}

pub async fn run(server: &Server, step: Step) -> Result<Map<String, Json>> {
    server.apply(resources(step)).await?;
    let mut rest = Vec::with_capacity(TRIGGERS);
    let mut hook = Vec::with_capacity(TRIGGERS);
    let began = std::time::Instant::now();
    for n in 0..TRIGGERS {
        rest.push(one(server, step, false, n).await?);
        hook.push(one(server, step, true, n).await?);
    }
    let (r, h) = (summary(rest), summary(hook));
    Ok(figures(json!({
        "triggers": TRIGGERS, "wall_s": round(began.elapsed().as_secs_f64(), 3),
        "p50_ms": r.0, "p95_ms": r.1, "max_ms": r.2,
        "webhook_p50_ms": h.0, "webhook_p95_ms": h.1, "webhook_max_ms": h.2,
    })))
}

/// One trigger: milliseconds from the call to the first step's start.
async fn one(server: &Server, step: Step, webhook: bool, n: usize) -> Result<f64> {
    let called = Utc::now();
    let response = if webhook {
        let body = json!({"n": n}).to_string();
        let signature = baton_engine::triggers::signature::sign(SECRET.as_bytes(), called.timestamp(), body.as_bytes());
        let url = format!("{}/hooks/default/w4", server.base);
        server.http.post(url).header("Baton-Signature", signature).body(body).send().await?
    } else {
        let url = format!("{}/api/v1/workflows/w4/runs", server.base);
        server.http.post(url).json(&json!({})).send().await?
    };
    if !response.status().is_success() {
        bail!("trigger refused: {} {}", response.status(), response.text().await?);
    }
    let answer: Json = response.json().await?;
    let id = answer["id"].as_str().or(answer["run_id"].as_str()).context("no run id in the answer")?.to_string();
    follow_to_success(server, &id).await?;
    let detail: Json = server.http.get(format!("{}/api/v1/runs/{id}", server.base)).send().await?.json().await?;
    let first = &detail["steps"][0];
    let started = match step {
        Step::Noop => first["started_at"].as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok()),
        Step::Shell => {
            first["stdout_tail"].as_str().and_then(|s| s.trim().parse::<i64>().ok()).map(DateTime::from_timestamp_nanos)
        }
    };
    let started = started.with_context(|| format!("no start time in the first step: {first}"))?;
    Ok((started - called).num_microseconds().unwrap_or(0) as f64 / 1000.0)
}

/// (p50, p95, max) in milliseconds.
fn summary(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).saturating_sub(1).min(ms.len() - 1)];
    (round(pct(0.50), 3), round(pct(0.95), 3), round(pct(1.0), 3))
}
