//! W5: 1,000 cron schedules each firing every minute for three minutes
//! (lateness of fires, CPU and RSS of the server); with `SCHEDULES=N`
//! (e.g. 1000000), N active schedules spread over the day: time to load
//! them at start, and RSS.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Map, Value as Json, json};

use crate::server::Server;

const WORKFLOW: &str =
    "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: w5}\nspec:\n  steps: [{id: a, kind: noop}]\n";

fn schedule(n: usize, cron: &str) -> String {
    format!(
        "---\napiVersion: baton/v1\nkind: Schedule\nmetadata: {{name: s{n}}}\nspec: {{workflow: w5, cron: '{cron}', overlap: allow}}\n"
    )
}

/// Seconds of CPU the process has used (user + system).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command may hold spaces: count fields after its closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub async fn fires(server: &Server) -> Result<Map<String, Json>> {
    const SCHEDULES: usize = 1000;
    const MINUTES: i64 = 3;
    let mut yaml = WORKFLOW.to_string();
    for n in 0..SCHEDULES {
        yaml.push_str(&schedule(n, "* * * * *"));
    }
    let started = Instant::now();
    server.apply(yaml).await?;
    let apply_s = started.elapsed().as_secs_f64();
    // Measure whole minutes: from the next minute boundary, three minutes.
    let now = chrono::Utc::now();
    let first = now + chrono::Duration::seconds(60 - i64::from(chrono::Timelike::second(&now)))
        - chrono::Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&now)));
    let cpu_before = cpu_seconds(server.pid());
    let until = first + chrono::Duration::minutes(MINUTES);
    tokio::time::sleep((until - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(5)).await;
    let cpu = cpu_seconds(server.pid()) - cpu_before;
    let mut late: Vec<f64> = Vec::new();
    for run in all_runs(server).await? {
        let Some(due) = run["trigger"]
            .as_str()
            .and_then(|t| t.split_once('@'))
            .and_then(|(_, d)| d.parse::<chrono::DateTime<chrono::Utc>>().ok())
        else {
            continue;
        };
        if due < first || due >= until {
            continue;
        }
        let Some(started) = run["started_at"].as_str().and_then(|s| s.parse::<chrono::DateTime<chrono::Utc>>().ok())
        else {
            bail!("run {} never started", run["id"]);
        };
        late.push((started - due).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    let expected = SCHEDULES * MINUTES as usize;
    if late.len() != expected {
        bail!("{} of {expected} fires happened in the measured minutes", late.len());
    }
    late.sort_by(f64::total_cmp);
    let pct = |p: f64| late[((late.len() as f64 * p).ceil() as usize).saturating_sub(1).min(late.len() - 1)];
    Ok(json!({
        "schedules": SCHEDULES, "minutes": MINUTES, "fires": late.len(), "apply_s": round(apply_s),
        "wall_s": round(MINUTES as f64 * 60.0),
        "lateness_p50_ms": round(pct(0.50)), "lateness_p99_ms": round(pct(0.99)), "lateness_max_ms": round(pct(1.0)),
        "cpu_s": round(cpu), "cpu_pct": round(cpu / (MINUTES as f64 * 60.0) * 100.0),
    })
    .as_object()
    .cloned()
    .unwrap_or_default())
}

async fn all_runs(server: &Server) -> Result<Vec<Json>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/v1/runs?workflow=w5&limit=1000", server.base);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Json = server.http.get(url).send().await?.json().await?;
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `SCHEDULES=N`: N daily schedules spread over the day's minutes, written
/// straight into the database (applying them one by one through the API
/// would measure the API, not the load); then the time from starting
/// `baton serve` to its answering, which includes loading them all.
pub async fn load(n: usize) -> Result<Map<String, Json>> {
    let server = Server::start().await?;
    server.apply(WORKFLOW.to_string()).await?;
    let dir = server.stop_keep().await;
    let written = Instant::now();
    fill(&dir.path().join("baton.db"), n).await?;
    let fill_s = written.elapsed().as_secs_f64();
    let started = Instant::now();
    let server = Server::start_in(dir).await?;
    let load_s = started.elapsed().as_secs_f64();
    let status: Json = server.http.get(format!("{}/api/v1/schedule-stats", server.base)).send().await?.json().await?;
    if status["schedules"].as_u64() != Some(n as u64) {
        bail!("the server sees {} schedules, not {n}", status["schedules"]);
    }
    let rss = server.peak_rss_mb();
    let cpu = cpu_seconds(server.pid());
    server.stop().await;
    Ok(json!({"schedules": n, "fill_s": round(fill_s), "load_s": round(load_s), "wall_s": round(load_s), "cpu_s": round(cpu), "peak_rss_mb": rss})
        .as_object()
        .cloned()
        .unwrap_or_default())
}

async fn fill(db: &std::path::Path, n: usize) -> Result<()> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(db).connect().await?;
    let now = chrono::Utc::now().timestamp_micros();
    for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
        let rows: Vec<Json> = chunk
            .iter()
            .map(|i| {
                let cron = format!("{} {} * * *", i % 60, (i / 60) % 24);
                let body = json!({
                    "metadata": {"name": format!("s{i}"), "tenant": "default"},
                    "spec": {"workflow": "w5", "cron": cron, "timezone": "UTC", "enabled": true, "misfire": "fire_once",
                             "misfire_limit": 10, "overlap": "allow", "priority": 0, "dst": "auto"}
                });
                json!({"name": format!("s{i}"), "body": body.to_string()})
            })
            .collect();
        sqlx::query(
            "INSERT INTO schedules (tenant, name, generation, hash, body, created_at, updated_at)
             SELECT 'default', value->>'name', 1, 'bench', value->>'body', ?2, ?2 FROM json_each(?1)",
        )
        .bind(Json::Array(rows).to_string())
        .bind(now)
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}
