//! The scheduler: a named service that fires schedules.
//!
//! It keeps a due-time index (a heap of each active schedule's next fire)
//! instead of scanning every schedule per tick. At start it loads schedules
//! page by page, applies each one's misfire policy to the due times missed
//! while no node ran, and from then on sleeps until the earliest due time (or
//! a change to a schedule, or the end of a run a fire waits for). A fire's run
//! is recorded together with the fire, in one transaction, before it starts:
//! a crash neither loses nor doubles a fire, and a due time is recorded once.

mod catchup;
mod entry;
mod fire;
mod index;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use baton_model::schedule::Overlap;
use baton_store::FireOutcome;
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::events::Event;
use entry::{Entry, Interner, Key, key};
use fire::{Due, Why};
use index::Index;

/// Schedules loaded per page at start.
const PAGE: u32 = 10_000;

/// How long before its time a fire may be recorded (with its run, which
/// then waits for the time): writing a thousand fires that fall due at the
/// same second takes tens of milliseconds, which would otherwise make them
/// all that late. Only fires whose overlap decision cannot change meanwhile
/// are recorded ahead. A fire recorded ahead stands: a pause, change or
/// delete in that second applies from the next due time.
const AHEAD: chrono::Duration = chrono::Duration::seconds(1);

/// How many of the newest fire records a manual fire is looked for in
/// (more than the fires an every-second schedule records ahead).
const MANUAL_LOOKUP: u32 = 8;

/// (dealt with up to, next fire time).
pub type Progress = (DateTime<Utc>, Option<DateTime<Utc>>);

/// What ended a wait.
enum Woke {
    Time,
    Command(Command),
    RunEnded(Uuid),
    Stop,
}

/// Requests to the scheduler.
pub enum Command {
    /// A schedule was applied, paused, resumed or deleted: read it again;
    /// `done` is answered once the scheduler acts on the change.
    Reload { tenant: String, name: String, done: oneshot::Sender<()> },
    /// Fire now, by hand; answers with the fire's outcome and run.
    Trigger { tenant: String, name: String, reply: oneshot::Sender<Result<(FireOutcome, Option<Uuid>), EngineError>> },
}

pub struct Scheduler {
    engine: Engine,
    entries: Index,
    /// (fire time, generation, slot) of every active schedule's next fire.
    heap: BinaryHeap<Reverse<(DateTime<Utc>, u32, u32)>>,
    /// Fires that could not be recorded ahead: decided at their time.
    exact: BinaryHeap<Reverse<(DateTime<Utc>, u32, u32)>>,
    interner: Interner,
    generation: u32,
    /// Runs whose end a queued fire waits for.
    waiting: HashMap<Uuid, Key>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: broadcast::Receiver<Event>,
    shutdown: watch::Receiver<bool>,
    /// (the time up to which every due fire has been dealt with, the next
    /// fire time): what tests that drive the clock wait on.
    progress: watch::Sender<Progress>,
    /// Fires by hand are recorded at distinct instants.
    last_manual: Option<DateTime<Utc>>,
}

impl Scheduler {
    pub fn new(
        engine: Engine,
        commands: mpsc::UnboundedReceiver<Command>,
        shutdown: watch::Receiver<bool>,
        progress: watch::Sender<Progress>,
    ) -> Self {
        let events = engine.subscribe();
        Scheduler {
            engine,
            entries: Index::default(),
            heap: BinaryHeap::new(),
            exact: BinaryHeap::new(),
            interner: Interner::default(),
            generation: 0,
            waiting: HashMap::new(),
            commands,
            events,
            shutdown,
            progress,
            last_manual: None,
        }
    }

    /// Loads every schedule and catches up; returns how many are active.
    pub async fn load(&mut self) -> Result<usize, EngineError> {
        let loaded = self.load_all().await?;
        tracing::info!(schedules = loaded, "scheduler started");
        self.publish(self.engine.clock().now());
        Ok(loaded)
    }

    fn publish(&self, now: DateTime<Utc>) {
        self.progress.send_replace((now, self.next_fire()));
    }

    /// The earliest fire time not yet dealt with.
    fn next_fire(&self) -> Option<DateTime<Utc>> {
        let first = |heap: &BinaryHeap<Reverse<(DateTime<Utc>, u32, u32)>>| heap.peek().map(|Reverse((at, _, _))| *at);
        [first(&self.heap), first(&self.exact)].into_iter().flatten().min()
    }

    /// Fires until shutdown.
    pub async fn run(mut self) -> Result<(), EngineError> {
        loop {
            if *self.shutdown.borrow() {
                return Ok(());
            }
            let now = self.engine.clock().now();
            let due = self.take_due(now);
            if !due.is_empty() {
                self.fire(due, now).await?;
                continue;
            }
            self.publish(now);
            let woke = self.wait().await;
            if !self.handle(woke).await {
                return Ok(());
            }
        }
    }

