//! Decoding a `Workflow`'s `spec` from YAML, reporting every problem found.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::decode::{Decoder, Fields, index, join};
use crate::kinds;
use crate::workflow::{Action, Backoff, InputSpec, InputType, RetryPolicy, StepKind, StepSpec, WorkflowSpec};
use crate::yaml::{Node, Value};

const SPEC_FIELDS: &[&str] = &["description", "timeout", "inputs", "steps"];
const INPUT_FIELDS: &[&str] = &["type", "required", "default", "description"];
const STEP_FIELDS: &[&str] =
    &["id", "kind", "needs", "if", "with", "timeout", "retry", "for_each", "max_parallel", "compensate"];
const ACTION_FIELDS: &[&str] = &["kind", "with", "timeout", "retry"];
const RETRY_FIELDS: &[&str] = &["max_attempts", "backoff", "jitter"];
const BACKOFF_FIELDS: &[&str] = &["initial", "multiplier", "max"];

/// Reads `spec`; `None` when it is too broken to describe a workflow.
pub fn decode_spec(d: &mut Decoder, node: &Node, path: &str) -> Option<WorkflowSpec> {
    let fields = d.fields(node, path, SPEC_FIELDS)?;
    let description = fields.get("description").and_then(|n| d.string(n, &fields.path_of("description")));
    let timeout = fields.get("timeout").and_then(|n| d.duration(n, &fields.path_of("timeout")));
    let inputs = fields.get("inputs").map(|n| decode_inputs(d, n, &fields.path_of("inputs"))).unwrap_or_default();
    let steps = fields.required(d, "steps").map(|n| decode_steps(d, n, &fields.path_of("steps"))).unwrap_or_default();
    Some(WorkflowSpec { description, timeout, inputs, steps })
}

fn decode_inputs(d: &mut Decoder, node: &Node, path: &str) -> BTreeMap<String, InputSpec> {
    let Value::Map(entries) = &node.value else {
        d.error(node.at, path, format!("expected a mapping of input names, found {}", node.value.type_name()));
        return BTreeMap::new();
    };
    let mut inputs = BTreeMap::new();
    for (key, value) in entries {
        let name = key.key_text();
        let input_path = join(path, &name);
        if !is_identifier(&name) {
            d.error(key.at, &input_path, identifier_problem("input name", &name));
        }
        if let Some(spec) = decode_input(d, value, &input_path) {
            inputs.insert(name, spec);
        }
    }
    inputs
}

fn decode_input(d: &mut Decoder, node: &Node, path: &str) -> Option<InputSpec> {
    let fields = d.fields(node, path, INPUT_FIELDS)?;
    let kind = fields.required(d, "type").and_then(|n| {
        let name = d.string(n, &fields.path_of("type"))?;
        let kind = InputType::parse(&name);
        if kind.is_none() {
            let names = InputType::NAMES.join(", ");
            d.error(n.at, &fields.path_of("type"), format!("unknown type `{name}` (expected one of: {names})"));
        }
        kind
    })?;
    let required = fields.get("required").and_then(|n| d.bool(n, &fields.path_of("required"))).unwrap_or(false);
    let default = fields.get("default").map(|n| (n, n.to_json()));
    if let Some((n, value)) = &default {
        if !kind.admits(value) {
            d.error(n.at, &fields.path_of("default"), format!("default {value} is not of type {}", kind.name()));
        }
        if required {
            d.error(n.at, &fields.path_of("default"), "an input with a default cannot be required: drop one of them");
        }
    }
    let description = fields.get("description").and_then(|n| d.string(n, &fields.path_of("description")));
    Some(InputSpec { kind, required, default: default.map(|(_, v)| v), description })
}

fn decode_steps(d: &mut Decoder, node: &Node, path: &str) -> Vec<StepSpec> {
    let Value::Seq(items) = &node.value else {
        d.error(node.at, path, format!("expected a list of steps, found {}", node.value.type_name()));
        return Vec::new();
    };
    if items.is_empty() {
        d.error(node.at, path, "a workflow needs at least one step");
    }
    items.iter().enumerate().filter_map(|(i, item)| decode_step(d, item, &index(path, i))).collect()
}

