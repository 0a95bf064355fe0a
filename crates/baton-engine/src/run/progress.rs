//! The functional core of a run: what has happened (the step rows), and
//! pure decisions about what happens next. Every decision comes back as the
//! [`Change`]s to persist; the driver persists them before it acts.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use baton_model::backoff::retry_delay;
use baton_model::expr::Bindings;
use baton_model::{CompiledWorkflow, RunState, StepKind, StepState};
use baton_store::{Change, Phase, RunRecord, StepRecord};
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::exec::{Outcome, Request, Status};

/// Why a run must end early, decided once: the first reason wins.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub state: RunState,
    pub reason: String,
}

/// One step instance waiting for a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub key: String,
    pub step: usize,
    pub phase: Phase,
    pub index: Option<u32>,
    pub item: Option<Json>,
}

pub struct Progress {
    pub wf: Arc<CompiledWorkflow>,
    pub run: RunRecord,
    pub(super) rows: BTreeMap<String, StepRecord>,
    /// Keys with an attempt executing in this process.
    pub(super) in_flight: HashSet<String>,
    /// Ready instances, in the order they became ready.
    pub(super) queue: VecDeque<Instance>,
    pub(super) queued: HashSet<String>,
    seq: i64,
    pub ending: Option<Ending>,
}

/// What a launch asks of the driver.
pub enum Launch {
    Execute(Request),
    /// A sleep: nothing executes; the driver wakes the run at `wake_at`.
    Timer,
    /// The instance failed before running (its `with` did not render).
    Failed,
}

impl Instance {
    /// The instance a step row stands for (to run it again).
    fn of_row(row: StepRecord, step: usize) -> Self {
        Instance { key: row.key, step, phase: row.phase, index: row.index, item: row.item }
    }
}

impl Progress {
    pub fn new(wf: Arc<CompiledWorkflow>, run: RunRecord, rows: Vec<StepRecord>) -> Self {
        let seq = rows.iter().filter_map(|r| r.completed_seq).max().unwrap_or(0);
        let rows = rows.into_iter().map(|r| (r.key.clone(), r)).collect();
        Progress {
            wf,
            run,
            rows,
            in_flight: HashSet::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            seq,
            ending: None,
        }
    }

