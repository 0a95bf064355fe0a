//! Next-fire computations per second, per expression shape, in UTC and in a
//! DST zone (`cargo bench -p baton-model --bench cron`).

use baton_model::cron::{Cron, DstRule};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SHAPES: &[(&str, &str)] = &[
    ("every_minute", "* * * * *"),
    ("every_15_minutes", "*/15 * * * *"),
    ("daily_wall_clock", "30 2 * * *"),
    ("weekdays_9_to_5", "0 9-17 * * 1-5"),
    ("last_friday", "0 3 * * 5L"),
    ("seconds", "*/10 * * * * *"),
    ("yearly", "@yearly"),
];

fn next_fire(c: &mut Criterion) {
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    for zone in ["UTC", "Europe/Amsterdam"] {
        let tz: Tz = zone.parse().unwrap();
        let mut group = c.benchmark_group(format!("cron_next/{zone}"));
        group.throughput(Throughput::Elements(1));
        for (name, expr) in SHAPES {
            let cron: Cron = expr.parse().unwrap();
            // Walk the year so that DST changes are crossed, one fire at a time.
            let mut after = start;
            group.bench_function(*name, |b| {
                b.iter(|| {
                    let fire = cron.next_after(after, tz, DstRule::Auto).expect("fires");
                    after = if fire.at > start + Duration::days(365) { start } else { fire.at };
                    fire
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, next_fire);
criterion_main!(benches);
