//! The behaviour every [`Store`] backend must show. A backend's tests call
//! [`run_all`] (or each check) with a fresh, empty store.

use std::sync::Arc;

use baton_model::workflow::{Action, Metadata, StepSpec, WorkflowSpec};
use baton_model::{AttemptState, RunState, StepKind, StepState, Workflow};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::{
    ApplyOutcome, Change, FireOutcome, FireRecord, Phase, RunFilter, RunRecord, ScheduleApply, ScheduleFire,
    StepRecord, Store, WorkflowApply,
};

mod triggers;

type Check = fn(Arc<dyn Store>) -> futures_util::future::BoxFuture<'static, ()>;

/// Every check, by name, so that a backend can run each as its own test.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("workflow_versions", |s| Box::pin(workflow_versions(s))),
        ("workflow_tenants_are_separate", |s| Box::pin(workflow_tenants_are_separate(s))),
        ("run_round_trip", |s| Box::pin(run_round_trip(s))),
        ("run_transitions_are_guarded", |s| Box::pin(run_transitions_are_guarded(s))),
        ("run_ending_is_recorded", |s| Box::pin(run_ending_is_recorded(s))),
        ("run_unfinished_and_listing", |s| Box::pin(run_unfinished_and_listing(s))),
        ("run_find_and_cancel_request", |s| Box::pin(run_find_and_cancel_request(s))),
        ("steps_attempts_and_logs", |s| Box::pin(steps_attempts_and_logs(s))),
        ("commit_is_atomic", |s| Box::pin(commit_is_atomic(s))),
        ("concurrent_commits_all_land", |s| Box::pin(concurrent_commits_all_land(s))),
        ("order_within_a_commit", |s| Box::pin(order_within_a_commit(s))),
        ("schedule_apply_pause_delete", |s| Box::pin(schedule_apply_pause_delete(s))),
        ("schedule_pages", |s| Box::pin(schedule_pages(s))),
        ("schedule_fires_once", |s| Box::pin(schedule_fires_once(s))),
        ("a_bad_commit_spoils_no_other", |s| Box::pin(a_bad_commit_spoils_no_other(s))),
        ("trigger_apply_list_delete", |s| Box::pin(triggers::trigger_apply_list_delete(s))),
        ("trigger_deliveries_once", |s| Box::pin(triggers::trigger_deliveries_once(s))),
    ]
}

/// Runs every check against stores made by `fresh`.
pub async fn run_all<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Store>>,
{
    for (_, check) in checks() {
        check(fresh().await).await;
    }
}

pub(super) fn t(secs: i64) -> DateTime<Utc> {
    // Microseconds survive a round trip through every backend.
    Utc.timestamp_opt(1_800_000_000 + secs, 123_456_000).unwrap()
}

fn workflow(tenant: &str, name: &str, command: &str) -> Workflow {
    Workflow {
        metadata: Metadata { name: name.into(), tenant: tenant.into(), labels: Default::default() },
        spec: WorkflowSpec {
            description: None,
            timeout: None,
            inputs: Default::default(),
            steps: vec![StepSpec {
                id: "a".into(),
                needs: vec![],
                condition: None,
                for_each: None,
                max_parallel: None,
                compensate: None,
                action: Action { kind: StepKind::Shell, with: json!({"run": command}), timeout: None, retry: None },
            }],
        },
    }
}

async fn apply(store: &dyn Store, w: Workflow, at: i64) -> ApplyOutcome {
    let hash = baton_model::content_hash(&w);
    store.workflow_apply(WorkflowApply { workflow: w, hash, now: t(at) }).await.unwrap()
}

pub fn run(id: Uuid, workflow: &str, state: RunState, created: i64) -> RunRecord {
    let inputs = json!({"host": "db1", "n": 3});
    RunRecord { state, ..RunRecord::pending(id, ("default", workflow, 1), inputs, "api", t(created)) }
}

pub(super) fn id(n: u128) -> Uuid {
    // Ordered like v7 ids: larger is newer.
    Uuid::from_u128((0x0190_0000_0000_7000_8000_0000_0000_0000u128) + (n << 80))
}

