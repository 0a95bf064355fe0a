//! What happened, as it happens: published after each commit, for live
//! views (`baton run --follow`, the events stream) and event triggers.

use baton_model::{RunState, StepState};
use baton_store::Change;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Run {
        run_id: Uuid,
        state: RunState,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Step {
        run_id: Uuid,
        key: String,
        state: StepState,
        attempt: u32,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wake_at: Option<DateTime<Utc>>,
    },
    /// A schedule's due time passed while no node ran (`schedule.misfired`
    /// for event triggers): `outcome` is `missed` or `caught_up`.
    Misfire {
        tenant: String,
        schedule: String,
        workflow: String,
        due_at: DateTime<Utc>,
        count: u32,
        outcome: String,
        at: DateTime<Utc>,
    },
}

impl Event {
    /// The run it is about, if it is about one.
    pub fn run_id(&self) -> Option<Uuid> {
        match self {
            Event::Run { run_id, .. } | Event::Step { run_id, .. } => Some(*run_id),
            Event::Misfire { .. } => None,
        }
    }

    /// The run reached a terminal state.
    pub fn ends_run(&self) -> bool {
        matches!(self, Event::Run { state, .. } if state.is_terminal())
    }
}

/// The events told by a committed batch (`applied` as the store returned it).
pub fn of_changes(changes: &[Change], applied: &[bool], at: DateTime<Utc>) -> Vec<Event> {
    changes
        .iter()
        .zip(applied)
        .filter(|(_, ok)| **ok)
        .filter_map(|(change, _)| match change {
            Change::RunTransition { run_id, to, at, reason, .. } => {
                Some(Event::Run { run_id: *run_id, state: *to, at: *at, reason: reason.clone() })
            }
            Change::StepPut(row) => Some(Event::Step {
                run_id: row.run_id,
                key: row.key.clone(),
                state: row.state,
                attempt: row.attempt,
                at: row.finished_at.filter(|_| row.state.is_terminal()).unwrap_or(at),
                reason: row.reason.clone(),
                exit_code: row.exit_code,
                wake_at: row.wake_at,
            }),
            Change::AttemptEnd { .. } => None,
        })
        .collect()
}
