//! The JSON shapes of the REST API, shared with the CLI.

use baton_model::Diagnostic;
use baton_store::{AttemptRecord, RunRecord, StepRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// RFC 9457 problem details, with baton's code and per-field errors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyResult {
    pub resources: Vec<AppliedResource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedResource {
    pub kind: String,
    pub tenant: String,
    pub name: String,
    /// `created`, `updated` or `unchanged`.
    pub outcome: String,
    pub version: u32,
    /// True when nothing was stored (`dry_run`).
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowSummary {
    pub tenant: String,
    pub name: String,
    pub version: u32,
    pub steps: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartRun {
    #[serde(default)]
    pub inputs: Map<String, Json>,
    /// Pin a version; the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// A run with its steps and every attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunRecord,
    pub steps: Vec<StepRecord>,
    pub attempts: Vec<AttemptRecord>,
}

/// One line of `GET /api/v1/runs/{id}/events`: a snapshot first (and
/// again after the stream fell behind), then events, until the run ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamItem {
    Snapshot { run: Box<RunDetail> },
    Event { event: baton_engine::Event },
    Heartbeat { at: DateTime<Utc> },
}

/// A schedule with what it will do next and how its last run went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleView {
    #[serde(flatten)]
    pub record: baton_store::ScheduleRecord,
    /// `active`, `paused`, `disabled` (in its spec) or `finished` (no due time left).
    pub state: String,
    pub next: Vec<NextFire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_state: Option<baton_model::RunState>,
    /// A fire recorded ahead of its due time whose run waits for it: a
    /// pause, change or delete now applies only after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_fire: Option<WaitingFire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitingFire {
    pub due_at: DateTime<Utc>,
    pub run_id: uuid::Uuid,
}

impl WaitingFire {
    /// The schedule's latest fire (`last_due`, with `last_run` in
    /// `run_state`), if it is still ahead of `now` and its run has not started.
    pub fn of(
        (last_due, last_run): (Option<DateTime<Utc>>, Option<uuid::Uuid>),
        run_state: Option<baton_model::RunState>,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let due_at = last_due.filter(|d| *d > now)?;
        let run_id = last_run.filter(|_| run_state == Some(baton_model::RunState::Pending))?;
        Some(WaitingFire { due_at, run_id })
    }
}

#[cfg(test)]
mod tests {
    use baton_model::RunState::{Pending, Running};
    use chrono::{DateTime, Duration, Utc};

    use super::WaitingFire;

    #[test]
    fn a_waiting_fire_is_ahead_of_now_with_its_run_not_started() {
        let now: DateTime<Utc> = "2026-11-27T12:00:59.5Z".parse().unwrap();
        let (due, run) = (now + Duration::milliseconds(500), uuid::Uuid::nil());
        let fire = WaitingFire { due_at: due, run_id: run };
        assert_eq!(WaitingFire::of((Some(due), Some(run)), Some(Pending), now), Some(fire));
        assert_eq!(WaitingFire::of((Some(due), Some(run)), Some(Running), now), None, "already started");
        assert_eq!(WaitingFire::of((Some(now), Some(run)), Some(Pending), now), None, "due now: not ahead");
        assert_eq!(WaitingFire::of((Some(due), None), None, now), None, "no run (skipped or paused)");
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NextFire {
    pub at: DateTime<Utc>,
    /// RFC 3339 in the schedule's zone.
    pub local: String,
    /// What a DST change did to this fire, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Triggered {
    pub outcome: baton_store::FireOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<uuid::Uuid>,
}

/// The answer to a webhook call that was accepted: `started` (202, with the
/// run) or `ignored` by the trigger's filter (200, with why).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookAnswer {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