async fn workflow_versions(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(apply(s, workflow("default", "w", "echo 1"), 0).await, ApplyOutcome::Created { version: 1 });
    assert_eq!(apply(s, workflow("default", "w", "echo 1"), 1).await, ApplyOutcome::Unchanged { version: 1 });
    assert_eq!(apply(s, workflow("default", "w", "echo 2"), 2).await, ApplyOutcome::Updated { version: 2 });
    assert_eq!(apply(s, workflow("default", "w", "echo 1"), 3).await, ApplyOutcome::Updated { version: 3 });

    let latest = s.workflow_get("default", "w", None).await.unwrap().unwrap();
    assert_eq!(latest.version, 3);
    assert_eq!(latest.created_at, t(3));
    let v2 = s.workflow_get("default", "w", Some(2)).await.unwrap().unwrap();
    assert_eq!(v2.workflow, workflow("default", "w", "echo 2"));
    assert!(s.workflow_get("default", "w", Some(9)).await.unwrap().is_none());
    assert!(s.workflow_get("default", "nope", None).await.unwrap().is_none());

    let versions: Vec<u32> = s.workflow_versions("default", "w").await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![3, 2, 1]);
    apply(s, workflow("default", "a", "x"), 4).await;
    let list: Vec<(String, u32)> =
        s.workflow_list(None).await.unwrap().into_iter().map(|v| (v.name, v.version)).collect();
    assert_eq!(list, vec![("a".to_string(), 1), ("w".to_string(), 3)]);
}

async fn workflow_tenants_are_separate(store: Arc<dyn Store>) {
    let s = store.as_ref();
    apply(s, workflow("acme", "w", "echo 1"), 0).await;
    assert_eq!(apply(s, workflow("other", "w", "echo 1"), 0).await, ApplyOutcome::Created { version: 1 });
    assert_eq!(s.workflow_list(Some("acme")).await.unwrap().len(), 1);
    assert_eq!(s.workflow_list(None).await.unwrap().len(), 2);
    assert!(s.workflow_get("default", "w", None).await.unwrap().is_none());
}

async fn run_round_trip(store: Arc<dyn Store>) {
    let mut r = run(id(1), "w", RunState::Pending, 0);
    r.deadline_at = Some(t(60));
    store.run_insert(r.clone()).await.unwrap();
    assert_eq!(store.run_get(id(1)).await.unwrap(), Some(r.clone()));
    assert!(store.run_get(id(2)).await.unwrap().is_none());
    assert!(store.run_insert(r).await.is_err(), "a run id is unique");
}

async fn run_transitions_are_guarded(store: Arc<dyn Store>) {
    store.run_insert(run(id(1), "w", RunState::Pending, 0)).await.unwrap();
    let to = |state, at, reason: Option<&str>| Change::RunTransition {
        run_id: id(1),
        to: state,
        at: t(at),
        reason: reason.map(String::from),
        deadline_at: if state == RunState::Running { Some(t(100)) } else { None },
        ending: None,
    };
    assert_eq!(store.commit(vec![to(RunState::Succeeded, 1, None)]).await.unwrap(), vec![false]);
    assert_eq!(store.commit(vec![to(RunState::Running, 2, None)]).await.unwrap(), vec![true]);
    assert_eq!(store.commit(vec![to(RunState::Running, 3, None)]).await.unwrap(), vec![false]);
    let done = store
        .commit(vec![to(RunState::Failed, 4, Some("step a failed")), to(RunState::Succeeded, 5, None)])
        .await
        .unwrap();
    assert_eq!(done, vec![true, false], "a run finishes exactly once");
    let r = store.run_get(id(1)).await.unwrap().unwrap();
    assert_eq!(r.state, RunState::Failed);
    assert_eq!(r.started_at, Some(t(2)));
    assert_eq!(r.deadline_at, Some(t(100)));
    assert_eq!(r.finished_at, Some(t(4)));
    assert_eq!(r.reason.as_deref(), Some("step a failed"));
}

