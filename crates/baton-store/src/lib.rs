//! The `Store` seam: everything the engine and the API persist, shaped by
//! what they need. Write methods are batch-first: the engine hands over a
//! list of [`Change`]s that a backend applies atomically, and a backend may
//! group the batches of many callers into one transaction.
//!
//! [`conformance`] holds the suite every backend must pass.

pub mod conformance;
mod error;
mod records;
mod schedules;
mod triggers;

pub use error::StoreError;
pub use records::*;
pub use schedules::*;
pub use triggers::*;

use async_trait::async_trait;
use uuid::Uuid;

pub type Result<T> = std::result::Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new version when the content hash differs from the latest.
    async fn workflow_apply(&self, p: WorkflowApply) -> Result<ApplyOutcome>;
    /// The given version, or the latest when `version` is `None`.
    async fn workflow_get(&self, tenant: &str, name: &str, version: Option<u32>) -> Result<Option<WorkflowVersion>>;
    /// The latest version of every workflow, by tenant then name.
    async fn workflow_list(&self, tenant: Option<&str>) -> Result<Vec<WorkflowVersion>>;
    /// Every version of one workflow, newest first.
    async fn workflow_versions(&self, tenant: &str, name: &str) -> Result<Vec<WorkflowVersion>>;

    /// Records a new run durably; the run exists once this returns.
    async fn run_insert(&self, run: RunRecord) -> Result<()>;
    async fn run_get(&self, id: Uuid) -> Result<Option<RunRecord>>;
    /// Runs whose id starts with `prefix` (at most `limit`).
    async fn run_find(&self, prefix: &str, limit: u32) -> Result<Vec<RunRecord>>;
    /// Newest first, after the cursor.
    async fn run_list(&self, filter: RunFilter) -> Result<Vec<RunRecord>>;
    /// Runs not yet in a terminal state: what a starting node resumes.
    async fn run_unfinished(&self) -> Result<Vec<RunRecord>>;
    /// Marks a run as asked to cancel; `None` if it does not exist.
    async fn run_cancel_request(&self, id: Uuid) -> Result<Option<RunRecord>>;

    async fn step_list(&self, run: Uuid) -> Result<Vec<StepRecord>>;
    async fn attempt_list(&self, run: Uuid) -> Result<Vec<AttemptRecord>>;
    /// The log of one attempt; the latest attempt when `attempt` is `None`.
    async fn log_get(&self, run: Uuid, key: &str, attempt: Option<u32>) -> Result<Option<LogRecord>>;

    /// Applies the changes atomically, in order; returns for each whether it
    /// took effect (a guarded run transition may not).
    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<bool>>;

    /// Stores a schedule; a changed one gets the next generation. Its
    /// progress (`last_due`, `executions`) and pause are kept.
    async fn schedule_apply(&self, p: ScheduleApply) -> Result<ApplyOutcome>;
    async fn schedule_get(&self, tenant: &str, name: &str) -> Result<Option<ScheduleRecord>>;
    /// Schedules by tenant then name, after the given key, at most `limit`:
    /// a node loads them page by page however many there are.
    async fn schedule_page(&self, after: Option<(String, String)>, limit: u32) -> Result<Vec<ScheduleRecord>>;
    /// Removes a schedule and its history; false if there was none.
    async fn schedule_delete(&self, tenant: &str, name: &str) -> Result<bool>;
    /// Pauses or resumes; `None` if there is no such schedule.
    async fn schedule_pause(&self, tenant: &str, name: &str, paused: bool) -> Result<Option<ScheduleRecord>>;
    /// Records fires (and inserts their runs) atomically; for each, whether
    /// it was new. A fire already recorded starts no run and changes nothing.
    async fn schedule_fire(&self, fires: Vec<ScheduleFire>) -> Result<Vec<bool>>;
    /// The latest due times of a schedule and what became of them, newest first.
    async fn schedule_history(&self, tenant: &str, name: &str, limit: u32) -> Result<Vec<FireRecord>>;
    /// Counts across schedules (all tenants when `None`), fires since `since`.
    async fn schedule_stats(&self, tenant: Option<&str>, since: chrono::DateTime<chrono::Utc>)
    -> Result<ScheduleStats>;

    /// Stores a trigger; a changed one gets the next generation.
    async fn trigger_apply(&self, p: TriggerApply) -> Result<ApplyOutcome>;
    async fn trigger_get(&self, tenant: &str, name: &str) -> Result<Option<TriggerRecord>>;
    /// Every trigger (of one tenant, or all), by tenant then name.
    async fn trigger_list(&self, tenant: Option<&str>) -> Result<Vec<TriggerRecord>>;
    /// Removes a trigger and its history; false if there was none.
    async fn trigger_delete(&self, tenant: &str, name: &str) -> Result<bool>;
    /// Records a delivery (and inserts its run) atomically; whether it was
    /// new. A delivery already recorded starts no run and changes nothing.
    async fn trigger_deliver(&self, d: TriggerDelivery) -> Result<bool>;
    /// The latest deliveries of a trigger, newest first.
    async fn trigger_history(&self, tenant: &str, name: &str, limit: u32) -> Result<Vec<DeliveryRecord>>;
}
