//! Webhook and event triggers against a real engine and SQLite, the clock
//! driven by hand: every webhook case (valid, wrong signature, stale
//! timestamp, replay, rotated secret, body too large, filter that ignores,
//! rate limit), input mapping, and event chains with their depth bound.

mod harness;

use std::collections::BTreeMap;

use baton_engine::triggers::signature::sign;
use baton_engine::triggers::webhook::{Delivered, HookError, WebhookCall};
use baton_model::RunState;
use baton_store::DeliveryOutcome;
use harness::{Harness, expect_state};
use serde_json::json;

const SECRET: &str = "first-secret-0123456789";
const NEXT: &str = "second-secret-0123456789";

const WORKFLOW: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: deploy}\nspec:\n  inputs:\n    sha: {type: string}\n    branch: {type: string, default: main}\n  steps:\n    - {id: a, kind: noop}\n";

fn hook(extra: &str, webhook: &str) -> String {
    format!(
        "apiVersion: baton/v1\nkind: Trigger\nmetadata: {{name: push}}\nspec:\n  type: webhook\n  workflow: deploy\n  inputs:\n    sha: body.after\n    branch: body.ref.split('/')[2]\n{extra}  webhook:\n    secrets: [{{value: {SECRET}}}]\n{webhook}"
    )
}

async fn setup(extra: &str, webhook: &str) -> Harness {
    let h = Harness::new().await;
    h.apply(WORKFLOW).await;
    h.engine.start_triggers().await.unwrap();
    h.apply_trigger(&hook(extra, webhook)).await;
    h
}

fn call_at(h: &Harness, secret: &str, t: i64, body: &str) -> WebhookCall {
    let mut headers = BTreeMap::new();
    headers.insert("baton-signature".to_string(), sign(secret.as_bytes(), t, body.as_bytes()));
    headers.insert("content-type".to_string(), "application/json".to_string());
    let _ = h;
    WebhookCall { headers, body: body.as_bytes().to_vec() }
}

fn call(h: &Harness, secret: &str, body: &str) -> WebhookCall {
    call_at(h, secret, h.clock_now().timestamp(), body)
}

const PUSH: &str = r#"{"ref": "refs/heads/main", "after": "abc123"}"#;

fn counter(status: &baton_engine::triggers::TriggerStatus, name: &str) -> u64 {
    status.counters[name].as_u64().unwrap()
}

#[tokio::test]
async fn a_valid_call_records_and_starts_a_run_with_mapped_inputs() {
    let h = setup("", "").await;
    let delivered = h.engine.deliver_webhook("default", "push", call(&h, SECRET, PUSH)).await.unwrap();
    let Delivered::Started(id) = delivered else { panic!("not started: {delivered:?}") };
    // The run is in the store when the answer comes.
    let run = h.run(id).await;
    assert_eq!(run.inputs, json!({"sha": "abc123", "branch": "main"}));
    assert_eq!(run.trigger, "webhook:push");
    expect_state(&h.finished(id).await, RunState::Succeeded);
    let deliveries = h.deliveries("push").await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0].outcome, deliveries[0].run_id), (DeliveryOutcome::Started, Some(id)));
    let source = &deliveries[0].source;
    assert!(source.starts_with(&format!("t={},sha256=", h.clock_now().timestamp())), "{source}");
    let status = h.engine.trigger_status("default", "push").await.unwrap();
    assert_eq!(counter(&status, "started"), 1);
}

#[tokio::test]
async fn a_wrong_signature_is_refused_and_counted() {
    let h = setup("", "").await;
    let err = h.engine.deliver_webhook("default", "push", call(&h, "not-the-secret-0123", PUSH)).await.unwrap_err();
    assert!(matches!(err, HookError::InvalidSignature), "{err:?}");
    assert_eq!(err.to_string(), "invalid signature");
    // A good signature over another body is as wrong.
    let mut tampered = call(&h, SECRET, PUSH);
    tampered.body = br#"{"ref": "refs/heads/main", "after": "evil"}"#.to_vec();
    assert!(matches!(h.engine.deliver_webhook("default", "push", tampered).await, Err(HookError::InvalidSignature)));
    let mut unsigned = call(&h, SECRET, PUSH);
    unsigned.headers.remove("baton-signature");
    assert!(matches!(h.engine.deliver_webhook("default", "push", unsigned).await, Err(HookError::InvalidSignature)));
    let status = h.engine.trigger_status("default", "push").await.unwrap();
    assert_eq!(counter(&status, "invalid_signature"), 3);
    assert!(h.deliveries("push").await.is_empty(), "nothing recorded, no run");
    assert_eq!(h.engine.active_runs(), 0);
}