async fn run_ending_is_recorded(store: Arc<dyn Store>) {
    store.run_insert(run(id(1), "w", RunState::Running, 0)).await.unwrap();
    let compensating = Change::RunTransition {
        run_id: id(1),
        to: RunState::Compensating,
        at: t(1),
        reason: Some("workflow timed out".into()),
        deadline_at: None,
        ending: Some(RunState::TimedOut),
    };
    assert_eq!(store.commit(vec![compensating]).await.unwrap(), vec![true]);
    let r = store.run_get(id(1)).await.unwrap().unwrap();
    assert_eq!((r.state, r.ending, r.finished_at), (RunState::Compensating, Some(RunState::TimedOut), None));
    let end = Change::RunTransition {
        run_id: id(1),
        to: RunState::TimedOut,
        at: t(2),
        reason: None,
        deadline_at: None,
        ending: None,
    };
    assert_eq!(store.commit(vec![end]).await.unwrap(), vec![true]);
    let r = store.run_get(id(1)).await.unwrap().unwrap();
    assert_eq!(
        (r.state, r.reason.as_deref(), r.finished_at),
        (RunState::TimedOut, Some("workflow timed out"), Some(t(2)))
    );
}

async fn run_unfinished_and_listing(store: Arc<dyn Store>) {
    let states = [RunState::Pending, RunState::Running, RunState::Succeeded, RunState::Compensating, RunState::Failed];
    for (n, state) in states.iter().enumerate() {
        let wf = if n % 2 == 0 { "even" } else { "odd" };
        store.run_insert(run(id(n as u128 + 1), wf, *state, n as i64)).await.unwrap();
    }
    let mut unfinished: Vec<Uuid> = store.run_unfinished().await.unwrap().iter().map(|r| r.id).collect();
    unfinished.sort();
    assert_eq!(unfinished, vec![id(1), id(2), id(4)]);

    let all = store.run_list(RunFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id(5), id(4), id(3), id(2), id(1)]);
    let page = store.run_list(RunFilter { limit: 2, before: Some(id(4)), ..Default::default() }).await.unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id(3), id(2)]);
    let even =
        store.run_list(RunFilter { limit: 10, workflow: Some("even".into()), ..Default::default() }).await.unwrap();
    assert_eq!(even.len(), 3);
    let filter = RunFilter { limit: 10, states: vec![RunState::Succeeded, RunState::Failed], ..Default::default() };
    let ended = store.run_list(filter).await.unwrap();
    assert_eq!(ended.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id(5), id(3)]);
    let other = RunFilter { limit: 10, tenant: Some("acme".into()), ..Default::default() };
    assert!(store.run_list(other).await.unwrap().is_empty());
}

async fn run_find_and_cancel_request(store: Arc<dyn Store>) {
    store.run_insert(run(id(1), "w", RunState::Running, 0)).await.unwrap();
    store.run_insert(run(id(2), "w", RunState::Succeeded, 0)).await.unwrap();
    let text = id(1).to_string();
    let found = store.run_find(&text[..9], 5).await.unwrap();
    assert_eq!(found.len(), 2, "both ids share their first 9 characters");
    let found = store.run_find(&text, 5).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id(1)]);
    assert!(store.run_find("%", 5).await.unwrap().is_empty(), "LIKE wildcards are literal");

    let r = store.run_cancel_request(id(1)).await.unwrap().unwrap();
    assert!(r.cancel_requested);
    let r = store.run_cancel_request(id(2)).await.unwrap().unwrap();
    assert!(!r.cancel_requested, "a finished run is not marked");
    assert!(store.run_cancel_request(id(3)).await.unwrap().is_none());
}

fn step(key: &str, state: StepState) -> StepRecord {
    let mut s = StepRecord::new(id(1), key.into(), key.trim_end_matches("[0]").into(), Phase::Main, state);
    s.attempt = 1;
    s.started_at = Some(t(1));
    s
}

