//! `baton logs RUN [STEP]`.

use anyhow::Result;
use baton_server::api::RunDetail;
use reqwest::Method;

use crate::client::{Client, ProblemError, segment};

pub async fn logs(client: &Client, run: &str, step: Option<&str>, attempt: Option<u32>) -> Result<()> {
    if let Some(step) = step {
        match fetch(client, run, step, attempt).await? {
            Some((_, text)) => print!("{text}"),
            None => eprintln!("(no output)"),
        }
        return Ok(());
    }
    let detail: RunDetail = client.get(&format!("/api/v1/runs/{}", segment(run))).await?;
    let id = detail.run.id.to_string();
    for s in detail.steps.iter().filter(|s| s.attempt > 0) {
        let found = fetch(client, &id, &s.key, attempt).await?;
        let shown_attempt = found.as_ref().map_or(attempt.unwrap_or(s.attempt), |(a, _)| *a);
        println!("==> {} (attempt {shown_attempt}, {}) <==", s.key, s.state);
        match found {
            Some((_, t)) if !t.is_empty() => {
                print!("{t}");
                if !t.ends_with('\n') {
                    println!();
                }
            }
            _ => println!("(no output)"),
        }
    }
    Ok(())
}

/// The attempt number and text of a step's log; `None` when the step left no output.
async fn fetch(client: &Client, run: &str, step: &str, attempt: Option<u32>) -> Result<Option<(u32, String)>> {
    let mut request = client.request(Method::GET, &format!("/api/v1/runs/{}/logs/{}", segment(run), segment(step)));
    if let Some(a) = attempt {
        request = request.query(&[("attempt", a)]);
    }
    match client.send(request).await {
        Ok(response) => {
            let shown = response.headers().get("x-baton-attempt").and_then(|v| v.to_str().ok()?.parse().ok());
            let text = response.text().await?;
            Ok(Some((shown.unwrap_or_default(), text)))
        }
        Err(e) if e.downcast_ref::<ProblemError>().is_some_and(|p| p.0.code == "no_log") => Ok(None),
        Err(e) => Err(e),
    }
}
