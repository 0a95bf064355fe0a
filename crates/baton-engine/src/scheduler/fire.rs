//! Turning due times into fire records and runs: the overlap policy, then
//! one durable write for the whole batch, then the runs start.

use baton_model::schedule::Overlap;
use baton_store::{FireOutcome, FireRecord, ScheduleFire};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::Scheduler;
use super::entry::Key;
use crate::engine::RunRequest;
use crate::error::EngineError;
use crate::run::Control;

/// Why a due time is being dealt with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its time has come.
    Due,
    /// Missed while no node ran, fired late by the misfire policy.
    CaughtUp,
    /// Missed while no node ran, not fired (recorded together).
    MissedDropped,
    /// Passed while the schedule was paused or disabled (recorded together).
    Paused,
    /// Fired by hand.
    Manual,
    /// Queued behind a run that has now ended.
    Released,
}

/// One due time (or `count` of them, `at` to `last`, recorded together).
#[derive(Debug, Clone)]
pub struct Due {
    pub key: Key,
    pub at: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub count: u32,
    pub why: Why,
    /// Recorded ahead: the run waits until this fire time.
    pub not_before: Option<DateTime<Utc>>,
}

impl Due {
    pub fn one(key: Key, at: DateTime<Utc>, why: Why) -> Self {
        Due { key, at, last: at, count: 1, why, not_before: None }
    }
}

/// What was decided for one due time, before it is written.
struct Planned {
    due: Due,
    fire: ScheduleFire,
    control: Option<mpsc::UnboundedReceiver<Control>>,
}

impl Scheduler {
    /// Decides, records (one write), then starts the runs of new fires.
    pub(super) async fn fire(&mut self, due: Vec<Due>, now: DateTime<Utc>) -> Result<(), EngineError> {
        let mut planned = Vec::with_capacity(due.len());
        for d in due {
            if let Some(p) = self.plan(d, now).await {
                planned.push(p);
            }
        }
        if planned.is_empty() {
            return Ok(());
        }
        let fires: Vec<ScheduleFire> = planned.iter().map(|p| p.fire.clone()).collect();
        let new = self.engine.store().schedule_fire(fires).await?;
        for (p, new) in planned.into_iter().zip(new) {
            self.settle(p, new).await;
        }
        Ok(())
    }