async fn steps_attempts_and_logs(store: Arc<dyn Store>) {
    store.run_insert(run(id(1), "w", RunState::Running, 0)).await.unwrap();
    let mut b = step("b[0]", StepState::Running);
    b.index = Some(0);
    b.item = Some(json!({"host": "h1"}));
    b.attempt_started_at = Some(t(1));
    let applied = store
        .commit(vec![Change::StepPut(Box::new(step("a", StepState::Running))), Change::StepPut(Box::new(b.clone()))])
        .await
        .unwrap();
    assert_eq!(applied, vec![true; 2]);

    let mut a = step("a", StepState::Succeeded);
    a.outputs = Some(json!({"ok": true}));
    a.exit_code = Some(0);
    a.stdout_tail = Some("done\n".into());
    a.finished_at = Some(t(2));
    a.completed_seq = Some(1);
    let end = |key: &str, attempt, state| Change::AttemptEnd {
        run_id: id(1),
        key: key.into(),
        attempt,
        state,
        started_at: t(attempt as i64),
        at: t(2),
        exit_code: Some(0),
        reason: None,
        log: Some((format!("log of {key} #{attempt}"), 7)),
    };
    let applied = store
        .commit(vec![
            Change::StepPut(Box::new(a.clone())),
            end("a", 1, AttemptState::Succeeded),
            end("a", 1, AttemptState::Failed),
        ])
        .await
        .unwrap();
    assert_eq!(applied, vec![true, true, false], "an attempt is recorded once");
    store.commit(vec![end("a", 2, AttemptState::Interrupted)]).await.unwrap();

    let steps = store.step_list(id(1)).await.unwrap();
    assert_eq!(steps, vec![a, b], "steps come back in the order first written");
    let attempts = store.attempt_list(id(1)).await.unwrap();
    let summary: Vec<(String, u32, AttemptState)> =
        attempts.iter().map(|x| (x.key.clone(), x.attempt, x.state)).collect();
    assert_eq!(summary, vec![("a".into(), 1, AttemptState::Succeeded), ("a".into(), 2, AttemptState::Interrupted)]);
    assert_eq!((attempts[0].started_at, attempts[0].finished_at), (t(1), t(2)));

    let log = store.log_get(id(1), "a", None).await.unwrap().unwrap();
    assert_eq!((log.attempt, log.text.as_str(), log.truncated_bytes), (2, "log of a #2", 7));
    let first = store.log_get(id(1), "a", Some(1)).await.unwrap().unwrap();
    assert_eq!(first.text, "log of a #1");
    assert!(store.log_get(id(1), "b[0]", None).await.unwrap().is_none());
}

async fn commit_is_atomic(store: Arc<dyn Store>) {
    store.run_insert(run(id(1), "w", RunState::Pending, 0)).await.unwrap();
    let mut orphan = step("x", StepState::Running);
    orphan.run_id = id(99);
    let batch = vec![
        Change::RunTransition {
            run_id: id(1),
            to: RunState::Running,
            at: t(1),
            reason: None,
            deadline_at: None,
            ending: None,
        },
        Change::StepPut(Box::new(orphan)),
    ];
    assert!(store.commit(batch).await.is_err(), "a step of an unknown run is refused");
    let r = store.run_get(id(1)).await.unwrap().unwrap();
    assert_eq!(r.state, RunState::Pending, "nothing of a failed batch is kept");
    // The store still works after a failed batch.
    let ok = Change::RunTransition {
        run_id: id(1),
        to: RunState::Running,
        at: t(1),
        reason: None,
        deadline_at: None,
        ending: None,
    };
    assert_eq!(store.commit(vec![ok]).await.unwrap(), vec![true]);
}

async fn concurrent_commits_all_land(store: Arc<dyn Store>) {
    let tasks = (0..200u128).map(|n| {
        let store = store.clone();
        async move {
            store.run_insert(run(id(n + 1), "w", RunState::Pending, 0)).await.unwrap();
            let start = Change::RunTransition {
                run_id: id(n + 1),
                to: RunState::Running,
                at: t(1),
                reason: None,
                deadline_at: None,
                ending: None,
            };
            let end = Change::RunTransition {
                run_id: id(n + 1),
                to: RunState::Succeeded,
                at: t(2),
                reason: None,
                deadline_at: None,
                ending: None,
            };
            assert_eq!(store.commit(vec![start]).await.unwrap(), vec![true]);
            assert_eq!(store.commit(vec![end]).await.unwrap(), vec![true]);
        }
    });
    futures_util::future::join_all(tasks).await;
    let done = store
        .run_list(RunFilter { limit: 1000, states: vec![RunState::Succeeded], ..Default::default() })
        .await
        .unwrap();
    assert_eq!(done.len(), 200);
    assert!(store.run_unfinished().await.unwrap().is_empty());
}

