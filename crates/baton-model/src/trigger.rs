//! The `Trigger` resource: a workflow started by a signed webhook call or by
//! one of baton's own events, with a CEL filter that may ignore what came in
//! and CEL expressions that map it to the workflow's inputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::{Decoder, Fields, Locations, index, join};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::Duration;
use crate::expr::{Expr, RefScope};
use crate::resource::name_problem;
use crate::schedule::choice;
use crate::workflow::Metadata;
use crate::yaml::{Node, Value};

/// What a webhook trigger's expressions may read: the request body (parsed
/// JSON, or the text when it is not JSON) and its headers (lowercase names).
pub const WEBHOOK_ROOTS: &[&str] = &["body", "headers"];
/// What an event trigger's expressions may read.
pub const EVENT_ROOTS: &[&str] = &["event"];

/// baton's events that an event trigger may listen to.
pub const EVENT_TYPES: &[&str] =
    &["run.succeeded", "run.failed", "run.cancelled", "run.timed_out", "run.dead_lettered", "schedule.misfired"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub metadata: Metadata,
    pub spec: TriggerSpec,
}

/// What a secret's value is shown as.
pub const REDACTED: &str = "<redacted>";

impl Trigger {
    /// The trigger as it may be shown: secret values replaced.
    pub fn redacted(mut self) -> Self {
        if let Some(hook) = &mut self.spec.webhook {
            for secret in &mut hook.secrets {
                if let SecretRef::Value(v) = secret {
                    *v = REDACTED.to_string();
                }
            }
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    #[default]
    Webhook,
    Event,
}

impl TriggerType {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::Webhook => "webhook",
            TriggerType::Event => "event",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerSpec {
    #[serde(rename = "type")]
    pub kind: TriggerType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The workflow to run, in the trigger's tenant.
    pub workflow: String,
    pub enabled: bool,
    /// CEL, true or false: false ignores what came in (recorded, no run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Input name → CEL expression giving its value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSpec {
    /// One secret, or two while rotating: a signature by either is valid.
    pub secrets: Vec<SecretRef>,
    /// How far a signature's timestamp may be from the server's clock.
    pub tolerance: Duration,
    pub max_body_bytes: u64,
    pub rate_limit: RateLimit,
}

/// Where a secret comes from: the server's environment (the secret never
/// enters the database), or the resource itself (never shown back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    Env(String),
    Value(String),
}

/// A token bucket: `per_second` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSpec {
    /// Event types (`run.failed`, …), at least one.
    pub on: Vec<String>,
    /// A run started by an event trigger is one link deeper than the run
    /// whose event started it; beyond this depth nothing more starts.
    pub max_depth: u32,
}

pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
pub const DEFAULT_MAX_BODY: u64 = 1024 * 1024;
const MAX_BODY_LIMIT: i64 = 64 * 1024 * 1024;
pub const DEFAULT_RATE: RateLimit = RateLimit { per_second: 10.0, burst: 20 };
pub const DEFAULT_MAX_DEPTH: u32 = 5;

const SPEC_FIELDS: &[&str] = &["type", "description", "workflow", "enabled", "filter", "inputs", "webhook", "event"];
const WEBHOOK_FIELDS: &[&str] = &["secrets", "tolerance", "max_body_bytes", "rate_limit"];
const SECRET_FIELDS: &[&str] = &["env", "value"];
const RATE_FIELDS: &[&str] = &["per_second", "burst"];
const EVENT_FIELDS: &[&str] = &["on", "max_depth"];

pub fn decode_spec(d: &mut Decoder, node: &Node, path: &str) -> Option<TriggerSpec> {
    let f = d.fields(node, path, SPEC_FIELDS)?;
    let kind = match f.required(d, "type") {
        Some(_) => choice(d, &f, "type", &[("webhook", TriggerType::Webhook), ("event", TriggerType::Event)]),
        None => None,
    };
    let description = f.get("description").and_then(|n| d.string(n, &f.path_of("description")));
    let workflow = f.required(d, "workflow").and_then(|n| {
        let name = d.string(n, &f.path_of("workflow"))?;
        let problem = name_problem(&name);
        problem.map(|p| d.error(n.at, &f.path_of("workflow"), p)).map_or(Some(name), |_| None)
    });
    let enabled = f.get("enabled").and_then(|n| d.bool(n, &f.path_of("enabled"))).unwrap_or(true);
    let filter = f.get("filter").and_then(|n| d.string(n, &f.path_of("filter")));
    let inputs = f.get("inputs").map(|n| d.string_map(n, &f.path_of("inputs"))).unwrap_or_default();
    let webhook = f.get("webhook").and_then(|n| webhook(d, n, &f.path_of("webhook")));
    let event = f.get("event").and_then(|n| event(d, n, &f.path_of("event")));
    let kind = kind?;
    sections_match_type(d, &f, kind, path);
    let spec = TriggerSpec { kind, description, workflow: workflow?, enabled, filter, inputs, webhook, event };
    match kind {
        TriggerType::Webhook if spec.webhook.is_none() => None,
        TriggerType::Event if spec.event.is_none() => None,
        _ => Some(spec),
    }
}

/// A webhook trigger has a `webhook` section and no `event` one, and the
/// other way round.
fn sections_match_type(d: &mut Decoder, f: &Fields<'_>, kind: TriggerType, path: &str) {
    let (needed, other) = match kind {
        TriggerType::Webhook => ("webhook", "event"),
        TriggerType::Event => ("event", "webhook"),
    };
    if f.get(needed).is_none() {
        let at = f.get("type").map(|n| n.at);
        d.problems.push(at, path, format!("a `{needed}` trigger needs a `{needed}` section"));
    }
    if let Some(n) = f.get(other) {
        d.error(n.at, &f.path_of(other), format!("`{other}` does not apply to a `{needed}` trigger"));
    }
}

fn webhook(d: &mut Decoder, node: &Node, path: &str) -> Option<WebhookSpec> {
    let f = d.fields(node, path, WEBHOOK_FIELDS)?;
    let secrets = f.required(d, "secrets").and_then(|n| secrets(d, n, &f.path_of("secrets")));
    let tolerance = match f.get("tolerance") {
        Some(n) => d.duration(n, &f.path_of("tolerance")),
        None => Some(Duration::from_secs(DEFAULT_TOLERANCE_SECS)),
    };
    if let (Some(t), Some(n)) = (tolerance, f.get("tolerance"))
        && (t.std() < std::time::Duration::from_secs(1) || t.std() > std::time::Duration::from_secs(3600))
    {
        d.error(n.at, &f.path_of("tolerance"), format!("`{t}` is out of range (1s to 1h)"));
    }
    let max_body_bytes = f
        .get("max_body_bytes")
        .map_or(Some(DEFAULT_MAX_BODY as i64), |n| d.int_in(n, &f.path_of("max_body_bytes"), 1, MAX_BODY_LIMIT))
        .map(|v| v as u64);
    let rate_limit = match f.get("rate_limit") {
        Some(n) => rate_limit(d, n, &f.path_of("rate_limit")),
        None => Some(DEFAULT_RATE),
    };
    Some(WebhookSpec {
        secrets: secrets?,
        tolerance: tolerance?,
        max_body_bytes: max_body_bytes?,
        rate_limit: rate_limit?,
    })
}

fn secrets(d: &mut Decoder, node: &Node, path: &str) -> Option<Vec<SecretRef>> {
    let Value::Seq(items) = &node.value else {
        d.error(node.at, path, format!("expected a list of one or two secrets, found {}", node.value.type_name()));
        return None;
    };
    if items.is_empty() || items.len() > 2 {
        let n = items.len();
        d.error(node.at, path, format!("{n} secrets given: give one, or two while rotating"));
        return None;
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let f = d.fields(item, &p, SECRET_FIELDS)?;
        match (f.get("env"), f.get("value")) {
            (Some(n), None) => {
                let name = d.string(n, &join(&p, "env"))?;
                let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    d.error(n.at, &join(&p, "env"), format!("`{name}` is not an environment variable name"));
                }
                out.push(SecretRef::Env(name));
            }
            (None, Some(n)) => {
                let value = d.string(n, &join(&p, "value"))?;
                if value.len() < 16 {
                    d.error(n.at, &join(&p, "value"), "a secret needs at least 16 characters");
                }
                out.push(SecretRef::Value(value));
            }
            _ => d.error(item.at, &p, "give exactly one of `env` (a variable of the server's environment) or `value`"),
        }
    }
    (out.len() == items.len()).then_some(out)
}

