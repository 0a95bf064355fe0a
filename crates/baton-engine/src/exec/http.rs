//! `http` steps: one request; the outputs are its status, headers and body
//! (parsed as JSON when it is JSON).

use std::time::Instant;

use baton_model::kinds::HttpArgs;
use reqwest::Method;
use serde_json::{Map, Value as Json};
use tokio::sync::watch;

use super::{Executor, Outcome, Request, Status, Stop, stopped, timed_out};

/// Bodies larger than this are cut; the outputs are stored with the step.
const BODY_CAP: usize = 1024 * 1024;

pub async fn run(exec: &Executor, req: &Request, mut stop: watch::Receiver<Option<Stop>>) -> Outcome {
    let args: HttpArgs = match serde_json::from_value(req.with.clone()) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(format!("invalid `with` for an http step: {e}")),
    };
    let request = match build(exec, req, &args) {
        Ok(r) => r,
        Err(e) => return Outcome::failed(e),
    };
    let started = Instant::now();
    let call = async {
        let response = request.send().await.map_err(|e| format!("request failed: {}", describe(&e)))?;
        read(response).await
    };
    let result = tokio::select! {
        r = call => r,
        _ = timed_out(exec.clock.as_ref(), req.timeout) => {
            let limit = req.timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_default();
            return Outcome { reason: Some(format!("timed out after {limit}")), ..Outcome::new(Status::TimedOut) };
        }
        why = stopped(&mut stop) => return Outcome::stopped(why),
    };
    let elapsed = started.elapsed();
    match result {
        Ok(outputs) => judge(&args, outputs, elapsed),
        Err(e) => Outcome { log: Some((format!("{} {}: {e}\n", args.method, args.url), 0)), ..Outcome::failed(e) },
    }
}

fn build(exec: &Executor, req: &Request, args: &HttpArgs) -> Result<reqwest::RequestBuilder, String> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", args.method))?;
    let url = reqwest::Url::parse(&args.url).map_err(|e| format!("`{}` is not a URL: {e}", args.url))?;
    let mut builder = exec.http().request(method, url);
    let has_key = args.headers.keys().any(|k| k.eq_ignore_ascii_case("idempotency-key"));
    if !has_key {
        // The Stripe convention: a retried or replayed attempt carries the same key.
        builder = builder.header("Idempotency-Key", &req.idempotency_key);
    }
    for (name, value) in &args.headers {
        builder = builder.header(name, value);
    }
    Ok(match &args.body {
        None | Some(Json::Null) => builder,
        Some(Json::String(text)) => builder.body(text.clone()),
        Some(other) => builder.json(other),
    })
}

struct Response {
    status: u16,
    headers: Map<String, Json>,
    body: Json,
    truncated: bool,
}

async fn read(mut response: reqwest::Response) -> Result<Response, String> {
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Json::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&text);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Json::String(text));
            }
        }
    }
    let mut bytes = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the body failed: {}", describe(&e)))? {
        let room = BODY_CAP - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            truncated = true;
            break;
        }
    }
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Response { status, headers, body, truncated })
}

fn judge(args: &HttpArgs, r: Response, elapsed: std::time::Duration) -> Outcome {
    let expected = match &args.expect_status {
        Some(list) => list.contains(&r.status),
        None => (200..300).contains(&r.status),
    };
    let mut log =
        format!("{} {} -> {} ({} ms)\n", args.method.to_ascii_uppercase(), args.url, r.status, elapsed.as_millis());
    let body_text = match &r.body {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    log.push_str(&body_text);
    if r.truncated {
        log.push_str(&format!("\n[baton] body cut at {BODY_CAP} bytes\n"));
    }
    let outputs = serde_json::json!({ "status": r.status, "headers": r.headers, "body": r.body });
    let mut outcome = if expected {
        Outcome::new(Status::Succeeded)
    } else {
        let wanted = args.expect_status.as_ref().map_or("any 2xx".to_string(), |l| format!("{l:?}"));
        Outcome::failed(format!("HTTP status {} (expected {wanted})", r.status))
    };
    outcome.outputs = Some(outputs);
    outcome.log = Some((log, 0));
    outcome
}

/// reqwest's errors hide their cause; show the chain.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