    /// Reads schedules page by page; returns how many are active.
    async fn load_all(&mut self) -> Result<usize, EngineError> {
        let count = self.engine.store().schedule_stats(None, self.engine.clock().now()).await?.schedules as usize;
        self.entries.reserve(count);
        self.heap.reserve(count);
        let mut after = None;
        let mut active = 0;
        loop {
            let page = self.engine.store().schedule_page(after.clone(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.tenant().to_string(), last.name().to_string()));
            let now = self.engine.clock().now();
            let mut catch_up = Vec::new();
            for record in &page {
                if let Some(entry) = self.install(record) {
                    active += usize::from(entry);
                    catch_up.extend(self.missed_at_start(&key(record.tenant(), record.name()), now));
                }
            }
            self.fire(catch_up, now).await?;
        }
        Ok(active)
    }

    /// Builds the entry of a stored schedule; `Some(active)` when installed.
    fn install(&mut self, record: &baton_store::ScheduleRecord) -> Option<bool> {
        self.generation = self.generation.wrapping_add(1);
        let Some(entry) = Entry::from_record(record, &mut self.interner, self.generation) else {
            tracing::error!(schedule = %key(record.tenant(), record.name()), "stored schedule does not parse; ignored");
            return None;
        };
        let active = entry.active;
        self.entries.insert(entry);
        Some(active)
    }

    /// Due times missed while no node ran, decided by the misfire policy;
    /// the entry is left due at its next time after now.
    fn missed_at_start(&mut self, k: &Key, now: DateTime<Utc>) -> Vec<Due> {
        let Some(entry) = self.entries.get(k) else { return Vec::new() };
        if !entry.active {
            return Vec::new();
        }
        // Every due time that passed while no node ran is a misfire.
        let missed = catchup::missed(entry, now);
        let decision = catchup::decide(entry.misfire, entry.misfire_limit(), &missed);
        let mut out: Vec<Due> = Vec::new();
        if let Some((first, count, last)) = decision.dropped {
            out.push(Due { key: k.clone(), at: first, last, count, why: Why::MissedDropped, not_before: None });
        }
        out.extend(decision.fire.iter().map(|at| Due::one(k.clone(), *at, Why::CaughtUp)));
        let resume = missed.last().copied().unwrap_or(entry.dealt);
        self.schedule_next(k, resume);
        out
    }

    /// Puts the entry's next due time (after `after`) in the index.
    fn schedule_next(&mut self, k: &Key, after: DateTime<Utc>) {
        let Some(slot) = self.entries.slot_of(k) else { return };
        let Some(entry) = self.entries.at_mut(slot) else { return };
        entry.due = if entry.active { entry.next_due(after) } else { None };
        if let Some(at) = entry.fire_time() {
            self.heap.push(Reverse((at, entry.generation, slot)));
        }
    }

