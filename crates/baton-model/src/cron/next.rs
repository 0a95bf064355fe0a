//! The next fire after an instant: local wall-time matching, then the DST
//! rules of the job's class.

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::fields::Fields;
use super::parse::Class;

/// How far ahead a search goes before it concludes "never".
pub const SEARCH_YEARS: i32 = 50;

/// What a DST change did to a fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DstNote {
    /// The wall time did not exist (clocks went forward): fired right after the gap.
    Moved { scheduled: NaiveDateTime },
    /// Several wall times fell in one gap: they fired once, right after it.
    Merged { scheduled: Vec<NaiveDateTime> },
    /// The wall time happened twice (clocks went back): this is the second.
    Repeated,
}

/// One fire: the instant, the wall time it stands for, and any DST note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    pub at: DateTime<Utc>,
    pub local: NaiveDateTime,
    pub note: Option<DstNote>,
}

impl Fire {
    /// What a DST change did to this fire, in words.
    pub fn dst_description(&self) -> Option<String> {
        Some(match self.note.as_ref()? {
            DstNote::Moved { scheduled } => {
                format!("{scheduled} does not exist (clocks went forward): fired right after the gap")
            }
            DstNote::Merged { scheduled } => {
                let times: Vec<String> = scheduled.iter().map(|t| t.time().to_string()).collect();
                format!("{} fell in the gap (clocks went forward): fired once, right after it", times.join(", "))
            }
            DstNote::Repeated => format!("{} happens twice (clocks went back): this is the second time", self.local),
        })
    }
}

/// The first fire strictly after `after`.
pub fn next(fields: &Fields, class: Class, tz: Tz, after: DateTime<Utc>) -> Option<Fire> {
    match class {
        Class::Elapsed => next_elapsed(fields, tz, after),
        Class::WallClock => next_wall_clock(fields, tz, after),
    }
}

fn offset_at(tz: Tz, t: DateTime<Utc>) -> i64 {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() as i64
}

fn local_of(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

fn horizon(after: DateTime<Utc>) -> NaiveDateTime {
    let y = after.year() + SEARCH_YEARS;
    NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(NaiveDate::MAX).and_time(NaiveTime::MIN)
}

/// Elapsed time: the first instant after `after` whose local time matches.
/// Within one UTC offset, instants and wall times run in step, so the search
/// walks offset segments: the next match at the current offset, unless the
/// offset changes first.
fn next_elapsed(fields: &Fields, tz: Tz, after: DateTime<Utc>) -> Option<Fire> {
    let limit = horizon(after);
    let mut from = after + Duration::seconds(1);
    loop {
        let offset = offset_at(tz, from);
        let start = from.naive_utc() + Duration::seconds(offset);
        let local = next_local(fields, start, limit)?;
        let at = DateTime::from_naive_utc_and_offset(local - Duration::seconds(offset), Utc);
        match first_offset_change(tz, from, at, offset) {
            None => {
                let repeated = matches!(tz.from_local_datetime(&local), LocalResult::Ambiguous(_, late) if late.with_timezone(&Utc) == at);
                return Some(Fire { at, local, note: repeated.then_some(DstNote::Repeated) });
            }
            Some(change) => from = change,
        }
    }
}

/// The first instant in `(from, to]` whose offset is not `offset`. The span
/// is sampled a week at a time (shorter than any DST period), and the first
/// sample with another offset is bisected to the second of the change.
fn first_offset_change(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, offset: i64) -> Option<DateTime<Utc>> {
    let mut lo = from;
    loop {
        let hi = (lo + Duration::days(7)).min(to);
        if offset_at(tz, hi) != offset {
            return Some(bisect(tz, lo, hi));
        }
        if hi >= to {
            return None;
        }
        lo = hi;
    }
}

/// The first instant in `(lo, hi]` whose offset differs from `lo`'s.
fn bisect(tz: Tz, lo: DateTime<Utc>, hi: DateTime<Utc>) -> DateTime<Utc> {
    let before = offset_at(tz, lo);
    let at = |seconds: i64| DateTime::from_timestamp(seconds, 0).unwrap_or(hi);
    // Offsets change on whole seconds, so only those are searched: halving
    // an odd span of seconds would otherwise end on a fraction of one.
    let (mut lo, mut hi) = (lo.timestamp(), hi.timestamp() + i64::from(hi.timestamp_subsec_nanos() > 0));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_at(tz, at(mid)) == before { lo = mid } else { hi = mid }
    }
    at(hi)
}

