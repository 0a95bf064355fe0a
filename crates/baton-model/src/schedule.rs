//! The `Schedule` resource: a workflow started by a cron expression in a
//! time zone, with what to do about fires missed while no node ran and about
//! runs that overlap.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::cron::{Cron, DstRule};
use crate::decode::{Decoder, Fields};
use crate::duration::Duration;
use crate::resource::name_problem;
use crate::workflow::Metadata;
use crate::yaml::{Node, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub metadata: Metadata,
    pub spec: ScheduleSpec,
}

/// What to do with fires that fell due while no node was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Record them as missed; fire again at the next due time.
    Skip,
    /// Fire once for the latest missed time; record the others.
    #[default]
    FireOnce,
    /// Fire each missed time, oldest first, up to `misfire_limit`.
    FireAll,
}

/// What to do when a fire falls due while the schedule's previous run is
/// still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Start another run anyway.
    Allow,
    /// Do not start one; record the fire as skipped.
    #[default]
    Skip,
    /// Start it when the previous run ends.
    Queue,
    /// Cancel the previous run, then start the new one.
    CancelPrevious,
}

impl Misfire {
    pub fn as_str(self) -> &'static str {
        match self {
            Misfire::Skip => "skip",
            Misfire::FireOnce => "fire_once",
            Misfire::FireAll => "fire_all",
        }
    }
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Allow => "allow",
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
            Overlap::CancelPrevious => "cancel_previous",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The workflow to run, in the schedule's tenant.
    pub workflow: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inputs: Map<String, Json>,
    pub cron: String,
    /// IANA zone whose wall time the expression matches.
    pub timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_executions: Option<u64>,
    pub enabled: bool,
    /// Each fire is delayed by a fixed part of this, derived from the
    /// schedule's name, so that schedules sharing a time spread out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Duration>,
    pub misfire: Misfire,
    pub misfire_limit: u32,
    pub overlap: Overlap,
    pub priority: i32,
    pub dst: DstRule,
}

impl ScheduleSpec {
    pub fn compiled(&self) -> Result<(Cron, chrono_tz::Tz), String> {
        let cron = self.cron.parse::<Cron>().map_err(|e| e.to_string())?;
        let tz = self.timezone.parse().map_err(|_| format!("unknown time zone `{}`", self.timezone))?;
        Ok((cron, tz))
    }
}

const SPEC_FIELDS: &[&str] = &[
    "description",
    "workflow",
    "inputs",
    "cron",
    "timezone",
    "start",
    "end",
    "max_executions",
    "enabled",
    "jitter",
    "misfire",
    "misfire_limit",
    "overlap",
    "priority",
    "dst",
];

/// Reads a Schedule's `spec`, reporting every problem.
pub fn decode_spec(d: &mut Decoder, node: &Node, path: &str) -> Option<ScheduleSpec> {
    let f = d.fields(node, path, SPEC_FIELDS)?;
    let text = |d: &mut Decoder, key: &str| f.get(key).and_then(|n| d.string(n, &f.path_of(key)));
    let description = text(d, "description");
    let workflow = f.required(d, "workflow").and_then(|n| {
        let name = d.string(n, &f.path_of("workflow"))?;
        match name_problem(&name) {
            Some(problem) => {
                d.error(n.at, &f.path_of("workflow"), problem);
                None
            }
            None => Some(name),
        }
    });
    let inputs = f.get("inputs").and_then(|n| inputs(d, n, &f.path_of("inputs"))).unwrap_or_default();
    let cron = f.required(d, "cron").and_then(|n| cron(d, n, &f.path_of("cron")));
    let timezone = match f.get("timezone") {
        Some(n) => timezone(d, n, &f.path_of("timezone")),
        None => Some("UTC".to_string()),
    };
    let start = f.get("start").and_then(|n| instant(d, n, &f.path_of("start")));
    let end = f.get("end").and_then(|n| instant(d, n, &f.path_of("end")));
    if let (Some(s), Some(e), Some(n)) = (start, end, f.get("end"))
        && e <= s
    {
        d.error(n.at, &f.path_of("end"), format!("`end` ({e}) is not after `start` ({s})"));
    }
    let max_executions =
        f.get("max_executions").and_then(|n| d.int_in(n, &f.path_of("max_executions"), 1, i64::MAX)).map(|v| v as u64);
    let enabled = f.get("enabled").and_then(|n| d.bool(n, &f.path_of("enabled"))).unwrap_or(true);
    let jitter = f.get("jitter").and_then(|n| d.duration(n, &f.path_of("jitter")));
    let misfire = choice(
        d,
        &f,
        "misfire",
        &[("skip", Misfire::Skip), ("fire_once", Misfire::FireOnce), ("fire_all", Misfire::FireAll)],
    );
    let misfire_limit =
        f.get("misfire_limit").and_then(|n| d.int_in(n, &f.path_of("misfire_limit"), 1, 10_000)).unwrap_or(10) as u32;
    let overlap = choice(
        d,
        &f,
        "overlap",
        &[
            ("allow", Overlap::Allow),
            ("skip", Overlap::Skip),
            ("queue", Overlap::Queue),
            ("cancel_previous", Overlap::CancelPrevious),
        ],
    );
    let priority = f.get("priority").and_then(|n| d.int_in(n, &f.path_of("priority"), -1000, 1000)).unwrap_or(0) as i32;
    let dst = choice(
        d,
        &f,
        "dst",
        &[("auto", DstRule::Auto), ("wall_clock", DstRule::WallClock), ("elapsed", DstRule::Elapsed)],
    );
    Some(ScheduleSpec {
        description,
        workflow: workflow?,
        inputs,
        cron: cron?,
        timezone: timezone?,
        start,
        end,
        max_executions,
        enabled,
        jitter,
        misfire: misfire?,
        misfire_limit,
        overlap: overlap?,
        priority,
        dst: dst?,
    })
}

