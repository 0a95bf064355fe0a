//! What is stored about triggers: the resource, and every delivery (a
//! webhook call or an event) with what became of it.

use baton_model::trigger::Trigger;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::RunRecord;

/// A trigger as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRecord {
    pub trigger: Trigger,
    pub hash: String,
    /// Counts the applies that changed the trigger, from 1.
    pub generation: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TriggerRecord {
    pub fn tenant(&self) -> &str {
        &self.trigger.metadata.tenant
    }

    pub fn name(&self) -> &str {
        &self.trigger.metadata.name
    }
}

#[derive(Debug, Clone)]
pub struct TriggerApply {
    pub trigger: Trigger,
    pub hash: String,
    pub now: DateTime<Utc>,
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// A run was started.
    Started,
    /// The filter said no.
    Ignored,
    /// The filter or the input mapping failed, or the inputs were refused.
    Failed,
    /// An event at the end of a chain of event triggers as deep as allowed.
    TooDeep,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Started => "started",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::TooDeep => "too_deep",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "started" => DeliveryOutcome::Started,
            "ignored" => DeliveryOutcome::Ignored,
            "failed" => DeliveryOutcome::Failed,
            "too_deep" => DeliveryOutcome::TooDeep,
            _ => return None,
        })
    }
}

/// One delivery to one trigger, and what became of it, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub tenant: String,
    pub trigger: String,
    /// What makes the delivery unique: a webhook's signature (so that a
    /// replay is refused), or the event (`run.failed:<run id>`).
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub outcome: DeliveryOutcome,
    pub reason: Option<String>,
    pub run_id: Option<Uuid>,
}

/// A delivery to record, with the run it starts, if any. Recorded at most
/// once per (tenant, trigger, source): a replay finds it there and starts
/// nothing.
#[derive(Debug, Clone)]
pub struct TriggerDelivery {
    pub delivery: DeliveryRecord,
    pub run: Option<RunRecord>,
}
