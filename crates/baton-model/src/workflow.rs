//! The `Workflow` resource: typed inputs and a DAG of steps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::duration::Duration;

pub const API_VERSION: &str = "baton/v1";
pub const DEFAULT_TENANT: &str = "default";

/// `metadata` of every resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub name: String,
    pub tenant: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub metadata: Metadata,
    pub spec: WorkflowSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The whole run's deadline, counted from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, InputSpec>,
    pub steps: Vec<StepSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Integer,
    Number,
    Boolean,
    List,
    Object,
}

impl InputType {
    pub const NAMES: &'static [&'static str] = &["string", "integer", "number", "boolean", "list", "object"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => InputType::String,
            "integer" => InputType::Integer,
            "number" => InputType::Number,
            "boolean" => InputType::Boolean,
            "list" => InputType::List,
            "object" => InputType::Object,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether a JSON value is of this type.
    pub fn admits(self, value: &Json) -> bool {
        match self {
            InputType::String => value.is_string(),
            InputType::Integer => value.is_i64() || value.is_u64(),
            InputType::Number => value.is_number(),
            InputType::Boolean => value.is_boolean(),
            InputType::List => value.is_array(),
            InputType::Object => value.is_object(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    #[serde(rename = "type")]
    pub kind: InputType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a step (or a compensation) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Noop,
    Shell,
    Http,
    Sleep,
}

impl StepKind {
    pub const NAMES: &'static [&'static str] = &["noop", "shell", "http", "sleep"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "noop" => StepKind::Noop,
            "shell" => StepKind::Shell,
            "http" => StepKind::Http,
            "sleep" => StepKind::Sleep,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The executable part of a step, shared by steps and their compensations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub kind: StepKind,
    /// Kind-specific arguments; strings may embed `${{ CEL }}` templates.
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    pub with: Json,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
}

fn empty_object() -> Json {
    Json::Object(Default::default())
}

fn is_empty_object(v: &Json) -> bool {
    v.is_null() || v.as_object().is_some_and(|o| o.is_empty())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// A CEL expression giving a list; the step runs once per element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// Undoes this step when the run fails after it succeeded (a saga).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensate: Option<Action>,
    #[serde(flatten)]
    pub action: Action,
}

/// Exponential backoff between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Fraction (0–1) of each delay that is randomised, deterministically per step.
    #[serde(default)]
    pub jitter: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    pub initial: Duration,
    pub multiplier: f64,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(1), multiplier: 2.0, max: Duration::from_secs(300) }
    }
}

impl Workflow {
    pub fn step(&self, id: &str) -> Option<&StepSpec> {
        self.spec.steps.iter().find(|s| s.id == id)
    }
}
