//! Time, injected: the engine reads the time and sleeps only through a
//! [`Clock`], so that tests drive time instead of waiting for it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now() >= at`.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

/// `now + span`, or `None` past the end of representable time.
pub fn after(now: DateTime<Utc>, span: std::time::Duration) -> Option<DateTime<Utc>> {
    chrono::Duration::from_std(span).ok().and_then(|d| now.checked_add_signed(d))
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when a test says so.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
    ticks: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock { now: Arc::new(Mutex::new(start)), ticks: watch::channel(start).0 }
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
        self.ticks.send_replace(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut ticks = self.ticks.subscribe();
        Box::pin(async move {
            // If the clock is dropped, the sleeper never wakes, like time stopping.
            let _ = ticks.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_advanced() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let sleeper = tokio::spawn(clock.sleep_until(start + chrono::Duration::seconds(60)));
        clock.advance(chrono::Duration::seconds(30));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(chrono::Duration::seconds(30));
        sleeper.await.unwrap();
        assert_eq!(clock.now(), start + chrono::Duration::seconds(60));
    }
}
