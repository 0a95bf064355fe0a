//! One module per client command.

pub mod apply;
pub mod cancel;
pub mod cron;
pub mod follow;
pub mod get;
pub mod logs;
pub mod run;
pub mod schedule;
pub mod trigger;
pub mod validate;

use chrono::{DateTime, Local, Utc};

/// Local wall-clock time of day, as an operator reads it.
pub fn clock_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M:%S").to_string()
}

/// `1.2s`, `3m04s`, `2h05m`.
pub fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let ms = (to - from).num_milliseconds().max(0);
    match ms {
        0..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING).set_header(header.iter().map(|h| h.to_string()));
    table
}

pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
