//! The scheduler, driven by a manual clock: fires on time, misfire and
//! overlap policies, pause and resume, bounds, and a restart.

mod harness;

use baton_store::FireOutcome::{self, *};
use chrono::{DateTime, Duration, Utc};
use harness::Harness;

const WORKFLOWS: &str = "apiVersion: baton/v1\nkind: Workflow\nmetadata: {name: quick}\nspec:\n  steps:\n    - {id: a, kind: noop}\n---\napiVersion: baton/v1\nkind: Workflow\nmetadata: {name: slow}\nspec:\n  steps:\n    - id: nap\n      kind: sleep\n      with: {duration: 150s}\n";

fn schedule(name: &str, workflow: &str, extra: &str) -> String {
    format!(
        "apiVersion: baton/v1\nkind: Schedule\nmetadata: {{name: {name}}}\nspec:\n  workflow: {workflow}\n  cron: '* * * * *'\n{extra}"
    )
}

async fn setup() -> (Harness, DateTime<Utc>) {
    let h = Harness::new().await;
    h.apply(WORKFLOWS).await;
    let start = h.clock_now();
    (h, start)
}

/// Moves the clock a minute at a time; after each, waits until the
/// scheduler has dealt with that minute and, when `settle`, until the runs
/// it started have ended.
async fn minutes(h: &Harness, n: i64, settle: bool) {
    for _ in 0..n {
        h.advance(60);
        let now = h.clock_now();
        let dealt = tokio::time::timeout(std::time::Duration::from_secs(20), h.engine.scheduled_until(now)).await;
        assert!(dealt.is_ok(), "the scheduler did not deal with {now}");
        if settle {
            h.until("the runs to end", || async { h.engine.active_runs() == 0 }).await;
        }
    }
}

fn only(outcomes: &[(i64, FireOutcome, u32)]) -> Vec<(i64, FireOutcome)> {
    outcomes.iter().map(|(m, o, _)| (*m, *o)).collect()
}

#[tokio::test]
async fn fires_every_minute_and_records_each() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("every", "quick", "")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 3, true).await;
    assert_eq!(only(&h.outcomes("every", start).await), vec![(1, Fired), (2, Fired), (3, Fired)]);
    let history = h.history("every").await;
    let run = h.store.run_get(history[0].run_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(run.workflow, "quick");
    assert_eq!(run.trigger, format!("schedule:every@{}", (start + Duration::minutes(1)).to_rfc3339()));
    let record = h.store.schedule_get("default", "every").await.unwrap().unwrap();
    assert_eq!((record.executions, record.last_due), (3, Some(start + Duration::minutes(3))));
}

async fn down_for_ten_minutes(extra: &str) -> Vec<(i64, FireOutcome, u32)> {
    let (h, start) = setup().await;
    // Overlap allowed: a caught-up run and the fire due right after it may overlap.
    h.apply_schedule(&schedule("s", "quick", &format!("{extra}  overlap: allow\n"))).await;
    // No scheduler runs for ten minutes; then a node starts.
    h.advance(600);
    h.engine.start_scheduler().await.unwrap();
    // Everything due while no node ran was missed, the tenth minute included.
    h.engine.scheduled_until(h.clock_now()).await;
    h.outcomes("s", start).await
}

#[tokio::test]
async fn misfire_skip_records_what_was_missed() {
    let o = down_for_ten_minutes("  misfire: skip\n").await;
    assert_eq!(o, vec![(1, Missed, 10)]);
}

#[tokio::test]
async fn misfire_fire_once_catches_up_with_the_latest() {
    let o = down_for_ten_minutes("  misfire: fire_once\n").await;
    assert_eq!(o, vec![(1, Missed, 9), (10, CaughtUp, 1)]);
}

#[tokio::test]
async fn misfire_fire_all_catches_up_to_the_limit() {
    let o = down_for_ten_minutes("  misfire: fire_all\n  misfire_limit: 3\n").await;
    assert_eq!(o, vec![(1, CaughtUp, 1), (2, CaughtUp, 1), (3, CaughtUp, 1), (4, Missed, 7)]);
}

#[tokio::test]
async fn overlap_skip_records_the_skip() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("s", "slow", "  overlap: skip\n")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 3, false).await;
    // The first run sleeps until 3:30: let it end before minute 4.
    h.advance(30);
    h.until("the first run to end", || async { h.engine.active_runs() == 0 }).await;
    h.advance(30);
    h.engine.scheduled_until(h.clock_now()).await;
    // The fires of minutes 2 and 3 found the first run going.
    assert_eq!(
        only(&h.outcomes("s", start).await),
        vec![(1, Fired), (2, SkippedOverlap), (3, SkippedOverlap), (4, Fired)]
    );
}

#[tokio::test]
async fn overlap_allow_starts_another_run() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("s", "slow", "  overlap: allow\n")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 2, false).await;
    assert_eq!(only(&h.outcomes("s", start).await), vec![(1, Fired), (2, Fired)]);
}