#[tokio::test]
async fn a_stale_timestamp_is_refused() {
    let h = setup("", "").await;
    let now = h.clock_now().timestamp();
    let old = call_at(&h, SECRET, now - 301, PUSH);
    assert!(matches!(h.engine.deliver_webhook("default", "push", old).await, Err(HookError::InvalidSignature)));
    let ahead = call_at(&h, SECRET, now + 301, PUSH);
    assert!(matches!(h.engine.deliver_webhook("default", "push", ahead).await, Err(HookError::InvalidSignature)));
    let recent = call_at(&h, SECRET, now - 299, PUSH);
    assert!(matches!(h.engine.deliver_webhook("default", "push", recent).await, Ok(Delivered::Started(_))));
    let status = h.engine.trigger_status("default", "push").await.unwrap();
    assert_eq!((counter(&status, "stale_timestamp"), counter(&status, "invalid_signature")), (2, 2));
}

#[tokio::test]
async fn a_replay_is_refused_even_after_a_restart() {
    let mut h = setup("", "").await;
    let first = call(&h, SECRET, PUSH);
    assert!(matches!(h.engine.deliver_webhook("default", "push", first.clone()).await, Ok(Delivered::Started(_))));
    let again = h.engine.deliver_webhook("default", "push", first.clone()).await;
    assert!(matches!(again, Err(HookError::InvalidSignature)), "{again:?}");
    h.restart().await;
    h.engine.start_triggers().await.unwrap();
    h.advance(60);
    let after_restart = h.engine.deliver_webhook("default", "push", first).await;
    assert!(matches!(after_restart, Err(HookError::InvalidSignature)), "{after_restart:?}");
    assert_eq!(h.deliveries("push").await.len(), 1, "one delivery, one run");
    let status = h.engine.trigger_status("default", "push").await.unwrap();
    assert_eq!(counter(&status, "replayed"), 1, "counted on this node since its start");
}

