//! The Store conformance suite against SQLite, each check in a fresh database file.

use std::sync::Arc;

use baton_store::Store;
use baton_store_sqlite::{Durability, SqliteStore};

async fn fresh(dir: &tempfile::TempDir, name: &str) -> Arc<dyn Store> {
    let store = SqliteStore::open(&dir.path().join(format!("{name}.db")), Durability::Normal).await.unwrap();
    Arc::new(store)
}

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    for (name, check) in baton_store::conformance::checks() {
        eprintln!("check: {name}");
        check(fresh(&dir, name).await).await;
    }
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let id = uuid::Uuid::now_v7();
    {
        let store = SqliteStore::open(&path, Durability::Full).await.unwrap();
        let run = baton_store::conformance::run(id, "w", baton_model::RunState::Pending, 0);
        store.run_insert(run).await.unwrap();
    }
    let store = SqliteStore::open(&path, Durability::Full).await.unwrap();
    assert!(store.run_get(id).await.unwrap().is_some());
}

#[tokio::test]
async fn valid_batches_take_the_fast_path() {
    let dir = tempfile::tempdir().unwrap();
    // Every check whose batches are all valid; the others refuse a job on purpose.
    for (name, check) in baton_store::conformance::checks() {
        if ["commit_is_atomic", "a_bad_commit_spoils_no_other", "run_round_trip"].contains(&name) {
            continue;
        }
        let store =
            Arc::new(SqliteStore::open(&dir.path().join(format!("{name}.db")), Durability::Normal).await.unwrap());
        check(store.clone()).await;
        assert_eq!(store.fallbacks(), 0, "{name}: a valid batch was replayed job by job: the batched SQL is wrong");
    }
}