    pub fn row(&self, key: &str) -> Option<&StepRecord> {
        self.rows.get(key)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Decides the run must end; in-flight attempts are to be stopped and
    /// nothing forward starts any more.
    pub fn end(&mut self, state: RunState, reason: impl Into<String>) {
        if self.ending.is_none() {
            self.ending = Some(Ending { state, reason: reason.into() });
            self.queue.retain(|i| i.phase == Phase::Compensation);
            self.queued.retain(|k| k.starts_with(COMPENSATE));
        }
    }

    /// Moves every step as far as it can go at `now` without running
    /// anything: skips, expansions, timers that are due, finished fan-outs.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.ending.is_some() {
            self.abandon_waiting(now, &mut changes);
        }
        self.wake_due(now, &mut changes);
        self.requeue_orphans(now, &mut changes);
        if self.ending.is_some() {
            return changes;
        }
        for i in self.wf.dag.order.clone() {
            self.advance_step(i, now, &mut changes);
        }
        changes
    }

    fn advance_step(&mut self, i: usize, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let id = self.wf.workflow.spec.steps[i].id.clone();
        match self.rows.get(&id).map(|r| r.state) {
            None if self.needs_met(i) => self.begin_step(i, now, changes),
            Some(StepState::Running) if self.wf.steps[i].for_each.is_some() => self.fan_out(i, now, changes),
            _ => {}
        }
    }

    fn needs_met(&self, i: usize) -> bool {
        self.wf.dag.needs[i].iter().all(|&j| {
            let id = &self.wf.workflow.spec.steps[j].id;
            self.rows.get(id).is_some_and(|r| r.state.satisfies_needs())
        })
    }

    /// A step whose needs are met: its condition, then its expansion.
    fn begin_step(&mut self, i: usize, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let spec = &self.wf.workflow.spec.steps[i];
        let id = spec.id.clone();
        let compiled = &self.wf.steps[i];
        if let Some(cond) = &compiled.condition {
            match self.bindings(None).eval_bool(cond) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = format!("condition `{}` was false", cond.source());
                    return self.put_final(self.new_row(&id, i, Phase::Main), StepState::Skipped, reason, now, changes);
                }
                Err(e) => return self.fail_before_start(&id, i, format!("condition {e}"), now, changes),
            }
        }
        let Some(for_each) = &compiled.for_each else {
            return self.enqueue(Instance { key: id, step: i, phase: Phase::Main, index: None, item: None });
        };
        match self.bindings(None).eval_list(for_each) {
            Ok(items) if items.is_empty() => {
                let mut row = self.new_row(&id, i, Phase::Main);
                row.outputs = Some(json!([]));
                self.put_final(row, StepState::Succeeded, "for_each gave an empty list".into(), now, changes)
            }
            Ok(items) => {
                let mut row = self.new_row(&id, i, Phase::Main);
                row.state = StepState::Running;
                row.item = Some(Json::Array(items));
                row.started_at = Some(now);
                self.put(row, changes);
                self.fan_out(i, now, changes);
            }
            Err(e) => self.fail_before_start(&id, i, e.to_string(), now, changes),
        }
    }

    /// Queues a fan-out's next elements up to `max_parallel`; completes the
    /// parent when every element succeeded.
    fn fan_out(&mut self, i: usize, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let id = self.wf.workflow.spec.steps[i].id.clone();
        let items = match self.rows.get(&id).and_then(|r| r.item.clone()) {
            Some(Json::Array(items)) => items,
            _ => return,
        };
        let limit = self.wf.workflow.spec.steps[i].max_parallel.map_or(usize::MAX, |m| m as usize);
        let mut active = 0;
        let mut all_succeeded = true;
        for (n, item) in items.iter().enumerate() {
            let key = format!("{id}[{n}]");
            match self.rows.get(&key).map(|r| r.state) {
                Some(StepState::Succeeded) => continue,
                Some(s) if s.is_terminal() => return, // a failed element ends the run elsewhere
                Some(_) => active += 1,
                None if self.queued.contains(&key) => active += 1,
                None if active < limit => {
                    active += 1;
                    let instance =
                        Instance { key, step: i, phase: Phase::Main, index: Some(n as u32), item: Some(item.clone()) };
                    self.enqueue(instance);
                }
                None => {}
            }
            all_succeeded = false;
        }
        if all_succeeded {
            let outputs: Vec<Json> = (0..items.len())
                .map(|n| self.rows.get(&format!("{id}[{n}]")).and_then(|r| r.outputs.clone()).unwrap_or(Json::Null))
                .collect();
            let mut row = self.rows[&id].clone();
            row.outputs = Some(Json::Array(outputs));
            self.put_final(row, StepState::Succeeded, String::new(), now, changes);
        }
    }

    pub(super) fn enqueue(&mut self, instance: Instance) {
        // Once the run is ending, forward work stops; a cancel stops undoing too.
        match &self.ending {
            Some(e) if e.state == RunState::Cancelled => return,
            Some(_) if instance.phase == Phase::Main => return,
            _ => {}
        }
        if self.queued.insert(instance.key.clone()) {
            self.queue.push_back(instance);
        }
    }

    /// Takes the next ready instance for a slot.
    pub fn next_ready(&mut self) -> Option<Instance> {
        let instance = self.queue.pop_front()?;
        self.queued.remove(&instance.key);
        Some(instance)
    }

    /// Whether the next ready instance needs an execution slot: slots bound
    /// work (processes, connections); a sleep or a noop executes nothing.
    pub fn peek_needs_slot(&self) -> Option<bool> {
        let instance = self.queue.front()?;
        let spec = &self.wf.workflow.spec.steps[instance.step];
        let kind = match (instance.phase, &spec.compensate) {
            (Phase::Compensation, Some(c)) => c.kind,
            _ => spec.action.kind,
        };
        Some(!matches!(kind, StepKind::Sleep | StepKind::Noop))
    }

    pub fn has_ready(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Timers that are due: sleeps end, retries become ready.
    fn wake_due(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let due: Vec<StepRecord> = self
            .rows
            .values()
            .filter(|r| r.state == StepState::Waiting && r.wake_at.is_some_and(|w| w <= now))
            .cloned()
            .collect();
        for row in due {
            let step = self.step_of(&row);
            let kind = self.action_of(&row).kind;
            if kind == StepKind::Sleep && row.failures == 0 {
                changes.push(self.attempt_end(&row, baton_model::AttemptState::Succeeded, now, None));
                let mut row = row;
                row.wake_at = None;
                self.put_final(row, StepState::Succeeded, String::new(), now, changes);
            } else {
                self.enqueue(Instance::of_row(row, step));
            }
        }
    }

    /// Rows left `running` by a crash or a shutdown: the attempt is recorded
    /// as interrupted and the instance runs again.
    fn requeue_orphans(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let orphans: Vec<StepRecord> = self
            .rows
            .values()
            .filter(|r| r.state == StepState::Running && !self.in_flight.contains(&r.key) && !self.is_fan_out_parent(r))
            .filter(|r| !self.queued.contains(&r.key))
            .cloned()
            .collect();
        for row in orphans {
            changes.push(self.attempt_end(&row, baton_model::AttemptState::Interrupted, now, None));
            if self.ending.is_none() || row.phase == Phase::Compensation {
                let step = self.step_of(&row);
                self.enqueue(Instance::of_row(row, step));
            } else {
                self.put_final(
                    row,
                    StepState::Cancelled,
                    "cut off by a restart after the run had decided to end; not run again and not compensated: check it by hand".into(),
                    now,
                    changes,
                );
            }
        }
    }

    /// Once the run is ending, forward steps that wait (sleeps, retries) are cancelled.
    pub(super) fn abandon_waiting(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let waiting: Vec<StepRecord> =
            self.rows.values().filter(|r| r.phase == Phase::Main && r.state == StepState::Waiting).cloned().collect();
        for row in waiting {
            changes.push(self.attempt_end(&row, baton_model::AttemptState::Cancelled, now, None));
            let reason = self.ending.as_ref().map(|e| format!("not run: {}", e.reason)).unwrap_or_default();
            self.put_final(row, StepState::Cancelled, reason, now, changes);
        }
    }

    fn is_fan_out_parent(&self, row: &StepRecord) -> bool {
        row.phase == Phase::Main && row.index.is_none() && self.wf.steps[self.step_of(row)].for_each.is_some()
    }

    pub(super) fn step_of(&self, row: &StepRecord) -> usize {
        self.wf.step_index(&row.step_id).unwrap_or(0)
    }

    pub(super) fn action_of(&self, row: &StepRecord) -> &baton_model::Action {
        let spec = &self.wf.workflow.spec.steps[self.step_of(row)];
        match (row.phase, &spec.compensate) {
            (Phase::Compensation, Some(c)) => c,
            _ => &spec.action,
        }
    }

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

    fn fail_before_start(&mut self, id: &str, i: usize, reason: String, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        let row = self.new_row(id, i, Phase::Main);
        self.finish_failed(row, reason, now, changes);
    }

    pub(super) fn new_row(&self, key: &str, step: usize, phase: Phase) -> StepRecord {
        let step_id = self.wf.workflow.spec.steps[step].id.clone();
        StepRecord::new(self.run.id, key.to_string(), step_id, phase, StepState::Running)
    }

    pub(super) fn put_final(
        &mut self,
        mut row: StepRecord,
        state: StepState,
        reason: String,
        now: DateTime<Utc>,
        changes: &mut Vec<Change>,
    ) {
        row.state = state;
        row.finished_at = Some(now);
        row.wake_at = None;
        row.reason = (!reason.is_empty()).then_some(reason);
        if state == StepState::Succeeded {
            self.seq += 1;
            row.completed_seq = Some(self.seq);
        }
        self.put(row, changes);
    }

    pub(super) fn put(&mut self, row: StepRecord, changes: &mut Vec<Change>) {
        changes.push(Change::StepPut(Box::new(row.clone())));
        self.rows.insert(row.key.clone(), row);
    }

    pub(super) fn attempt_end(
        &self,
        row: &StepRecord,
        state: baton_model::AttemptState,
        now: DateTime<Utc>,
        reason: Option<String>,
    ) -> Change {
        Change::AttemptEnd {
            run_id: self.run.id,
            key: row.key.clone(),
            attempt: row.attempt,
            state,
            started_at: row.attempt_started_at.unwrap_or(now),
            at: now,
            exit_code: None,
            reason,
            log: None,
        }
    }

    /// The earliest timer among waiting steps.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.rows
            .values()
            .filter(|r| r.state == StepState::Waiting && !self.queued.contains(&r.key))
            .filter_map(|r| r.wake_at)
            .min()
    }

    /// Every forward step has finished and none failed.
    pub fn all_done(&self) -> bool {
        self.wf.workflow.spec.steps.iter().all(|s| self.rows.get(&s.id).is_some_and(|r| r.state.is_terminal()))
            && self.queue.is_empty()
            && self.in_flight.is_empty()
    }

    /// The CEL variables as they stand: inputs, finished steps, the run;
    /// for an instance, its `item` and `index`.
    fn bindings(&self, instance: Option<&Instance>) -> Bindings {
        let mut steps = serde_json::Map::new();
        for spec in &self.wf.workflow.spec.steps {
            if let Some(row) = self.rows.get(&spec.id) {
                steps.insert(spec.id.clone(), step_view(row));
            }
        }
        // Undoing one element of a fan-out: `steps.<id>` is that element,
        // whose outputs exist even when its siblings never finished.
        if let Some(i) = instance.filter(|i| i.phase == Phase::Compensation && i.index.is_some())
            && let Some(element) = self.rows.get(i.key.trim_start_matches(COMPENSATE))
        {
            steps.insert(element.step_id.clone(), step_view(element));
        }
        let run = json!({
            "id": self.run.id.to_string(),
            "workflow": self.run.workflow,
            "version": self.run.version,
            "tenant": self.run.tenant,
            "created_at": self.run.created_at.to_rfc3339(),
        });
        let mut vars =
            BTreeMap::from([("inputs", self.run.inputs.clone()), ("steps", Json::Object(steps)), ("run", run)]);
        if let Some(i) = instance
            && let (Some(item), Some(index)) = (&i.item, i.index)
        {
            vars.insert("item", item.clone());
            vars.insert("index", json!(index));
        }
        Bindings::new(&vars)
    }
}

pub(super) const COMPENSATE: &str = "compensate:";

/// What `steps.<id>` shows an expression.
fn step_view(row: &StepRecord) -> Json {
    json!({
        "status": row.state.as_str(),
        "outputs": row.outputs.clone().unwrap_or(Json::Null),
        "exit_code": row.exit_code,
        "stdout": row.stdout_tail.clone().unwrap_or_default(),
        "stderr": row.stderr_tail.clone().unwrap_or_default(),
        "attempts": row.attempt,
    })
}