fn rate_limit(d: &mut Decoder, node: &Node, path: &str) -> Option<RateLimit> {
    let f = d.fields(node, path, RATE_FIELDS)?;
    let per_second = match f.get("per_second") {
        Some(n) => d.number_in(n, &f.path_of("per_second"), 0.001, 100_000.0),
        None => Some(DEFAULT_RATE.per_second),
    };
    let burst = match f.get("burst") {
        Some(n) => d.int_in(n, &f.path_of("burst"), 1, 100_000).map(|b| b as u32),
        None => Some(DEFAULT_RATE.burst),
    };
    Some(RateLimit { per_second: per_second?, burst: burst? })
}

fn event(d: &mut Decoder, node: &Node, path: &str) -> Option<EventSpec> {
    let f = d.fields(node, path, EVENT_FIELDS)?;
    let on = f.required(d, "on").map(|n| (n, d.string_list(n, &f.path_of("on"))));
    let mut types = Vec::new();
    if let Some((node, list)) = on {
        if list.is_empty() {
            d.error(node.at, &f.path_of("on"), "name at least one event type");
        }
        for (i, (name, at)) in list.into_iter().enumerate() {
            if EVENT_TYPES.contains(&name.as_str()) {
                types.push(name);
            } else {
                let known = EVENT_TYPES.join(", ");
                d.error(at, &index(&f.path_of("on"), i), format!("unknown event type `{name}` (known: {known})"));
            }
        }
    }
    let max_depth = f
        .get("max_depth")
        .map_or(Some(i64::from(DEFAULT_MAX_DEPTH)), |n| d.int_in(n, &f.path_of("max_depth"), 1, 100))
        .map(|v| v as u32);
    Some(EventSpec { on: types, max_depth: max_depth? })
}

