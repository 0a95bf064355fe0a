//! `baton get schedules [NAME]` and `baton schedule …`.

use anyhow::Result;
use baton_server::api::{List, ScheduleView, Triggered};
use baton_store::{FireRecord, ScheduleStats};
use chrono::{DateTime, Local, Utc};
use reqwest::Method;

use super::{print_json, table};
use crate::cli::{Output, ResourceName, ScheduleCommand};
use crate::client::{Client, segment};

pub async fn list(client: &Client, tenant: Option<&str>, output: Output) -> Result<()> {
    let mut request = client.request(Method::GET, "/api/v1/schedules").query(&[("limit", "1000")]);
    if let Some(t) = tenant {
        request = request.query(&[("tenant", t)]);
    }
    let list: List<ScheduleView> = client.json(request).await?;
    if output == Output::Json {
        return print_json(&list.items);
    }
    let mut t =
        table(&["NAME", "TENANT", "WORKFLOW", "CRON", "TIMEZONE", "STATE", "NEXT (ZONE)", "NEXT (LOCAL)", "LAST RUN"]);
    for v in &list.items {
        let spec = &v.record.schedule.spec;
        let (zone, local) =
            v.next.first().map_or((String::new(), String::new()), |n| (n.local.clone(), local_time(n.at)));
        let last = v.last_run_state.map(|s| s.to_string()).unwrap_or_default();
        t.add_row(vec![
            v.record.name().to_string(),
            v.record.tenant().to_string(),
            spec.workflow.clone(),
            spec.cron.clone(),
            spec.timezone.clone(),
            v.state.clone(),
            zone,
            local,
            last,
        ]);
    }
    println!("{t}");
    Ok(())
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %:z").to_string()
}

fn path(s: &ResourceName, tail: &str) -> String {
    format!("/api/v1/schedules/{}{tail}?tenant={}", segment(&s.name), segment(&s.tenant))
}

pub async fn show(client: &Client, name: &str, tenant: Option<&str>, output: Output) -> Result<()> {
    let s = ResourceName { name: name.to_string(), tenant: tenant.unwrap_or("default").to_string() };
    let v: ScheduleView = client.get(&path(&s, "")).await?;
    let history: List<FireRecord> = client.get(&format!("{}&limit=10", path(&s, "/history"))).await?;
    if output == Output::Json {
        return print_json(&serde_json::json!({"schedule": v, "history": history.items}));
    }
    let spec = &v.record.schedule.spec;
    println!("schedule:   {} (tenant {})", v.record.name(), v.record.tenant());
    println!("workflow:   {}", spec.workflow);
    let explain = spec.cron.parse::<baton_model::cron::Cron>().map(|c| c.explain()).unwrap_or_default();
    println!("cron:       {} in {} — {explain}", spec.cron, spec.timezone);
    println!("state:      {} (overlap: {}, misfire: {})", v.state, spec.overlap.as_str(), spec.misfire.as_str());
    println!(
        "runs:       {} started{}",
        v.record.executions,
        v.last_run_state.map(|s| format!(", the last one {s}")).unwrap_or_default()
    );
    println!("\nnext fires:");
    for n in &v.next {
        let dst = n.dst.as_ref().map(|d| format!("  ({d})")).unwrap_or_default();
        println!("  {}   {}{dst}", n.local, local_time(n.at));
    }
    println!("\nhistory:");
    print_history(&history.items);
    Ok(())
}

fn print_history(items: &[FireRecord]) {
    let mut t = table(&["DUE", "OUTCOME", "COUNT", "RUN", "REASON"]);
    for f in items {
        t.add_row(vec![
            local_time(f.due_at),
            f.outcome.as_str().to_string(),
            f.count.to_string(),
            f.run_id.map(|r| r.to_string()).unwrap_or_default(),
            f.reason.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
}

pub async fn command(client: &Client, command: &ScheduleCommand) -> Result<()> {
    match command {
        ScheduleCommand::Pause(s) => state_change(client, s, "/pause", "paused").await,
        ScheduleCommand::Resume(s) => state_change(client, s, "/resume", "resumed").await,
        ScheduleCommand::Trigger(s) => {
            let t: Triggered = client.post(&path(s, "/trigger"), &()).await?;
            match t.run_id {
                Some(run) => println!("schedule/{}: {} — run {run}", s.name, t.outcome.as_str()),
                None => println!(
                    "schedule/{}: {} (no run started; see `baton schedule history {}`)",
                    s.name,
                    t.outcome.as_str(),
                    s.name
                ),
            }
            Ok(())
        }
        ScheduleCommand::Delete(s) => {
            client.send(client.request(Method::DELETE, &path(s, ""))).await?;
            println!("schedule/{} deleted", s.name);
            Ok(())
        }
        ScheduleCommand::History { schedule, limit, output } => {
            let list: List<FireRecord> = client.get(&format!("{}&limit={limit}", path(schedule, "/history"))).await?;
            if *output == Output::Json {
                return print_json(&list.items);
            }
            print_history(&list.items);
            Ok(())
        }
        ScheduleCommand::Stats { tenant, hours, output } => {
            let mut request =
                client.request(Method::GET, "/api/v1/schedule-stats").query(&[("hours", hours.to_string())]);
            if let Some(t) = tenant {
                request = request.query(&[("tenant", t)]);
            }
            let stats: ScheduleStats = client.json(request).await?;
            if *output == Output::Json {
                return print_json(&stats);
            }
            println!("schedules: {} ({} paused, {} disabled)", stats.schedules, stats.paused, stats.disabled);
            println!("due times of the last {hours} h:");
            for (outcome, n) in &stats.fires {
                println!("  {outcome:<16} {n}");
            }
            Ok(())
        }
    }
}

async fn state_change(client: &Client, s: &ResourceName, tail: &str, done: &str) -> Result<()> {
    let v: ScheduleView = client.post(&path(s, tail), &()).await?;
    let next = v.next.first().map(|n| format!("; next fire {}", n.local)).unwrap_or_default();
    println!("schedule/{} {done} ({}){next}", s.name, v.state);
    if let Some(w) = v.waiting_fire {
        // Decided up to a second ahead: this change comes after that fire.
        println!("note: the fire due at {} was already recorded; its run {} still starts then", w.due_at, w.run_id);
        println!("      (baton cancel {} stops it)", w.run_id);
    }
    Ok(())
}