async fn order_within_a_commit(store: Arc<dyn Store>) {
    store.run_insert(run(id(1), "w", RunState::Pending, 0)).await.unwrap();
    let to = |state, at| Change::RunTransition {
        run_id: id(1),
        to: state,
        at: t(at),
        reason: None,
        deadline_at: None,
        ending: None,
    };
    let mut first = step("a", StepState::Running);
    first.reason = Some("first".into());
    let mut last = step("a", StepState::Succeeded);
    last.reason = Some("last".into());
    let applied = store
        .commit(vec![
            to(RunState::Running, 1),
            Change::StepPut(Box::new(first)),
            Change::StepPut(Box::new(last.clone())),
            to(RunState::Succeeded, 2),
            to(RunState::Failed, 3),
        ])
        .await
        .unwrap();
    assert_eq!(applied, vec![true, true, true, true, false], "changes apply in order");
    let r = store.run_get(id(1)).await.unwrap().unwrap();
    assert_eq!((r.state, r.started_at, r.finished_at), (RunState::Succeeded, Some(t(1)), Some(t(2))));
    assert_eq!(store.step_list(id(1)).await.unwrap(), vec![last], "the last write of a row wins");
}

async fn a_bad_commit_spoils_no_other(store: Arc<dyn Store>) {
    for n in 1..=20u128 {
        store.run_insert(run(id(n), "w", RunState::Pending, 0)).await.unwrap();
    }
    let mut orphan = step("x", StepState::Running);
    orphan.run_id = id(99);
    let bad = store.commit(vec![Change::StepPut(Box::new(orphan))]);
    let good = (1..=20u128).map(|n| {
        let store = store.clone();
        async move {
            let start = Change::RunTransition {
                run_id: id(n),
                to: RunState::Running,
                at: t(1),
                reason: None,
                deadline_at: None,
                ending: None,
            };
            store.commit(vec![start]).await
        }
    });
    let (bad, good) = futures_util::future::join(bad, futures_util::future::join_all(good)).await;
    assert!(bad.is_err());
    for result in good {
        assert_eq!(result.unwrap(), vec![true]);
    }
    assert!(
        store
            .run_list(RunFilter { limit: 100, states: vec![RunState::Pending], ..Default::default() })
            .await
            .unwrap()
            .is_empty()
    );
}

fn schedule(tenant: &str, name: &str, cron: &str) -> baton_model::schedule::Schedule {
    let yaml = format!(
        "apiVersion: baton/v1\nkind: Schedule\nmetadata: {{name: {name}, tenant: {tenant}}}\nspec: {{workflow: w, cron: '{cron}'}}\n"
    );
    match baton_model::load("s.yaml", &yaml).unwrap().remove(0) {
        baton_model::Resource::Schedule(s) => *s,
        other => panic!("not a schedule: {other:?}"),
    }
}

async fn apply_schedule(store: &dyn Store, s: baton_model::schedule::Schedule, at: i64) -> ApplyOutcome {
    let hash = baton_model::content_hash(&s);
    store.schedule_apply(ScheduleApply { schedule: s, hash, now: t(at) }).await.unwrap()
}

fn fire(name: &str, due: i64, outcome: FireOutcome, run: Option<RunRecord>) -> ScheduleFire {
    let fire = FireRecord {
        tenant: "default".into(),
        schedule: name.into(),
        due_at: t(due),
        outcome,
        reason: None,
        run_id: run.as_ref().map(|r| r.id),
        count: 1,
        recorded_at: t(due),
    };
    ScheduleFire { fire, run, last_due: Some(t(due)) }
}

async fn schedule_apply_pause_delete(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(apply_schedule(s, schedule("default", "n", "0 2 * * *"), 0).await, ApplyOutcome::Created { version: 1 });
    assert_eq!(
        apply_schedule(s, schedule("default", "n", "0 2 * * *"), 1).await,
        ApplyOutcome::Unchanged { version: 1 }
    );
    s.schedule_fire(vec![fire("n", 10, FireOutcome::Fired, Some(run(id(1), "w", RunState::Pending, 10)))])
        .await
        .unwrap();
    let paused = s.schedule_pause("default", "n", true).await.unwrap().unwrap();
    assert!(paused.paused && !paused.active());
    assert_eq!(
        apply_schedule(s, schedule("default", "n", "0 3 * * *"), 12).await,
        ApplyOutcome::Updated { version: 2 }
    );
    let r = s.schedule_get("default", "n").await.unwrap().unwrap();
    assert_eq!(r.schedule.spec.cron, "0 3 * * *");
    assert_eq!(
        (r.generation, r.paused, r.executions, r.last_due),
        (2, true, 1, Some(t(10))),
        "apply keeps progress and pause"
    );
    assert_eq!((r.created_at, r.updated_at), (t(0), t(12)));
    assert!(s.schedule_pause("default", "nope", true).await.unwrap().is_none());
    assert!(s.schedule_delete("default", "n").await.unwrap());
    assert!(s.schedule_get("default", "n").await.unwrap().is_none());
    assert!(s.schedule_history("default", "n", 10).await.unwrap().is_empty(), "history goes with it");
    assert!(!s.schedule_delete("default", "n").await.unwrap());
}

