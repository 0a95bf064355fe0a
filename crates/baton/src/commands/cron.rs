//! `baton cron next|explain -- EXPR`: the cron semantics, locally.

use anyhow::{Context, Result, anyhow, bail};
use baton_model::cron::{Cron, DstRule, Fire, SEARCH_YEARS};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use crate::cli::{CronCommand, CronNextArgs, Output};

pub fn cron(command: &CronCommand) -> Result<()> {
    match command {
        CronCommand::Next(args) => next(args),
        CronCommand::Explain(args) => {
            println!("{}", parse(&args.expr)?.explain());
            Ok(())
        }
    }
}

fn parse(words: &[String]) -> Result<Cron> {
    let text = words.join(" ");
    text.parse::<Cron>().map_err(|e| anyhow!(e))
}

fn next(args: &CronNextArgs) -> Result<()> {
    let cron = parse(&args.expr)?;
    let tz: Tz = args
        .tz
        .parse()
        .map_err(|_| anyhow!("unknown time zone `{}` (an IANA name such as Europe/Amsterdam)", args.tz))?;
    let rule = DstRule::parse(&args.dst)
        .ok_or_else(|| anyhow!("--dst must be auto, wall_clock or elapsed, not `{}`", args.dst))?;
    let after = match &args.after {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--after `{text}` is not an RFC 3339 instant such as 2026-03-29T00:00:00Z"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    if args.count == 0 {
        bail!("-n must be at least 1");
    }
    let fires = cron.upcoming(after, tz, rule, args.count);
    if args.output == Output::Json {
        let items: Vec<_> = fires.iter().map(|f| fire_json(f, tz)).collect();
        return crate::commands::print_json(&items);
    }
    for fire in &fires {
        println!("{}", fire.at.with_timezone(&tz).to_rfc3339());
        if let Some(note) = fire.dst_description() {
            // Notes go to stderr: standard output stays one instant per line.
            eprintln!("  ^ {note}");
        }
    }
    if fires.len() < args.count {
        eprintln!("(no further fire within {SEARCH_YEARS} years)");
    }
    Ok(())
}

fn fire_json(fire: &Fire, tz: Tz) -> serde_json::Value {
    json!({
        "at": fire.at.with_timezone(&tz).to_rfc3339(),
        "local": fire.local.to_string(),
        "dst": fire.dst_description(),
    })
}