/// Wall clock: matching wall times in order; a time in a gap fires at the
/// end of the gap (several merge into that one fire); a repeated time
/// fires at its first occurrence only.
fn next_wall_clock(fields: &Fields, tz: Tz, after: DateTime<Utc>) -> Option<Fire> {
    let limit = horizon(after);
    // Start early enough to see wall times whose first occurrence is after
    // `after` even when `after` sits in the second pass of a repeated hour.
    let mut start = local_of(tz, after) - Duration::hours(3);
    let mut pending: Option<Fire> = None;
    loop {
        let local = next_local(fields, start, limit);
        let fire = local.map(|l| wall_fire(tz, l));
        match (pending.take(), fire) {
            // A gap fire waits: later matches in the same gap merge into it.
            (Some(mut gap), Some(f)) if f.at == gap.at => {
                merge(&mut gap, f.local);
                pending = Some(gap);
            }
            (Some(gap), _) => return Some(gap),
            (None, None) => return None,
            (None, Some(f)) if f.at <= after => {}
            (None, Some(f)) if f.note.is_some() => pending = Some(f),
            (None, Some(f)) => return Some(f),
        }
        start = local? + Duration::seconds(1);
    }
}

fn merge(gap: &mut Fire, also: NaiveDateTime) {
    let scheduled = match gap.note.take() {
        Some(DstNote::Moved { scheduled }) => vec![scheduled, also],
        Some(DstNote::Merged { mut scheduled }) => {
            scheduled.push(also);
            scheduled
        }
        _ => vec![also],
    };
    gap.note = Some(DstNote::Merged { scheduled });
}

/// Where a wall time fires under the wall-clock rule.
fn wall_fire(tz: Tz, local: NaiveDateTime) -> Fire {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Fire { at: t.with_timezone(&Utc), local, note: None },
        LocalResult::Ambiguous(first, _) => Fire { at: first.with_timezone(&Utc), local, note: None },
        LocalResult::None => Fire { at: gap_end(tz, local), local, note: Some(DstNote::Moved { scheduled: local }) },
    }
}

/// The first instant after the gap that swallowed `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Before the gap the offset is smaller: `local` read at the later offset
    // is before the change, read at the earlier one after it.
    let probe = DateTime::from_naive_utc_and_offset(local, Utc);
    let (a, b) = (offset_at(tz, probe - Duration::days(1)), offset_at(tz, probe + Duration::days(1)));
    let (lo_off, hi_off) = (a.min(b), a.max(b));
    let lo = DateTime::from_naive_utc_and_offset(local - Duration::seconds(hi_off), Utc);
    let hi = DateTime::from_naive_utc_and_offset(local - Duration::seconds(lo_off), Utc);
    bisect(tz, lo, hi)
}

/// The first wall time ≥ `start` (and before `limit`) matching every field.
pub fn next_local(fields: &Fields, start: NaiveDateTime, limit: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut date = start.date();
    let mut from = start.time();
    while date.and_time(NaiveTime::MIN) < limit {
        if !fields.months.has(date.month()) {
            date = first_of_next_month(date)?;
            from = NaiveTime::MIN;
            continue;
        }
        if fields.date_matches(date)
            && let Some(t) = first_time(fields, from)
        {
            return Some(date.and_time(t));
        }
        date = date.succ_opt()?;
        from = NaiveTime::MIN;
    }
    None
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// The first time of day ≥ `from` matching hour, minute and second.
fn first_time(fields: &Fields, from: NaiveTime) -> Option<NaiveTime> {
    let mut h = fields.hours.first_from(from.hour())?;
    loop {
        let same_hour = h == from.hour();
        let m_from = if same_hour { from.minute() } else { 0 };
        let mut m = fields.minutes.first_from(m_from);
        while let Some(minute) = m {
            let s_from = if same_hour && minute == from.minute() { from.second() } else { 0 };
            if let Some(s) = fields.seconds.first_from(s_from) {
                return NaiveTime::from_hms_opt(h, minute, s);
            }
            m = fields.minutes.first_from(minute + 1);
        }
        h = fields.hours.first_from(h + 1).filter(|h| *h < 24)?;
    }
}
