//! How a run ends: success, or — once it must end early — stopping what is
//! in flight, then undoing what succeeded in reverse order of completion (a
//! saga), then the final state, recorded exactly once.

use baton_model::{RunState, StepState};
use baton_store::{Change, Phase, StepRecord};
use chrono::{DateTime, Utc};

use super::progress::{COMPENSATE, Ending, Instance, Progress};

/// Where a run stands after [`Progress::conclude`].
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    Going,
    Finished(RunState),
}

impl Progress {
    /// Restores the decision of a run that was already compensating.
    pub fn resume_ending(&mut self, now: DateTime<Utc>) {
        // A deadline that passed while the node was down wins over what
        // the steps show, as it would have had the node been up.
        self.check_deadline(now);
        if self.run.state == RunState::Compensating {
            let state = self.run.ending.unwrap_or(RunState::Failed);
            self.ending = Some(Ending { state, reason: self.run.reason.clone().unwrap_or_default() });
        }
        // A step that failed for good before the crash still ends the run,
        // even if the run's own transition never got written.
        if self.ending.is_none() {
            let failed = self.rows.values().find(|r| r.phase == Phase::Main && r.state == StepState::Failed);
            if let Some(row) = failed {
                let reason = format!("step `{}` failed: {}", row.key, row.reason.clone().unwrap_or_default());
                self.end(RunState::Failed, reason);
            }
        }
        if self.run.cancel_requested {
            self.cancel("cancelled on request");
        }
    }

    /// The workflow's `timeout` ends the run once its deadline passes.
    pub fn check_deadline(&mut self, now: DateTime<Utc>) {
        if self.run.state == RunState::Running && self.run.deadline_at.is_some_and(|d| d <= now) {
            let limit = self.wf.workflow.spec.timeout.map(|t| t.to_string()).unwrap_or_default();
            self.end(RunState::TimedOut, format!("the workflow timed out after {limit}"));
        }
    }

    /// A cancel overrides any other ending and stops compensation too.
    pub fn cancel(&mut self, reason: &str) {
        self.ending = Some(Ending { state: RunState::Cancelled, reason: reason.to_string() });
        self.queue.clear();
        self.queued.clear();
    }

    /// Decides whether the run is over, and if it is ending early, what to
    /// undo next. Pushes the run transitions to persist.
    pub fn conclude(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) -> Standing {
        if self.ending.is_none() && self.is_stuck() {
            // Cannot happen by design; if it does, say so rather than hang.
            let waiting = self.unstarted().join(", ");
            self.end(
                RunState::Failed,
                format!("internal error: the run cannot make progress (not started: {waiting})"),
            );
        }
        let Some(ending) = self.ending.clone() else {
            if self.all_done() {
                return self.finish(RunState::Succeeded, None, now, changes);
            }
            return Standing::Going;
        };
        self.abandon_waiting(now, changes);
        if !self.in_flight.is_empty() {
            return Standing::Going;
        }
        if ending.state == RunState::Cancelled {
            if self.has_waiting(Phase::Compensation) {
                self.cancel_waiting(now, changes);
            }
            return self.finish(RunState::Cancelled, Some(ending.reason), now, changes);
        }
        let pending: Vec<StepRecord> = self.compensable().into_iter().cloned().collect();
        if !pending.is_empty() && self.run.state != RunState::Compensating {
            changes.push(Change::RunTransition {
                run_id: self.run.id,
                to: RunState::Compensating,
                at: now,
                reason: Some(ending.reason.clone()),
                deadline_at: None,
                ending: Some(ending.state),
            });
            self.run.state = RunState::Compensating;
        }
        for done in &pending {
            let key = format!("{COMPENSATE}{}", done.key);
            match self.rows.get(&key).map(|r| r.state) {
                Some(state) if state.is_terminal() => continue,
                Some(_) => return Standing::Going,
                None if self.queued.contains(&key) => return Standing::Going,
                None => {
                    let step = self.step_of(done);
                    let instance =
                        Instance { key, step, phase: Phase::Compensation, index: done.index, item: done.item.clone() };
                    self.enqueue(instance);
                    return Standing::Going;
                }
            }
        }
        let reason = self.final_reason(&ending, &pending);
        self.finish(ending.state, Some(reason), now, changes)
    }

