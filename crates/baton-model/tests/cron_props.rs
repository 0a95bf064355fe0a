//! The next-fire search against a brute-force evaluator written from the
//! rules: walk the instants one minute (or second) at a time and fire where
//! the rules say, over 2026 with the DST changes of Europe/Amsterdam,
//! America/New_York, Australia/Lord_Howe (30-minute shift) and Pacific/Chatham.

use std::collections::HashMap;

use baton_model::cron::{Class, Cron, DstRule, Fields};
use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: &[&str] = &["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"];

/// How far the brute force looks before it concludes "not in this window".
const WINDOW_DAYS: i64 = 400;

// ---- the rules, written out plainly ---------------------------------------

fn in_month(d: NaiveDate, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year(), d.month(), day)
}

fn days_of_month(d: NaiveDate) -> Vec<NaiveDate> {
    (1..=31).filter_map(|day| in_month(d, day)).collect()
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn dom_ok(f: &Fields, d: NaiveDate) -> bool {
    let month = days_of_month(d);
    let last = *month.last().unwrap();
    let last_weekday = *month.iter().rev().find(|x| !weekend(**x)).unwrap();
    let nearest = |n: u32| -> Option<NaiveDate> {
        let target = in_month(d, n)?;
        // The weekday closest to day n; on a tie, or at a month edge, the one inside the month.
        let candidates: Vec<&NaiveDate> = month.iter().filter(|x| !weekend(**x)).collect();
        let best = candidates.iter().min_by_key(|x| ((x.day() as i64 - n as i64).abs(), x.day() > target.day()))?;
        Some(**best)
    };
    f.dom.has(d.day())
        || (f.dom_special.last && d == last)
        || (f.dom_special.last_weekday && d == last_weekday)
        || f.dom_special.nearest_weekday.iter().any(|n| nearest(*n) == Some(d))
}

fn dow_ok(f: &Fields, d: NaiveDate) -> bool {
    let wd = d.weekday().num_days_from_sunday();
    let same: Vec<NaiveDate> = days_of_month(d).into_iter().filter(|x| x.weekday() == d.weekday()).collect();
    let k = same.iter().position(|x| *x == d).unwrap() as u32 + 1;
    f.dow.has(wd)
        || f.dow_special.last.iter().any(|n| *n == wd && same.last() == Some(&d))
        || f.dow_special.nth.iter().any(|(n, kk)| *n == wd && *kk == k)
}

fn date_ok(f: &Fields, d: NaiveDate) -> bool {
    if !f.months.has(d.month()) {
        return false;
    }
    let (a, b) = (dom_ok(f, d), dow_ok(f, d));
    if f.dom_star || f.dow_star { a && b } else { a || b }
}

/// The rules for one expression, with each date's verdict remembered
/// (only to keep the brute force quick).
struct Rules<'f> {
    f: &'f Fields,
    days: HashMap<NaiveDate, bool>,
}

impl Rules<'_> {
    fn date_ok(&mut self, d: NaiveDate) -> bool {
        let f = self.f;
        *self.days.entry(d).or_insert_with(|| date_ok(f, d))
    }

    fn matches(&mut self, l: NaiveDateTime) -> bool {
        let f = self.f;
        f.hours.has(l.hour()) && f.minutes.has(l.minute()) && f.seconds.has(l.second()) && self.date_ok(l.date())
    }
}

fn offset(tz: Tz, t: DateTime<Utc>) -> i64 {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() as i64
}

fn local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

/// Whether the job fires at instant `t` (a whole minute plus `second`).
fn fires_at(r: &mut Rules<'_>, class: Class, tz: Tz, t: DateTime<Utc>) -> bool {
    let here = local(tz, t);
    match class {
        Class::Elapsed => r.matches(here),
        Class::WallClock => {
            // Its wall time matches and this is that wall time's first occurrence…
            let first = match tz.from_local_datetime(&here) {
                LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc) == t,
                _ => true,
            };
            if r.matches(here) && first {
                return true;
            }
            // …or it is the first instant after a gap that swallowed a matching wall time.
            let before = t - Duration::minutes(1);
            let jump = offset(tz, t) - offset(tz, before);
            if jump <= 0 {
                return false;
            }
            let mut skipped = local(tz, before) + Duration::minutes(1);
            while skipped < here {
                if (0..60).any(|s| r.f.seconds.has(s) && r.matches(skipped + Duration::seconds(s as i64))) {
                    return true;
                }
                skipped += Duration::minutes(1);
            }
            false
        }
    }
}

/// The first fire strictly after `after`, instant by instant.
fn brute_next(f: &Fields, class: Class, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut r = Rules { f, days: HashMap::new() };
    let seconds: Vec<i64> = (0..60).filter(|s| f.seconds.has(*s)).map(i64::from).collect();
    let mut minute =
        after - Duration::seconds(after.second() as i64) - Duration::nanoseconds(after.nanosecond() as i64);
    let end = after + Duration::days(WINDOW_DAYS);
    while minute < end {
        let here = local(tz, minute);
        // A day that cannot match is skipped (the times a gap swallows are on
        // the same date), leaving two hours of margin for DST.
        if !r.date_ok(here.date()) {
            let to_midnight = 1440 - i64::from(here.hour() * 60 + here.minute());
            minute += Duration::minutes((to_midnight - 120).max(1));
            continue;
        }
        for s in &seconds {
            let t = minute + Duration::seconds(*s);
            if t > after && (class == Class::Elapsed || *s == 0) && fires_at(&mut r, class, tz, t) {
                return Some(t);
            }
        }
        minute += Duration::minutes(1);
    }
    None
}

