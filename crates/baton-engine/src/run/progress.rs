//! The functional core of a run: what has happened (the step rows), and
//! pure decisions about what happens next. Every decision comes back as the
//! [`Change`]s to persist; the driver persists them before it acts.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use baton_model::expr::Bindings;
use baton_model::{CompiledWorkflow, RunState, StepKind, StepState};
use baton_store::{Change, Phase, RunRecord, StepRecord};
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

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
    pub(super) fn bindings(&self, instance: Option<&Instance>) -> Bindings {
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
