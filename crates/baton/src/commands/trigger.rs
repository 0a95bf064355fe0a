//! `baton get triggers [NAME]`, `baton trigger …` and `baton webhook sign`.

use std::io::Read;

use anyhow::{Context, Result, bail};
use baton_engine::triggers::TriggerStatus;
use baton_engine::triggers::signature::sign;
use baton_model::trigger::TriggerType;
use baton_server::api::List;
use baton_store::DeliveryRecord;
use chrono::Local;
use reqwest::Method;

use super::{print_json, table};
use crate::cli::{Output, ResourceName, TriggerCommand, WebhookCommand};
use crate::client::{Client, segment};

pub async fn list(client: &Client, tenant: Option<&str>, output: Output) -> Result<()> {
    let mut request = client.request(Method::GET, "/api/v1/triggers");
    if let Some(t) = tenant {
        request = request.query(&[("tenant", t)]);
    }
    let list: List<TriggerStatus> = client.json(request).await?;
    if output == Output::Json {
        return print_json(&list.items);
    }
    let mut t = table(&["NAME", "TENANT", "TYPE", "WORKFLOW", "ON", "ENABLED", "STARTED", "IGNORED", "REFUSED"]);
    for s in &list.items {
        let spec = &s.record.trigger.spec;
        let on = match spec.kind {
            TriggerType::Webhook => format!("POST /hooks/{}/{}", s.record.tenant(), s.record.name()),
            TriggerType::Event => spec.event.as_ref().map(|e| e.on.join(", ")).unwrap_or_default(),
        };
        let count = |name: &str| s.counters[name].as_u64().unwrap_or(0);
        let refused = count("invalid_signature") + count("too_large") + count("rate_limited") + count("failed");
        t.add_row(vec![
            s.record.name().to_string(),
            s.record.tenant().to_string(),
            spec.kind.as_str().to_string(),
            spec.workflow.clone(),
            on,
            spec.enabled.to_string(),
            count("started").to_string(),
            count("ignored").to_string(),
            refused.to_string(),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn path(t: &ResourceName, tail: &str) -> String {
    format!("/api/v1/triggers/{}{tail}?tenant={}", segment(&t.name), segment(&t.tenant))
}

pub async fn show(client: &Client, name: &str, tenant: Option<&str>, output: Output) -> Result<()> {
    let t = ResourceName { name: name.to_string(), tenant: tenant.unwrap_or("default").to_string() };
    let status: TriggerStatus = client.get(&path(&t, "")).await?;
    let history: List<DeliveryRecord> = client.get(&format!("{}&limit=10", path(&t, "/history"))).await?;
    if output == Output::Json {
        return print_json(&serde_json::json!({"trigger": status, "history": history.items}));
    }
    let spec = &status.record.trigger.spec;
    println!("trigger:    {} (tenant {}), {}", status.record.name(), status.record.tenant(), spec.kind.as_str());
    println!("workflow:   {}{}", spec.workflow, if spec.enabled { "" } else { " (disabled)" });
    if let Some(filter) = &spec.filter {
        println!("filter:     {filter}");
    }
    match spec.kind {
        TriggerType::Webhook => {
            println!("endpoint:   POST /hooks/{}/{}", status.record.tenant(), status.record.name())
        }
        TriggerType::Event => {
            let e = spec.event.as_ref();
            println!("on:         {}", e.map(|e| e.on.join(", ")).unwrap_or_default());
            println!("max depth:  {}", e.map_or(0, |e| e.max_depth));
        }
    }
    println!("\ncounters since the server started:");
    if let Some(counters) = status.counters.as_object() {
        for (name, value) in counters {
            println!("  {name:<18} {value}");
        }
    }
    println!("\nhistory:");
    print_history(&history.items);
    Ok(())
}

fn print_history(items: &[DeliveryRecord]) {
    let mut t = table(&["RECEIVED", "OUTCOME", "RUN", "SOURCE", "REASON"]);
    for d in items {
        let source = if d.source.len() > 24 { format!("{}…", &d.source[..24]) } else { d.source.clone() };
        t.add_row(vec![
            d.received_at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
            d.outcome.as_str().to_string(),
            d.run_id.map(|r| r.to_string()).unwrap_or_default(),
            source,
            d.reason.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
}

pub async fn command(client: &Client, command: &TriggerCommand) -> Result<()> {
    match command {
        TriggerCommand::History { trigger, limit, output } => {
            let list: List<DeliveryRecord> =
                client.get(&format!("{}&limit={limit}", path(trigger, "/history"))).await?;
            if *output == Output::Json {
                return print_json(&list.items);
            }
            print_history(&list.items);
            Ok(())
        }
        TriggerCommand::Delete(t) => {
            client.send(client.request(Method::DELETE, &path(t, ""))).await?;
            println!("trigger/{} deleted", t.name);
            Ok(())
        }
    }
}

pub fn webhook(command: &WebhookCommand) -> Result<()> {
    let WebhookCommand::Sign(args) = command;
    let secret = match (&args.secret_env, &args.secret) {
        (Some(var), _) => std::env::var(var).with_context(|| format!("environment variable `{var}` is not set"))?,
        (None, Some(secret)) => secret.clone(),
        (None, None) => bail!("give --secret-env VAR or --secret SECRET"),
    };
    let body = match args.file.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).context("cannot read standard input")?;
            body
        }
    };
    let t = args.timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp());
    println!("{}", sign(secret.as_bytes(), t, &body));
    Ok(())
}