    /// Nothing runs, waits or is ready, yet forward steps remain.
    fn is_stuck(&self) -> bool {
        self.in_flight.is_empty()
            && self.queue.is_empty()
            && !self.rows.values().any(|r| matches!(r.state, StepState::Waiting | StepState::Running))
            && !self.unstarted().is_empty()
    }

    fn unstarted(&self) -> Vec<&str> {
        let steps = &self.wf.workflow.spec.steps;
        steps.iter().filter(|s| !self.rows.contains_key(&s.id)).map(|s| s.id.as_str()).collect()
    }

    /// Forward step instances that succeeded and say how to undo
    /// themselves, the last to succeed first.
    fn compensable(&self) -> Vec<&StepRecord> {
        let mut done: Vec<&StepRecord> = self
            .rows
            .values()
            .filter(|r| r.phase == Phase::Main && r.state == StepState::Succeeded && r.completed_seq.is_some())
            .filter(|r| self.wf.workflow.spec.steps[self.step_of(r)].compensate.is_some())
            .filter(|r| !self.is_parent(r))
            .collect();
        done.sort_by_key(|r| std::cmp::Reverse(r.completed_seq));
        done
    }

    fn is_parent(&self, row: &StepRecord) -> bool {
        row.index.is_none() && self.wf.steps[self.step_of(row)].for_each.is_some()
    }

    fn has_waiting(&self, phase: Phase) -> bool {
        self.rows.values().any(|r| r.phase == phase && r.state == StepState::Waiting)
    }

    fn cancel_waiting(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let waiting: Vec<StepRecord> = self.rows.values().filter(|r| r.state == StepState::Waiting).cloned().collect();
        for row in waiting {
            changes.push(self.attempt_end(&row, baton_model::AttemptState::Cancelled, now, None));
            self.put_final(row, StepState::Cancelled, "cancelled".into(), now, changes);
        }
    }

    fn final_reason(&self, ending: &Ending, undone: &[StepRecord]) -> String {
        let failed: Vec<String> = undone
            .iter()
            .filter_map(|r| {
                let c = self.rows.get(&format!("{COMPENSATE}{}", r.key))?;
                (c.state != StepState::Succeeded)
                    .then(|| format!("{} ({})", r.key, c.reason.clone().unwrap_or_else(|| c.state.to_string())))
            })
            .collect();
        match (undone.is_empty(), failed.is_empty()) {
            (true, _) => ending.reason.clone(),
            (false, true) => format!("{}; compensated {} step(s)", ending.reason, undone.len()),
            (false, false) => format!("{}; compensation FAILED for: {}", ending.reason, failed.join(", ")),
        }
    }

    fn finish(
        &mut self,
        state: RunState,
        reason: Option<String>,
        now: DateTime<Utc>,
        changes: &mut Vec<Change>,
    ) -> Standing {
        self.close_open_rows(now, changes);
        changes.push(Change::RunTransition {
            run_id: self.run.id,
            to: state,
            at: now,
            reason,
            deadline_at: None,
            ending: None,
        });
        self.run.state = state;
        Standing::Finished(state)
    }

    /// Fan-out parents (and anything else left open) get a final state.
    fn close_open_rows(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let open: Vec<StepRecord> = self.rows.values().filter(|r| !r.state.is_terminal()).cloned().collect();
        for row in open {
            let prefix = format!("{}[", row.key);
            let failed_child = self
                .rows
                .values()
                .find(|c| c.key.starts_with(&prefix) && c.state == StepState::Failed)
                .map(|c| c.key.clone());
            match failed_child {
                Some(child) => self.put_final(row, StepState::Failed, format!("{child} failed"), now, changes),
                None => self.put_final(row, StepState::Cancelled, "the run ended first".into(), now, changes),
            }
        }
    }
}
