//! One task per active run: load → decide ([`progress`]) → persist → act,
//! until the run is finished or the node shuts down.
//!
//! Each turn of the loop takes in finished attempts, lets the run advance,
//! starts what has a slot, and commits all of it in one batch *before* any
//! new attempt starts. A crash between two commits loses nothing: on
//! restart the run is rebuilt from its step rows and every attempt that was
//! in flight runs again with the same idempotency key.

mod attempt;
mod compensation;
mod progress;

use std::sync::Arc;

use baton_model::{RunState, StepKind};
use baton_store::{Change, Phase};
use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use uuid::Uuid;

pub use compensation::Standing;
pub use progress::Progress;

use crate::engine::Shared;
use crate::error::EngineError;
use crate::events;
use crate::exec::{Outcome, Request, Status, Stop};

/// Requests to a running driver from outside.
#[derive(Debug)]
pub enum Control {
    /// Stop, for this reason.
    Cancel(String),
}

struct Done {
    key: String,
    attempt: u32,
    outcome: Outcome,
}

pub struct Driver {
    progress: Progress,
    shared: Arc<Shared>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    control: mpsc::UnboundedReceiver<Control>,
    main_stop: watch::Sender<Option<Stop>>,
    compensation_stop: watch::Sender<Option<Stop>>,
    shutdown: watch::Receiver<bool>,
    permit: Option<OwnedSemaphorePermit>,
    /// Changes decided while waiting, for the next commit.
    pending: Vec<Change>,
}

impl Driver {
    pub fn new(
        progress: Progress,
        shared: Arc<Shared>,
        control: mpsc::UnboundedReceiver<Control>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Driver {
            progress,
            shared,
            done_tx,
            done_rx,
            control,
            main_stop: watch::channel(None).0,
            compensation_stop: watch::channel(None).0,
            shutdown,
            permit: None,
            pending: Vec::new(),
        }
    }

    pub fn run_id(&self) -> Uuid {
        self.progress.run.id
    }

    /// Drives the run until it is finished, or parks it on shutdown.
    pub async fn drive(mut self) -> Result<(), EngineError> {
        if !self.wait_until_due().await {
            return Ok(());
        }
        let mut changes = self.start(self.shared.clock.now());
        loop {
            let now = self.shared.clock.now();
            changes.append(&mut self.pending);
            self.take_done(now, &mut changes);
            if *self.shutdown.borrow() {
                self.park(changes).await?;
                return Ok(());
            }
            self.take_control();
            self.progress.check_deadline(now);
            changes.extend(self.progress.advance(now));
            let standing = self.progress.conclude(now, &mut changes);
            let was_ending = self.progress.ending.is_some();
            let launches = self.launch_ready(now, &mut changes);
            // A launch that failed before running (its `with` did not render)
            // ends the run: decide what follows at once, without waiting.
            let again = !was_ending && self.progress.ending.is_some();
            self.signal_stops();
            self.persist(std::mem::take(&mut changes), now).await?;
            for (request, permit, phase) in launches {
                if request.kind == StepKind::Noop {
                    self.run_inline(request);
                } else {
                    self.spawn_attempt(request, permit, phase);
                }
            }
            if let Standing::Finished(state) = standing {
                tracing::info!(run = %self.run_id(), %state, "run finished");
                return Ok(());
            }
            let can_launch = self.progress.has_ready() && self.permit.is_some();
            if self.pending.is_empty() && !again && !can_launch {
                self.wait().await;
            }
        }
    }

    /// A run recorded ahead of its time waits for it (a cancel ends the
    /// wait early); false if the node is stopping (the run stays recorded,
    /// and waits again at the next start).
    async fn wait_until_due(&mut self) -> bool {
        let run = &self.progress.run;
        let waits = run.state == RunState::Pending && !run.cancel_requested;
        let Some(at) = run.not_before.filter(|_| waits) else {
            return true;
        };
        let clock = self.shared.clock.clone();
        tokio::select! {
            _ = clock.sleep_until(at) => true,
            Some(Control::Cancel(reason)) = self.control.recv() => {
                self.progress.cancel(&reason);
                true
            }
            _ = self.shutdown.wait_for(|stop| *stop) => false,
        }
    }

