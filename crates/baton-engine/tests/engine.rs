//! The engine end to end on SQLite, with time driven by a manual clock.

mod harness;

use baton_model::{AttemptState, RunState, StepState};
use harness::{Harness, expect_state};
use serde_json::json;

const HEAD: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata:\n  name: w\nspec:\n";

#[tokio::test]
async fn outputs_flow_through_templates_and_conditions() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  inputs:\n    who: {{type: string, default: world}}\n  steps:
    - id: a
      kind: noop
      with: {{outputs: {{greeting: 'hello ${{{{ inputs.who }}}}', n: 2}}}}
    - id: b
      kind: shell
      needs: [a]
      with:
        run: 'printf %s \"$G\" && printf ''{{\"len\": %s}}'' ${{#G}} > \"$BATON_OUTPUT\"'
        env: {{G: '${{{{ steps.a.outputs.greeting }}}}'}}
    - id: skipped
      kind: noop
      needs: [a]
      if: steps.a.outputs.n > 5
    - id: after_skip
      kind: noop
      needs: [skipped, b]
      with: {{outputs: '${{{{ steps.b.outputs.len + steps.a.outputs.n }}}}'}}
"
    ))
    .await;
    let id = h.start("w", json!({"who": "baton"})).await;
    expect_state(&h.finished(id).await, RunState::Succeeded);
    let b = h.step(id, "b").await.unwrap();
    assert_eq!(b.stdout_tail.as_deref(), Some("hello baton"));
    assert_eq!(b.outputs, Some(json!({"len": 11})));
    assert_eq!(b.exit_code, Some(0));
    let skipped = h.step(id, "skipped").await.unwrap();
    assert_eq!(skipped.state, StepState::Skipped);
    assert_eq!(skipped.reason.as_deref(), Some("condition `steps.a.outputs.n > 5` was false"));
    assert_eq!(h.step(id, "after_skip").await.unwrap().outputs, Some(json!(13)));
    let log = h.store.log_get(id, "b", None).await.unwrap().unwrap();
    assert_eq!(log.text, "hello baton");
}

#[tokio::test]
async fn for_each_fans_out_within_max_parallel() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  steps:
    - id: fan
      kind: noop
      for_each: '[1, 2, 3, 4, 5]'
      max_parallel: 2
      with: {{outputs: '${{{{ item * 10 + index }}}}'}}
    - id: sum
      kind: noop
      needs: [fan]
      with: {{outputs: '${{{{ steps.fan.outputs }}}}'}}
"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    expect_state(&h.finished(id).await, RunState::Succeeded);
    assert_eq!(h.step(id, "sum").await.unwrap().outputs, Some(json!([10, 21, 32, 43, 54])));
    let keys: Vec<String> = h.steps(id).await.into_iter().map(|s| s.key).collect();
    assert!(keys.contains(&"fan[4]".to_string()), "{keys:?}");
}

#[tokio::test]
async fn a_failing_step_retries_with_backoff_then_fails_the_run() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  steps:
    - id: flaky
      kind: shell
      with: {{run: 'echo nope >&2; exit 3'}}
      retry: {{max_attempts: 3, backoff: {{initial: 10s, multiplier: 3, max: 1m}}}}
"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    let waiting = h.step_in(id, "flaky", StepState::Waiting).await;
    assert_eq!(waiting.wake_at, Some(h.clock_now() + chrono::Duration::seconds(10)));
    assert!(
        waiting.reason.as_deref().unwrap().contains("attempt 1 of 3 failed (exit code 3: nope)"),
        "{:?}",
        waiting.reason
    );
    h.advance(10);
    h.until("second failure", || async { h.step(id, "flaky").await.unwrap().failures == 2 }).await;
    let waiting = h.step(id, "flaky").await.unwrap();
    assert_eq!(waiting.wake_at, Some(h.clock_now() + chrono::Duration::seconds(30)));
    h.advance(30);
    let run = h.finished(id).await;
    expect_state(&run, RunState::Failed);
    assert_eq!(run.reason.as_deref(), Some("step `flaky` failed after 3 attempts: exit code 3: nope"));
    let attempts = h.store.attempt_list(id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.state).collect::<Vec<_>>(), vec![AttemptState::Failed; 3]);
    assert_eq!(h.step(id, "flaky").await.unwrap().stderr_tail.as_deref(), Some("nope\n"));
}

