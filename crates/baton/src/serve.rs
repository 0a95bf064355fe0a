//! `baton serve`: wires the SQLite store, the engine and the REST API, and
//! shuts them down in order on SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use baton_engine::{Engine, EngineConfig, SystemClock};
use baton_server::AppState;
use baton_store_sqlite::{Durability, SqliteStore};
use tokio::sync::watch;

use crate::cli::{ServeArgs, Sync};

/// How long open connections (live event streams) may linger after a stop signal.
const HTTP_DRAIN: Duration = Duration::from_secs(3);

pub async fn serve(args: ServeArgs) -> Result<()> {
    let durability = match args.sync {
        Sync::Normal => Durability::Normal,
        Sync::Full => Durability::Full,
    };
    let store = SqliteStore::open(&args.database, durability)
        .await
        .with_context(|| format!("cannot open the database {}", args.database.display()))?;
    let config = EngineConfig {
        slots: args.slots,
        log_cap: args.log_cap,
        shutdown_grace: args.shutdown_grace,
        ..EngineConfig::default()
    };
    let engine = Engine::new(Arc::new(store), Arc::new(SystemClock), config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (is another baton running?)", args.listen))?;
    if !args.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %args.listen,
            "baton has no authentication yet: anyone who can reach this address can run shell commands as this user"
        );
    }
    // Triggers first: their listener then hears the endings of resumed runs
    // and the misfires the scheduler finds as it loads.
    let triggers = engine.start_triggers().await.context("loading triggers")?;
    let resumed = engine.resume().await.context("resuming unfinished runs")?;
    let schedules = engine.start_scheduler().await.context("starting the scheduler")?;
    tracing::info!(
        listen = %format!("http://{}", listener.local_addr()?),
        database = %args.database.display(),
        resumed,
        schedules,
        triggers,
        "baton is serving"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    // On a signal the engine starts parking runs at once, while open HTTP
    // connections drain.
    let stopper = {
        let engine = engine.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: no new runs; running steps get the shutdown grace to finish");
            let _ = stop_tx.send(true);
            engine.shutdown().await;
        })
    };
    let mut graceful = stop_rx.clone();
    let http = baton_server::serve(listener, AppState { engine: engine.clone() }, async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    let mut drain = stop_rx;
    // Live event streams never end on their own: they get a moment, then go.
    let served = tokio::select! {
        result = http => result,
        _ = async { let _ = drain.wait_for(|stop| *stop).await; tokio::time::sleep(HTTP_DRAIN).await } => Ok(()),
    };
    if let Err(e) = served {
        engine.shutdown().await;
        return Err(e).context("the HTTP server failed");
    }
    let _ = stopper.await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
