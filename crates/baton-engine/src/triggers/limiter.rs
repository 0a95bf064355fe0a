//! A token bucket per trigger: `burst` calls at once, refilled at
//! `per_second`. Read against the engine's clock, so tests drive it.

use baton_model::trigger::RateLimit;
use chrono::{DateTime, Utc};

#[derive(Debug)]
pub struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Option<DateTime<Utc>>,
}

impl Bucket {
    pub fn new(limit: RateLimit) -> Self {
        Bucket { limit, tokens: f64::from(limit.burst), last: None }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, now: DateTime<Utc>) -> Result<(), std::time::Duration> {
        // A clock stepped back refills nothing meanwhile, and refilling
        // goes on from the new reading (keeping the later one would stall
        // the bucket for as long as the step).
        let elapsed = self.last.map_or(0.0, |last| (now - last).as_seconds_f64().max(0.0));
        self.last = Some(now);
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(std::time::Duration::from_secs_f64((1.0 - self.tokens) / self.limit.per_second))
        }
    }

    /// Returns a token taken for a call that started nothing (a replay).
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(f64::from(self.limit.burst));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_stepped_forward_then_back_does_not_stall_the_bucket() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut bucket = Bucket::new(RateLimit { per_second: 1.0, burst: 1 });
        assert!(bucket.take(t0 + chrono::Duration::hours(1)).is_ok());
        assert!(bucket.take(t0).is_err(), "no refill while the clock went back");
        assert!(bucket.take(t0 + chrono::Duration::seconds(1)).is_ok(), "refills from the corrected reading");
    }

    #[test]
    fn a_token_given_back_can_be_taken_again_up_to_the_burst() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut bucket = Bucket::new(RateLimit { per_second: 0.001, burst: 1 });
        assert!(bucket.take(t0).is_ok());
        bucket.give_back();
        bucket.give_back();
        assert!(bucket.take(t0).is_ok());
        assert!(bucket.take(t0).is_err(), "never more than the burst");
    }

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut bucket = Bucket::new(RateLimit { per_second: 2.0, burst: 3 });
        for _ in 0..3 {
            assert!(bucket.take(t0).is_ok());
        }
        let wait = bucket.take(t0).unwrap_err();
        assert_eq!(wait, std::time::Duration::from_millis(500));
        let later = t0 + chrono::Duration::milliseconds(500);
        assert!(bucket.take(later).is_ok(), "one token back after 1/rate");
        assert!(bucket.take(later).is_err());
        let much_later = t0 + chrono::Duration::seconds(60);
        for _ in 0..3 {
            assert!(bucket.take(much_later).is_ok(), "refills up to the burst, no more");
        }
        assert!(bucket.take(much_later).is_err());
    }
}
