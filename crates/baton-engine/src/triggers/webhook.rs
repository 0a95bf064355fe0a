//! A webhook call, from the raw request to a durably recorded run: size,
//! signature, rate limit, filter, input mapping, then one write that records
//! the delivery (its signature, so that a replay is refused) with its run.

use std::collections::BTreeMap;
use std::sync::Arc;

use baton_model::expr::Bindings;
use baton_model::trigger::{SecretRef, TriggerType, WebhookSpec};
use baton_store::{DeliveryOutcome, DeliveryRecord, TriggerDelivery};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::signature::{self, Refusal};
use super::{Counters, Loaded};
use crate::engine::{Engine, RunRequest};
use crate::error::EngineError;

/// A webhook request as received.
#[derive(Debug, Clone, Default)]
pub struct WebhookCall {
    /// Lowercase names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// What a call led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The run is recorded and starting.
    Started(Uuid),
    /// The filter said no; recorded, nothing started.
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    #[error("the body is larger than this trigger accepts ({limit} bytes)")]
    TooLarge { limit: u64 },
    /// Deliberately without detail: the reason goes to counters and logs.
    #[error("invalid signature")]
    InvalidSignature,
    #[error("too many calls to this trigger; retry in {} ms", retry_after.as_millis())]
    RateLimited { retry_after: std::time::Duration },
    /// The filter or the input mapping failed, or the workflow refused the inputs.
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<baton_store::StoreError> for HookError {
    fn from(e: baton_store::StoreError) -> Self {
        HookError::Engine(e.into())
    }
}

impl Engine {
    /// The largest body the webhook trigger accepts: read no more than this.
    pub fn webhook_body_limit(&self, tenant: &str, name: &str) -> Result<u64, HookError> {
        let (_, spec) = self.webhook(tenant, name)?;
        Ok(spec.max_body_bytes)
    }

    /// Counts a body refused for its size before it was read whole.
    pub fn webhook_too_large(&self, tenant: &str, name: &str) {
        if let Some(t) = self.triggers().get(tenant, name) {
            Counters::add(&t.counters.too_large);
            tracing::warn!(tenant, trigger = name, "webhook body too large");
        }
    }

    /// Verifies a call and, if it passes, records it with its run and starts the run.
    pub async fn deliver_webhook(&self, tenant: &str, name: &str, call: WebhookCall) -> Result<Delivered, HookError> {
        let (trigger, spec) = self.webhook(tenant, name)?;
        if call.body.len() as u64 > spec.max_body_bytes {
            self.webhook_too_large(tenant, name);
            return Err(HookError::TooLarge { limit: spec.max_body_bytes });
        }
        let now = self.clock().now();
        let secrets = secrets(&spec, tenant, name);
        let header = call.headers.get(signature::HEADER).map(String::as_str);
        let key = signature::verify(header, &call.body, &secrets, now, spec.tolerance.std())
            .map_err(|refusal| refused(&trigger, refusal))?;
        if let Err(retry_after) = trigger.take_token(now) {
            Counters::add(&trigger.counters.rate_limited);
            return Err(HookError::RateLimited { retry_after });
        }
        let record = DeliveryRecord {
            tenant: tenant.to_string(),
            trigger: name.to_string(),
            source: key,
            received_at: now,
            outcome: DeliveryOutcome::Started,
            reason: None,
            run_id: None,
        };
        let bindings = Bindings::new(&BTreeMap::from([("body", body_value(&call.body)), ("headers", headers(&call))]));
        let delivered = self.deliver(&trigger, record, &bindings, 0, "webhook").await?;
        match delivered {
            Some(d) => Ok(d),
            None => {
                // A replay starts nothing, so it must not use up the sender's rate.
                trigger.give_back_token();
                Err(refused(&trigger, Refusal::Replayed))
            }
        }
    }

    fn webhook(&self, tenant: &str, name: &str) -> Result<(Arc<Loaded>, WebhookSpec), HookError> {
        let trigger = self.triggers().get(tenant, name).filter(|t| t.record.trigger.spec.kind == TriggerType::Webhook);
        let Some(trigger) = trigger else {
            return Err(HookError::NotFound(format!("no webhook trigger `{name}` in tenant `{tenant}`")));
        };
        if !trigger.record.trigger.spec.enabled {
            return Err(HookError::Disabled(format!("trigger `{name}` is disabled (spec.enabled: false)")));
        }
        let spec = trigger.record.trigger.spec.webhook.clone().ok_or_else(|| {
            HookError::NotFound(format!("trigger `{name}` in tenant `{tenant}` has no webhook section"))
        })?;
        Ok((trigger, spec))
    }