fn decode_step(d: &mut Decoder, node: &Node, path: &str) -> Option<StepSpec> {
    let fields = d.fields(node, path, STEP_FIELDS)?;
    let id = fields.required(d, "id").and_then(|n| {
        let id = d.string(n, &fields.path_of("id"))?;
        if !is_identifier(&id) {
            d.error(n.at, &fields.path_of("id"), identifier_problem("step id", &id));
        }
        Some(id)
    });
    let action = decode_action(d, &fields);
    let needs = fields
        .get("needs")
        .map(|n| d.string_list(n, &fields.path_of("needs")))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let condition = fields.get("if").and_then(|n| expression_text(d, n, &fields.path_of("if")));
    let for_each = fields.get("for_each").and_then(|n| expression_text(d, n, &fields.path_of("for_each")));
    let max_parallel = fields.get("max_parallel").and_then(|n| {
        let v = d.int_in(n, &fields.path_of("max_parallel"), 1, 10_000)?;
        if for_each.is_none() {
            d.error(n.at, &fields.path_of("max_parallel"), "`max_parallel` only applies to a step with `for_each`");
        }
        Some(v as u32)
    });
    let compensate = fields.get("compensate").and_then(|n| {
        let path = fields.path_of("compensate");
        let compensation = d.fields(n, &path, ACTION_FIELDS)?;
        decode_action(d, &compensation)
    });
    // A step with an id takes part in the graph checks even when its action
    // is broken (that problem is already reported), so that one pass finds
    // every problem without inventing "unknown step" ones.
    let action = action.unwrap_or(Action {
        kind: StepKind::Noop,
        with: Json::Object(Default::default()),
        timeout: None,
        retry: None,
    });
    Some(StepSpec { id: id?, needs, condition, for_each, max_parallel, compensate, action })
}

/// `kind`, `with`, `timeout` and `retry`: what steps and compensations share.
fn decode_action(d: &mut Decoder, fields: &Fields<'_>) -> Option<Action> {
    let kind = fields.required(d, "kind").and_then(|n| {
        let name = d.string(n, &fields.path_of("kind"))?;
        let kind = StepKind::parse(&name);
        if kind.is_none() {
            let names = StepKind::NAMES.join(", ");
            d.error(n.at, &fields.path_of("kind"), format!("unknown step kind `{name}` (expected one of: {names})"));
        }
        kind
    });
    let with = fields.get("with");
    if let (Some(kind), Some(with)) = (kind, with) {
        kinds::check_with(d, kind, with, &fields.path_of("with"));
    } else if let Some(kind) = kind {
        kinds::check_missing_with(d, kind, fields.node.at, &fields.path);
    }
    let timeout = fields.get("timeout").and_then(|n| d.duration(n, &fields.path_of("timeout")));
    let retry = fields.get("retry").and_then(|n| decode_retry(d, n, &fields.path_of("retry")));
    Some(Action { kind: kind?, with: with.map_or(Json::Object(Default::default()), Node::to_json), timeout, retry })
}

fn decode_retry(d: &mut Decoder, node: &Node, path: &str) -> Option<RetryPolicy> {
    let fields = d.fields(node, path, RETRY_FIELDS)?;
    let max_attempts = match fields.get("max_attempts") {
        Some(n) => d.int_in(n, &fields.path_of("max_attempts"), 1, 1000)? as u32,
        None => 3,
    };
    let backoff = match fields.get("backoff") {
        Some(n) => decode_backoff(d, n, &fields.path_of("backoff"))?,
        None => Backoff::default(),
    };
    let jitter = match fields.get("jitter") {
        Some(n) => d.number_in(n, &fields.path_of("jitter"), 0.0, 1.0)?,
        None => 0.0,
    };
    Some(RetryPolicy { max_attempts, backoff, jitter })
}

fn decode_backoff(d: &mut Decoder, node: &Node, path: &str) -> Option<Backoff> {
    let fields = d.fields(node, path, BACKOFF_FIELDS)?;
    let defaults = Backoff::default();
    let initial = match fields.get("initial") {
        Some(n) => d.duration(n, &fields.path_of("initial"))?,
        None => defaults.initial,
    };
    let multiplier = match fields.get("multiplier") {
        Some(n) => d.number_in(n, &fields.path_of("multiplier"), 1.0, 100.0)?,
        None => defaults.multiplier,
    };
    let max = match fields.get("max") {
        Some(n) => d.duration(n, &fields.path_of("max"))?,
        None => defaults.max.max(initial),
    };
    if max < initial {
        d.error(node.at, path, format!("`max` ({max}) is shorter than `initial` ({initial})"));
        return None;
    }
    Some(Backoff { initial, multiplier, max })
}

/// A CEL expression written as a YAML scalar; `true`/`false` and numbers are
/// taken as their CEL text.
fn expression_text(d: &mut Decoder, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(s) if s.trim().is_empty() => {
            d.error(node.at, path, "the expression is empty");
            None
        }
        Value::Str(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            d.error(node.at, path, format!("expected a CEL expression, found {}", other.type_name()));
            None
        }
    }
}

/// Step ids and input names are read in CEL as `steps.<id>` and `inputs.<name>`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn identifier_problem(what: &str, name: &str) -> String {
    let hint = if name.contains('-') { " (CEL would read `-` as minus: use `_`)" } else { "" };
    format!("{what} `{name}` must start with a letter or `_` and hold only letters, digits and `_`{hint}")
}