#[tokio::test]
async fn replays_do_not_use_up_the_rate_limit() {
    let h = setup("", "    rate_limit: {per_second: 1, burst: 1}\n").await;
    let first = call(&h, SECRET, PUSH);
    assert!(matches!(h.engine.deliver_webhook("default", "push", first.clone()).await, Ok(Delivered::Started(_))));
    h.advance(1);
    for _ in 0..3 {
        let again = h.engine.deliver_webhook("default", "push", first.clone()).await;
        assert!(matches!(again, Err(HookError::InvalidSignature)), "a replay, not rate limited: {again:?}");
    }
    let next = call(&h, SECRET, r#"{"ref": "refs/heads/main", "after": "def456"}"#);
    assert!(matches!(h.engine.deliver_webhook("default", "push", next).await, Ok(Delivered::Started(_))));
}

#[tokio::test]
async fn either_secret_verifies_while_rotating() {
    let h = setup("", "").await;
    assert!(h.engine.deliver_webhook("default", "push", call(&h, NEXT, PUSH)).await.is_err(), "not yet active");
    h.apply_trigger(
        &hook("", "").replace(&format!("[{{value: {SECRET}}}]"), &format!("[{{value: {SECRET}}}, {{value: {NEXT}}}]")),
    )
    .await;
    assert!(matches!(
        h.engine.deliver_webhook("default", "push", call(&h, SECRET, PUSH)).await,
        Ok(Delivered::Started(_))
    ));
    // The same call signed with the other secret is the same delivery.
    let again = h.engine.deliver_webhook("default", "push", call(&h, NEXT, PUSH)).await;
    assert!(matches!(again, Err(HookError::InvalidSignature)), "a replay: {again:?}");
    h.advance(1);
    assert!(matches!(
        h.engine.deliver_webhook("default", "push", call(&h, NEXT, PUSH)).await,
        Ok(Delivered::Started(_))
    ));
    // The old secret retired: only the new one verifies.
    h.apply_trigger(&hook("", "").replace(&format!("[{{value: {SECRET}}}]"), &format!("[{{value: {NEXT}}}]"))).await;
    h.advance(1);
    assert!(h.engine.deliver_webhook("default", "push", call(&h, SECRET, PUSH)).await.is_err());
    assert!(matches!(
        h.engine.deliver_webhook("default", "push", call(&h, NEXT, PUSH)).await,
        Ok(Delivered::Started(_))
    ));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let h = setup("", "    max_body_bytes: 64\n").await;
    assert_eq!(h.engine.webhook_body_limit("default", "push").unwrap(), 64);
    let big = format!(r#"{{"ref": "refs/heads/main", "after": "{}"}}"#, "a".repeat(64));
    let err = h.engine.deliver_webhook("default", "push", call(&h, SECRET, &big)).await.unwrap_err();
    assert!(matches!(err, HookError::TooLarge { limit: 64 }), "{err:?}");
    let status = h.engine.trigger_status("default", "push").await.unwrap();
    assert_eq!(counter(&status, "too_large"), 1);
    assert!(h.deliveries("push").await.is_empty());
}

#[tokio::test]
async fn a_filter_that_says_no_is_recorded_and_starts_nothing() {
    let h = setup("  filter: body.ref == 'refs/heads/main'\n", "").await;
    let other = r#"{"ref": "refs/heads/feature", "after": "def456"}"#;
    let delivered = h.engine.deliver_webhook("default", "push", call(&h, SECRET, other)).await.unwrap();
    assert_eq!(delivered, Delivered::Ignored("filter `body.ref == 'refs/heads/main'` is false".into()));
    let deliveries = h.deliveries("push").await;
    assert_eq!((deliveries[0].outcome, deliveries[0].run_id), (DeliveryOutcome::Ignored, None));
    assert_eq!(h.engine.active_runs(), 0);
    assert!(matches!(
        h.engine.deliver_webhook("default", "push", call(&h, SECRET, PUSH)).await,
        Ok(Delivered::Started(_))
    ));
}

#[tokio::test]
async fn the_rate_limit_refuses_beyond_the_burst_until_tokens_return() {
    let h = setup("", "    rate_limit: {per_second: 1, burst: 2}\n").await;
    let body = |n: u32| format!(r#"{{"ref": "refs/heads/main", "after": "c{n}"}}"#);
    for n in 0..2 {
        assert!(h.engine.deliver_webhook("default", "push", call(&h, SECRET, &body(n))).await.is_ok());
    }
    let err = h.engine.deliver_webhook("default", "push", call(&h, SECRET, &body(2))).await.unwrap_err();
    let HookError::RateLimited { retry_after } = err else { panic!("not rate limited: {err:?}") };
    assert_eq!(retry_after, std::time::Duration::from_secs(1));
    h.advance(1);
    assert!(h.engine.deliver_webhook("default", "push", call(&h, SECRET, &body(3))).await.is_ok());
    let status = h.engine.trigger_status("default", "push").await.unwrap();
    assert_eq!((counter(&status, "rate_limited"), counter(&status, "started")), (1, 3));
}

#[tokio::test]
async fn a_mapping_that_fails_is_recorded_and_answered_unprocessable() {
    let h = setup("", "").await;
    let no_after = r#"{"ref": "refs/heads/main"}"#;
    let err = h.engine.deliver_webhook("default", "push", call(&h, SECRET, no_after)).await.unwrap_err();
    let HookError::Unprocessable(reason) = err else { panic!("{err:?}") };
    assert!(reason.contains("input `sha`") && reason.contains("body.after"), "{reason}");
    let typed = r#"{"ref": "refs/heads/main", "after": 42}"#;
    let err = h.engine.deliver_webhook("default", "push", call(&h, SECRET, typed)).await.unwrap_err();
    assert!(matches!(&err, HookError::Unprocessable(r) if r.contains("input `sha` must be of type string")), "{err:?}");
    let outcomes: Vec<DeliveryOutcome> = h.deliveries("push").await.iter().map(|d| d.outcome).collect();
    assert_eq!(outcomes, [DeliveryOutcome::Failed, DeliveryOutcome::Failed]);
}

#[tokio::test]
async fn unknown_and_disabled_triggers() {
    let h = setup("  enabled: false\n", "").await;
    let err = h.engine.deliver_webhook("default", "nope", call(&h, SECRET, PUSH)).await.unwrap_err();
    assert!(matches!(err, HookError::NotFound(_)), "{err:?}");
    let err = h.engine.deliver_webhook("default", "push", call(&h, SECRET, PUSH)).await.unwrap_err();
    assert!(matches!(&err, HookError::Disabled(m) if m.contains("disabled")), "{err:?}");
    h.engine.delete_trigger("default", "push").await.unwrap();
    assert!(matches!(h.engine.webhook_body_limit("default", "push"), Err(HookError::NotFound(_))));
}

const CHAIN: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: flaky}\nspec:\n  steps:\n    - {id: a, kind: shell, with: {run: 'exit 3'}}\n---\napiVersion: baton/v1\nkind: Workflow\nmetadata: {name: page}\nspec:\n  inputs:\n    failed: {type: string}\n  steps:\n    - {id: a, kind: noop}\n";

#[tokio::test]
async fn a_run_that_fails_starts_the_event_trigger_with_its_filter_and_inputs() {
    let h = Harness::new().await;
    h.apply(CHAIN).await;
    h.engine.start_triggers().await.unwrap();
    h.apply_trigger("apiVersion: baton/v1\nkind: Trigger\nmetadata: {name: on-failure}\nspec:\n  type: event\n  workflow: page\n  filter: event.run.workflow == 'flaky'\n  inputs: {failed: event.run.id}\n  event: {on: [run.failed]}\n").await;
    let id = h.start("flaky", json!({})).await;
    expect_state(&h.finished(id).await, RunState::Failed);
    h.until("the event trigger to deliver", || async { !h.deliveries("on-failure").await.is_empty() }).await;
    let delivery = &h.deliveries("on-failure").await[0];
    assert_eq!(delivery.source, format!("run.failed:{id}"));
    let paged = h.finished(delivery.run_id.unwrap()).await;
    expect_state(&paged, RunState::Succeeded);
    assert_eq!(paged.inputs, json!({"failed": id.to_string()}));
    assert_eq!((paged.trigger.as_str(), paged.depth), ("event:on-failure", 1));
    // The page run itself succeeded: no run.failed from it, and the filter
    // would not pass it anyway.
    let page = h.start("page", json!({"failed": "x"})).await;
    h.finished(page).await;
    assert_eq!(h.deliveries("on-failure").await.len(), 1);
}

#[tokio::test]
async fn a_trigger_that_feeds_itself_stops_at_its_maximum_depth() {
    let h = Harness::new().await;
    h.apply(CHAIN).await;
    h.engine.start_triggers().await.unwrap();
    // Every failure of `flaky` starts `flaky` again: a loop, bounded at depth 3.
    h.apply_trigger("apiVersion: baton/v1\nkind: Trigger\nmetadata: {name: again}\nspec:\n  type: event\n  workflow: flaky\n  event: {on: [run.failed], max_depth: 3}\n").await;
    h.start("flaky", json!({})).await;
    h.until("the chain to stop", || async {
        h.deliveries("again").await.iter().any(|d| d.outcome == DeliveryOutcome::TooDeep)
    })
    .await;
    // The clock stands still: order by where each run stands in the chain.
    let deliveries = h.deliveries("again").await;
    let (started, stopped): (Vec<_>, Vec<_>) = deliveries.iter().partition(|d| d.outcome == DeliveryOutcome::Started);
    assert_eq!((started.len(), stopped.len()), (3, 1), "{deliveries:?}");
    assert_eq!(stopped[0].outcome, DeliveryOutcome::TooDeep);
    let reason = stopped[0].reason.as_deref().unwrap();
    assert!(reason.contains("4 links down") && reason.contains("allows 3"), "{reason}");
    let mut depths = Vec::new();
    for d in &started {
        depths.push(h.run(d.run_id.unwrap()).await.depth);
    }
    depths.sort();
    assert_eq!(depths, [1, 2, 3]);
}

#[tokio::test]
async fn run_endings_missed_while_down_are_offered_at_the_next_start() {
    let mut h = Harness::new().await;
    h.apply(CHAIN).await;
    // The trigger exists, but this engine is not listening (as if it
    // stopped between the run's end and the delivery).
    h.apply_trigger("apiVersion: baton/v1\nkind: Trigger\nmetadata: {name: on-failure}\nspec:\n  type: event\n  workflow: page\n  inputs: {failed: event.run.id}\n  event: {on: [run.failed]}\n").await;
    h.advance(1);
    let id = h.start("flaky", json!({})).await;
    h.finished(id).await;
    assert!(h.deliveries("on-failure").await.is_empty());
    h.restart().await;
    h.engine.start_triggers().await.unwrap();
    h.until("the catch-up to deliver", || async { h.deliveries("on-failure").await.len() == 1 }).await;
    // A second start offers it again; it is recorded once.
    h.restart().await;
    h.engine.start_triggers().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(h.deliveries("on-failure").await.len(), 1);
}

#[tokio::test]
async fn a_misfired_schedule_starts_the_event_trigger() {
    let h = Harness::new().await;
    h.apply(CHAIN).await;
    h.apply(
        "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: quick}\nspec:\n  steps:\n    - {id: a, kind: noop}\n",
    )
    .await;
    h.apply_schedule("apiVersion: baton/v1\nkind: Schedule\nmetadata: {name: nightly}\nspec:\n  workflow: quick\n  cron: '* * * * *'\n  misfire: skip\n").await;
    h.apply_trigger("apiVersion: baton/v1\nkind: Trigger\nmetadata: {name: missed}\nspec:\n  type: event\n  workflow: page\n  filter: event.schedule.outcome == 'missed'\n  inputs: {failed: \"event.schedule.name + ' x' + string(event.schedule.count)\"}\n  event: {on: [schedule.misfired]}\n").await;
    // Ten minutes with no node running, then one starts.
    h.advance(600);
    h.engine.start_triggers().await.unwrap();
    h.engine.start_scheduler().await.unwrap();
    h.until("the misfire to be delivered", || async { !h.deliveries("missed").await.is_empty() }).await;
    let delivery = &h.deliveries("missed").await[0];
    assert!(delivery.source.starts_with("schedule.misfired:nightly@"), "{}", delivery.source);
    let run = h.finished(delivery.run_id.unwrap()).await;
    assert_eq!(run.inputs, json!({"failed": "nightly x10"}));
}