#[tokio::test]
async fn overlap_queue_starts_when_the_previous_run_ends() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("s", "slow", "  overlap: queue\n")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 3, false).await;
    // Minute 2 waited for run 1 (ended at 3:30); minute 3 found one already queued.
    let o = only(&h.outcomes("s", start).await);
    assert_eq!(o[..2], [(1, Fired), (3, SkippedOverlap)]);
    h.advance(30);
    h.until("the queued fire to start", || async { h.history("s").await.len() == 3 }).await;
    let history = h.history("s").await;
    assert_eq!((history[1].due_at - start).num_minutes(), 2);
    assert_eq!(history[1].outcome, Fired);
    assert!(history[1].reason.as_deref().unwrap().contains("previous run ended"));
}

#[tokio::test]
async fn overlap_cancel_previous_cancels_then_fires() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("s", "slow", "  overlap: cancel_previous\n")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 2, false).await;
    let history = h.history("s").await;
    assert_eq!(only(&h.outcomes("s", start).await), vec![(1, Fired), (2, Fired)]);
    let first = history[0].run_id.unwrap();
    let run = h.finished(first).await;
    assert_eq!(run.state, baton_model::RunState::Cancelled);
}

#[tokio::test]
async fn pause_and_resume_record_what_passed_while_paused() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("s", "quick", "")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 1, true).await;
    h.engine.pause_schedule("default", "s", true).await.unwrap();
    minutes(&h, 3, true).await;
    assert_eq!(h.history("s").await.len(), 1, "nothing fires while paused");
    h.engine.pause_schedule("default", "s", false).await.unwrap();
    assert_eq!(h.history("s").await.len(), 2, "resuming records what passed while paused");
    minutes(&h, 1, true).await;
    assert_eq!(h.outcomes("s", start).await, vec![(1, Fired, 1), (2, Paused, 3), (5, Fired, 1)]);
}

#[tokio::test]
async fn max_executions_and_bounds() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("twice", "quick", "  max_executions: 2\n")).await;
    let from = (start + Duration::minutes(2)).to_rfc3339();
    let to = (start + Duration::minutes(4)).to_rfc3339();
    h.apply_schedule(&schedule("window", "quick", &format!("  start: '{from}'\n  end: '{to}'\n"))).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 6, true).await;
    assert_eq!(only(&h.outcomes("twice", start).await), vec![(1, Fired), (2, Fired)]);
    assert_eq!(only(&h.outcomes("window", start).await), vec![(2, Fired), (3, Fired), (4, Fired)]);
}

#[tokio::test]
async fn a_fire_by_hand_respects_overlap_and_leaves_progress() {
    let (h, _) = setup().await;
    h.apply_schedule(&schedule("s", "slow", "  cron: '0 0 1 1 *'\n").replace("  cron: '* * * * *'\n", "")).await;
    h.engine.start_scheduler().await.unwrap();
    let (first, run) = h.engine.trigger_schedule("default", "s").await.unwrap();
    assert!(first == Fired && run.is_some());
    let (outcome, run) = h.engine.trigger_schedule("default", "s").await.unwrap();
    assert_eq!((outcome, run), (SkippedOverlap, None), "the first manual run is still going");
    let record = h.store.schedule_get("default", "s").await.unwrap().unwrap();
    assert_eq!((record.executions, record.last_due), (1, None), "a fire by hand counts as a run, not as a due time");
}

#[tokio::test]
async fn schedules_keep_firing_after_a_restart() {
    let (mut h, start) = setup().await;
    h.apply_schedule(&schedule("s", "quick", "  misfire: fire_once\n  overlap: allow\n")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 2, true).await;
    h.engine.shutdown().await;
    h.advance(300);
    h.restart_with_scheduler().await;
    // Down from minute 2 to 7: 3-6 missed, 7 caught up (fire_once), then on as usual.
    h.engine.scheduled_until(h.clock_now()).await;
    minutes(&h, 1, true).await;
    let expected = vec![(1, Fired), (2, Fired), (3, Missed), (7, CaughtUp), (8, Fired)];
    assert_eq!(only(&h.outcomes("s", start).await), expected);
}

#[tokio::test]
async fn a_due_time_moved_by_dst_says_so_in_its_record() {
    let (h, _) = setup().await;
    // Amsterdam springs forward on 2026-03-29 at 02:00 local (01:00 UTC): 02:30 does not exist.
    let eve = "2026-03-28T23:00:00Z".parse::<DateTime<Utc>>().unwrap();
    h.clock.advance(eve - h.clock_now());
    h.apply_schedule(
        &schedule("nightly", "quick", "").replace("'* * * * *'", "'30 2 * * *'\n  timezone: Europe/Amsterdam"),
    )
    .await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 180, false).await;
    let history = h.history("nightly").await;
    assert_eq!(history.len(), 1, "{history:?}");
    let fire = &history[0];
    assert_eq!(fire.outcome, Fired);
    assert_eq!(fire.due_at, "2026-03-29T01:00:00Z".parse::<DateTime<Utc>>().unwrap(), "right after the gap");
    let reason = fire.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("2026-03-29 02:30:00 does not exist (clocks went forward)"), "{reason}");
}

