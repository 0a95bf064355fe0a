//! A whole batch of writes in a handful of statements.
//!
//! sqlx runs every statement on the connection's own thread, and each one is
//! a round trip between threads (≈ 90 µs on a loaded 2-core VM): statement
//! count, not SQLite, bounds throughput. So the rows of every job in the
//! batch are gathered by kind and written with one statement per kind, the
//! rows passed as one JSON array (`json_each`). The statements are fixed
//! text, so they stay prepared.
//!
//! Order within a job is kept where it matters: run transitions of one run
//! are applied in rounds, in order; several writes of one step row keep the
//! last. Workflow applies, which read before they write, are not batched.

use baton_store::{Change, RunRecord, ScheduleFire, StepRecord};
use serde_json::{Value as Json, json};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;
use uuid::Uuid;

use crate::convert::{R, db, json_text, micros, micros_opt};
use crate::writer::Reply;

/// What one job writes.
pub enum Rows<'a> {
    Run(&'a RunRecord),
    Cancel(Uuid),
    Changes(&'a [Change]),
    Fires(&'a [ScheduleFire]),
}

/// Where each change's "applied" answer goes: (job, change).
pub type Slot = (usize, usize);

#[derive(Default)]
struct Gathered<'a> {
    fires: Vec<(Slot, &'a ScheduleFire)>,
    runs: Vec<Json>,
    cancels: Vec<String>,
    transitions: Vec<(Slot, Json)>,
    steps: Vec<Json>,
    attempts: Vec<(Slot, Json, Option<Json>)>,
}

/// Applies every job's rows inside the caller's transaction; an error
/// leaves the transaction to be rolled back.
pub async fn apply(conn: &mut SqliteConnection, jobs: &[Rows<'_>]) -> R<Vec<Reply>> {
    let mut replies: Vec<Reply> = Vec::with_capacity(jobs.len());
    let mut g = Gathered::default();
    for (job, rows) in jobs.iter().enumerate() {
        replies.push(gather(&mut g, job, rows));
    }
    // Fires first: only a fire recorded now (not before) inserts its run.
    for (slot, applied) in crate::fires::record(conn, &g.fires, &mut g.runs).await? {
        set(&mut replies, slot, applied);
    }
    insert_runs(conn, &g.runs).await?;
    for (slot, applied) in transitions(conn, &g.transitions).await? {
        set(&mut replies, slot, applied);
    }
    upsert_steps(conn, &g.steps).await?;
    for (slot, applied) in attempts(conn, &g.attempts).await? {
        set(&mut replies, slot, applied);
    }
    cancel(conn, &g.cancels).await?;
    Ok(replies)
}

fn set(replies: &mut [Reply], (job, change): Slot, applied: bool) {
    if let Reply::Changes(flags) = &mut replies[job] {
        flags[change] = applied;
    }
}

fn gather<'a>(g: &mut Gathered<'a>, job: usize, rows: &Rows<'a>) -> Reply {
    match rows {
        Rows::Fires(fires) => {
            g.fires.extend(fires.iter().enumerate().map(|(n, f)| ((job, n), f)));
            Reply::Changes(vec![false; fires.len()])
        }
        Rows::Run(run) => {
            g.runs.push(run_row(run));
            Reply::Done
        }
        Rows::Cancel(id) => {
            g.cancels.push(id.to_string());
            Reply::Done
        }
        Rows::Changes(changes) => {
            for (n, change) in changes.iter().enumerate() {
                gather_change(g, (job, n), change);
            }
            // Step rows always apply; the others are answered after their statement.
            Reply::Changes(changes.iter().map(|c| matches!(c, Change::StepPut(_))).collect())
        }
    }
}

fn gather_change(g: &mut Gathered<'_>, slot: Slot, change: &Change) {
    match change {
        Change::RunTransition { run_id, to, at, reason, deadline_at, ending } => {
            let from: Vec<&str> = to.predecessors().iter().map(|s| s.as_str()).collect();
            let row = json!({
                "id": run_id.to_string(), "to": to.as_str(), "from": from, "at": micros(*at),
                "terminal": to.is_terminal(), "reason": reason, "deadline_at": micros_opt(*deadline_at),
                "ending": ending.map(|e| e.as_str()),
            });
            g.transitions.push((slot, row));
        }
        Change::StepPut(step) => g.steps.push(step_row(step)),
        Change::AttemptEnd { run_id, key, attempt, state, started_at, at, exit_code, reason, log } => {
            let row = json!({
                "run_id": run_id.to_string(), "key": key, "attempt": attempt, "state": state.as_str(),
                "started_at": micros(*started_at), "finished_at": micros(*at), "exit_code": exit_code, "reason": reason,
            });
            let log = log.as_ref().map(|(text, truncated)| {
                json!({"run_id": run_id.to_string(), "key": key, "attempt": attempt, "text": text, "truncated": truncated})
            });
            g.attempts.push((slot, row, log));
        }
    }
}

/// A run as a JSON array in the column order of `insert_runs`: SQLite's
/// `->>` reads an array element much faster than an object's member.
pub fn run_row(r: &RunRecord) -> Json {
    json!([
        r.id.to_string(),
        r.tenant,
        r.workflow,
        r.version,
        r.state.as_str(),
        json_text(&r.inputs),
        r.trigger,
        micros(r.created_at),
        micros_opt(r.started_at),
        micros_opt(r.finished_at),
        micros_opt(r.deadline_at),
        r.reason,
        r.cancel_requested,
        r.ending.map(|e| e.as_str()),
        r.depth,
        micros_opt(r.not_before),
    ])
}

fn step_row(s: &StepRecord) -> Json {
    json!({
        "run_id": s.run_id.to_string(), "key": s.key, "step_id": s.step_id, "idx": s.index,
        "phase": s.phase.as_str(), "state": s.state.as_str(), "attempt": s.attempt, "failures": s.failures,
        "item": s.item.as_ref().map(json_text), "wake_at": micros_opt(s.wake_at),
        "started_at": micros_opt(s.started_at), "finished_at": micros_opt(s.finished_at),
        "outputs": s.outputs.as_ref().map(json_text), "exit_code": s.exit_code,
        "stdout_tail": s.stdout_tail, "stderr_tail": s.stderr_tail, "reason": s.reason,
        "completed_seq": s.completed_seq, "attempt_started_at": micros_opt(s.attempt_started_at),
    })
}

pub async fn insert_runs(conn: &mut SqliteConnection, rows: &[Json]) -> R<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO runs (id, tenant, workflow, version, state, inputs, trigger, created_at, started_at,
                           finished_at, deadline_at, reason, cancel_requested, ending, depth, not_before)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7,
                value->>8, value->>9, value->>10, value->>11, value->>12, value->>13, value->>14,
                value->>15
         FROM json_each(?1)",
    )
    .bind(Json::Array(rows.to_vec()).to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Guarded transitions, in rounds that hold at most one transition per run,
/// so that two transitions of one run in a batch apply in order.
async fn transitions(conn: &mut SqliteConnection, all: &[(Slot, Json)]) -> R<Vec<(Slot, bool)>> {
    let mut answers = Vec::with_capacity(all.len());
    let mut rest: Vec<&(Slot, Json)> = all.iter().collect();
    while !rest.is_empty() {
        let mut seen = std::collections::HashSet::new();
        let (round, later): (Vec<_>, Vec<_>) = rest.into_iter().partition(|(_, row)| seen.insert(row["id"].clone()));
        let rows: Vec<Json> = round.iter().map(|(_, row)| row.clone()).collect();
        let moved = transition_round(conn, &rows).await?;
        answers.extend(round.iter().map(|(slot, row)| (*slot, moved.contains(row["id"].as_str().unwrap_or("")))));
        rest = later;
    }
    Ok(answers)
}

async fn transition_round(conn: &mut SqliteConnection, rows: &[Json]) -> R<std::collections::HashSet<String>> {
    let moved = sqlx::query(
        "UPDATE runs SET state = t.to_state,
             started_at = CASE WHEN t.to_state = 'running' THEN COALESCE(runs.started_at, t.at) ELSE runs.started_at END,
             finished_at = CASE WHEN t.terminal THEN t.at ELSE runs.finished_at END,
             reason = COALESCE(t.reason, runs.reason),
             deadline_at = COALESCE(t.deadline_at, runs.deadline_at),
             ending = COALESCE(t.ending, runs.ending)
         FROM (SELECT value->>'id' AS id, value->>'to' AS to_state, value->>'at' AS at,
                      value->>'terminal' AS terminal, value->>'reason' AS reason,
                      value->>'deadline_at' AS deadline_at, value->>'ending' AS ending,
                      value->'from' AS from_states
               FROM json_each(?1)) AS t
         WHERE runs.id = t.id AND runs.state IN (SELECT value FROM json_each(t.from_states))
         RETURNING runs.id",
    )
    .bind(Json::Array(rows.to_vec()).to_string())
    .fetch_all(conn)
    .await
    .map_err(db)?;
    moved.iter().map(|r| r.try_get::<String, _>(0).map_err(db)).collect()
}

async fn upsert_steps(conn: &mut SqliteConnection, rows: &[Json]) -> R<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO steps (run_id, key, step_id, idx, phase, state, attempt, failures, item, wake_at, started_at,
                            finished_at, outputs, exit_code, stdout_tail, stderr_tail, reason, completed_seq,
                            attempt_started_at)
         SELECT value->>'run_id', value->>'key', value->>'step_id', value->>'idx', value->>'phase',
                value->>'state', value->>'attempt', value->>'failures', value->>'item', value->>'wake_at',
                value->>'started_at', value->>'finished_at', value->>'outputs', value->>'exit_code',
                value->>'stdout_tail', value->>'stderr_tail', value->>'reason', value->>'completed_seq',
                value->>'attempt_started_at'
         FROM json_each(?1) WHERE true
         ON CONFLICT (run_id, key) DO UPDATE SET
             state = excluded.state, attempt = excluded.attempt, failures = excluded.failures,
             item = excluded.item, wake_at = excluded.wake_at, started_at = excluded.started_at,
             attempt_started_at = excluded.attempt_started_at, finished_at = excluded.finished_at,
             outputs = excluded.outputs, exit_code = excluded.exit_code, stdout_tail = excluded.stdout_tail,
             stderr_tail = excluded.stderr_tail, reason = excluded.reason, completed_seq = excluded.completed_seq",
    )
    .bind(Json::Array(rows.to_vec()).to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Attempts are recorded once: only the first record of an attempt is
/// applied, and only its log is kept.
async fn attempts(conn: &mut SqliteConnection, all: &[(Slot, Json, Option<Json>)]) -> R<Vec<(Slot, bool)>> {
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Json> = all.iter().map(|(_, row, _)| row.clone()).collect();
    let inserted = sqlx::query(
        "INSERT INTO attempts (run_id, key, attempt, state, started_at, finished_at, exit_code, reason)
         SELECT value->>'run_id', value->>'key', value->>'attempt', value->>'state', value->>'started_at',
                value->>'finished_at', value->>'exit_code', value->>'reason'
         FROM json_each(?1) WHERE true
         ON CONFLICT DO NOTHING
         RETURNING run_id, key, attempt",
    )
    .bind(Json::Array(rows).to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut fresh: std::collections::HashSet<(String, String, i64)> = inserted
        .iter()
        .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?, r.try_get(2).map_err(db)?)))
        .collect::<R<_>>()?;
    let mut answers = Vec::with_capacity(all.len());
    let mut logs = Vec::new();
    for (slot, row, log) in all {
        let id = (
            row["run_id"].as_str().unwrap_or("").to_string(),
            row["key"].as_str().unwrap_or("").to_string(),
            row["attempt"].as_i64().unwrap_or(0),
        );
        // The first record of an attempt in the batch takes the insert.
        let applied = fresh.remove(&id);
        if let (true, Some(log)) = (applied, log) {
            logs.push(log.clone());
        }
        answers.push((*slot, applied));
    }
    insert_logs(conn, logs).await?;
    Ok(answers)
}

async fn insert_logs(conn: &mut SqliteConnection, logs: Vec<Json>) -> R<()> {
    if logs.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT OR REPLACE INTO logs (run_id, key, attempt, text, truncated_bytes)
         SELECT value->>'run_id', value->>'key', value->>'attempt', value->>'text', value->>'truncated'
         FROM json_each(?1)",
    )
    .bind(Json::Array(logs).to_string())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn cancel(conn: &mut SqliteConnection, ids: &[String]) -> R<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE runs SET cancel_requested = 1
         WHERE id IN (SELECT value FROM json_each(?1))
           AND state NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out')",
    )
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}
