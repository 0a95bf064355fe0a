//! A real engine on a real SQLite file, driven by a manual clock.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use baton_engine::{Engine, EngineConfig, ManualClock, RunRequest};
use baton_model::{Resource, RunState};
use baton_store::{RunRecord, StepRecord, Store, WorkflowApply};
use baton_store_sqlite::{Durability, SqliteStore};
use chrono::{TimeZone, Utc};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub engine: Engine,
}

pub fn config() -> EngineConfig {
    EngineConfig {
        kill_grace: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(3),
        ..EngineConfig::default()
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_config(config()).await
    }

    pub async fn with_config(config: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).await.unwrap());
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap());
        let engine = Engine::new(store.clone(), Arc::new(clock.clone()), config);
        Harness { dir, store, clock, engine }
    }

    /// A second engine on the same database, as after a restart.
    pub async fn restart(&mut self) {
        self.engine.shutdown().await;
        self.engine = Engine::new(self.store.clone(), Arc::new(self.clock.clone()), config());
        self.engine.resume().await.unwrap();
    }

    pub async fn apply(&self, yaml: &str) {
        let resources = baton_model::load("test.yaml", yaml)
            .unwrap_or_else(|e| panic!("{}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")));
        for resource in resources {
            let Resource::Workflow(w) = resource else { continue };
            let hash = baton_model::content_hash(&w.workflow);
            let now = Utc::now();
            self.store.workflow_apply(WorkflowApply { workflow: w.workflow, hash, now }).await.unwrap();
        }
    }

    pub async fn start(&self, workflow: &str, inputs: Json) -> Uuid {
        let inputs: Map<String, Json> = inputs.as_object().cloned().unwrap_or_default();
        let req = RunRequest {
            tenant: "default".into(),
            workflow: workflow.into(),
            version: None,
            inputs,
            trigger: "test".into(),
        };
        self.engine.submit(req).await.unwrap().id
    }

    pub async fn run(&self, id: Uuid) -> RunRecord {
        self.store.run_get(id).await.unwrap().unwrap()
    }

    pub async fn steps(&self, id: Uuid) -> Vec<StepRecord> {
        self.store.step_list(id).await.unwrap()
    }

    pub async fn step(&self, id: Uuid, key: &str) -> Option<StepRecord> {
        self.steps(id).await.into_iter().find(|s| s.key == key)
    }

    /// Polls until `check` holds (real time, bounded): the engine works in
    /// other tasks, so the test waits for a state, never for a duration.
    pub async fn until<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !check().await {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn finished(&self, id: Uuid) -> RunRecord {
        self.until("the run to finish", || async { self.run(id).await.state.is_terminal() }).await;
        self.run(id).await
    }

    pub async fn step_in(&self, id: Uuid, key: &str, state: baton_model::StepState) -> StepRecord {
        self.until(&format!("step {key} to be {state}"), || async {
            self.step(id, key).await.is_some_and(|s| s.state == state)
        })
        .await;
        self.step(id, key).await.unwrap()
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }
}

pub fn expect_state(run: &RunRecord, state: RunState) {
    assert_eq!(run.state, state, "run ended {} ({:?})", run.state, run.reason);
}

impl Harness {
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use baton_engine::Clock;
        self.clock.now()
    }
}

impl Harness {
    /// Applies a Schedule (YAML) through the engine, as the API does.
    pub async fn apply_schedule(&self, yaml: &str) {
        let resources = baton_model::load("schedule.yaml", yaml)
            .unwrap_or_else(|e| panic!("{}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")));
        for resource in resources {
            if let Resource::Schedule(s) = resource {
                self.engine.apply_schedule(*s).await.unwrap();
            }
        }
    }

    pub async fn history(&self, schedule: &str) -> Vec<baton_store::FireRecord> {
        let mut h = self.store.schedule_history("default", schedule, 1000).await.unwrap();
        h.reverse();
        h
    }

    /// What became of each due time, oldest first: (minutes after the start, outcome, count).
    pub async fn outcomes(
        &self,
        schedule: &str,
        start: chrono::DateTime<Utc>,
    ) -> Vec<(i64, baton_store::FireOutcome, u32)> {
        self.history(schedule).await.iter().map(|f| ((f.due_at - start).num_minutes(), f.outcome, f.count)).collect()
    }

    /// A new engine on the same database, scheduler running, as after a restart.
    pub async fn restart_with_scheduler(&mut self) {
        self.engine.shutdown().await;
        self.engine = Engine::new(self.store.clone(), Arc::new(self.clock.clone()), config());
        self.engine.resume().await.unwrap();
        self.engine.start_scheduler().await.unwrap();
    }
}

impl Harness {
    /// Applies a Trigger (YAML) through the engine, as the API does.
    pub async fn apply_trigger(&self, yaml: &str) {
        let resources = baton_model::load("trigger.yaml", yaml)
            .unwrap_or_else(|e| panic!("{}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")));
        for resource in resources {
            if let Resource::Trigger(t) = resource {
                self.engine.apply_trigger(t.trigger).await.unwrap();
            }
        }
    }

    pub async fn deliveries(&self, trigger: &str) -> Vec<baton_store::DeliveryRecord> {
        let mut h = self.store.trigger_history("default", trigger, 1000).await.unwrap();
        h.reverse();
        h
    }
}
