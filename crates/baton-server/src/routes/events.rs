//! `GET /api/v1/runs/{id}/events`: newline-delimited JSON. A snapshot of
//! the run first, then its events as they are committed, until it ends.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use baton_engine::Event;
use futures_util::stream;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::runs::{detail, resolve};
use crate::api::StreamItem;
use crate::{ApiError, AppState};

const HEARTBEAT: Duration = Duration::from_secs(15);

pub async fn stream(State(app): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let run = resolve(&app, &id).await?;
    // Subscribe before the snapshot so that nothing falls between the two.
    let events = app.engine.subscribe();
    let snapshot = detail(&app, run).await?;
    let finished = snapshot.run.state.is_terminal();
    let state = Follow { app, id: snapshot.run.id, events, first: Some(snapshot), done: finished };
    let body = Body::from_stream(stream::unfold(state, next_line));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

struct Follow {
    app: AppState,
    id: Uuid,
    events: broadcast::Receiver<Event>,
    first: Option<crate::api::RunDetail>,
    done: bool,
}

async fn next_line(mut f: Follow) -> Option<(Result<String, std::io::Error>, Follow)> {
    if let Some(snapshot) = f.first.take() {
        return Some((Ok(line(&StreamItem::Snapshot { run: Box::new(snapshot) })), f));
    }
    if f.done {
        return None;
    }
    loop {
        let item = match tokio::time::timeout(HEARTBEAT, f.events.recv()).await {
            Err(_) => StreamItem::Heartbeat { at: f.app.engine.clock().now() },
            Ok(Ok(event)) if event.run_id() != Some(f.id) => continue,
            Ok(Ok(event)) => {
                f.done = event.ends_run();
                StreamItem::Event { event }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => match resnapshot(&f).await {
                Some(detail) => {
                    f.done = detail.run.state.is_terminal();
                    StreamItem::Snapshot { run: Box::new(detail) }
                }
                None => return None,
            },
            Ok(Err(broadcast::error::RecvError::Closed)) => return None,
        };
        return Some((Ok(line(&item)), f));
    }
}

/// After falling behind, the reader gets the whole run again.
async fn resnapshot(f: &Follow) -> Option<crate::api::RunDetail> {
    let run = f.app.engine.store().run_get(f.id).await.ok()??;
    detail(&f.app, run).await.ok()
}

fn line(item: &StreamItem) -> String {
    let mut text = serde_json::to_string(item).unwrap_or_default();
    text.push('\n');
    text
}