async fn schedule_pages(store: Arc<dyn Store>) {
    for (tenant, name) in [("b", "x"), ("a", "z"), ("a", "y"), ("c", "a")] {
        apply_schedule(store.as_ref(), schedule(tenant, name, "* * * * *"), 0).await;
    }
    let first = store.schedule_page(None, 3).await.unwrap();
    let keys: Vec<(String, String)> = first.iter().map(|r| (r.tenant().into(), r.name().into())).collect();
    assert_eq!(keys, vec![("a".into(), "y".into()), ("a".into(), "z".into()), ("b".into(), "x".into())]);
    let rest = store.schedule_page(keys.last().cloned(), 3).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.name()).collect::<Vec<_>>(), vec!["a"]);
    assert!(store.schedule_page(Some(("c".into(), "a".into())), 3).await.unwrap().is_empty());
}

async fn schedule_fires_once(store: Arc<dyn Store>) {
    let s = store.as_ref();
    apply_schedule(s, schedule("default", "n", "* * * * *"), 0).await;
    let run1 = run(id(1), "w", RunState::Pending, 60);
    let mut missed = fire("n", 30, FireOutcome::Missed, None);
    missed.fire.count = 3;
    missed.last_due = Some(t(50));
    let applied = s.schedule_fire(vec![missed, fire("n", 60, FireOutcome::Fired, Some(run1.clone()))]).await.unwrap();
    assert_eq!(applied, vec![true, true]);
    assert_eq!(s.run_get(id(1)).await.unwrap(), Some(run1));

    // The same due time again (a second node, or a replay): nothing new.
    let again = s.schedule_fire(vec![fire("n", 60, FireOutcome::Fired, Some(run(id(2), "w", RunState::Pending, 60)))]);
    assert_eq!(again.await.unwrap(), vec![false]);
    assert!(s.run_get(id(2)).await.unwrap().is_none(), "a fire already recorded starts no run");

    // Two nodes racing for the next due time: exactly one wins.
    let racers = [3u128, 4].map(|n| {
        let store = store.clone();
        async move {
            store
                .schedule_fire(vec![fire("n", 120, FireOutcome::Fired, Some(run(id(n), "w", RunState::Pending, 120)))])
                .await
                .unwrap()[0]
        }
    });
    let wins = futures_util::future::join_all(racers).await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");

    let r = s.schedule_get("default", "n").await.unwrap().unwrap();
    assert_eq!((r.executions, r.last_due), (2, Some(t(120))));
    let history = s.schedule_history("default", "n", 10).await.unwrap();
    let seen: Vec<(i64, FireOutcome, u32)> =
        history.iter().map(|f| (f.due_at.timestamp() - 1_800_000_000, f.outcome, f.count)).collect();
    assert_eq!(seen, vec![(120, FireOutcome::Fired, 1), (60, FireOutcome::Fired, 1), (30, FireOutcome::Missed, 3)]);
    assert_eq!(history[1].run_id, Some(id(1)));

    apply_schedule(s, schedule("default", "other", "* * * * *"), 0).await;
    s.schedule_pause("default", "other", true).await.unwrap();
    let stats = s.schedule_stats(None, t(0)).await.unwrap();
    assert_eq!((stats.schedules, stats.paused, stats.disabled), (2, 1, 0));
    let fires: Vec<(&str, u64)> = stats.fires.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(fires, vec![("fired", 2), ("missed", 3)]);
    assert_eq!(s.schedule_stats(Some("acme"), t(0)).await.unwrap(), crate::ScheduleStats::default());
}