/// Moves the clock to `ms` milliseconds after `start` and lets the scheduler act.
async fn to(h: &Harness, start: DateTime<Utc>, ms: i64) {
    let target = start + Duration::milliseconds(ms);
    h.clock.advance(target - h.clock_now());
    tokio::time::timeout(std::time::Duration::from_secs(20), h.engine.scheduled_until(target)).await.unwrap();
}

/// A schedule `every` (with `extra` YAML) whose 12:01 fire is recorded
/// ahead, at 12:00:59.5, with its run.
async fn a_fire_recorded_ahead(extra: &str) -> (Harness, DateTime<Utc>, baton_store::RunRecord) {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("every", "quick", extra)).await;
    h.engine.start_scheduler().await.unwrap();
    to(&h, start, 59_500).await;
    let run = recorded_ahead(&h).await;
    (h, start, run)
}

async fn recorded_ahead(h: &Harness) -> baton_store::RunRecord {
    h.until("the fire to be recorded ahead", || async { !h.history("every").await.is_empty() }).await;
    let fire = h.history("every").await.remove(0);
    assert_eq!(fire.outcome, Fired);
    h.run(fire.run_id.unwrap()).await
}

#[tokio::test]
async fn a_fire_is_recorded_just_ahead_and_its_run_waits_for_its_time() {
    let (h, start, run) = a_fire_recorded_ahead("").await;
    let due = start + Duration::minutes(1);
    assert_eq!((run.state, run.not_before, run.started_at), (baton_model::RunState::Pending, Some(due), None));
    to(&h, start, 60_000).await;
    let run = h.finished(run.id).await;
    assert_eq!(run.state, baton_model::RunState::Succeeded);
    assert!(run.started_at.is_some_and(|s| s >= due), "started at its time, not before: {:?}", run.started_at);
}

#[tokio::test]
async fn a_pause_in_the_second_before_a_recorded_fire_applies_from_the_next_due_time() {
    let (h, start, run) = a_fire_recorded_ahead("").await;
    h.engine.pause_schedule("default", "every", true).await.unwrap();
    to(&h, start, 60_000).await;
    assert_eq!(h.finished(run.id).await.state, baton_model::RunState::Succeeded, "the recorded fire stands");
    minutes(&h, 3, true).await;
    h.engine.pause_schedule("default", "every", false).await.unwrap();
    assert_eq!(only(&h.outcomes("every", start).await), vec![(1, Fired), (2, Paused)], "later due times are paused");
}

#[tokio::test]
async fn a_run_cancelled_while_it_waits_for_its_time_never_starts() {
    let (h, _, run) = a_fire_recorded_ahead("").await;
    h.engine.cancel(run.id).await.unwrap();
    let run = h.finished(run.id).await;
    assert_eq!((run.state, run.started_at), (baton_model::RunState::Cancelled, None));
    assert!(h.store.step_list(run.id).await.unwrap().is_empty(), "no step ran");
}

#[tokio::test]
async fn a_manual_fire_answers_with_its_own_record_while_another_is_recorded_ahead() {
    let (h, _, run) = a_fire_recorded_ahead("  overlap: skip\n").await;
    let (outcome, manual) = h.engine.trigger_schedule("default", "every").await.unwrap();
    assert_eq!((outcome, manual), (SkippedOverlap, None), "the run recorded ahead is the schedule's latest");
    let history = h.history("every").await;
    let skipped = history.iter().find(|f| f.outcome == SkippedOverlap).expect("the manual fire is recorded");
    assert!(skipped.reason.as_deref().unwrap_or_default().contains(&run.id.to_string()), "{:?}", skipped.reason);
}

#[tokio::test]
async fn a_run_recorded_ahead_still_waits_for_its_time_after_a_restart() {
    let (mut h, start, run) = a_fire_recorded_ahead("").await;
    h.restart_with_scheduler().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(h.run(run.id).await.state, baton_model::RunState::Pending, "not before its time");
    to(&h, start, 60_000).await;
    assert_eq!(h.finished(run.id).await.state, baton_model::RunState::Succeeded);
    // Its due time is not fired twice.
    assert_eq!(h.history("every").await.len(), 1);
}

#[tokio::test]
async fn a_fire_whose_previous_run_still_goes_is_decided_at_its_time() {
    let (h, start) = setup().await;
    h.apply_schedule(&schedule("every", "slow", "")).await;
    h.engine.start_scheduler().await.unwrap();
    minutes(&h, 1, false).await;
    to(&h, start, 119_500).await;
    assert_eq!(
        only(&h.outcomes("every", start).await),
        vec![(1, Fired)],
        "not decided ahead: the previous run may end"
    );
    to(&h, start, 120_000).await;
    assert_eq!(only(&h.outcomes("every", start).await), vec![(1, Fired), (2, SkippedOverlap)]);
}
