//! Event triggers: a listener on the engine's events that offers each run
//! ending (and each misfired schedule) to the event triggers of its tenant.
//! A delivery is recorded once per (trigger, event), so the catch-up after
//! a restart, or after the listener fell behind, starts nothing twice.

use std::collections::BTreeMap;

use baton_model::RunState;
use baton_model::expr::Bindings;
use baton_store::{DeliveryOutcome, DeliveryRecord, RunFilter, RunRecord};
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::{Counters, Loaded};
use crate::engine::Engine;
use crate::events::Event;

/// How far back a starting node looks for run endings it may not have
/// offered to the event triggers yet.
const CATCH_UP: chrono::Duration = chrono::Duration::minutes(15);
/// Runs looked at by a catch-up, newest first.
const CATCH_UP_RUNS: u32 = 1000;

pub(crate) async fn listen(
    engine: Engine,
    mut events: broadcast::Receiver<Event>,
    mut shutdown: watch::Receiver<bool>,
) {
    catch_up(&engine).await;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match event {
            Ok(Event::Run { run_id, state, .. }) if state.is_terminal() => {
                let event_type = format!("run.{state}");
                if engine.triggers().listens(&event_type)
                    && let Ok(Some(run)) = engine.store().run_get(run_id).await
                {
                    offer_run_end(&engine, &run).await;
                }
            }
            Ok(Event::Misfire { tenant, schedule, workflow, due_at, count, outcome, at }) => {
                let event = json!({
                    "type": "schedule.misfired", "at": at,
                    "schedule": {"tenant": tenant, "name": schedule, "workflow": workflow, "due_at": due_at,
                                 "count": count, "outcome": outcome},
                });
                let source = format!("schedule.misfired:{schedule}@{}", due_at.to_rfc3339());
                offer(&engine, &tenant, "schedule.misfired", &source, event, 0).await;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the event-trigger listener fell behind; catching up from stored runs");
                catch_up(&engine).await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Offers the run endings of the last minutes again (each is recorded once).
async fn catch_up(engine: &Engine) {
    if !engine.triggers().has_event_triggers() {
        return;
    }
    let filter = RunFilter {
        states: vec![RunState::Succeeded, RunState::Failed, RunState::Cancelled, RunState::TimedOut],
        limit: CATCH_UP_RUNS,
        ..RunFilter::default()
    };
    let since = engine.clock().now() - CATCH_UP;
    match engine.store().run_list(filter).await {
        Ok(runs) => {
            for run in runs.iter().filter(|r| r.finished_at.is_some_and(|f| f >= since)) {
                offer_run_end(engine, run).await;
            }
        }
        Err(e) => tracing::error!(error = %e, "event triggers cannot catch up on run endings"),
    }
}

async fn offer_run_end(engine: &Engine, run: &RunRecord) {
    let event_type = format!("run.{}", run.state);
    let event = json!({
        "type": event_type, "at": run.finished_at,
        "run": {
            "id": run.id, "tenant": run.tenant, "workflow": run.workflow, "version": run.version,
            "state": run.state, "trigger": run.trigger, "inputs": run.inputs, "reason": run.reason,
            "depth": run.depth, "created_at": run.created_at, "started_at": run.started_at,
            "finished_at": run.finished_at,
        },
    });
    let source = format!("{event_type}:{}", run.id);
    offer(engine, &run.tenant, &event_type, &source, event, run.depth + 1).await;
}

/// Offers one event to every listening trigger of the tenant that existed
/// when it happened.
async fn offer(engine: &Engine, tenant: &str, event_type: &str, source: &str, event: Json, depth: u32) {
    let happened = event["at"].as_str().and_then(|a| a.parse::<DateTime<Utc>>().ok());
    let bindings = Bindings::new(&BTreeMap::from([("event", event)]));
    for trigger in engine.triggers().listening(tenant, event_type) {
        if happened.is_some_and(|at| at < trigger.record.created_at) {
            continue;
        }
        deliver(engine, &trigger, source, &bindings, depth).await;
    }
}

async fn deliver(engine: &Engine, trigger: &Loaded, source: &str, bindings: &Bindings, depth: u32) {
    let name = trigger.record.name();
    let mut record = DeliveryRecord {
        tenant: trigger.record.tenant().to_string(),
        trigger: name.to_string(),
        source: source.to_string(),
        received_at: engine.clock().now(),
        outcome: DeliveryOutcome::Started,
        reason: None,
        run_id: None,
    };
    let max = trigger.record.trigger.spec.event.as_ref().map_or(0, |e| e.max_depth);
    let result = if depth > max {
        record.outcome = DeliveryOutcome::TooDeep;
        record.reason = Some(format!(
            "the run would be {depth} links down a chain of event triggers; this trigger allows {max} (max_depth)"
        ));
        engine.store().trigger_deliver(baton_store::TriggerDelivery { delivery: record, run: None }).await.map(|new| {
            if new {
                Counters::add(&trigger.counters.too_deep);
                tracing::warn!(trigger = name, source, depth, "event trigger chain stopped at its maximum depth");
            }
        })
    } else {
        match engine.deliver(trigger, record, bindings, depth, "event").await {
            Ok(_) => Ok(()),
            Err(super::webhook::HookError::Unprocessable(reason)) => {
                tracing::warn!(trigger = name, source, %reason, "event trigger did not start its workflow");
                Ok(())
            }
            Err(e) => Err(baton_store::StoreError::Other(e.to_string())),
        }
    };
    if let Err(e) = result {
        tracing::error!(trigger = name, source, error = %e, "event trigger delivery failed; the catch-up at the next start retries it");
    }
}
