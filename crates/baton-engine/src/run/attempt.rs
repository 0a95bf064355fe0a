//! Starting and ending attempts: rendering `with`, durable sleeps, and what
//! an outcome means for the step — success, a retry after backoff, or failure.

use std::collections::BTreeMap;

use baton_model::backoff::retry_delay;
use baton_model::expr::Bindings;
use baton_model::{RunState, StepKind, StepState};
use baton_store::{Change, Phase, StepRecord};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::progress::{Instance, Progress};
use crate::exec::{Outcome, Request, Status};

/// What a launch asks of the driver.
pub enum Launch {
    Execute(Request),
    /// A sleep: nothing executes; the driver wakes the run at `wake_at`.
    Timer,
    /// The instance failed before running (its `with` did not render).
    Failed,
}

impl Progress {
    /// Starts an attempt of `instance`: the changes to persist first, then
    /// what to run.
    pub fn launch(&mut self, instance: &Instance, now: DateTime<Utc>) -> (Vec<Change>, Launch) {
        let mut changes = Vec::new();
        let mut row = match self.rows.get(&instance.key) {
            Some(r) => r.clone(),
            None => {
                let mut r = self.new_row(&instance.key, instance.step, instance.phase);
                r.index = instance.index;
                r.item = instance.item.clone();
                r
            }
        };
        let action = self.action_of(&row).clone();
        let compiled = &self.wf.steps[instance.step];
        let template = match instance.phase {
            Phase::Main => &compiled.with,
            Phase::Compensation => compiled.compensate_with.as_ref().unwrap_or(&compiled.with),
        };
        let with = if template.is_literal() {
            template.render(&Bindings::new(&BTreeMap::new()))
        } else {
            template.render(&self.bindings(Some(instance)))
        };
        row.attempt += 1;
        row.started_at.get_or_insert(now);
        row.reason = None;
        row.wake_at = None;
        row.attempt_started_at = Some(now);
        let with = match with {
            Ok(w) => w,
            Err(e) => {
                let reason = format!("`with` could not be rendered: {e}");
                changes.push(self.attempt_end(&row, baton_model::AttemptState::Failed, now, Some(reason.clone())));
                self.finish_failed(row, reason, now, &mut changes);
                return (changes, Launch::Failed);
            }
        };
        if action.kind == StepKind::Sleep {
            return self.launch_sleep(row, &with, now, changes);
        }
        row.state = StepState::Running;
        let request = Request {
            run_id: self.run.id,
            key: row.key.clone(),
            attempt: row.attempt,
            kind: action.kind,
            with,
            timeout: action.timeout.map(|t| t.std()),
            idempotency_key: format!("{}/{}", self.run.id, row.key),
        };
        self.in_flight.insert(row.key.clone());
        self.put(row, &mut changes);
        (changes, Launch::Execute(request))
    }

    fn launch_sleep(
        &mut self,
        mut row: StepRecord,
        with: &Json,
        now: DateTime<Utc>,
        mut changes: Vec<Change>,
    ) -> (Vec<Change>, Launch) {
        let wake = serde_json::from_value::<baton_model::kinds::SleepArgs>(with.clone())
            .map_err(|e| e.to_string())
            .and_then(|args| match (args.duration, args.until) {
                (Some(d), None) => {
                    crate::clock::after(now, d.std()).ok_or_else(|| "the duration is too long".to_string())
                }
                (None, Some(until)) => Ok(until),
                _ => Err("give `duration` or `until`, not both".to_string()),
            });
        match wake {
            Ok(at) => {
                row.state = StepState::Waiting;
                row.wake_at = Some(at);
                row.reason = Some(format!("sleeping until {}", at.to_rfc3339()));
                self.put(row, &mut changes);
                (changes, Launch::Timer)
            }
            Err(e) => {
                let reason = format!("invalid `with` for a sleep step: {e}");
                changes.push(self.attempt_end(&row, baton_model::AttemptState::Failed, now, Some(reason.clone())));
                self.finish_failed(row, reason, now, &mut changes);
                (changes, Launch::Failed)
            }
        }
    }

