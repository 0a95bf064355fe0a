//! Triggers: workflows started by a signed webhook call ([`webhook`]) or by
//! baton's own events ([`event`]). The registry keeps every trigger
//! compiled in memory, with its rate-limit bucket and its counters.

pub mod event;
mod limiter;
pub mod signature;
pub mod webhook;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use baton_model::trigger::Trigger;
use baton_model::trigger::{CompiledTrigger, DEFAULT_RATE, RateLimit, TriggerType};
use baton_store::{ApplyOutcome, TriggerApply, TriggerRecord};

use crate::engine::Engine;
use crate::error::EngineError;
use serde::{Deserialize, Serialize};

use limiter::Bucket;

type Key = (String, String);

/// One trigger as the engine holds it.
pub struct Loaded {
    pub record: TriggerRecord,
    pub compiled: CompiledTrigger,
    bucket: Arc<Mutex<Bucket>>,
    pub counters: Arc<Counters>,
}

/// What happened to a trigger's deliveries since this node started.
#[derive(Debug, Default, Serialize)]
pub struct Counters {
    pub started: AtomicU64,
    pub ignored: AtomicU64,
    pub failed: AtomicU64,
    pub too_deep: AtomicU64,
    /// Webhook calls refused as "invalid signature", by reason.
    pub invalid_signature: AtomicU64,
    pub stale_timestamp: AtomicU64,
    pub replayed: AtomicU64,
    pub too_large: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Registry {
    triggers: RwLock<HashMap<Key, Arc<Loaded>>>,
}

impl Registry {
    pub fn get(&self, tenant: &str, name: &str) -> Option<Arc<Loaded>> {
        read(&self.triggers).get(&(tenant.to_string(), name.to_string())).cloned()
    }

    /// Installs (or replaces) a trigger; its counters, and its bucket while
    /// the limit is unchanged, carry over.
    pub fn install(&self, record: TriggerRecord) -> Result<(), String> {
        let compiled = CompiledTrigger::compile(record.trigger.clone(), &Default::default())
            .map_err(|problems| problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))?;
        let key = (record.tenant().to_string(), record.name().to_string());
        let limit = rate_limit(&record);
        let mut map = write(&self.triggers);
        let previous = map.remove(&key);
        let counters = previous.as_ref().map(|p| p.counters.clone()).unwrap_or_default();
        let bucket = match previous {
            Some(p) if rate_limit(&p.record) == limit => p.bucket.clone(),
            _ => Arc::new(Mutex::new(Bucket::new(limit))),
        };
        map.insert(key, Arc::new(Loaded { record, compiled, bucket, counters }));
        Ok(())
    }

    pub fn remove(&self, tenant: &str, name: &str) {
        write(&self.triggers).remove(&(tenant.to_string(), name.to_string()));
    }

    /// The enabled event triggers of `tenant` listening to `event_type`.
    pub fn listening(&self, tenant: &str, event_type: &str) -> Vec<Arc<Loaded>> {
        read(&self.triggers)
            .values()
            .filter(|t| t.record.tenant() == tenant && t.record.trigger.spec.enabled)
            .filter(|t| t.record.trigger.spec.kind == TriggerType::Event)
            .filter(|t| t.record.trigger.spec.event.as_ref().is_some_and(|e| e.on.iter().any(|o| o == event_type)))
            .cloned()
            .collect()
    }

    /// Whether any enabled event trigger listens to `event_type`.
    pub fn listens(&self, event_type: &str) -> bool {
        read(&self.triggers).values().any(|t| {
            t.record.trigger.spec.enabled
                && t.record.trigger.spec.event.as_ref().is_some_and(|e| e.on.iter().any(|o| o == event_type))
        })
    }

    pub fn has_event_triggers(&self) -> bool {
        read(&self.triggers).values().any(|t| t.record.trigger.spec.kind == TriggerType::Event)
    }
}

/// A trigger and what its deliveries came to since this node started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriggerStatus {
    #[serde(flatten)]
    pub record: TriggerRecord,
    /// [`Counters`] as they stand.
    pub counters: serde_json::Value,
}

impl Engine {
    /// Loads every trigger and starts listening for events. Returns how
    /// many triggers there are.
    pub async fn start_triggers(&self) -> Result<usize, EngineError> {
        let records = self.store().trigger_list(None).await?;
        let count = records.len();
        for record in records {
            let (tenant, name) = (record.tenant().to_string(), record.name().to_string());
            if let Err(e) = self.triggers().install(record) {
                tracing::error!(tenant, trigger = name, error = %e, "stored trigger does not compile; it is not active");
            }
        }
        tokio::spawn(event::listen(self.clone(), self.subscribe(), self.shutdown_signal()));
        Ok(count)
    }

    /// Stores a trigger (a new generation if it changed) and activates it.
    pub async fn apply_trigger(&self, trigger: Trigger) -> Result<ApplyOutcome, EngineError> {
        let hash = baton_model::content_hash(&trigger);
        let (tenant, name) = (trigger.metadata.tenant.clone(), trigger.metadata.name.clone());
        let now = self.clock().now();
        let outcome = self.store().trigger_apply(TriggerApply { trigger, hash, now }).await?;
        if let Some(record) = self.store().trigger_get(&tenant, &name).await? {
            self.triggers().install(record).map_err(|e| EngineError::Invalid(vec![e]))?;
        }
        Ok(outcome)
    }

    pub async fn delete_trigger(&self, tenant: &str, name: &str) -> Result<(), EngineError> {
        let found = self.store().trigger_delete(tenant, name).await?;
        self.triggers().remove(tenant, name);
        if found {
            Ok(())
        } else {
            Err(EngineError::NotFound(format!("trigger `{name}` not found in tenant `{tenant}`")))
        }
    }

    /// Triggers as stored, with this node's counters.
    pub async fn trigger_statuses(&self, tenant: Option<&str>) -> Result<Vec<TriggerStatus>, EngineError> {
        let records = self.store().trigger_list(tenant).await?;
        Ok(records.into_iter().map(|record| self.status_of(record)).collect())
    }

    pub async fn trigger_status(&self, tenant: &str, name: &str) -> Result<TriggerStatus, EngineError> {
        let record = self.store().trigger_get(tenant, name).await?;
        let record =
            record.ok_or_else(|| EngineError::NotFound(format!("trigger `{name}` not found in tenant `{tenant}`")))?;
        Ok(self.status_of(record))
    }

    fn status_of(&self, mut record: TriggerRecord) -> TriggerStatus {
        record.trigger = record.trigger.redacted();
        let loaded = self.triggers().get(record.tenant(), record.name());
        let counters = loaded.map(|t| serde_json::to_value(&*t.counters).unwrap_or_default());
        TriggerStatus {
            record,
            counters: counters.unwrap_or_else(|| serde_json::to_value(Counters::default()).unwrap_or_default()),
        }
    }
}

fn rate_limit(record: &TriggerRecord) -> RateLimit {
    record.trigger.spec.webhook.as_ref().map_or(DEFAULT_RATE, |w| w.rate_limit)
}

impl Loaded {
    /// Takes a token from the trigger's bucket, or says how long to wait.
    pub(crate) fn take_token(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), std::time::Duration> {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner()).take(now)
    }

    pub(crate) fn give_back_token(&self) {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner()).give_back();
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