fn inputs(d: &mut Decoder, node: &Node, path: &str) -> Option<Map<String, Json>> {
    match (&node.value, node.to_json()) {
        (Value::Map(_), Json::Object(map)) => Some(map),
        _ => {
            d.error(
                node.at,
                path,
                format!("expected a mapping of input names to values, found {}", node.value.type_name()),
            );
            None
        }
    }
}

fn cron(d: &mut Decoder, node: &Node, path: &str) -> Option<String> {
    let text = d.string(node, path)?;
    match text.parse::<Cron>() {
        Ok(_) => Some(text),
        Err(e) => {
            d.error(node.at, path, e.to_string());
            None
        }
    }
}

fn timezone(d: &mut Decoder, node: &Node, path: &str) -> Option<String> {
    let text = d.string(node, path)?;
    if text.parse::<chrono_tz::Tz>().is_ok() {
        Some(text)
    } else {
        d.error(node.at, path, format!("unknown time zone `{text}` (an IANA name such as Europe/Amsterdam or UTC)"));
        None
    }
}

fn instant(d: &mut Decoder, node: &Node, path: &str) -> Option<DateTime<Utc>> {
    let text = d.string(node, path)?;
    match DateTime::parse_from_rfc3339(&text) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            d.error(node.at, path, format!("`{text}` is not an RFC 3339 instant such as 2026-01-31T02:00:00Z"));
            None
        }
    }
}

/// One of a few words; the default when absent.
pub(crate) fn choice<T: Copy + Default>(
    d: &mut Decoder,
    f: &Fields<'_>,
    key: &str,
    options: &[(&str, T)],
) -> Option<T> {
    let Some(node) = f.get(key) else { return Some(T::default()) };
    let word = d.string(node, &f.path_of(key))?;
    match options.iter().find(|(name, _)| *name == word) {
        Some((_, value)) => Some(*value),
        None => {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            d.error(
                node.at,
                &f.path_of(key),
                format!("unknown value `{word}` (expected one of: {})", names.join(", ")),
            );
            None
        }
    }
}

/// When a schedule is next due after `after`: the cron expression in its
/// zone, within `start`/`end`, until `max_executions` runs have started.
pub struct Timing<'a> {
    pub cron: &'a Cron,
    pub tz: chrono_tz::Tz,
    pub rule: DstRule,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub max_executions: Option<u64>,
}

impl Timing<'_> {
    pub fn next_due(&self, after: DateTime<Utc>, executions: u64) -> Option<crate::cron::Fire> {
        if self.max_executions.is_some_and(|max| executions >= max) {
            return None;
        }
        let from = match self.start {
            Some(start) if start > after => start - chrono::Duration::microseconds(1),
            _ => after,
        };
        let fire = self.cron.next_after(from, self.tz, self.rule)?;
        self.end.is_none_or(|end| fire.at <= end).then_some(fire)
    }

    /// The next `n` due times, as if each started a run.
    pub fn upcoming(&self, after: DateTime<Utc>, executions: u64, n: usize) -> Vec<crate::cron::Fire> {
        let mut out: Vec<crate::cron::Fire> = Vec::with_capacity(n);
        let mut from = after;
        while out.len() < n {
            let Some(fire) = self.next_due(from, executions + out.len() as u64) else { break };
            from = fire.at;
            out.push(fire);
        }
        out
    }
}

impl ScheduleSpec {
    pub fn timing<'a>(&self, cron: &'a Cron, tz: chrono_tz::Tz) -> Timing<'a> {
        Timing { cron, tz, rule: self.dst, start: self.start, end: self.end, max_executions: self.max_executions }
    }
}