    async fn plan(&mut self, d: Due, now: DateTime<Utc>) -> Option<Planned> {
        let (tenant, name) = d.key.split_once('/')?;
        let (tenant, name) = (tenant.to_string(), name.to_string());
        let entry = self.entries.get(&d.key)?;
        // A due time a DST change moved, merged or repeated says so, whatever became of it.
        let dst = matches!(d.why, Why::Due | Why::CaughtUp | Why::Released).then(|| entry.dst_note(d.at)).flatten();
        let record = |outcome, reason: Option<String>| FireRecord {
            tenant: tenant.clone(),
            schedule: name.clone(),
            due_at: d.at,
            outcome,
            reason: match (reason, &dst) {
                (Some(r), Some(dst)) => Some(format!("{r}; {dst}")),
                (r, dst) => r.or_else(|| dst.clone()),
            },
            run_id: None,
            count: d.count,
            recorded_at: now,
        };
        // A fire by hand leaves the schedule's progress where it was.
        let last_due = (d.why != Why::Manual).then_some(d.last);
        let only_record = |outcome, reason: &str| {
            Some(Planned {
                fire: ScheduleFire { fire: record(outcome, Some(reason.to_string())), run: None, last_due },
                control: None,
                due: d.clone(),
            })
        };
        match d.why {
            Why::MissedDropped => {
                let reason = format!("missed while no node was running (misfire: {})", entry.misfire.as_str());
                return only_record(FireOutcome::Missed, &reason);
            }
            Why::Paused => return only_record(FireOutcome::Paused, "due while the schedule was paused or disabled"),
            _ => {}
        }
        let previous = entry.last_run.filter(|r| self.engine.is_running(*r));
        let mut reason = match d.why {
            Why::CaughtUp => Some("missed while no node was running; started late (misfire policy)".to_string()),
            Why::Manual => Some("triggered by hand".to_string()),
            Why::Released => Some("started once the previous run ended (overlap: queue)".to_string()),
            _ => None,
        };
        if let (Some(run), false) = (previous, d.why == Why::Released) {
            match entry.overlap {
                Overlap::Allow => {}
                Overlap::Skip => {
                    return only_record(
                        FireOutcome::SkippedOverlap,
                        &format!("run {run} had not ended (overlap: skip)"),
                    );
                }
                Overlap::Queue if entry.queued().is_some() => {
                    return only_record(FireOutcome::SkippedOverlap, "a fire is already queued (overlap: queue)");
                }
                Overlap::Queue => {
                    // Recorded when it starts; a crash meanwhile leaves it to the misfire policy.
                    if let Some(e) = self.entries.get_mut(&d.key) {
                        e.set_queued(Some(d.at));
                    }
                    self.waiting.insert(run, d.key.clone());
                    self.after_due(&d);
                    return None;
                }
                Overlap::CancelPrevious => {
                    let why = format!("cancelled by a later fire of schedule `{name}` (overlap: cancel_previous)");
                    if let Err(e) = self.engine.cancel_because(run, &why).await {
                        tracing::warn!(%run, error = %e, "cancelling the previous run failed");
                    }
                    reason = Some(format!("cancelled the previous run {run} (overlap: cancel_previous)"));
                }
            }
        }
        let entry = self.entries.get(&d.key)?;
        let request = RunRequest {
            tenant: tenant.clone(),
            workflow: entry.workflow.to_string(),
            version: None,
            inputs: entry.inputs(),
            trigger: format!("schedule:{name}@{}", d.at.to_rfc3339()),
        };
        let outcome = if d.why == Why::CaughtUp { FireOutcome::CaughtUp } else { FireOutcome::Fired };
        match self.engine.prepare(request).await {
            Ok(mut run) => {
                run.not_before = d.not_before;
                let control = self.engine.register(run.id);
                let mut fire = record(outcome, reason);
                fire.run_id = Some(run.id);
                Some(Planned { fire: ScheduleFire { fire, run: Some(run), last_due }, control: Some(control), due: d })
            }
            // Stopping: the due time stays for the next start (misfire policy).
            Err(EngineError::ShuttingDown) => None,
            Err(e) => only_record(FireOutcome::Failed, &format!("could not start a run: {e}")),
        }
    }

    /// After the write: start the run of a new fire; move the entry on.
    async fn settle(&mut self, p: Planned, new: bool) {
        if new && matches!(p.fire.fire.outcome, FireOutcome::Missed | FireOutcome::CaughtUp) {
            self.publish_misfire(&p);
        }
        if let (Some(run), Some(control)) = (p.fire.run, p.control) {
            let id = run.id;
            if !new {
                // Another node (or an earlier life of this one) recorded this due time.
                self.engine.unregister(id);
            } else if let Err(e) = self.engine.start_recorded(run, control).await {
                tracing::error!(run = %id, error = %e, "a scheduled run did not start; it resumes at the next start");
            }
            if new && let Some(entry) = self.entries.get_mut(&p.due.key) {
                entry.executions += 1;
                entry.last_run = Some(id);
            }
        }
        if let (Some(entry), Some(due)) = (self.entries.get_mut(&p.due.key), p.fire.last_due) {
            entry.dealt = entry.dealt.max(due);
        }
        self.after_due(&p.due);
    }

    fn publish_misfire(&self, p: &Planned) {
        let f = &p.fire.fire;
        let workflow = self.entries.get(&p.due.key).map(|e| e.workflow.to_string()).unwrap_or_default();
        self.engine.publish(crate::events::Event::Misfire {
            tenant: f.tenant.clone(),
            schedule: f.schedule.clone(),
            workflow,
            due_at: f.due_at,
            count: f.count,
            outcome: f.outcome.as_str().to_string(),
            at: f.recorded_at,
        });
    }

    /// A due time that came on its own makes room for the next one.
    fn after_due(&mut self, d: &Due) {
        if d.why == Why::Due {
            self.schedule_next(&d.key, d.at);
        }
    }
}
