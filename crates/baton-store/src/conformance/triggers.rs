//! Triggers and their deliveries.

use std::sync::Arc;

use baton_model::RunState;

use super::{id, run, t};
use crate::{ApplyOutcome, DeliveryOutcome, DeliveryRecord, Store, TriggerApply, TriggerDelivery};

fn trigger(tenant: &str, name: &str, filter: &str) -> baton_model::trigger::Trigger {
    let yaml = format!(
        "apiVersion: baton/v1\nkind: Trigger\nmetadata: {{name: {name}, tenant: {tenant}}}\nspec:\n  type: webhook\n  workflow: w\n  filter: '{filter}'\n  webhook: {{secrets: [{{env: S}}]}}\n"
    );
    match baton_model::load("t.yaml", &yaml).unwrap().remove(0) {
        baton_model::Resource::Trigger(t) => t.trigger,
        other => panic!("not a trigger: {other:?}"),
    }
}

async fn apply(store: &dyn Store, trigger: baton_model::trigger::Trigger, at: i64) -> ApplyOutcome {
    let hash = baton_model::content_hash(&trigger);
    store.trigger_apply(TriggerApply { trigger, hash, now: t(at) }).await.unwrap()
}

fn delivery(name: &str, source: &str, outcome: DeliveryOutcome, at: i64) -> DeliveryRecord {
    DeliveryRecord {
        tenant: "default".into(),
        trigger: name.into(),
        source: source.into(),
        received_at: t(at),
        outcome,
        reason: None,
        run_id: None,
    }
}

pub async fn trigger_apply_list_delete(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(apply(s, trigger("default", "b", "true"), 0).await, ApplyOutcome::Created { version: 1 });
    assert_eq!(apply(s, trigger("default", "b", "true"), 5).await, ApplyOutcome::Unchanged { version: 1 });
    assert_eq!(apply(s, trigger("default", "b", "false"), 10).await, ApplyOutcome::Updated { version: 2 });
    apply(s, trigger("default", "a", "true"), 0).await;
    apply(s, trigger("acme", "a", "true"), 0).await;

    let b = s.trigger_get("default", "b").await.unwrap().unwrap();
    assert_eq!((b.generation, b.created_at, b.updated_at), (2, t(0), t(10)));
    assert_eq!(b.trigger.spec.filter.as_deref(), Some("false"));
    let names = |list: Vec<crate::TriggerRecord>| -> Vec<String> {
        list.iter().map(|r| format!("{}/{}", r.tenant(), r.name())).collect()
    };
    assert_eq!(names(s.trigger_list(None).await.unwrap()), ["acme/a", "default/a", "default/b"]);
    assert_eq!(names(s.trigger_list(Some("acme")).await.unwrap()), ["acme/a"]);

    s.trigger_deliver(TriggerDelivery { delivery: delivery("b", "sig:1", DeliveryOutcome::Ignored, 20), run: None })
        .await
        .unwrap();
    assert!(s.trigger_delete("default", "b").await.unwrap());
    assert!(!s.trigger_delete("default", "b").await.unwrap());
    assert!(s.trigger_get("default", "b").await.unwrap().is_none());
    assert!(s.trigger_history("default", "b", 10).await.unwrap().is_empty(), "history goes with the trigger");
    assert!(s.trigger_get("acme", "a").await.unwrap().is_some());
}

pub async fn trigger_deliveries_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    apply(s, trigger("default", "hook", "true"), 0).await;
    let mut first = delivery("hook", "sig:abc", DeliveryOutcome::Started, 30);
    first.run_id = Some(id(1));
    let mut chained = run(id(1), "w", RunState::Pending, 30);
    chained.depth = 2;
    chained.not_before = Some(t(35));
    let new = s.trigger_deliver(TriggerDelivery { delivery: first.clone(), run: Some(chained.clone()) });
    assert!(new.await.unwrap());
    assert_eq!(s.run_get(id(1)).await.unwrap(), Some(chained), "the run is recorded with its depth and start");

    // The same source again (a replayed signature): nothing new, no run.
    let mut replay = delivery("hook", "sig:abc", DeliveryOutcome::Started, 40);
    replay.run_id = Some(id(2));
    let again =
        s.trigger_deliver(TriggerDelivery { delivery: replay, run: Some(run(id(2), "w", RunState::Pending, 40)) });
    assert!(!again.await.unwrap());
    assert!(s.run_get(id(2)).await.unwrap().is_none(), "a replay starts no run");

    let mut ignored = delivery("hook", "sig:def", DeliveryOutcome::Ignored, 50);
    ignored.reason = Some("the filter is false".into());
    assert!(s.trigger_deliver(TriggerDelivery { delivery: ignored.clone(), run: None }).await.unwrap());
    let history = s.trigger_history("default", "hook", 10).await.unwrap();
    assert_eq!(history, vec![ignored, first]);
    assert_eq!(s.trigger_history("default", "hook", 1).await.unwrap().len(), 1);
}
