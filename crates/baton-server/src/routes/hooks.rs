//! `POST /hooks/{tenant}/{name}`: a signed webhook call. The body is read
//! no further than the trigger's limit; the answer is 202 with the run id
//! only once the run is durably recorded.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_engine::triggers::webhook::{Delivered, HookError, WebhookCall};

use crate::api::HookAnswer;
use crate::{ApiError, AppState};

pub async fn deliver(
    State(app): State<AppState>,
    Path((tenant, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&app, &tenant, &name, headers, body).await {
        Ok(Delivered::Started(run_id)) => {
            let answer = HookAnswer { status: "started".into(), run_id: Some(run_id), reason: None };
            (StatusCode::ACCEPTED, Json(answer)).into_response()
        }
        Ok(Delivered::Ignored(reason)) => {
            let answer = HookAnswer { status: "ignored".into(), run_id: None, reason: Some(reason) };
            (StatusCode::OK, Json(answer)).into_response()
        }
        Err(e) => problem(e),
    }
}

async fn receive(
    app: &AppState,
    tenant: &str,
    name: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<Delivered, HookError> {
    let limit = app.engine.webhook_body_limit(tenant, name)?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        app.engine.webhook_too_large(tenant, name);
        return Err(HookError::TooLarge { limit });
    }
    let Ok(body) = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await else {
        // Longer than the limit (or the client went away mid-body).
        app.engine.webhook_too_large(tenant, name);
        return Err(HookError::TooLarge { limit });
    };
    let call = WebhookCall { headers: header_map(&headers), body: body.to_vec() };
    app.engine.deliver_webhook(tenant, name, call).await
}

/// Lowercase names (as `http` keeps them); repeated headers joined.
fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_string()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
    }
    map
}

fn problem(e: HookError) -> Response {
    let e = match e {
        HookError::Engine(inner) => return ApiError::from(inner).into_response(),
        other => other,
    };
    let (status, code) = match &e {
        HookError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        HookError::Disabled(_) => (StatusCode::CONFLICT, "disabled"),
        HookError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        HookError::InvalidSignature => (StatusCode::UNAUTHORIZED, "invalid_signature"),
        HookError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        HookError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        HookError::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    let mut response = ApiError::new(status, code, e.to_string()).into_response();
    if let HookError::RateLimited { retry_after } = e {
        let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    }
    response
}
