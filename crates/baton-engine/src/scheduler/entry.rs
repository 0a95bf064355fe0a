//! A schedule as the scheduler keeps it in memory: only what deciding and
//! firing need, with the cron expression shared between schedules that use
//! the same text (a million schedules fit in a few hundred megabytes).

use std::collections::HashMap;
use std::sync::Arc;

use baton_model::cron::{Cron, DstRule};
use baton_model::schedule::{Misfire, Overlap, Timing};
use baton_store::ScheduleRecord;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `tenant/name`.
pub type Key = Arc<str>;

pub fn key(tenant: &str, name: &str) -> Key {
    Arc::from(format!("{tenant}/{name}"))
}

pub struct Entry {
    pub cron: Arc<Cron>,
    pub tz: Tz,
    pub rule: DstRule,
    pub workflow: Arc<str>,
    pub inputs: Option<Arc<Map<String, Json>>>,
    pub misfire: Misfire,
    pub misfire_limit: u32,
    pub overlap: Overlap,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub max_executions: Option<u64>,
    pub executions: u64,
    /// Fixed delay of every fire, derived from the name.
    pub jitter: chrono::Duration,
    pub active: bool,
    /// When the schedule was created or last changed: nothing before it is due.
    pub since: DateTime<Utc>,
    pub last_due: Option<DateTime<Utc>>,
    pub last_run: Option<Uuid>,
    /// The next due time, when there is one.
    pub due: Option<DateTime<Utc>>,
    /// A due time waiting for the previous run to end (`overlap: queue`).
    pub queued: Option<DateTime<Utc>>,
    /// Bumped on every reload: heap entries of an older one are stale.
    pub generation: u64,
}

/// Shares `Cron`s and workflow names between entries.
#[derive(Default)]
pub struct Interner {
    crons: HashMap<String, Arc<Cron>>,
    names: HashMap<String, Arc<str>>,
}

impl Interner {
    fn cron(&mut self, text: &str) -> Option<Arc<Cron>> {
        if let Some(c) = self.crons.get(text) {
            return Some(c.clone());
        }
        let cron = Arc::new(text.parse::<Cron>().ok()?);
        self.crons.insert(text.to_string(), cron.clone());
        Some(cron)
    }

    fn name(&mut self, text: &str) -> Arc<str> {
        self.names.entry(text.to_string()).or_insert_with(|| Arc::from(text)).clone()
    }
}

impl Entry {
    /// `None` if the stored spec no longer parses (it was checked when applied).
    pub fn from_record(r: &ScheduleRecord, interner: &mut Interner, generation: u64) -> Option<Self> {
        let spec = &r.schedule.spec;
        let jitter = spec.jitter.map_or(chrono::Duration::zero(), |j| jitter_of(&key(r.tenant(), r.name()), j.std()));
        Some(Entry {
            cron: interner.cron(&spec.cron)?,
            tz: spec.timezone.parse().ok()?,
            rule: spec.dst,
            workflow: interner.name(&spec.workflow),
            inputs: (!spec.inputs.is_empty()).then(|| Arc::new(spec.inputs.clone())),
            misfire: spec.misfire,
            misfire_limit: spec.misfire_limit,
            overlap: spec.overlap,
            start: spec.start,
            end: spec.end,
            max_executions: spec.max_executions,
            executions: r.executions,
            jitter,
            active: r.active(),
            since: r.updated_at,
            last_due: r.last_due,
            last_run: r.last_run,
            due: None,
            queued: None,
            generation,
        })
    }

    /// The first due time after `after` within the schedule's bounds.
    pub fn next_due(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let timing = Timing {
            cron: &self.cron,
            tz: self.tz,
            rule: self.rule,
            start: self.start,
            end: self.end,
            max_executions: self.max_executions,
        };
        timing.next_due(after, self.executions).map(|fire| fire.at)
    }

    /// Where the search for the next due time starts: after the last one
    /// dealt with, and never before the schedule existed.
    pub fn resume_point(&self) -> DateTime<Utc> {
        self.last_due.map_or(self.since, |d| d.max(self.since))
    }
}

/// A delay in `[0, window)` fixed by the schedule's key.
fn jitter_of(key: &str, window: std::time::Duration) -> chrono::Duration {
    let ms = window.as_millis() as u64;
    if ms == 0 {
        return chrono::Duration::zero();
    }
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    chrono::Duration::milliseconds((u64::from_le_bytes(bytes) % ms) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_fixed_per_schedule_and_within_the_window() {
        let window = std::time::Duration::from_secs(30);
        let a = jitter_of("t/a", window);
        assert_eq!(a, jitter_of("t/a", window));
        assert!(a >= chrono::Duration::zero() && a < chrono::Duration::seconds(30));
        let spread: std::collections::HashSet<i64> =
            (0..50).map(|n| jitter_of(&format!("t/{n}"), window).num_milliseconds()).collect();
        assert!(spread.len() > 40, "schedules spread out: {}", spread.len());
    }
}