#[tokio::test]
async fn compensation_runs_in_reverse_order_of_completion() {
    let h = Harness::new().await;
    let trail = h.dir.path().join("trail");
    let t = trail.display();
    h.apply(&format!(
        "{HEAD}  steps:
    - id: first
      kind: shell
      with: {{run: 'echo first >> {t}'}}
      compensate: {{kind: shell, with: {{run: 'echo undo-first >> {t}'}}}}
    - id: second
      kind: shell
      needs: [first]
      with: {{run: 'echo second >> {t}'}}
      compensate: {{kind: shell, with: {{run: 'echo undo-second-${{{{ steps.second.exit_code }}}} >> {t}'}}}}
    - id: plain
      kind: noop
      needs: [second]
    - id: boom
      kind: shell
      needs: [plain]
      with: {{run: 'exit 1'}}
      compensate: {{kind: shell, with: {{run: 'echo never >> {t}'}}}}
"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    let run = h.finished(id).await;
    expect_state(&run, RunState::Failed);
    assert_eq!(run.reason.as_deref(), Some("step `boom` failed: exit code 1; compensated 2 step(s)"));
    let text = std::fs::read_to_string(&trail).unwrap();
    assert_eq!(text, "first\nsecond\nundo-second-0\nundo-first\n");
    let undo = h.step(id, "compensate:first").await.unwrap();
    assert_eq!(undo.state, StepState::Succeeded);
}

#[tokio::test]
async fn the_workflow_timeout_stops_the_run_and_compensates() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  timeout: 10m\n  steps:
    - id: prepare
      kind: noop
      compensate: {{kind: noop}}
    - id: nap
      kind: sleep
      needs: [prepare]
      with: {{duration: 1h}}
"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    h.step_in(id, "nap", StepState::Waiting).await;
    h.advance(600);
    let run = h.finished(id).await;
    expect_state(&run, RunState::TimedOut);
    assert_eq!(run.reason.as_deref(), Some("the workflow timed out after 10m; compensated 1 step(s)"));
    assert_eq!(h.step(id, "nap").await.unwrap().state, StepState::Cancelled);
    assert_eq!(h.step(id, "compensate:prepare").await.unwrap().state, StepState::Succeeded);
}

#[tokio::test]
async fn a_sleep_survives_a_restart_and_wakes_on_time() {
    let mut h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  steps:\n    - id: nap\n      kind: sleep\n      with: {{duration: 1h}}\n    - id: after\n      kind: noop\n      needs: [nap]\n"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    let nap = h.step_in(id, "nap", StepState::Waiting).await;
    assert_eq!(nap.wake_at, Some(h.clock_now() + chrono::Duration::hours(1)));
    h.restart().await;
    h.advance(3599);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(h.run(id).await.state, RunState::Running, "it must not wake early");
    h.advance(1);
    expect_state(&h.finished(id).await, RunState::Succeeded);
}

#[tokio::test]
async fn an_interrupted_step_runs_again_with_the_same_idempotency_key() {
    let mut h = Harness::new().await;
    let keys = h.dir.path().join("keys");
    let k = keys.display();
    h.apply(&format!(
        "{HEAD}  steps:\n    - id: slow\n      kind: shell\n      with: {{run: 'echo $BATON_IDEMPOTENCY_KEY:$BATON_ATTEMPT >> {k}; [ $BATON_ATTEMPT = 2 ] || sleep 30'}}\n"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    h.until("the first attempt to start", || async { std::fs::read_to_string(&keys).is_ok() }).await;
    h.restart().await;
    expect_state(&h.finished(id).await, RunState::Succeeded);
    let lines: Vec<String> = std::fs::read_to_string(&keys).unwrap().lines().map(String::from).collect();
    assert_eq!(lines, vec![format!("{id}/slow:1"), format!("{id}/slow:2")]);
    let attempts = h.store.attempt_list(id).await.unwrap();
    let states: Vec<AttemptState> = attempts.iter().map(|a| a.state).collect();
    assert_eq!(states, vec![AttemptState::Interrupted, AttemptState::Succeeded]);
}

#[tokio::test]
async fn cancel_stops_a_running_step() {
    let h = Harness::new().await;
    h.apply(&format!("{HEAD}  steps:\n    - id: long\n      kind: shell\n      with: {{run: 'sleep 60'}}\n")).await;
    let id = h.start("w", json!({})).await;
    h.step_in(id, "long", StepState::Running).await;
    h.engine.cancel(id).await.unwrap();
    let run = h.finished(id).await;
    expect_state(&run, RunState::Cancelled);
    assert_eq!(h.step(id, "long").await.unwrap().state, StepState::Cancelled);
    assert!(h.engine.cancel(id).await.is_err(), "a finished run cannot be cancelled");
}

#[tokio::test]
async fn a_step_timeout_kills_the_whole_process_group() {
    let h = Harness::new().await;
    let marker = 100_000 + (std::process::id() % 50_000);
    h.apply(&format!(
        "{HEAD}  steps:\n    - id: hang\n      kind: shell\n      timeout: 5s\n      with: {{run: 'sleep {marker} & sleep {marker}'}}\n"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    let pattern = format!("sleep {marker}");
    h.until("both sleeps to run", || async { count_processes(&pattern) == 2 }).await;
    h.advance(5);
    let run = h.finished(id).await;
    expect_state(&run, RunState::Failed);
    let step = h.step(id, "hang").await.unwrap();
    assert!(step.reason.as_deref().unwrap().starts_with("timed out after 5s"), "{:?}", step.reason);
    h.until("every sleep to be gone", || async { count_processes(&pattern) == 0 }).await;
}

fn count_processes(pattern: &str) -> usize {
    let out = std::process::Command::new("pgrep").args(["-f", "-x", pattern]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test]
async fn inputs_are_checked_before_a_run_exists() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  inputs:\n    n: {{type: integer, required: true}}\n  steps:\n    - id: a\n      kind: noop\n"
    ))
    .await;
    let req = baton_engine::RunRequest {
        tenant: "default".into(),
        workflow: "w".into(),
        version: None,
        inputs: json!({"n": "many"}).as_object().cloned().unwrap(),
        trigger: "test".into(),
    };
    let err = h.engine.submit(req).await.unwrap_err();
    assert!(err.to_string().contains("input `n` must be of type integer"), "{err}");
    assert!(h.store.run_list(Default::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failure_recorded_just_before_a_crash_still_ends_the_run() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  steps:\n    - id: a\n      kind: noop\n      compensate: {{kind: noop}}\n    - id: b\n      kind: noop\n      needs: [a]\n"
    ))
    .await;
    // The state a crash leaves when it strikes right after the commit that
    // recorded `a` as failed, before the run itself was marked.
    let id = uuid::Uuid::now_v7();
    let mut run = baton_store::conformance::run(id, "w", RunState::Running, 0);
    run.started_at = Some(run.created_at);
    h.store.run_insert(run).await.unwrap();
    let mut a = baton_store::StepRecord::new(id, "a".into(), "a".into(), baton_store::Phase::Main, StepState::Failed);
    a.attempt = 1;
    a.failures = 1;
    a.reason = Some("exit code 1".into());
    h.store.commit(vec![baton_store::Change::StepPut(Box::new(a))]).await.unwrap();

    assert_eq!(h.engine.resume().await.unwrap(), 1);
    let run = h.finished(id).await;
    expect_state(&run, RunState::Failed);
    assert_eq!(run.reason.as_deref(), Some("step `a` failed: exit code 1"));
    assert!(h.step(id, "b").await.is_none(), "b needs a and never starts");
}

#[tokio::test]
async fn runs_fail_and_compensate_when_one_slot_is_contended() {
    let h = Harness::with_config(baton_engine::EngineConfig { slots: 1, ..harness::config() }).await;
    h.apply(&format!(
        "{HEAD}  steps:
    - id: a
      kind: noop
      compensate: {{kind: shell, with: {{run: 'true'}}}}
    - id: f
      kind: shell
      needs: [a]
      with: {{run: 'exit 1'}}
    - id: x
      kind: shell
      needs: [a]
      with: {{run: 'true'}}
"
    ))
    .await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(h.start("w", json!({})).await);
    }
    for id in ids {
        let run = h.finished(id).await;
        expect_state(&run, RunState::Failed);
        assert_eq!(h.step(id, "compensate:a").await.unwrap().state, StepState::Succeeded);
    }
}

#[tokio::test]
async fn a_step_whose_with_cannot_render_ends_the_run_at_once() {
    let h = Harness::new().await;
    h.apply(&format!(
        "{HEAD}  inputs:\n    host: {{type: string, default: db1}}\n  steps:
    - id: nap
      kind: sleep
      with: {{duration: 7d}}
    - id: broken
      kind: shell
      with: {{run: 'echo ${{{{ inputs.host.size() / 0 }}}}'}}
"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    let run = h.finished(id).await;
    expect_state(&run, RunState::Failed);
    assert!(run.reason.as_deref().unwrap().contains("`with` could not be rendered"), "{:?}", run.reason);
    assert_eq!(h.step(id, "nap").await.unwrap().state, StepState::Cancelled);
}

#[tokio::test]
async fn each_element_of_a_fan_out_is_undone_with_its_own_outputs() {
    let h = Harness::new().await;
    let trail = h.dir.path().join("trail");
    let t = trail.display();
    h.apply(&format!(
        "{HEAD}  steps:
    - id: fan
      kind: shell
      for_each: '[0, 1, 2]'
      max_parallel: 1
      with: {{run: 'echo \"{{\\\"n\\\": ${{{{ item }}}}}}\" > $BATON_OUTPUT; [ ${{{{ item }}}} -lt 2 ]'}}
      compensate: {{kind: shell, with: {{run: 'echo undo-${{{{ steps.fan.outputs.n }}}}-${{{{ index }}}} >> {t}'}}}}
"
    ))
    .await;
    let id = h.start("w", json!({})).await;
    let run = h.finished(id).await;
    expect_state(&run, RunState::Failed);
    assert_eq!(std::fs::read_to_string(&trail).unwrap(), "undo-1-1\nundo-0-0\n");
    assert_eq!(h.step(id, "fan").await.unwrap().state, StepState::Failed);
}