    /// Every entry whose fire time has come, and those due within
    /// [`AHEAD`] that can be recorded ahead (the rest wait in `exact`).
    fn take_due(&mut self, now: DateTime<Utc>) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some(Reverse((at, generation, slot))) = self.heap.peek().copied() {
            if at > now + AHEAD {
                break;
            }
            self.heap.pop();
            // Taking the due time out makes a stale or repeated heap entry harmless.
            let Some(entry) = self.entries.at_mut(slot) else { continue };
            if !entry.fires_at(generation, at) {
                continue;
            }
            let previous_running = entry.last_run.is_some_and(|r| self.engine.is_running(r));
            let ahead = entry.overlap == Overlap::Allow || (!previous_running && entry.queued().is_none());
            match entry.due {
                Some(d) if at <= now => due.push(Due::one(entry.key.clone(), d, Why::Due)),
                Some(d) if ahead => due.push(Due { not_before: Some(at), ..Due::one(entry.key.clone(), d, Why::Due) }),
                _ => {
                    self.exact.push(Reverse((at, generation, slot)));
                    continue;
                }
            }
            entry.due = None;
        }
        while let Some(Reverse((at, generation, slot))) = self.exact.peek().copied() {
            if at > now {
                break;
            }
            self.exact.pop();
            if let Some(entry) = self.entries.at_mut(slot)
                && entry.fires_at(generation, at)
                && let Some(d) = entry.due.take()
            {
                due.push(Due::one(entry.key.clone(), d, Why::Due));
            }
        }
        due
    }

    /// Waits for the next due time, a command, or a run's end.
    async fn wait(&mut self) -> Woke {
        let clock = self.engine.clock().clone();
        let ahead = self.heap.peek().map(|Reverse((at, _, _))| *at - AHEAD);
        let exact = self.exact.peek().map(|Reverse((at, _, _))| *at);
        let next = [ahead, exact].into_iter().flatten().min();
        tokio::select! {
            _ = async { clock.sleep_until(next.unwrap_or_default()).await }, if next.is_some() => Woke::Time,
            command = self.commands.recv() => command.map_or(Woke::Stop, Woke::Command),
            event = self.events.recv() => match event {
                Ok(Event::Run { run_id, state, .. }) if state.is_terminal() => Woke::RunEnded(run_id),
                _ => Woke::Time,
            },
            _ = self.shutdown.wait_for(|stop| *stop) => Woke::Stop,
        }
    }

    /// Handles what woke the scheduler; false on shutdown.
    async fn handle(&mut self, woke: Woke) -> bool {
        let result = match woke {
            Woke::Stop => return false,
            Woke::Time => Ok(()),
            Woke::Command(c) => self.command(c).await,
            Woke::RunEnded(run) => self.release_queued(run).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "scheduler");
        }
        true
    }

    async fn command(&mut self, command: Command) -> Result<(), EngineError> {
        match command {
            Command::Reload { tenant, name, done } => {
                let result = self.reload(&tenant, &name).await;
                let _ = done.send(());
                result
            }
            Command::Trigger { tenant, name, reply } => {
                let result = self.trigger(&tenant, &name).await;
                let _ = reply.send(result);
                Ok(())
            }
        }
    }

    /// Re-reads one schedule after a change. Due times that passed while it
    /// was paused or disabled are recorded as such, once.
    async fn reload(&mut self, tenant: &str, name: &str) -> Result<(), EngineError> {
        let k = key(tenant, name);
        let before = self.entries.remove(&k);
        let now = self.engine.clock().now();
        // A fire already recorded ahead (within `AHEAD`) stands: it was
        // decided under the schedule as it was then.
        let Some(record) = self.engine.store().schedule_get(tenant, name).await? else {
            return Ok(());
        };
        if self.install(&record) != Some(true) {
            return Ok(());
        }
        let was_inactive = before.as_ref().is_some_and(|b| !b.active);
        let mut record_paused = Vec::new();
        if was_inactive && let Some(entry) = self.entries.get(&k) {
            let skipped = catchup::missed(entry, now);
            if let (Some(first), Some(last)) = (skipped.first(), skipped.last()) {
                record_paused.push(Due {
                    key: k.clone(),
                    at: *first,
                    last: *last,
                    count: skipped.len() as u32,
                    why: Why::Paused,
                    not_before: None,
                });
            }
        }
        let dealt = match (before, self.entries.get_mut(&k)) {
            (Some(b), Some(entry)) => {
                entry.set_queued(b.queued());
                entry.dealt
            }
            (_, entry) => entry.map_or(now, |e| e.dealt),
        };
        self.schedule_next(&k, now.max(dealt));
        self.fire(record_paused, now).await
    }

    /// A fire by hand, now, under the overlap policy.
    async fn trigger(&mut self, tenant: &str, name: &str) -> Result<(FireOutcome, Option<Uuid>), EngineError> {
        let k = key(tenant, name);
        if !self.entries.contains_key(&k) {
            return Err(EngineError::NotFound(format!("schedule `{name}` not found in tenant `{tenant}`")));
        }
        // Stored times keep microseconds; a manual fire is found again by its time.
        let clock = self.engine.clock().now().trunc_subsecs(6);
        // Two fires by hand within one tick of the clock are still two fires.
        let now = self.last_manual.map_or(clock, |last| clock.max(last + chrono::Duration::microseconds(1)));
        self.last_manual = Some(now);
        let outcome = self.fire(vec![Due::one(k.clone(), now, Why::Manual)], clock).await;
        outcome?;
        // Newest due times first: fires recorded ahead may come before this one.
        let history = self.engine.store().schedule_history(tenant, name, MANUAL_LOOKUP).await?;
        let fire = history.iter().find(|f| f.due_at == now);
        Ok(fire.map_or((FireOutcome::Fired, None), |f| (f.outcome, f.run_id)))
    }

    /// The previous run ended: a fire queued behind it starts now.
    async fn release_queued(&mut self, run: Uuid) -> Result<(), EngineError> {
        let Some(k) = self.waiting.remove(&run) else { return Ok(()) };
        let Some(entry) = self.entries.get_mut(&k) else { return Ok(()) };
        let Some(due) = entry.queued() else { return Ok(()) };
        entry.set_queued(None);
        let now = self.engine.clock().now();
        self.fire(vec![Due::one(k, due, Why::Released)], now).await
    }
}
