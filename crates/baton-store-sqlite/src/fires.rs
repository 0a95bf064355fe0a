//! Recording schedule fires in a batch: each due time once; only a fire
//! recorded now starts its run and moves its schedule on.

use std::collections::{HashMap, HashSet};

use baton_store::ScheduleFire;
use serde_json::{Value as Json, json};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use crate::batch::{Slot, run_row};
use crate::convert::{R, db, micros};

/// Inserts the fire records; the runs of new ones join `runs`. Returns
/// whether each fire was new.
pub async fn record(
    conn: &mut SqliteConnection,
    fires: &[(Slot, &ScheduleFire)],
    runs: &mut Vec<Json>,
) -> R<Vec<(Slot, bool)>> {
    if fires.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Json> = fires.iter().map(|(_, f)| fire_row(f)).collect();
    let inserted = sqlx::query(
        "INSERT INTO schedule_fires (tenant, schedule, due_at, outcome, reason, run_id, count, recorded_at)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7
         FROM json_each(?1) WHERE true
         ON CONFLICT DO NOTHING
         RETURNING tenant, schedule, due_at",
    )
    .bind(Json::Array(rows).to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut fresh: HashSet<(String, String, i64)> = inserted
        .iter()
        .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?, r.try_get(2).map_err(db)?)))
        .collect::<R<_>>()?;
    let mut answers = Vec::with_capacity(fires.len());
    let mut progress: HashMap<(String, String), Progress> = HashMap::new();
    for (slot, f) in fires {
        let key = (f.fire.tenant.clone(), f.fire.schedule.clone(), micros(f.fire.due_at));
        let new = fresh.remove(&key);
        if new {
            if let Some(run) = &f.run {
                runs.push(run_row(run));
            }
            progress.entry((key.0, key.1)).or_default().add(f);
        }
        answers.push((*slot, new));
    }
    advance(conn, progress).await?;
    Ok(answers)
}

/// A fire as a JSON array in column order (arrays read faster than objects).
fn fire_row(f: &ScheduleFire) -> Json {
    let r = &f.fire;
    json!([
        r.tenant,
        r.schedule,
        micros(r.due_at),
        r.outcome.as_str(),
        r.reason,
        r.run_id.map(|id| id.to_string()),
        r.count,
        micros(r.recorded_at),
    ])
}

/// How a batch's new fires move one schedule on.
#[derive(Default)]
struct Progress {
    last_due: Option<i64>,
    started: u64,
    last_run: Option<(i64, String)>,
}

impl Progress {
    fn add(&mut self, f: &ScheduleFire) {
        if let Some(due) = f.last_due {
            self.last_due = Some(self.last_due.map_or(micros(due), |d| d.max(micros(due))));
        }
        if let Some(run) = &f.run {
            self.started += 1;
            let due = micros(f.fire.due_at);
            if self.last_run.as_ref().is_none_or(|(d, _)| due >= *d) {
                self.last_run = Some((due, run.id.to_string()));
            }
        }
    }
}

async fn advance(conn: &mut SqliteConnection, progress: HashMap<(String, String), Progress>) -> R<()> {
    if progress.is_empty() {
        return Ok(());
    }
    let rows: Vec<Json> = progress
        .into_iter()
        .map(|((tenant, name), p)| json!([tenant, name, p.last_due, p.started, p.last_run.map(|(_, id)| id)]))
        .collect();
    sqlx::query(
        "UPDATE schedules SET last_due = CASE WHEN t.last_due IS NULL THEN schedules.last_due
                                           ELSE MAX(COALESCE(schedules.last_due, 0), t.last_due) END,
             executions = schedules.executions + t.started,
             last_run = COALESCE(t.last_run, schedules.last_run)
         FROM (SELECT value->>0 AS tenant, value->>1 AS name, value->>2 AS last_due,
                      value->>3 AS started, value->>4 AS last_run
               FROM json_each(?1)) AS t
         WHERE schedules.tenant = t.tenant AND schedules.name = t.name",
    )
    .bind(Json::Array(rows).to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}
