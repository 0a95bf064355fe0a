//! Storing a named resource whose body changes by apply: a new generation
//! when its content hash differs, nothing otherwise.

use baton_store::{ApplyOutcome, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use crate::convert::{R, db};

/// The statements of one resource table; `?1` tenant, `?2` name.
pub struct Statements {
    /// → (generation, hash)
    pub current: &'static str,
    /// `?3` generation, `?4` hash, `?5` body, `?6` now.
    pub update: &'static str,
    /// `?3` hash, `?4` body, `?5` now.
    pub insert: &'static str,
    /// Deletes the resource's history (its records go before it does).
    pub delete_history: &'static str,
    /// Deletes the resource itself.
    pub delete: &'static str,
    /// The resource's row.
    pub get: &'static str,
    /// Its newest history records; `?3` how many.
    pub history: &'static str,
}

/// The statements of a resource table whose rows are `(tenant, name,
/// generation, hash, body, created_at, updated_at)`, and of its history
/// table, keyed by `(tenant, key column)` and read newest first (`newest`).
macro_rules! statements {
    (table: $table:literal, history: $history:literal, key: $key:literal, newest: $newest:literal) => {
        $crate::resources::Statements {
            current: concat!("SELECT generation, hash FROM ", $table, " WHERE tenant = ?1 AND name = ?2"),
            update: concat!(
                "UPDATE ",
                $table,
                " SET generation = ?3, hash = ?4, body = ?5, updated_at = ?6 WHERE tenant = ?1 AND name = ?2"
            ),
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (tenant, name, generation, hash, body, created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?5)"
            ),
            delete_history: concat!("DELETE FROM ", $history, " WHERE tenant = ?1 AND ", $key, " = ?2"),
            delete: concat!("DELETE FROM ", $table, " WHERE tenant = ?1 AND name = ?2"),
            get: concat!("SELECT * FROM ", $table, " WHERE tenant = ?1 AND name = ?2"),
            history: concat!(
                "SELECT * FROM ",
                $history,
                " WHERE tenant = ?1 AND ",
                $key,
                " = ?2 ORDER BY ",
                $newest,
                " LIMIT ?3"
            ),
        }
    };
}
pub(crate) use statements;

pub async fn apply(
    conn: &mut SqliteConnection,
    sql: &Statements,
    (tenant, name): (&str, &str),
    hash: &str,
    body: &impl serde::Serialize,
    now: i64,
) -> R<ApplyOutcome> {
    let current: Option<(i64, String)> =
        sqlx::query_as(sql.current).bind(tenant).bind(name).fetch_optional(&mut *conn).await.map_err(db)?;
    let body = serde_json::to_string(body).map_err(|e| StoreError::Other(e.to_string()))?;
    match current {
        Some((generation, stored)) if stored == hash => Ok(ApplyOutcome::Unchanged { version: generation as u32 }),
        Some((generation, _)) => {
            let q =
                sqlx::query(sql.update).bind(tenant).bind(name).bind(generation + 1).bind(hash).bind(body).bind(now);
            q.execute(conn).await.map_err(db)?;
            Ok(ApplyOutcome::Updated { version: generation as u32 + 1 })
        }
        None => {
            let q = sqlx::query(sql.insert).bind(tenant).bind(name).bind(hash).bind(body).bind(now);
            q.execute(conn).await.map_err(db)?;
            Ok(ApplyOutcome::Created { version: 1 })
        }
    }
}

/// Deletes a resource and its history; false if there was no such resource.
pub async fn delete(conn: &mut SqliteConnection, sql: &Statements, (tenant, name): (&str, &str)) -> R<bool> {
    sqlx::query(sql.delete_history).bind(tenant).bind(name).execute(&mut *conn).await.map_err(db)?;
    let done = sqlx::query(sql.delete).bind(tenant).bind(name).execute(conn).await.map_err(db)?;
    Ok(done.rows_affected() == 1)
}

/// One resource, read by `map`; `None` if there is no such resource.
pub async fn get<T>(
    pool: &SqlitePool,
    sql: &Statements,
    (tenant, name): (&str, &str),
    map: fn(&SqliteRow) -> R<T>,
) -> R<Option<T>> {
    let row = sqlx::query(sql.get).bind(tenant).bind(name).fetch_optional(pool).await.map_err(db)?;
    row.as_ref().map(map).transpose()
}

/// A resource's newest `limit` history records, read by `map`.
pub async fn history<T>(
    pool: &SqlitePool,
    sql: &Statements,
    (tenant, name): (&str, &str),
    limit: u32,
    map: fn(&SqliteRow) -> R<T>,
) -> R<Vec<T>> {
    let query = sqlx::query(sql.history).bind(tenant).bind(name).bind(i64::from(limit));
    let rows = query.fetch_all(pool).await.map_err(db)?;
    rows.iter().map(map).collect()
}
