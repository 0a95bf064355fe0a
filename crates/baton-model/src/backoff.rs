//! Delay before a step's next attempt: exponential, capped, with jitter that
//! is deterministic per step so that a replay decides the same way.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::workflow::RetryPolicy;

/// The delay after the `failures`-th failed attempt (1-based) of the step
/// whose idempotency key is `key`.
pub fn retry_delay(policy: &RetryPolicy, failures: u32, key: &str) -> Duration {
    let b = &policy.backoff;
    let exponent = failures.saturating_sub(1).min(1000) as i32;
    let raw = b.initial.std().as_secs_f64() * b.multiplier.powi(exponent);
    let capped = raw.min(b.max.std().as_secs_f64());
    let jittered = capped * (1.0 - policy.jitter * unit_fraction(key, failures));
    Duration::try_from_secs_f64(jittered.max(0.0)).unwrap_or(b.max.std())
}

/// A number in [0, 1) derived from the key and attempt.
fn unit_fraction(key: &str, failures: u32) -> f64 {
    let digest = Sha256::digest(format!("{key}#{failures}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Duration as D;
    use crate::workflow::Backoff;

    fn policy(jitter: f64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            backoff: Backoff { initial: D::from_secs(1), multiplier: 2.0, max: D::from_secs(5) },
            jitter,
        }
    }

    #[test]
    fn grows_exponentially_and_caps() {
        let p = policy(0.0);
        let delays: Vec<u64> = (1..=5).map(|n| retry_delay(&p, n, "k").as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5]);
    }

    #[test]
    fn jitter_is_bounded_and_deterministic() {
        let p = policy(0.5);
        for n in 1..=5 {
            let a = retry_delay(&p, n, "run/step");
            assert_eq!(a, retry_delay(&p, n, "run/step"));
            let plain = retry_delay(&policy(0.0), n, "run/step");
            assert!(a <= plain && a >= plain / 2, "{a:?} vs {plain:?}");
        }
        assert_ne!(retry_delay(&p, 1, "a"), retry_delay(&p, 1, "b"));
    }
}
