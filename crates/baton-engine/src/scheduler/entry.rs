//! A schedule as the scheduler keeps it in memory: only what deciding and
//! firing need, with the cron expression and workflow name shared between
//! schedules that use the same text (a million fit in a few hundred MB).

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

/// Kept for every schedule, so kept small: what is rarely set lives in
/// [`Extras`], boxed.
pub struct Entry {
    pub key: Key,
    pub cron: Arc<Cron>,
    pub workflow: Arc<str>,
    pub tz: Tz,
    pub rule: DstRule,
    pub misfire: Misfire,
    pub overlap: Overlap,
    pub active: bool,
    /// The next due time, when there is one.
    pub due: Option<DateTime<Utc>>,
    /// Due times up to here are dealt with: the last one, or when the
    /// schedule was created or changed, whichever is later.
    pub dealt: DateTime<Utc>,
    /// Runs started so far (for `max_executions`).
    pub executions: u64,
    pub last_run: Option<Uuid>,
    /// Bumped on every reload: heap entries of an older one are stale.
    pub generation: u32,
    extras: Option<Box<Extras>>,
}

/// The parts of a schedule most schedules do not use.
#[derive(Default)]
pub struct Extras {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    max_executions: Option<u64>,
    /// Fixed delay of every fire, derived from the name.
    jitter: chrono::Duration,
    inputs: Option<Arc<Map<String, Json>>>,
    misfire_limit: u32,
    /// A due time waiting for the previous run to end (`overlap: queue`).
    queued: Option<DateTime<Utc>>,
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

const DEFAULT_MISFIRE_LIMIT: u32 = 10;

impl Entry {
    /// `None` if the stored spec no longer parses (it was checked when applied).
    pub fn from_record(r: &ScheduleRecord, interner: &mut Interner, generation: u32) -> Option<Self> {
        let spec = &r.schedule.spec;
        let k = key(r.tenant(), r.name());
        let extras = Extras {
            start: spec.start,
            end: spec.end,
            max_executions: spec.max_executions,
            jitter: spec.jitter.map_or(chrono::Duration::zero(), |j| jitter_of(&k, j.std())),
            inputs: (!spec.inputs.is_empty()).then(|| Arc::new(spec.inputs.clone())),
            misfire_limit: spec.misfire_limit,
            queued: None,
        };
        let plain = extras.start.is_none()
            && extras.end.is_none()
            && extras.max_executions.is_none()
            && extras.jitter.is_zero()
            && extras.inputs.is_none()
            && extras.misfire_limit == DEFAULT_MISFIRE_LIMIT;
        Some(Entry {
            key: k,
            cron: interner.cron(&spec.cron)?,
            workflow: interner.name(&spec.workflow),
            tz: spec.timezone.parse().ok()?,
            rule: spec.dst,
            misfire: spec.misfire,
            overlap: spec.overlap,
            active: r.active(),
            due: None,
            dealt: r.last_due.map_or(r.updated_at, |d| d.max(r.updated_at)),
            executions: r.executions,
            last_run: r.last_run,
            generation,
            extras: (!plain).then(|| Box::new(extras)),
        })
    }

    /// The first due time after `after` within the schedule's bounds.
    pub fn next_due(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let e = self.extras.as_deref();
        let timing = Timing {
            cron: &self.cron,
            tz: self.tz,
            rule: self.rule,
            start: e.and_then(|e| e.start),
            end: e.and_then(|e| e.end),
            max_executions: e.and_then(|e| e.max_executions),
        };
        timing.next_due(after, self.executions).map(|fire| fire.at)
    }

    /// What a DST change did to the due time `at`, in words, if anything
    /// (moved out of a gap, several merged into one, or a repeated hour).
    pub fn dst_note(&self, at: DateTime<Utc>) -> Option<String> {
        let fire = self.cron.next_after(at - chrono::Duration::microseconds(1), self.tz, self.rule)?;
        if fire.at == at { fire.dst_description() } else { None }
    }

    /// When the pending due time fires: the due time plus the jitter.
    pub fn fire_time(&self) -> Option<DateTime<Utc>> {
        self.due.map(|d| d + self.jitter())
    }

    /// Whether a heap entry `(at, generation)` is still this entry's
    /// pending fire (entries go stale on reload and when a fire is taken).
    pub fn fires_at(&self, generation: u32, at: DateTime<Utc>) -> bool {
        self.generation == generation && self.fire_time() == Some(at)
    }

    fn jitter(&self) -> chrono::Duration {
        self.extras.as_ref().map_or(chrono::Duration::zero(), |e| e.jitter)
    }

    pub fn misfire_limit(&self) -> u32 {
        self.extras.as_ref().map_or(DEFAULT_MISFIRE_LIMIT, |e| e.misfire_limit)
    }

    pub fn inputs(&self) -> Map<String, Json> {
        self.extras.as_ref().and_then(|e| e.inputs.as_deref().cloned()).unwrap_or_default()
    }

    pub fn queued(&self) -> Option<DateTime<Utc>> {
        self.extras.as_ref().and_then(|e| e.queued)
    }

    pub fn set_queued(&mut self, due: Option<DateTime<Utc>>) {
        if due.is_some() || self.extras.is_some() {
            self.extras
                .get_or_insert_with(|| Box::new(Extras { misfire_limit: DEFAULT_MISFIRE_LIMIT, ..Extras::default() }))
                .queued = due;
        }
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