    /// A new run starts; a resumed one picks up its ending and cancel
    /// request. A run cancelled before it started ends without starting.
    fn start(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        self.progress.resume_ending(now);
        if self.progress.run.state != RunState::Pending || self.progress.ending.is_some() {
            return Vec::new();
        }
        let deadline = self.progress.wf.workflow.spec.timeout.and_then(|t| crate::clock::after(now, t.std()));
        self.progress.run.state = RunState::Running;
        self.progress.run.deadline_at = deadline;
        vec![Change::RunTransition {
            run_id: self.run_id(),
            to: RunState::Running,
            at: now,
            reason: None,
            deadline_at: deadline,
            ending: None,
        }]
    }

    fn take_done(&mut self, now: DateTime<Utc>, changes: &mut Vec<Change>) {
        while let Ok(done) = self.done_rx.try_recv() {
            changes.extend(self.progress.complete(&done.key, done.attempt, done.outcome, now));
        }
    }

    fn take_control(&mut self) {
        while let Ok(Control::Cancel(reason)) = self.control.try_recv() {
            self.progress.cancel(&reason);
        }
    }

    /// Starts ready instances while slots last (sleeps need none).
    fn launch_ready(
        &mut self,
        now: DateTime<Utc>,
        changes: &mut Vec<Change>,
    ) -> Vec<(Request, Option<OwnedSemaphorePermit>, Phase)> {
        let mut launches = Vec::new();
        while let Some(needs_slot) = self.progress.peek_needs_slot() {
            let permit = if needs_slot {
                match self.permit.take().or_else(|| self.shared.slots.clone().try_acquire_owned().ok()) {
                    Some(p) => Some(p),
                    None => break,
                }
            } else {
                None
            };
            let Some(instance) = self.progress.next_ready() else { break };
            let (launch_changes, launch) = self.progress.launch(&instance, now);
            changes.extend(launch_changes);
            if let attempt::Launch::Execute(request) = launch {
                launches.push((request, permit, instance.phase));
            }
        }
        if !self.progress.has_ready() {
            // A slot taken while waiting but no longer needed goes back at once.
            self.permit = None;
        }
        launches
    }

    fn signal_stops(&self) {
        if let Some(ending) = &self.progress.ending {
            self.main_stop.send_if_modified(|s| set_once(s, Stop::Cancel));
            if ending.state == RunState::Cancelled {
                self.compensation_stop.send_if_modified(|s| set_once(s, Stop::Cancel));
            }
        }
    }

    fn signal_interrupt(&self) {
        self.main_stop.send_replace(Some(Stop::Interrupt));
        self.compensation_stop.send_replace(Some(Stop::Interrupt));
    }

    /// A `noop` has nothing to wait for: it completes here, its start
    /// already committed, its end committed with the next batch.
    fn run_inline(&mut self, request: Request) {
        let (key, attempt) = (request.key.clone(), request.attempt);
        let outcome = crate::exec::noop(&request);
        let now = self.shared.clock.now();
        let changes = self.progress.complete(&key, attempt, outcome, now);
        self.pending.extend(changes);
    }