    /// Records how an attempt ended and what follows: success, a retry
    /// after backoff, or the step's failure.
    pub fn complete(&mut self, key: &str, attempt: u32, outcome: Outcome, now: DateTime<Utc>) -> Vec<Change> {
        self.in_flight.remove(key);
        let mut changes = Vec::new();
        let Some(mut row) = self.rows.get(key).cloned().filter(|r| r.attempt == attempt) else {
            return changes;
        };
        let attempt_state = match outcome.status {
            Status::Succeeded => baton_model::AttemptState::Succeeded,
            Status::Failed => baton_model::AttemptState::Failed,
            Status::TimedOut => baton_model::AttemptState::TimedOut,
            Status::Cancelled => baton_model::AttemptState::Cancelled,
            Status::Interrupted => baton_model::AttemptState::Interrupted,
        };
        changes.push(Change::AttemptEnd {
            run_id: self.run.id,
            key: key.to_string(),
            attempt,
            state: attempt_state,
            started_at: row.attempt_started_at.unwrap_or(now),
            at: now,
            exit_code: outcome.exit_code,
            reason: outcome.reason.clone(),
            log: outcome.log.clone(),
        });
        row.exit_code = outcome.exit_code;
        row.stdout_tail = outcome.stdout_tail.clone();
        row.stderr_tail = outcome.stderr_tail.clone();
        row.outputs = outcome.outputs.clone();
        let reason = outcome.reason.unwrap_or_default();
        match outcome.status {
            Status::Succeeded => self.put_final(row, StepState::Succeeded, String::new(), now, &mut changes),
            Status::Failed | Status::TimedOut => self.after_failure(row, reason, now, &mut changes),
            Status::Cancelled => self.put_final(row, StepState::Cancelled, reason, now, &mut changes),
            // Left `running`: the instance runs again when the run resumes.
            Status::Interrupted => self.put(row, &mut changes),
        }
        changes
    }

    fn after_failure(&mut self, mut row: StepRecord, reason: String, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        row.failures += 1;
        let policy = self.action_of(&row).retry;
        let retry = policy
            .filter(|p| row.failures < p.max_attempts && (self.ending.is_none() || row.phase == Phase::Compensation));
        match retry {
            Some(policy) => {
                let delay = retry_delay(&policy, row.failures, &format!("{}/{}", self.run.id, row.key));
                let wake = crate::clock::after(now, delay).unwrap_or(now);
                row.state = StepState::Waiting;
                row.wake_at = Some(wake);
                row.reason = Some(format!(
                    "attempt {} of {} failed ({reason}); retrying in {}",
                    row.failures,
                    policy.max_attempts,
                    humantime::format_duration(std::time::Duration::from_millis(delay.as_millis() as u64))
                ));
                self.put(row, changes);
            }
            None => {
                self.finish_failed(row, reason, now, changes);
            }
        }
    }

    /// The step failed for good: `step `deploy` failed after 3 attempts: exit code 1: …`.
    fn finish_failed(&mut self, row: StepRecord, reason: String, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let tries = if row.failures > 1 { format!(" after {} attempts", row.failures) } else { String::new() };
        if row.phase == Phase::Main {
            self.end(RunState::Failed, format!("step `{}` failed{tries}: {reason}", row.key));
        }
        let step_reason = if tries.is_empty() { reason } else { format!("{reason} (failed{tries})") };
        self.put_final(row, StepState::Failed, step_reason, now, changes);
    }

    pub(super) fn fail_before_start(
        &mut self,
        id: &str,
        i: usize,
        reason: String,
        now: DateTime<Utc>,
        changes: &mut Vec<Change>,
    ) {
        let row = self.new_row(id, i, Phase::Main);
        self.finish_failed(row, reason, now, changes);
    }
}
