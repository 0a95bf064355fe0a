//! The CLI's side of the REST API.

use anyhow::{Context, Result, anyhow};
use baton_server::api::Problem;
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(server: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client { base: server.trim_end_matches('/').to_string(), http: reqwest::Client::new() }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.json(self.request(Method::GET, path)).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        let response = self.send(request).await?;
        response.json().await.context("the server's answer is not what this client expects")
    }

    /// Sends; a non-2xx answer becomes an error carrying the server's words.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => Err(anyhow!(ProblemError(problem))),
            Err(_) => Err(anyhow!("the server answered {status}: {text}")),
        }
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        if e.is_connect() {
            anyhow!(
                "cannot reach the baton server at {} (is `baton serve` running? pick another with --server or BATON_SERVER)",
                self.base
            )
        } else {
            anyhow!("request to {} failed: {e}", self.base)
        }
    }
}

/// A problem document from the server, shown with each of its errors.
#[derive(Debug)]
pub struct ProblemError(pub Problem);

impl std::fmt::Display for ProblemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.detail)?;
        // Each problem on a line of its own, unless the summary already says it.
        for e in self.0.errors.iter().filter(|e| !self.0.detail.contains(&e.message)) {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProblemError {}

/// Percent-encodes a path segment (step keys hold `[`, `]` and `:`).
pub fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