/// A trigger with its expressions compiled.
#[derive(Debug, Clone)]
pub struct CompiledTrigger {
    pub trigger: Trigger,
    pub filter: Option<Expr>,
    pub inputs: Vec<(String, Expr)>,
}

impl CompiledTrigger {
    /// Compiles and checks every expression; problems carry the place
    /// recorded in `locs` (file:line when the trigger came from YAML).
    pub fn compile(trigger: Trigger, locs: &Locations) -> Result<Self, Vec<Diagnostic>> {
        let roots = match trigger.spec.kind {
            TriggerType::Webhook => WEBHOOK_ROOTS,
            TriggerType::Event => EVENT_ROOTS,
        };
        let scope = RefScope { roots, inputs: &[], step_ids: &[], visible: &|_| None, has_item: false };
        let mut problems = Diagnostics::default();
        let mut compile = |source: &str, path: String| match Expr::compile(source) {
            Ok(expr) => {
                for p in expr.check(&scope) {
                    problems.push(locs.get(&path), &path, p);
                }
                Some(expr)
            }
            Err(e) => {
                problems.push(locs.get(&path), &path, e);
                None
            }
        };
        let filter = trigger.spec.filter.as_deref().and_then(|s| compile(s, "spec.filter".into()));
        let inputs: Vec<(String, Expr)> = trigger
            .spec
            .inputs
            .iter()
            .filter_map(|(name, source)| Some((name.clone(), compile(source, format!("spec.inputs.{name}"))?)))
            .collect();
        if problems.is_empty() { Ok(CompiledTrigger { trigger, filter, inputs }) } else { Err(problems.into_sorted()) }
    }
}

#[cfg(test)]
mod tests;
