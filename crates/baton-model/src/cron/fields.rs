//! The parsed fields of a cron expression and whether a local wall time
//! matches them.

use chrono::{Datelike, NaiveDate, Timelike, Weekday};

/// A set of small numbers (0–63).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bits(pub u64);

impl Bits {
    pub fn has(self, n: u32) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    pub fn add(&mut self, n: u32) {
        self.0 |= 1 << n;
    }

    /// The smallest member ≥ `from`.
    pub fn first_from(self, from: u32) -> Option<u32> {
        if from >= 64 {
            return None;
        }
        let rest = self.0 >> from << from;
        (rest != 0).then(|| rest.trailing_zeros())
    }

    pub fn count(self) -> u32 {
        self.0.count_ones()
    }

    pub fn members(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |n| self.has(*n))
    }
}

/// Day-of-month terms beyond plain numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomSpecial {
    /// `L`: the last day of the month.
    pub last: bool,
    /// `LW`: the last weekday (Mon–Fri) of the month.
    pub last_weekday: bool,
    /// `nW`: the weekday nearest day n, never leaving the month.
    pub nearest_weekday: Vec<u32>,
}

/// Day-of-week terms beyond plain weekdays (0 = Sunday).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DowSpecial {
    /// `nL`: the last weekday n of the month.
    pub last: Vec<u32>,
    /// `n#k`: the k-th weekday n of the month.
    pub nth: Vec<(u32, u32)>,
}

/// Every field, resolved to sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub seconds: Bits,
    pub minutes: Bits,
    pub hours: Bits,
    pub dom: Bits,
    pub dom_special: DomSpecial,
    pub months: Bits,
    /// 0 = Sunday … 6 = Saturday (7 is folded into 0).
    pub dow: Bits,
    pub dow_special: DowSpecial,
    /// The day-of-month text starts with `*` or `?`.
    pub dom_star: bool,
    /// The day-of-week text starts with `*` or `?`.
    pub dow_star: bool,
}

impl Fields {
    pub fn time_matches(&self, t: chrono::NaiveTime) -> bool {
        self.hours.has(t.hour()) && self.minutes.has(t.minute()) && self.seconds.has(t.second())
    }

    /// The Vixie cron day rule: if either day field starts with `*`, a day
    /// must match both; otherwise it matches if either matches.
    pub fn date_matches(&self, d: NaiveDate) -> bool {
        if !self.months.has(d.month()) {
            return false;
        }
        let (dom, dow) = (self.dom_matches(d), self.dow_matches(d));
        if self.dom_star || self.dow_star { dom && dow } else { dom || dow }
    }

    fn dom_matches(&self, d: NaiveDate) -> bool {
        let s = &self.dom_special;
        self.dom.has(d.day())
            || (s.last && d.day() == last_day(d))
            || (s.last_weekday && d.day() == last_weekday(d))
            || s.nearest_weekday.iter().any(|n| nearest_weekday(d, *n) == Some(d.day()))
    }

    fn dow_matches(&self, d: NaiveDate) -> bool {
        let wd = d.weekday().num_days_from_sunday();
        let s = &self.dow_special;
        self.dow.has(wd)
            || s.last.iter().any(|n| *n == wd && d.day() + 7 > last_day(d))
            || s.nth.iter().any(|(n, k)| *n == wd && (d.day() - 1) / 7 + 1 == *k)
    }
}

/// The number of days in `d`'s month.
pub fn last_day(d: NaiveDate) -> u32 {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|first| first.pred_opt()).map_or(28, |l| l.day())
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn last_weekday(d: NaiveDate) -> u32 {
    let mut day = d.with_day(last_day(d)).unwrap_or(d);
    while is_weekend(day) {
        day = day.pred_opt().unwrap_or(day);
    }
    day.day()
}

/// The weekday nearest day `n` of `d`'s month, staying inside the month;
/// `None` when the month has no day `n`.
fn nearest_weekday(d: NaiveDate, n: u32) -> Option<u32> {
    let target = d.with_day(n)?;
    Some(match target.weekday() {
        Weekday::Sat if n == 1 => n + 2,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == last_day(d) => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn month_ends_and_weekdays() {
        assert_eq!(last_day(date(2024, 2, 10)), 29);
        assert_eq!(last_day(date(2026, 2, 10)), 28);
        assert_eq!(last_day(date(2026, 12, 1)), 31);
        // 2026-05-31 is a Sunday: the last weekday of May 2026 is Friday the 29th.
        assert_eq!(last_weekday(date(2026, 5, 1)), 29);
        // 2026-08-01 is a Saturday: 1W is Monday the 3rd, never July.
        assert_eq!(nearest_weekday(date(2026, 8, 1), 1), Some(3));
        // 2026-08-15 is a Saturday: 15W is Friday the 14th.
        assert_eq!(nearest_weekday(date(2026, 8, 1), 15), Some(14));
        // 2026-05-31 is a Sunday and the last day: 31W is Friday the 29th.
        assert_eq!(nearest_weekday(date(2026, 5, 1), 31), Some(29));
        assert_eq!(nearest_weekday(date(2026, 2, 1), 30), None);
    }

    #[test]
    fn bits_find_the_next_member() {
        let mut b = Bits::default();
        b.add(5);
        b.add(40);
        assert_eq!(b.first_from(0), Some(5));
        assert_eq!(b.first_from(6), Some(40));
        assert_eq!(b.first_from(41), None);
        assert_eq!(b.count(), 2);
    }
}