    fn spawn_attempt(&self, request: Request, permit: Option<OwnedSemaphorePermit>, phase: Phase) {
        let stop = match phase {
            Phase::Main => self.main_stop.subscribe(),
            Phase::Compensation => self.compensation_stop.subscribe(),
        };
        let shared = self.shared.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let (key, attempt) = (request.key.clone(), request.attempt);
            let outcome = shared.executor.run(request, stop).await;
            drop(permit);
            // The driver may be gone (shutdown); the attempt then reruns on resume.
            let _ = done.send(Done { key, attempt, outcome });
        });
    }

    /// Waits for the next thing that can move the run (a shutdown too: the
    /// loop then parks the run).
    async fn wait(&mut self) {
        let clock = self.shared.clock.clone();
        let timer = self.next_timer();
        let wants_slot = self.progress.has_ready() && self.permit.is_none();
        let slots = self.shared.slots.clone();
        tokio::select! {
            Some(done) = self.done_rx.recv() => {
                let now = self.shared.clock.now();
                let changes = self.progress.complete(&done.key, done.attempt, done.outcome, now);
                self.pending.extend(changes);
            }
            Some(Control::Cancel(reason)) = self.control.recv() => {
                self.progress.cancel(&reason);
            }
            Ok(permit) = slots.acquire_owned(), if wants_slot => {
                self.permit = Some(permit);
            }
            _ = async { clock.sleep_until(timer.unwrap_or_default()).await }, if timer.is_some() => {}
            Ok(()) = self.shutdown.changed() => {}
        }
    }

    fn next_timer(&self) -> Option<DateTime<Utc>> {
        let deadline = match (&self.progress.ending, self.progress.run.state) {
            (None, RunState::Running) => self.progress.run.deadline_at,
            _ => None,
        };
        [self.progress.next_wake(), deadline].into_iter().flatten().min()
    }

    /// On shutdown: wait for in-flight attempts to stop, record them as
    /// interrupted, and leave the run for the next start to resume.
    async fn park(&mut self, mut changes: Vec<Change>) -> Result<(), EngineError> {
        let config = &self.shared.executor.config;
        let (grace, kill_grace) = (config.shutdown_grace, config.kill_grace);
        // Attempts in flight get the grace period to finish on their own…
        self.collect_in_flight(grace, &mut changes).await;
        // …then they are interrupted, and run again at the next start.
        if self.progress.in_flight() > 0 {
            self.signal_interrupt();
            self.collect_in_flight(kill_grace + std::time::Duration::from_secs(2), &mut changes).await;
        }
        self.persist(changes, self.shared.clock.now()).await
    }

    async fn collect_in_flight(&mut self, within: std::time::Duration, changes: &mut Vec<Change>) {
        let deadline = tokio::time::Instant::now() + within;
        while self.progress.in_flight() > 0 {
            match tokio::time::timeout_at(deadline, self.done_rx.recv()).await {
                Ok(Some(mut done)) => {
                    // A script killed by a signal while the node stops was most
                    // likely killed by the service manager stopping us: it was
                    // interrupted, not failed, and runs again at the next start.
                    if done.outcome.status == Status::Failed && done.outcome.signal.is_some() {
                        done.outcome.status = Status::Interrupted;
                    }
                    let now = self.shared.clock.now();
                    changes.extend(self.progress.complete(&done.key, done.attempt, done.outcome, now));
                }
                _ => return,
            }
        }
    }

    /// Commits `changes` (retrying while the store is briefly unavailable)
    /// and publishes what they tell.
    async fn persist(&mut self, changes: Vec<Change>, now: DateTime<Utc>) -> Result<(), EngineError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut delay = std::time::Duration::from_millis(50);
        let applied = loop {
            match self.shared.store.commit(changes.clone()).await {
                Ok(applied) => break applied,
                Err(e) if e.is_retryable() && delay < std::time::Duration::from_secs(10) => {
                    tracing::warn!(run = %self.run_id(), error = %e, "commit failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    tracing::error!(run = %self.run_id(), error = %e, "commit failed; the run is parked until restart");
                    return Err(e.into());
                }
            }
        };
        for event in events::of_changes(&changes, &applied, now) {
            // Nobody listening is fine.
            let _ = self.shared.events.send(event);
        }
        Ok(())
    }
}

fn set_once(slot: &mut Option<Stop>, stop: Stop) -> bool {
    if slot.is_none() {
        *slot = Some(stop);
        true
    } else {
        false
    }
}
