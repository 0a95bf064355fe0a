//! What to do with due times that passed while no node ran (or while the
//! schedule was paused): a pure decision, recorded by the scheduler.

use baton_model::schedule::Misfire;
use chrono::{DateTime, Utc};

use super::entry::Entry;

/// How many missed due times are looked at, at most (a minutely schedule
/// down for two months); beyond that they are counted as one more.
const SCAN_LIMIT: usize = 100_000;

/// The decision about a run of missed due times.
#[derive(Debug, PartialEq, Eq)]
pub struct CatchUp {
    /// Due times to fire now, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Due times not fired: (first, how many, last).
    pub dropped: Option<(DateTime<Utc>, u32, DateTime<Utc>)>,
}

/// Due times of `entry` in `(entry.dealt, until]`.
pub fn missed(entry: &Entry, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut after = entry.dealt;
    while out.len() < SCAN_LIMIT {
        match entry.next_due(after) {
            Some(due) if due <= until => {
                out.push(due);
                after = due;
            }
            _ => break,
        }
    }
    out
}

pub fn decide(policy: Misfire, limit: u32, missed: &[DateTime<Utc>]) -> CatchUp {
    let drop = |times: &[DateTime<Utc>]| match (times.first(), times.last()) {
        (Some(first), Some(last)) => Some((*first, times.len() as u32, *last)),
        _ => None,
    };
    match policy {
        Misfire::Skip => CatchUp { fire: Vec::new(), dropped: drop(missed) },
        Misfire::FireOnce => match missed.split_last() {
            Some((latest, earlier)) => CatchUp { fire: vec![*latest], dropped: drop(earlier) },
            None => CatchUp { fire: Vec::new(), dropped: None },
        },
        Misfire::FireAll => {
            let n = missed.len().min(limit as usize);
            CatchUp { fire: missed[..n].to_vec(), dropped: drop(&missed[n..]) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn times(n: i64) -> Vec<DateTime<Utc>> {
        (0..n).map(|i| Utc.timestamp_opt(1_800_000_000 + i * 60, 0).unwrap()).collect()
    }

    #[test]
    fn each_policy() {
        let t = times(5);
        assert_eq!(decide(Misfire::Skip, 10, &t), CatchUp { fire: vec![], dropped: Some((t[0], 5, t[4])) });
        assert_eq!(decide(Misfire::FireOnce, 10, &t), CatchUp { fire: vec![t[4]], dropped: Some((t[0], 4, t[3])) });
        assert_eq!(decide(Misfire::FireAll, 3, &t), CatchUp { fire: t[..3].to_vec(), dropped: Some((t[3], 2, t[4])) });
        assert_eq!(decide(Misfire::FireAll, 10, &t), CatchUp { fire: t.clone(), dropped: None });
        assert_eq!(decide(Misfire::FireOnce, 10, &t[..1]), CatchUp { fire: vec![t[0]], dropped: None });
        assert_eq!(decide(Misfire::FireOnce, 10, &[]), CatchUp { fire: vec![], dropped: None });
    }
}
