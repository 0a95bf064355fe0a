//! What is stored about schedules: the resource, its progress, and every due
//! time with what became of it.

use baton_model::schedule::Schedule;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::RunRecord;

/// A schedule as stored, with where the scheduler stands on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub schedule: Schedule,
    pub hash: String,
    /// Counts the applies that changed the schedule, from 1.
    pub generation: u32,
    /// Paused by request (`baton schedule pause`), apart from `spec.enabled`.
    pub paused: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest due time dealt with: fired, skipped or recorded as missed.
    pub last_due: Option<DateTime<Utc>>,
    /// Runs started so far (for `max_executions`).
    pub executions: u64,
    pub last_run: Option<Uuid>,
}

impl ScheduleRecord {
    pub fn tenant(&self) -> &str {
        &self.schedule.metadata.tenant
    }

    pub fn name(&self) -> &str {
        &self.schedule.metadata.name
    }

    /// Whether it fires at all: enabled in its spec and not paused.
    pub fn active(&self) -> bool {
        self.schedule.spec.enabled && !self.paused
    }
}

#[derive(Debug, Clone)]
pub struct ScheduleApply {
    pub schedule: Schedule,
    pub hash: String,
    pub now: DateTime<Utc>,
}

/// What became of one due time (or of `count` due times recorded together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FireOutcome {
    /// A run was started.
    Fired,
    /// The previous run was still going (`overlap: skip`).
    SkippedOverlap,
    /// Waiting for the previous run to end (`overlap: queue`).
    Queued,
    /// Missed while no node ran, and started late (`misfire: fire_once` / `fire_all`).
    CaughtUp,
    /// Missed while no node ran, and not started (`misfire: skip`, or beyond the limit).
    Missed,
    /// Due while the schedule was paused or disabled.
    Paused,
    /// A run could not be started (the workflow or its inputs are wrong).
    Failed,
}

impl FireOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FireOutcome::Fired => "fired",
            FireOutcome::SkippedOverlap => "skipped_overlap",
            FireOutcome::Queued => "queued",
            FireOutcome::CaughtUp => "caught_up",
            FireOutcome::Missed => "missed",
            FireOutcome::Paused => "paused",
            FireOutcome::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "fired" => FireOutcome::Fired,
            "skipped_overlap" => FireOutcome::SkippedOverlap,
            "queued" => FireOutcome::Queued,
            "caught_up" => FireOutcome::CaughtUp,
            "missed" => FireOutcome::Missed,
            "paused" => FireOutcome::Paused,
            "failed" => FireOutcome::Failed,
            _ => return None,
        })
    }
}

/// One due time of one schedule, and what became of it, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireRecord {
    pub tenant: String,
    pub schedule: String,
    /// The due time (before jitter).
    pub due_at: DateTime<Utc>,
    pub outcome: FireOutcome,
    pub reason: Option<String>,
    pub run_id: Option<Uuid>,
    /// How many due times this record stands for (missed or paused runs of
    /// them are recorded together, the first one's time as `due_at`).
    pub count: u32,
    pub recorded_at: DateTime<Utc>,
}

/// A fire to record, with the run it starts, if any. Recorded at most once
/// per (tenant, schedule, due time): a second node, or a replay after a
/// crash, finds it there and starts nothing.
#[derive(Debug, Clone)]
pub struct ScheduleFire {
    pub fire: FireRecord,
    pub run: Option<RunRecord>,
    /// The schedule's progress once this fire is recorded; `None` leaves it
    /// (a fire by hand is not a due time).
    pub last_due: Option<DateTime<Utc>>,
}

/// Counts across schedules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleStats {
    pub schedules: u64,
    pub paused: u64,
    /// `enabled: false` in the spec.
    pub disabled: u64,
    /// Due times recorded since the asked instant, by outcome.
    pub fires: std::collections::BTreeMap<String, u64>,
}
