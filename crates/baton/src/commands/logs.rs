//! `baton logs RUN [STEP]`.

use anyhow::Result;
use baton_server::api::RunDetail;
use reqwest::{Method, StatusCode};

use crate::client::{Client, segment};

pub async fn logs(client: &Client, run: &str, step: Option<&str>, attempt: Option<u32>) -> Result<()> {
    if let Some(step) = step {
        print!("{}", fetch(client, run, step, attempt).await?.unwrap_or_default());
        return Ok(());
    }
    let detail: RunDetail = client.get(&format!("/api/v1/runs/{}", segment(run))).await?;
    for s in detail.steps.iter().filter(|s| s.attempt > 0) {
        let text = fetch(client, &detail.run.id.to_string(), &s.key, attempt).await?;
        println!("==> {} (attempt {}, {}) <==", s.key, s.attempt, s.state);
        match text {
            Some(t) if !t.is_empty() => {
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

async fn fetch(client: &Client, run: &str, step: &str, attempt: Option<u32>) -> Result<Option<String>> {
    let mut request = client.request(Method::GET, &format!("/api/v1/runs/{}/logs/{}", segment(run), segment(step)));
    if let Some(a) = attempt {
        request = request.query(&[("attempt", a)]);
    }
    match client.send(request).await {
        Ok(response) => Ok(Some(response.text().await?)),
        Err(e) if is_missing_log(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_missing_log(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::client::ProblemError>()
        .is_some_and(|p| p.0.status == StatusCode::NOT_FOUND.as_u16() && p.0.detail.starts_with("no log"))
}