    /// Filter, inputs, then one write for the delivery and its run; `None`
    /// when this source was recorded before (a replay). Shared with event
    /// triggers, whose runs are `depth` links down a chain.
    pub(crate) async fn deliver(
        &self,
        trigger: &Loaded,
        mut record: DeliveryRecord,
        bindings: &Bindings,
        depth: u32,
        origin: &str,
    ) -> Result<Option<Delivered>, HookError> {
        let compiled = &trigger.compiled;
        let spec = &trigger.record.trigger.spec;
        if let Some(filter) = &compiled.filter {
            match bindings.eval_bool(filter) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = format!("filter `{}` is false", filter.source());
                    record.outcome = DeliveryOutcome::Ignored;
                    record.reason = Some(reason.clone());
                    return self
                        .record_delivery(trigger, record, None)
                        .await
                        .map(|new| new.then_some(Delivered::Ignored(reason)));
                }
                Err(e) => return self.refuse(trigger, record, format!("filter: {e}")).await,
            }
        }
        let mut inputs = Map::new();
        for (input, expr) in &compiled.inputs {
            match bindings.eval(expr) {
                Ok(value) => {
                    inputs.insert(input.clone(), value);
                }
                Err(e) => return self.refuse(trigger, record, format!("input `{input}`: {e}")).await,
            }
        }
        let request = RunRequest {
            tenant: record.tenant.clone(),
            workflow: spec.workflow.clone(),
            version: None,
            inputs,
            trigger: format!("{origin}:{}", record.trigger),
        };
        let mut run = match self.prepare(request).await {
            Ok(run) => run,
            Err(EngineError::Invalid(problems)) => return self.refuse(trigger, record, problems.join("; ")).await,
            Err(EngineError::NotFound(why)) => return self.refuse(trigger, record, why).await,
            Err(e) => return Err(e.into()),
        };
        run.depth = depth;
        record.run_id = Some(run.id);
        let id = run.id;
        let control = self.register(id);
        let new = match self.record_delivery(trigger, record, Some(run.clone())).await {
            Ok(new) => new,
            Err(e) => {
                self.unregister(id);
                return Err(e);
            }
        };
        if !new {
            self.unregister(id);
            return Ok(None);
        }
        self.start_recorded(run, control).await?;
        Ok(Some(Delivered::Started(id)))
    }

    /// Records a delivery that failed (so that the sender's retry of the
    /// same signature is recognised) and answers why.
    async fn refuse(
        &self,
        trigger: &Loaded,
        mut record: DeliveryRecord,
        reason: String,
    ) -> Result<Option<Delivered>, HookError> {
        record.outcome = DeliveryOutcome::Failed;
        record.reason = Some(reason.clone());
        let new = self.record_delivery(trigger, record, None).await?;
        if new { Err(HookError::Unprocessable(reason)) } else { Ok(None) }
    }

    async fn record_delivery(
        &self,
        trigger: &Loaded,
        record: DeliveryRecord,
        run: Option<baton_store::RunRecord>,
    ) -> Result<bool, HookError> {
        let outcome = record.outcome;
        let new = self.store().trigger_deliver(TriggerDelivery { delivery: record, run }).await?;
        if new {
            let c = &trigger.counters;
            Counters::add(match outcome {
                DeliveryOutcome::Started => &c.started,
                DeliveryOutcome::Ignored => &c.ignored,
                DeliveryOutcome::Failed => &c.failed,
                DeliveryOutcome::TooDeep => &c.too_deep,
            });
        }
        Ok(new)
    }
}

/// Counts and logs a refused signature; the caller hears only "invalid signature".
fn refused(trigger: &Loaded, refusal: Refusal) -> HookError {
    let c = &trigger.counters;
    Counters::add(&c.invalid_signature);
    match refusal {
        Refusal::Stale => Counters::add(&c.stale_timestamp),
        Refusal::Replayed => Counters::add(&c.replayed),
        Refusal::Malformed | Refusal::Mismatch => {}
    }
    let (tenant, name) = (trigger.record.tenant(), trigger.record.name());
    tracing::warn!(tenant, trigger = name, reason = refusal.as_str(), "webhook signature refused");
    HookError::InvalidSignature
}

/// The trigger's secrets that can be read now; one that cannot is logged.
fn secrets(spec: &WebhookSpec, tenant: &str, name: &str) -> Vec<Vec<u8>> {
    spec.secrets
        .iter()
        .filter_map(|s| match s {
            SecretRef::Value(v) => Some(v.as_bytes().to_vec()),
            SecretRef::Env(var) => {
                let value = std::env::var(var).ok().filter(|v| !v.is_empty());
                if value.is_none() {
                    tracing::error!(tenant, trigger = name, variable = %var, "webhook secret variable is not set on this node");
                }
                value.map(String::into_bytes)
            }
        })
        .collect()
}

/// The body as JSON when it is JSON, else as text.
fn body_value(body: &[u8]) -> Json {
    serde_json::from_slice(body).unwrap_or_else(|_| Json::String(String::from_utf8_lossy(body).into_owned()))
}

fn headers(call: &WebhookCall) -> Json {
    Json::Object(call.headers.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect())
}
