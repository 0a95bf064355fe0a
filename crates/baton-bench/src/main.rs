//! `baton-bench W1|W2|W3|W4|W5`: starts the real `baton serve` (release build) on
//! a fresh SQLite database, runs one workload of shared/BENCHMARKS.md and
//! prints exactly one JSON line. Reads `BACKEND`, `NODES` and `STEP` from
//! the environment.

mod server;
mod w4;
mod w5;
mod workloads;

use std::time::Duration;

use anyhow::{Result, bail};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    Noop,
    Shell,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Noop => "noop",
            Step::Shell => "shell",
        }
    }

    /// The YAML of one step body of this kind.
    pub fn yaml(self) -> &'static str {
        match self {
            Step::Noop => "kind: noop",
            Step::Shell => "kind: shell\n      with: {run: 'true'}",
        }
    }
}

/// The whole benchmark may not take longer than this.
const BUDGET: Duration = Duration::from_secs(600);

#[tokio::main]
async fn main() {
    match tokio::time::timeout(BUDGET, run()).await {
        Ok(Ok(line)) => println!("{line}"),
        Ok(Err(e)) => {
            eprintln!("baton-bench: {e:#}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("baton-bench: gave up after {}s", BUDGET.as_secs());
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let workload = std::env::args().nth(1).unwrap_or_default().to_ascii_uppercase();
    let backend = std::env::var("BACKEND").unwrap_or_else(|_| "sqlite".into());
    let nodes: u32 = std::env::var("NODES").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let step = match std::env::var("STEP").as_deref() {
        Ok("shell") => Step::Shell,
        Ok("noop") | Err(_) => Step::Noop,
        Ok(other) => bail!("STEP must be noop or shell, not `{other}`"),
    };
    if backend != "sqlite" || nodes != 1 {
        bail!("only BACKEND=sqlite with NODES=1 exists so far (PostgreSQL and several nodes are not built yet)");
    }
    let server = server::Server::start().await?;
    let mut figures = match workload.as_str() {
        "W1" => workloads::w1(&server, step).await?,
        "W2" => workloads::w2(&server, step).await?,
        "W3" => workloads::w3(&server, step).await?,
        "W4" => w4::run(&server, step).await?,
        "W5" => match std::env::var("SCHEDULES").ok().and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n > 0 => {
                server.stop().await;
                let mut figures = w5::load(n).await?;
                return Ok(line(&workload, &backend, nodes, step, &mut figures));
            }
            _ => w5::fires(&server).await?,
        },
        other => bail!("unknown workload `{other}`: W1, W2, W3, W4 or W5"),
    };
    let rss = server.peak_rss_mb();
    server.stop().await;
    figures.insert("peak_rss_mb".into(), serde_json::json!(rss));
    Ok(line(&workload, &backend, nodes, step, &mut figures))
}

fn line(
    workload: &str,
    backend: &str,
    nodes: u32,
    step: Step,
    figures: &mut serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut line = serde_json::json!({
        "workload": workload, "backend": backend, "nodes": nodes, "step": step.name(),
    });
    let object = line.as_object_mut().expect("an object");
    object.append(figures);
    line.to_string()
}
