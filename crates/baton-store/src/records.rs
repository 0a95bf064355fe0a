//! What is stored: workflow versions, runs, steps, attempts and logs.

use baton_model::{AttemptState, RunState, StepState, Workflow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use uuid::Uuid;

/// One immutable version of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub tenant: String,
    pub name: String,
    pub version: u32,
    pub hash: String,
    pub workflow: Workflow,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct WorkflowApply {
    pub workflow: Workflow,
    pub hash: String,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ApplyOutcome {
    Created { version: u32 },
    Updated { version: u32 },
    Unchanged { version: u32 },
}

impl ApplyOutcome {
    pub fn version(self) -> u32 {
        match self {
            ApplyOutcome::Created { version }
            | ApplyOutcome::Updated { version }
            | ApplyOutcome::Unchanged { version } => version,
        }
    }
}

/// A run of one pinned workflow version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: Uuid,
    pub tenant: String,
    pub workflow: String,
    pub version: u32,
    pub state: RunState,
    pub inputs: Json,
    /// What started it: `manual`, `api`, …
    pub trigger: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    /// Why it ended as it did (or why it is compensating).
    pub reason: Option<String>,
    pub cancel_requested: bool,
    /// While compensating: the state the run will end in (`failed`, `timed_out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<RunState>,
    /// Links in the chain of event triggers that led to this run: 0 for a
    /// run started any other way.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub depth: u32,
    /// Recorded ahead of its time: it does not start before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RunRecord {
    /// A run as submitted: `pending`, nothing decided yet.
    pub fn pending(id: Uuid, workflow: (&str, &str, u32), inputs: Json, trigger: &str, now: DateTime<Utc>) -> Self {
        let (tenant, name, version) = workflow;
        RunRecord {
            id,
            tenant: tenant.to_string(),
            workflow: name.to_string(),
            version,
            state: RunState::Pending,
            inputs,
            trigger: trigger.to_string(),
            created_at: now,
            started_at: None,
            finished_at: None,
            deadline_at: None,
            reason: None,
            cancel_requested: false,
            ending: None,
            depth: 0,
            not_before: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub tenant: Option<String>,
    pub workflow: Option<String>,
    /// Any of these states; all states when empty.
    pub states: Vec<RunState>,
    /// Only runs older than this one (the cursor of the previous page).
    pub before: Option<Uuid>,
    pub limit: u32,
}

/// Whether a step row belongs to the run's forward path or to its undoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Main,
    Compensation,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Main => "main",
            Phase::Compensation => "compensation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "main" => Some(Phase::Main),
            "compensation" => Some(Phase::Compensation),
            _ => None,
        }
    }
}

/// The latest state of one step instance: `build`, `deploy[2]` (one element
/// of a `for_each`), or `compensate:deploy[2]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub run_id: Uuid,
    pub key: String,
    /// The id in the workflow's `steps`.
    pub step_id: String,
    pub index: Option<u32>,
    pub phase: Phase,
    pub state: StepState,
    /// Attempts started so far (interrupted ones included).
    pub attempt: u32,
    /// Attempts that failed: what the retry policy counts.
    pub failures: u32,
    /// `for_each` element of this instance, or the whole list on the parent.
    pub item: Option<Json>,
    /// When a waiting step wakes (end of a sleep or of a retry's backoff).
    pub wake_at: Option<DateTime<Utc>>,
    /// When the first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the latest attempt started.
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outputs: Option<Json>,
    pub exit_code: Option<i32>,
    pub stdout_tail: Option<String>,
    pub stderr_tail: Option<String>,
    /// Why it ended as it did, or why it is waiting.
    pub reason: Option<String>,
    /// Order of success within the run: compensation runs in reverse of it.
    pub completed_seq: Option<i64>,
}

impl StepRecord {
    pub fn new(run_id: Uuid, key: String, step_id: String, phase: Phase, state: StepState) -> Self {
        StepRecord {
            run_id,
            key,
            step_id,
            index: None,
            phase,
            state,
            attempt: 0,
            failures: 0,
            item: None,
            wake_at: None,
            started_at: None,
            attempt_started_at: None,
            finished_at: None,
            outputs: None,
            exit_code: None,
            stdout_tail: None,
            stderr_tail: None,
            reason: None,
            completed_seq: None,
        }
    }
}

/// One attempt of one step instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub run_id: Uuid,
    pub key: String,
    pub attempt: u32,
    pub state: AttemptState,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// The combined stdout and stderr of one attempt, up to the configured cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub run_id: Uuid,
    pub key: String,
    pub attempt: u32,
    pub text: String,
    /// Bytes that were produced beyond the cap and not kept.
    pub truncated_bytes: u64,
}

/// One durable transition, applied by [`crate::Store::commit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Moves a run to `to` only if its current state may precede `to`
    /// (see `RunState::can_become`); sets `started_at` on entering
    /// `running` and `finished_at` on a terminal state.
    RunTransition {
        run_id: Uuid,
        to: RunState,
        at: DateTime<Utc>,
        reason: Option<String>,
        deadline_at: Option<DateTime<Utc>>,
        /// Recorded when entering `compensating`: where the run is heading.
        ending: Option<RunState>,
    },
    /// Writes the whole step row (insert or replace).
    StepPut(Box<StepRecord>),
    /// Records a finished attempt with its log, once: a second record of
    /// the same attempt is not applied. (An attempt in flight is told by the
    /// step row: `state`, `attempt`, `attempt_started_at`.)
    AttemptEnd {
        run_id: Uuid,
        key: String,
        attempt: u32,
        state: AttemptState,
        started_at: DateTime<Utc>,
        at: DateTime<Utc>,
        exit_code: Option<i32>,
        reason: Option<String>,
        log: Option<(String, u64)>,
    },
}
