//! Cron semantics: every syntax form, every rejection (naming its field),
//! the day rule, and the DST rules in zones with 1-hour and 30-minute shifts.

use baton_model::cron::{Class, Cron, DstNote, DstRule};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The next `n` fires after `from`, as RFC 3339 in the zone.
fn fires(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
    fires_with(expr, tz, from, n, DstRule::Auto)
}

fn fires_with(expr: &str, tz: &str, from: &str, n: usize, rule: DstRule) -> Vec<String> {
    let cron: Cron = expr.parse().unwrap_or_else(|e| panic!("{expr}: {e}"));
    let zone: Tz = tz.parse().unwrap();
    cron.upcoming(utc(from), zone, rule, n).iter().map(|f| f.at.with_timezone(&zone).to_rfc3339()).collect()
}

fn rejected(expr: &str) -> String {
    expr.parse::<Cron>().expect_err(expr).to_string()
}

#[test]
fn field_forms() {
    let at = |expr: &str| fires(expr, "UTC", "2026-01-01T00:00:00Z", 4);
    assert_eq!(at("* * * * *")[..2], ["2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"]);
    assert_eq!(at("5 * * * *")[..2], ["2026-01-01T00:05:00+00:00", "2026-01-01T01:05:00+00:00"]);
    assert_eq!(
        at("1-3 0 * * *")[..3],
        ["2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00", "2026-01-01T00:03:00+00:00"]
    );
    assert_eq!(at("*/15 * * * *")[..2], ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00"]);
    assert_eq!(
        at("10-30/10 0 * * *"),
        [
            "2026-01-01T00:10:00+00:00",
            "2026-01-01T00:20:00+00:00",
            "2026-01-01T00:30:00+00:00",
            "2026-01-02T00:10:00+00:00"
        ]
    );
    assert_eq!(
        at("5/20 0 * * *")[..3],
        ["2026-01-01T00:05:00+00:00", "2026-01-01T00:25:00+00:00", "2026-01-01T00:45:00+00:00"]
    );
    assert_eq!(
        at("0 3,5-6 * * *")[..3],
        ["2026-01-01T03:00:00+00:00", "2026-01-01T05:00:00+00:00", "2026-01-01T06:00:00+00:00"]
    );
    assert_eq!(at("7-7 0 * * *")[..2], ["2026-01-01T00:07:00+00:00", "2026-01-02T00:07:00+00:00"]);
}

#[test]
fn seconds_come_first_in_six_fields() {
    let at = fires("*/20 0 0 * * *", "UTC", "2026-01-01T00:00:00Z", 3);
    assert_eq!(at, ["2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00", "2026-01-02T00:00:00+00:00"]);
    assert!("30 * * * * *".parse::<Cron>().unwrap().has_seconds());
}

#[test]
fn names_and_sunday_as_0_or_7() {
    let jan1 = "2026-01-01T00:00:00Z"; // a Thursday
    assert_eq!(fires("0 0 * jUl *", "UTC", jan1, 1), ["2026-07-01T00:00:00+00:00"]);
    assert_eq!(fires("0 0 * * mon-WED", "UTC", jan1, 2), ["2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00"]);
    let sundays = fires("0 0 * * 0", "UTC", jan1, 2);
    assert_eq!(sundays, fires("0 0 * * 7", "UTC", jan1, 2));
    assert_eq!(sundays, fires("0 0 * * SUN", "UTC", jan1, 2));
    assert_eq!(sundays[0], "2026-01-04T00:00:00+00:00");
    assert_eq!(
        fires("0 0 * * 5-7", "UTC", jan1, 3),
        ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00"]
    );
}

#[test]
fn day_of_month_extensions() {
    let from = "2026-01-01T00:00:00Z";
    assert_eq!(fires("0 0 L * *", "UTC", from, 2), ["2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00"]);
    // May 2026 ends on a Sunday: its last weekday is Friday the 29th.
    assert_eq!(fires("0 0 LW 5 *", "UTC", from, 1), ["2026-05-29T00:00:00+00:00"]);
    // 2026-08-01 is a Saturday: 1W moves forward to Monday the 3rd, not into July.
    assert_eq!(fires("0 0 1W 8 *", "UTC", from, 1), ["2026-08-03T00:00:00+00:00"]);
    // 2026-08-15 is a Saturday: 15W is Friday the 14th.
    assert_eq!(fires("0 0 15W 8 *", "UTC", from, 1), ["2026-08-14T00:00:00+00:00"]);
    assert_eq!(fires("0 0 ? * 1", "UTC", from, 1), fires("0 0 * * 1", "UTC", from, 1));
}

#[test]
fn day_of_week_extensions() {
    let from = "2026-01-01T00:00:00Z";
    assert_eq!(fires("0 0 * * 5L", "UTC", from, 2), ["2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"]);
    assert_eq!(fires("0 0 * * FRIL", "UTC", from, 1), ["2026-01-30T00:00:00+00:00"]);
    assert_eq!(fires("0 0 * * 2#2", "UTC", from, 2), ["2026-01-13T00:00:00+00:00", "2026-02-10T00:00:00+00:00"]);
    // A fifth Monday exists only in some months.
    assert_eq!(fires("0 0 * * 1#5", "UTC", from, 2), ["2026-03-30T00:00:00+00:00", "2026-06-29T00:00:00+00:00"]);
}

#[test]
fn nicknames() {
    let from = "2026-05-05T10:30:00Z";
    assert_eq!(fires("@yearly", "UTC", from, 1), ["2027-01-01T00:00:00+00:00"]);
    assert_eq!(fires("@annually", "UTC", from, 1), fires("@yearly", "UTC", from, 1));
    assert_eq!(fires("@monthly", "UTC", from, 1), ["2026-06-01T00:00:00+00:00"]);
    assert_eq!(fires("@weekly", "UTC", from, 1), ["2026-05-10T00:00:00+00:00"]);
    assert_eq!(fires("@daily", "UTC", from, 1), ["2026-05-06T00:00:00+00:00"]);
    assert_eq!(fires("@midnight", "UTC", from, 1), fires("@daily", "UTC", from, 1));
    assert_eq!(fires("@hourly", "UTC", from, 1), ["2026-05-05T11:00:00+00:00"]);
}

#[test]
fn the_day_rule() {
    let from = "2026-01-01T00:00:00Z"; // Thursday
    // Neither day field starts with `*`: the 1st OR a Monday.
    assert_eq!(
        fires("0 0 1 * 1", "UTC", from, 3),
        ["2026-01-05T00:00:00+00:00", "2026-01-12T00:00:00+00:00", "2026-01-19T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 1,15 * 1", "UTC", "2026-01-31T00:00:00Z", 2),
        ["2026-02-01T00:00:00+00:00", "2026-02-02T00:00:00+00:00"]
    );
    // One starts with `*` (a step counts): both must match.
    assert_eq!(fires("0 0 */2 * 1", "UTC", from, 2), ["2026-01-05T00:00:00+00:00", "2026-01-19T00:00:00+00:00"]);
    assert_eq!(fires("0 0 1-7 * */7", "UTC", from, 1), ["2026-01-04T00:00:00+00:00"]);
}

#[test]
fn next_is_strictly_after() {
    assert_eq!(fires("0 12 * * *", "UTC", "2026-01-01T12:00:00Z", 1), ["2026-01-02T12:00:00+00:00"]);
}

#[test]
fn never_fires() {
    let cron: Cron = "0 0 30 2 *".parse().unwrap();
    assert!(cron.next_after(utc("2026-01-01T00:00:00Z"), chrono_tz::UTC, DstRule::Auto).is_none());
}

#[test]
fn rejections_name_the_field_and_the_reason() {
    assert_eq!(rejected("60 * * * *"), "minute field `60`: 60 is out of range 0-59");
    assert_eq!(rejected("0 24 * * *"), "hour field `24`: 24 is out of range 0-23");
    assert_eq!(rejected("0 0 0 * *"), "day-of-month field `0`: 0 is out of range 1-31");
    assert_eq!(rejected("0 0 32 * *"), "day-of-month field `32`: 32 is out of range 1-31");
    assert_eq!(rejected("0 0 * 13 *"), "month field `13`: 13 is out of range 1-12");
    assert_eq!(rejected("0 0 * * 8"), "day-of-week field `8`: 8 is out of range 0-7");
    assert_eq!(rejected("60 0 0 * * *"), "second field `60`: 60 is out of range 0-59");
    assert_eq!(rejected("*/0 * * * *"), "minute field `*/0`: a step must be at least 1");
    assert_eq!(rejected("0 5-1 * * *"), "hour field `5-1`: the range 5-1 is reversed (ranges do not wrap around)");
    assert_eq!(rejected("٣ * * * *"), "minute field `٣`: `٣` is not an ASCII digit");
    assert_eq!(rejected("0 0 * FOO *"), "month field `FOO`: `FOO` is not a number or a name JAN-DEC");
    assert_eq!(
        rejected("0 0 * * MON#6"),
        "day-of-week field `MON#6`: in `MON#6`, 6 is out of range 1-5 (the k-th weekday of a month)"
    );
    assert_eq!(rejected("1,,2 * * * *"), "minute field `1,,2`: a list has an empty item");
    assert!(rejected("* * * * * * *").contains("found 7"));
    assert!(rejected("* * * *").contains("found 4"));
    assert!(rejected("@reboot").contains("`@reboot` is not supported"));
    assert!(rejected("@often").contains("unknown nickname `@often`"));
    assert_eq!(rejected("   "), "the expression is empty");
    assert!(rejected("0 0 L * L").contains("day-of-week field `L`"));
}

#[test]
fn classes_follow_debian_cron() {
    let class = |e: &str| e.parse::<Cron>().unwrap().class();
    assert_eq!(class("30 2 * * *"), Class::WallClock);
    assert_eq!(class("0,30 9-17 * * 1-5"), Class::WallClock);
    assert_eq!(class("@daily"), Class::WallClock);
    assert_eq!(class("*/5 2 * * *"), Class::Elapsed);
    assert_eq!(class("0 */2 * * *"), Class::Elapsed);
    assert_eq!(class("@hourly"), Class::Elapsed);
    assert_eq!(class("0 30 2 * * *"), Class::Elapsed, "6-field jobs follow elapsed time");
}

const AMS: &str = "Europe/Amsterdam";

#[test]
fn spring_forward_wall_clock_fires_once_after_the_gap() {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST in Amsterdam.
    let cron: Cron = "30 2 * * *".parse().unwrap();
    let fires = cron.upcoming(utc("2026-03-28T12:00:00Z"), AMS.parse().unwrap(), DstRule::Auto, 2);
    assert_eq!(fires[0].at, utc("2026-03-29T01:00:00Z"), "03:00 CEST, the first instant after the gap");
    assert!(matches!(fires[0].note, Some(DstNote::Moved { .. })));
    assert_eq!(fires[1].at, utc("2026-03-30T00:30:00Z"));
    let merged = "0,30 2 * * *".parse::<Cron>().unwrap();
    let fires = merged.upcoming(utc("2026-03-28T12:00:00Z"), AMS.parse().unwrap(), DstRule::Auto, 2);
    assert_eq!(fires[0].at, utc("2026-03-29T01:00:00Z"));
    assert!(matches!(&fires[0].note, Some(DstNote::Merged { scheduled }) if scheduled.len() == 2));
    assert_eq!(fires[1].at, utc("2026-03-30T00:00:00Z"));
}

#[test]
fn spring_forward_elapsed_skips_the_gap() {
    let at = fires("*/30 * * * *", AMS, "2026-03-29T00:15:00Z", 3);
    assert_eq!(at, ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"]);
}

#[test]
fn fall_back_wall_clock_fires_once_and_elapsed_twice() {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET: 02:00-03:00 happens twice.
    assert_eq!(
        fires("30 2 * * *", AMS, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
    let cron: Cron = "30 * * * *".parse().unwrap();
    let fires = cron.upcoming(utc("2026-10-24T23:45:00Z"), AMS.parse().unwrap(), DstRule::Auto, 3);
    let at: Vec<DateTime<Utc>> = fires.iter().map(|f| f.at).collect();
    assert_eq!(at, [utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z"), utc("2026-10-25T02:30:00Z")]);
    assert_eq!(fires[1].note, Some(DstNote::Repeated));
}

#[test]
fn the_class_can_be_overridden() {
    // Wall clock forced on an elapsed-time shape, and the other way round.
    assert_eq!(
        fires_with("*/30 2 * * *", AMS, "2026-03-28T12:00:00Z", 1, DstRule::WallClock),
        ["2026-03-29T03:00:00+02:00"]
    );
    assert_eq!(
        fires_with("30 2 * * *", AMS, "2026-03-28T12:00:00Z", 1, DstRule::Elapsed),
        ["2026-03-30T02:30:00+02:00"]
    );
}

#[test]
fn lord_howe_shifts_by_thirty_minutes() {
    // 2026-04-05 02:00 LHDT (+11) becomes 01:30 LHST (+10:30).
    let at = fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00Z", 1);
    assert_eq!(at, ["2026-04-05T01:45:00+11:00"], "a repeated time fires at its first occurrence");
    let cron: Cron = "45 1 * * *".parse().unwrap();
    let twice = cron.upcoming(utc("2026-04-04T12:00:00Z"), "Australia/Lord_Howe".parse().unwrap(), DstRule::Elapsed, 2);
    assert_eq!((twice[1].at - twice[0].at).num_minutes(), 30);
    // 2026-10-04 02:00 LHST becomes 02:30 LHDT: 02:15 is in the gap.
    assert_eq!(fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", 1), ["2026-10-04T02:30:00+11:00"]);
    // Found by the property test: the search for the gap's end from months
    // before it once ended on a fraction of a second (…:00.5859375).
    let from_january = fires("10/25 2 ? 10 0", "Australia/Lord_Howe", "2026-01-01T00:00:00Z", 1);
    assert_eq!(from_january, ["2026-10-04T02:30:00+11:00"]);
}

#[test]
fn explain_says_when_in_words() {
    let say = |e: &str| e.parse::<Cron>().unwrap().explain();
    assert_eq!(say("0 9 * * 1-5"), "at 09:00, Monday through Friday");
    assert_eq!(say("*/15 * * * *"), "every 15 minutes");
    assert_eq!(say("30 2 L * *"), "at 02:30, on the last day of the month");
    assert_eq!(say("0 0 * * 5L"), "at 00:00, on the last Friday of the month");
    assert_eq!(say("0 8 1 1,7 *"), "at 08:00, on day 1 of the month, in January and July");
    assert_eq!(say("0 0 1 * MON"), "at 00:00, on day 1 of the month or on Monday");
    assert_eq!(say("@hourly"), "@hourly: at minute 0 of every hour");
    assert_eq!(say("*/20 * * * * *"), "every 20 seconds");
    assert_eq!(say("0 */5 9-17 * * *"), "every 5 minutes during hours 09 through 17");
}

#[test]
fn a_fire_keeps_its_wall_time() {
    let cron: Cron = "0 9 * * *".parse().unwrap();
    let fire =
        cron.next_after(utc("2026-06-01T00:00:00Z"), "America/New_York".parse().unwrap(), DstRule::Auto).unwrap();
    assert_eq!(fire.local.to_string(), "2026-06-01 09:00:00");
    assert_eq!(fire.at, Utc.with_ymd_and_hms(2026, 6, 1, 13, 0, 0).unwrap());
}
