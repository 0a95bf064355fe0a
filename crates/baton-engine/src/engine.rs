//! The engine: accepts runs, drives each in a task of its own, resumes the
//! unfinished ones at start, cancels on request, and parks everything on
//! shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use baton_model::CompiledWorkflow;
use baton_model::schedule::Schedule;
use baton_store::{
    ApplyOutcome, FireOutcome, RunRecord, ScheduleApply, ScheduleRecord, Store, WorkflowApply, WorkflowVersion,
};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::events::Event;
use crate::exec::Executor;
use crate::run::{Control, Driver, Progress};
use crate::scheduler::{Command as SchedulerCommand, Scheduler};

/// What the drivers share.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub executor: Executor,
    pub slots: Arc<Semaphore>,
    pub events: broadcast::Sender<Event>,
}

/// A request to start a run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub tenant: String,
    pub workflow: String,
    /// The latest version when `None`.
    pub version: Option<u32>,
    pub inputs: Map<String, Json>,
    /// What started it: `api`, `manual`, …
    pub trigger: String,
}

type WorkflowKey = (String, String, u32);
type HeadKey = (String, String);

/// How long this node trusts its memory of a workflow's latest version.
/// Applies through this engine update it at once; the bound only matters
/// for writes it cannot see (another process on the same database).
const HEAD_TTL: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    drivers: Arc<Mutex<HashMap<Uuid, mpsc::UnboundedSender<Control>>>>,
    compiled: Arc<Mutex<HashMap<WorkflowKey, Arc<CompiledWorkflow>>>>,
    heads: Arc<Mutex<HashMap<HeadKey, (u32, std::time::Instant)>>>,
    shutdown: Arc<watch::Sender<bool>>,
    active: Arc<(AtomicUsize, Notify)>,
    scheduler: Arc<Mutex<Option<mpsc::UnboundedSender<SchedulerCommand>>>>,
    scheduled_until: Arc<Mutex<Option<watch::Receiver<crate::scheduler::Progress>>>>,
    triggers: Arc<crate::triggers::Registry>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: EngineConfig) -> Self {
        let slots = Arc::new(Semaphore::new(config.slots.max(1)));
        let executor = Executor::new(config, clock.clone());
        let (events, _) = broadcast::channel(16 * 1024);
        Engine {
            shared: Arc::new(Shared { store, clock, executor, slots, events }),
            drivers: Arc::default(),
            compiled: Arc::default(),
            heads: Arc::default(),
            shutdown: Arc::new(watch::channel(false).0),
            active: Arc::new((AtomicUsize::new(0), Notify::new())),
            scheduler: Arc::default(),
            scheduled_until: Arc::default(),
            triggers: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// The webhook and event triggers this node knows.
    pub fn triggers(&self) -> &crate::triggers::Registry {
        &self.triggers
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells whoever listens (no one listening is fine).
    pub(crate) fn publish(&self, event: Event) {
        let _ = self.shared.events.send(event);
    }

    /// Starts a driver for every unfinished run; returns how many.
    pub async fn resume(&self) -> Result<usize, EngineError> {
        let runs = self.shared.store.run_unfinished().await?;
        let count = runs.len();
        for run in runs {
            let id = run.id;
            let control = self.register(id);
            let started = match self.shared.store.step_list(id).await {
                Ok(rows) => self.spawn_driver(run, rows, control).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = started {
                // One run that cannot be read must not keep the others from resuming.
                lock(&self.drivers).remove(&id);
                tracing::error!(run = %id, error = %e, "cannot resume run; it stays as it is until the next start");
            }
        }
        if count > 0 {
            tracing::info!(runs = count, "resumed unfinished runs");
        }
        Ok(count)
    }

    /// Starts the scheduler service: it loads every schedule and applies the
    /// misfire policies (before this returns), then fires from then on.
    /// Returns how many schedules are active.
    pub async fn start_scheduler(&self) -> Result<usize, EngineError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let progress = watch::channel((self.shared.clock.now(), None)).0;
        *lock(&self.scheduled_until) = Some(progress.subscribe());
        let mut scheduler = Scheduler::new(self.clone(), rx, self.shutdown.subscribe(), progress);
        let active = scheduler.load().await?;
        *lock(&self.scheduler) = Some(tx);
        tokio::spawn(async move {
            if let Err(e) = scheduler.run().await {
                tracing::error!(error = %e, "the scheduler stopped; schedules fire again after a restart");
            }
        });
        Ok(active)
    }

    /// Waits until the scheduler has dealt with everything due up to `at`
    /// (for tests that drive the clock).
    pub async fn scheduled_until(&self, at: DateTime<Utc>) {
        let receiver = lock(&self.scheduled_until).clone();
        if let Some(mut progress) = receiver {
            // Dealt with up to `at`, or nothing is due until after it.
            let _ = progress.wait_for(|(done, next)| *done >= at || next.is_none_or(|n| n > at)).await;
        }
    }

    /// Runs with a driver in this process.
    pub fn active_runs(&self) -> usize {
        lock(&self.drivers).len()
    }

    /// Stores a schedule (a new generation if it changed) and tells the scheduler.
    pub async fn apply_schedule(&self, schedule: Schedule) -> Result<ApplyOutcome, EngineError> {
        let hash = baton_model::content_hash(&schedule);
        let (tenant, name) = (schedule.metadata.tenant.clone(), schedule.metadata.name.clone());
        let now = self.shared.clock.now();
        let outcome = self.shared.store.schedule_apply(ScheduleApply { schedule, hash, now }).await?;
        if !matches!(outcome, ApplyOutcome::Unchanged { .. }) {
            self.schedule_changed(&tenant, &name).await;
        }
        Ok(outcome)
    }

    /// Pauses or resumes a schedule.
    pub async fn pause_schedule(&self, tenant: &str, name: &str, paused: bool) -> Result<ScheduleRecord, EngineError> {
        let record =
            self.shared.store.schedule_pause(tenant, name, paused).await?.ok_or_else(|| not_found(tenant, name))?;
        self.schedule_changed(tenant, name).await;
        Ok(record)
    }

    pub async fn delete_schedule(&self, tenant: &str, name: &str) -> Result<(), EngineError> {
        if !self.shared.store.schedule_delete(tenant, name).await? {
            return Err(not_found(tenant, name));
        }
        self.schedule_changed(tenant, name).await;
        Ok(())
    }

    /// Fires a schedule now, by hand, under its overlap policy.
    pub async fn trigger_schedule(&self, tenant: &str, name: &str) -> Result<(FireOutcome, Option<Uuid>), EngineError> {
        let sender = lock(&self.scheduler)
            .clone()
            .ok_or_else(|| EngineError::Conflict("the scheduler is not running".into()))?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(SchedulerCommand::Trigger { tenant: tenant.into(), name: name.into(), reply })
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Tells the scheduler and waits (briefly) until it has acted, so that
    /// a pause has taken effect when the caller hears back.
    async fn schedule_changed(&self, tenant: &str, name: &str) {
        let Some(sender) = lock(&self.scheduler).clone() else { return };
        let (done, acted) = oneshot::channel();
        if sender.send(SchedulerCommand::Reload { tenant: tenant.into(), name: name.into(), done }).is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), acted).await;
        }
    }

    /// Stores a workflow as a new version if its content changed.
    pub async fn apply(&self, workflow: baton_model::Workflow) -> Result<ApplyOutcome, EngineError> {
        let hash = baton_model::content_hash(&workflow);
        let key = (workflow.metadata.tenant.clone(), workflow.metadata.name.clone());
        let now = self.shared.clock.now();
        let outcome = self.shared.store.workflow_apply(WorkflowApply { workflow, hash, now }).await?;
        lock(&self.heads).insert(key, (outcome.version(), std::time::Instant::now()));
        Ok(outcome)
    }

    /// Checks the inputs, records the run durably, then starts it.
    pub async fn submit(&self, req: RunRequest) -> Result<RunRecord, EngineError> {
        let run = self.prepare(req).await?;
        // Registered before the run exists, so that a cancel arriving between
        // the insert and the driver's start still reaches the driver.
        let control = self.register(run.id);
        if let Err(e) = self.shared.store.run_insert(run.clone()).await {
            lock(&self.drivers).remove(&run.id);
            return Err(e.into());
        }
        self.start_recorded(run.clone(), control).await?;
        Ok(run)
    }

    /// A run ready to record: version resolved, inputs checked.
    pub(crate) async fn prepare(&self, req: RunRequest) -> Result<RunRecord, EngineError> {
        if *self.shutdown.borrow() {
            return Err(EngineError::ShuttingDown);
        }
        let version = match req.version {
            Some(v) => v,
            None => self.head(&req.tenant, &req.workflow).await?,
        };
        let wf = self.compiled(&req.tenant, &req.workflow, version).await?;
        let inputs =
            baton_model::inputs::resolve(&wf.workflow.spec.inputs, &req.inputs).map_err(EngineError::Invalid)?;
        let now = self.shared.clock.now();
        let workflow = (req.tenant.as_str(), req.workflow.as_str(), version);
        Ok(RunRecord::pending(new_run_id(now), workflow, inputs, &req.trigger, now))
    }

    /// Starts the driver of a run already recorded.
    pub(crate) async fn start_recorded(
        &self,
        run: RunRecord,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Result<(), EngineError> {
        let id = run.id;
        if let Err(e) = self.spawn_driver(run, Vec::new(), control).await {
            // The run is recorded; the next start resumes it.
            lock(&self.drivers).remove(&id);
            return Err(e);
        }
        Ok(())
    }

    /// Whether a run has a driver in this process (it has not ended).
    pub(crate) fn is_running(&self, id: Uuid) -> bool {
        lock(&self.drivers).contains_key(&id)
    }

    pub(crate) fn unregister(&self, id: Uuid) {
        lock(&self.drivers).remove(&id);
    }

    /// The latest version of a workflow, remembered for a short while.
    async fn head(&self, tenant: &str, name: &str) -> Result<u32, EngineError> {
        let key = (tenant.to_string(), name.to_string());
        if let Some((version, seen)) = lock(&self.heads).get(&key)
            && seen.elapsed() < HEAD_TTL
        {
            return Ok(*version);
        }
        let latest = self
            .shared
            .store
            .workflow_get(tenant, name, None)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow `{name}` not found in tenant `{tenant}`")))?;
        let version = latest.version;
        lock(&self.heads).insert(key, (version, std::time::Instant::now()));
        self.remember(latest)?;
        Ok(version)
    }

    /// Asks a run to stop; returns it as it stands.
    pub async fn cancel(&self, id: Uuid) -> Result<RunRecord, EngineError> {
        self.cancel_because(id, "cancelled on request").await
    }

    /// Asks a run to stop, saying why.
    pub(crate) async fn cancel_because(&self, id: Uuid, reason: &str) -> Result<RunRecord, EngineError> {
        let run = self
            .shared
            .store
            .run_cancel_request(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("run {id} not found")))?;
        if run.state.is_terminal() {
            return Err(EngineError::Conflict(format!("run {id} already ended: {}", run.state)));
        }
        if let Some(control) = lock(&self.drivers).get(&id) {
            let _ = control.send(Control::Cancel(reason.to_string()));
        }
        Ok(run)
    }

    /// Stops starting work, interrupts attempts in flight and waits (up to
    /// the configured grace) for every run to park.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        // Runs park within the shutdown grace plus the time to kill what is
        // left (see `Driver::park`); wait for that, and a little more.
        let config = &self.shared.executor.config;
        let grace = config.shutdown_grace + config.kill_grace + std::time::Duration::from_secs(5);
        let (count, notify) = &*self.active;
        let _ = tokio::time::timeout(grace, async {
            loop {
                // Listen before looking, so that a driver ending in between is not missed.
                let ended = notify.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                ended.await;
            }
        })
        .await;
    }

    /// The channel through which `cancel` reaches a run's driver.
    pub(crate) fn register(&self, id: Uuid) -> mpsc::UnboundedReceiver<Control> {
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        lock(&self.drivers).insert(id, control_tx);
        control_rx
    }

    async fn spawn_driver(
        &self,
        run: RunRecord,
        rows: Vec<baton_store::StepRecord>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Result<(), EngineError> {
        let wf = self.compiled(&run.tenant, &run.workflow, run.version).await?;
        let id = run.id;
        let driver = Driver::new(Progress::new(wf, run, rows), self.shared.clone(), control, self.shutdown.subscribe());
        self.active.0.fetch_add(1, Ordering::SeqCst);
        let drivers = self.drivers.clone();
        let active = self.active.clone();
        tokio::spawn(async move {
            if let Err(e) = driver.drive().await {
                tracing::error!(run = %id, error = %e, "run driver stopped");
            }
            drivers.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            active.0.fetch_sub(1, Ordering::SeqCst);
            active.1.notify_waiters();
        });
        Ok(())
    }

    /// The compiled form of a stored version, compiled once per process.
    async fn compiled(&self, tenant: &str, name: &str, version: u32) -> Result<Arc<CompiledWorkflow>, EngineError> {
        let key = (tenant.to_string(), name.to_string(), version);
        if let Some(found) = lock(&self.compiled).get(&key) {
            return Ok(found.clone());
        }
        let stored = self.shared.store.workflow_get(tenant, name, Some(version)).await?.ok_or_else(|| {
            EngineError::NotFound(format!("workflow `{name}` version {version} not found in tenant `{tenant}`"))
        })?;
        self.remember(stored)
    }

    fn remember(&self, stored: WorkflowVersion) -> Result<Arc<CompiledWorkflow>, EngineError> {
        let key = (stored.tenant.clone(), stored.name.clone(), stored.version);
        let compiled = CompiledWorkflow::compile(stored.workflow, &Default::default()).map_err(|problems| {
            let text: Vec<String> = problems.into_sorted().iter().map(ToString::to_string).collect();
            EngineError::Invalid(text)
        })?;
        let compiled = Arc::new(compiled);
        lock(&self.compiled).insert(key, compiled.clone());
        Ok(compiled)
    }
}

fn not_found(tenant: &str, name: &str) -> EngineError {
    EngineError::NotFound(format!("schedule `{name}` not found in tenant `{tenant}`"))
}

/// A UUIDv7 whose time part comes from the engine's clock, so that ids sort
/// by creation even under a test clock.
fn new_run_id(now: chrono::DateTime<chrono::Utc>) -> Uuid {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, now.timestamp() as u64, now.timestamp_subsec_nanos());
    Uuid::new_v7(ts)
}

/// A poisoned lock only means a panic elsewhere; the map is still sound.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
