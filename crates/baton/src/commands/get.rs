//! `baton get workflows|runs [ID]`.

use anyhow::Result;
use baton_server::api::{List, RunDetail, WorkflowSummary};
use baton_store::RunRecord;
use chrono::Utc;

use super::{clock_time, print_json, span, table};
use crate::cli::{GetWhat, Output};
use crate::client::{Client, segment};

pub async fn get(client: &Client, what: &GetWhat) -> Result<()> {
    match what {
        GetWhat::Workflows { tenant, output } => workflows(client, tenant.as_deref(), *output).await,
        GetWhat::Schedules { name: None, tenant, output } => {
            super::schedule::list(client, tenant.as_deref(), *output).await
        }
        GetWhat::Schedules { name: Some(name), tenant, output } => {
            super::schedule::show(client, name, tenant.as_deref(), *output).await
        }
        GetWhat::Triggers { name: None, tenant, output } => {
            super::trigger::list(client, tenant.as_deref(), *output).await
        }
        GetWhat::Triggers { name: Some(name), tenant, output } => {
            super::trigger::show(client, name, tenant.as_deref(), *output).await
        }
        GetWhat::Runs { id: Some(id), output, .. } => run(client, id, *output).await,
        GetWhat::Runs { id: None, workflow, state, tenant, limit, output } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(workflow.clone().map(|w| ("workflow", w)));
            query.extend(state.clone().map(|s| ("state", s)));
            query.extend(tenant.clone().map(|t| ("tenant", t)));
            runs(client, &query, *output).await
        }
    }
}

async fn workflows(client: &Client, tenant: Option<&str>, output: Output) -> Result<()> {
    let mut request = client.request(reqwest::Method::GET, "/api/v1/workflows");
    if let Some(t) = tenant {
        request = request.query(&[("tenant", t)]);
    }
    let list: List<WorkflowSummary> = client.json(request).await?;
    if output == Output::Json {
        return print_json(&list.items);
    }
    let mut t = table(&["NAME", "TENANT", "VERSION", "STEPS", "UPDATED", "DESCRIPTION"]);
    for w in &list.items {
        let updated = w.updated_at.format("%Y-%m-%d %H:%M").to_string();
        let description = w.description.clone().unwrap_or_default();
        t.add_row(vec![
            w.name.clone(),
            w.tenant.clone(),
            format!("v{}", w.version),
            w.steps.to_string(),
            updated,
            description,
        ]);
    }
    println!("{t}");
    Ok(())
}

async fn runs(client: &Client, query: &[(&str, String)], output: Output) -> Result<()> {
    let request = client.request(reqwest::Method::GET, "/api/v1/runs").query(query);
    let list: List<RunRecord> = client.json(request).await?;
    if output == Output::Json {
        return print_json(&list.items);
    }
    let mut t = table(&["ID", "WORKFLOW", "VERSION", "STATE", "CREATED", "DURATION", "REASON"]);
    for r in &list.items {
        let duration = r.started_at.map(|s| span(s, r.finished_at.unwrap_or_else(Utc::now))).unwrap_or_default();
        t.add_row(vec![
            r.id.to_string(),
            r.workflow.clone(),
            format!("v{}", r.version),
            r.state.to_string(),
            r.created_at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string(),
            duration,
            shorten(r.reason.as_deref().unwrap_or(""), 60),
        ]);
    }
    println!("{t}");
    Ok(())
}

async fn run(client: &Client, id: &str, output: Output) -> Result<()> {
    let detail: RunDetail = client.get(&format!("/api/v1/runs/{}", segment(id))).await?;
    if output == Output::Json {
        return print_json(&detail);
    }
    let r = &detail.run;
    println!("run:       {}", r.id);
    println!("workflow:  {} v{} (tenant {})", r.workflow, r.version, r.tenant);
    println!("state:     {}{}", r.state, r.reason.as_ref().map(|x| format!(" — {x}")).unwrap_or_default());
    println!("inputs:    {}", r.inputs);
    if let Some(started) = r.started_at {
        let end = r.finished_at.map(|f| format!(", finished {}", clock_time(f))).unwrap_or_default();
        println!("started:   {}{end} ({})", clock_time(started), span(started, r.finished_at.unwrap_or_else(Utc::now)));
    }
    println!();
    let mut t = table(&["STEP", "STATE", "ATTEMPTS", "STARTED", "DURATION", "EXIT", "OUTPUTS", "REASON"]);
    for s in &detail.steps {
        let started = s.started_at.map(clock_time).unwrap_or_default();
        let duration = match (s.started_at, s.finished_at) {
            (Some(a), Some(b)) => span(a, b),
            _ => String::new(),
        };
        // A fan-out's own row never runs: its elements do.
        let attempts = if s.attempt == 0 { "-".to_string() } else { s.attempt.to_string() };
        let outputs = s.outputs.as_ref().map(|o| shorten(&o.to_string(), 40)).unwrap_or_default();
        t.add_row(vec![
            s.key.clone(),
            s.state.to_string(),
            attempts,
            started,
            duration,
            s.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            outputs,
            shorten(s.reason.as_deref().unwrap_or(""), 60),
        ]);
    }
    println!("{t}");
    Ok(())
}

fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(max - 1).collect::<String>())
    }
}
