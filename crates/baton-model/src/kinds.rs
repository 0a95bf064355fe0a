//! What each step kind takes in `with`: checked on the YAML at apply time
//! (where no template hides the value) and parsed from the rendered JSON
//! when the step runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::decode::Decoder;
use crate::duration::Duration;
use crate::workflow::StepKind;
use crate::yaml::{Node, Pos, Value};

pub const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// `with` of a `noop` step: optional outputs to report.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoopArgs {
    #[serde(default)]
    pub outputs: Option<Json>,
}

/// `with` of a `shell` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellArgs {
    /// The script, run as `<shell> -c <run>`.
    pub run: String,
    /// `sh` unless set (e.g. `bash`).
    #[serde(default)]
    pub shell: Option<String>,
    /// Extra environment; values that are not strings are written as JSON.
    #[serde(default)]
    pub env: BTreeMap<String, Json>,
    #[serde(default)]
    pub workdir: Option<String>,
}

/// `with` of an `http` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpArgs {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A string is sent as is; anything else as JSON.
    #[serde(default)]
    pub body: Option<Json>,
    /// Statuses that count as success; any 2xx when absent.
    #[serde(default)]
    pub expect_status: Option<Vec<u16>>,
}

fn default_method() -> String {
    "GET".to_string()
}

/// `with` of a `sleep` step: a duration or an instant, not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SleepArgs {
    #[serde(default)]
    pub duration: Option<Duration>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

fn known_fields(kind: StepKind) -> &'static [&'static str] {
    match kind {
        StepKind::Noop => &["outputs"],
        StepKind::Shell => &["run", "shell", "env", "workdir"],
        StepKind::Http => &["url", "method", "headers", "body", "expect_status"],
        StepKind::Sleep => &["duration", "until"],
    }
}

fn required_field(kind: StepKind) -> Option<&'static str> {
    match kind {
        StepKind::Shell => Some("run"),
        StepKind::Http => Some("url"),
        StepKind::Noop | StepKind::Sleep => None,
    }
}

/// A step whose kind needs arguments but has no `with` at all.
pub fn check_missing_with(d: &mut Decoder, kind: StepKind, at: Pos, path: &str) {
    if let Some(field) = required_field(kind) {
        d.error(at, path, format!("a `{}` step needs `with.{field}`", kind.name()));
    } else if kind == StepKind::Sleep {
        d.error(at, path, "a `sleep` step needs `with.duration` or `with.until`");
    }
}

/// Checks `with` against the kind's fields. Values holding a template are
/// only known at run time and are checked then.
pub fn check_with(d: &mut Decoder, kind: StepKind, node: &Node, path: &str) {
    let Some(fields) = d.fields(node, path, known_fields(kind)) else {
        return;
    };
    if let Some(field) = required_field(kind) {
        fields.required(d, field);
    }
    let literal = |key: &str| fields.get(key).filter(|n| !holds_template(n));
    match kind {
        StepKind::Noop => {}
        StepKind::Shell => {
            for key in ["run", "shell", "workdir"] {
                if let Some(n) = literal(key) {
                    d.string(n, &fields.path_of(key));
                }
            }
            if let Some(n) = literal("env") {
                d.string_map(n, &fields.path_of("env"));
            }
        }
        StepKind::Http => {
            if let Some(url) = literal("url").and_then(|n| d.string(n, &fields.path_of("url")).map(|s| (n, s))) {
                check_url(d, url.0, &fields.path_of("url"), &url.1);
            }
            if let Some(n) = literal("method") {
                check_method(d, n, &fields.path_of("method"));
            }
            if let Some(n) = literal("headers") {
                d.string_map(n, &fields.path_of("headers"));
            }
            if let Some(n) = literal("expect_status") {
                check_statuses(d, n, &fields.path_of("expect_status"));
            }
        }
        StepKind::Sleep => check_sleep(d, &fields, node),
    }
}

fn check_url(d: &mut Decoder, node: &Node, path: &str, url: &str) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        d.error(node.at, path, format!("`{url}` is not an http:// or https:// URL"));
    }
}

fn check_method(d: &mut Decoder, node: &Node, path: &str) {
    if let Some(method) = d.string(node, path)
        && !HTTP_METHODS.contains(&method.to_ascii_uppercase().as_str())
    {
        d.error(
            node.at,
            path,
            format!("unknown HTTP method `{method}` (expected one of: {})", HTTP_METHODS.join(", ")),
        );
    }
}

fn check_statuses(d: &mut Decoder, node: &Node, path: &str) {
    let Value::Seq(items) = &node.value else {
        d.error(node.at, path, format!("expected a list of HTTP statuses, found {}", node.value.type_name()));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        d.int_in(item, &format!("{path}[{i}]"), 100, 599);
    }
}

fn check_sleep(d: &mut Decoder, fields: &crate::decode::Fields<'_>, node: &Node) {
    match (fields.get("duration"), fields.get("until")) {
        (None, None) => d.error(node.at, &fields.path, "a `sleep` step needs `duration` or `until`"),
        (Some(_), Some(n)) => d.error(n.at, &fields.path_of("until"), "give `duration` or `until`, not both"),
        (Some(n), None) if !holds_template(n) => {
            d.duration(n, &fields.path_of("duration"));
        }
        (None, Some(n)) if !holds_template(n) => {
            if let Some(text) = d.string(n, &fields.path_of("until"))
                && DateTime::parse_from_rfc3339(&text).is_err()
            {
                d.error(
                    n.at,
                    &fields.path_of("until"),
                    format!("`{text}` is not an RFC 3339 instant such as 2026-01-31T02:00:00Z"),
                );
            }
        }
        _ => {}
    }
}

fn holds_template(node: &Node) -> bool {
    match &node.value {
        Value::Str(s) => s.contains("${{"),
        Value::Seq(items) => items.iter().any(holds_template),
        Value::Map(entries) => entries.iter().any(|(_, v)| holds_template(v)),
        _ => false,
    }
}