// ---- random expressions ----------------------------------------------------

fn expression() -> impl Strategy<Value = String> {
    let second = prop_oneof![Just("0"), Just("30"), Just("*/20"), Just("15,45")];
    let minute = prop_oneof![
        Just("*"),
        Just("0"),
        Just("*/15"),
        Just("5-10"),
        Just("0,30"),
        Just("*/7"),
        Just("45"),
        Just("10/25")
    ];
    let hour = prop_oneof![Just("*"), Just("2"), Just("1-3"), Just("*/2"), Just("0,12"), Just("2-3"), Just("9-17/4")];
    let dom = prop_oneof![
        Just("*"),
        Just("1"),
        Just("15"),
        Just("L"),
        Just("1-10"),
        Just("?"),
        Just("LW"),
        Just("15W"),
        Just("*/3"),
        Just("31")
    ];
    let month = prop_oneof![Just("*"), Just("3"), Just("10"), Just("1-6"), Just("*/2"), Just("MAR,APR,SEP,OCT")];
    let dow = prop_oneof![
        Just("*"),
        Just("1-5"),
        Just("0"),
        Just("7"),
        Just("5L"),
        Just("1#2"),
        Just("?"),
        Just("SUN"),
        Just("6#5")
    ];
    (proptest::bool::weighted(0.15), second, minute, hour, dom, month, dow).prop_map(|(six, s, mi, h, d, mo, w)| {
        if six { format!("{s} {mi} {h} {d} {mo} {w}") } else { format!("{mi} {h} {d} {mo} {w}") }
    })
}

fn rule() -> impl Strategy<Value = DstRule> {
    prop_oneof![4 => Just(DstRule::Auto), 1 => Just(DstRule::WallClock), 1 => Just(DstRule::Elapsed)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn next_fire_agrees_with_the_brute_force(
        expr in expression(),
        zone in proptest::sample::select(ZONES),
        rule in rule(),
        start_minute in 0i64..(365 * 24 * 60),
        start_second in 0i64..60,
    ) {
        let cron: Cron = expr.parse().unwrap();
        let tz: Tz = zone.parse().unwrap();
        let class = match (rule, cron.class()) {
            (DstRule::Auto, c) => c,
            (DstRule::WallClock, _) => Class::WallClock,
            (DstRule::Elapsed, _) => Class::Elapsed,
        };
        prop_assume!(!(class == Class::WallClock && cron.has_seconds()));
        let year = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut after = year + Duration::minutes(start_minute) + Duration::seconds(start_second);
        for _ in 0..4 {
            let fast = cron.next_after(after, tz, rule).map(|f| f.at);
            let slow = brute_next(cron.fields(), class, tz, after);
            match (fast, slow) {
                (Some(a), Some(b)) => prop_assert_eq!(a, b, "{} in {} ({:?}) after {}", expr, zone, rule, after),
                (fast, None) => prop_assert!(
                    fast.is_none_or(|a| a >= after + Duration::days(WINDOW_DAYS)),
                    "{} in {} ({:?}) after {}: search gave {:?}, brute force nothing within the window", expr, zone, rule, after, fast
                ),
                (None, Some(b)) => prop_assert!(false, "{} in {}: search gave nothing, brute force {}", expr, zone, b),
            }
            match fast {
                Some(a) => after = a,
                None => break,
            }
        }
    }
}

/// Each DST change of 2026 in each zone, checked exhaustively for shapes
/// that straddle it: every minute of the surrounding hours as a start.
#[test]
fn every_start_around_each_dst_change_agrees() {
    let shapes = [
        "30 2 * * *",
        "0,30 2 * * *",
        "15 1 * * *",
        "45 1 * * *",
        "*/15 * * * *",
        "0 * * * *",
        "*/5 2-3 * * *",
        "0 30 2 * * *",
    ];
    for zone in ZONES {
        let tz: Tz = zone.parse().unwrap();
        let mut t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        while t < end {
            let next = t + Duration::hours(1);
            if offset(tz, next) != offset(tz, t) {
                for shape in shapes {
                    let cron: Cron = shape.parse().unwrap();
                    let class = cron.class();
                    for m in (-4 * 60..4 * 60).step_by(7) {
                        let after = t + Duration::minutes(m);
                        let fast = cron.next_after(after, tz, DstRule::Auto).map(|f| f.at);
                        let slow = brute_next(cron.fields(), class, tz, after);
                        assert_eq!(fast, slow, "{shape} in {zone} after {after}");
                    }
                }
            }
            t = next;
        }
    }
}
