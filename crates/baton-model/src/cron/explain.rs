//! A cron expression in words: "at 09:00, Monday through Friday".

use super::fields::{Bits, Fields};

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];

pub fn explain(source: &str, f: &Fields, seconds: bool) -> String {
    if source.starts_with('@') {
        let expanded = explain_fields(f, seconds);
        return format!("{source}: {expanded}");
    }
    explain_fields(f, seconds)
}

fn explain_fields(f: &Fields, seconds: bool) -> String {
    let parts = [time(f, seconds), days(f), months(f.months)];
    parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(", ")
}

fn time(f: &Fields, seconds: bool) -> String {
    let one = |b: Bits| (b.count() == 1).then(|| b.members().next().unwrap_or(0));
    let sec = if seconds { one(f.seconds) } else { Some(0) };
    if let (Some(h), Some(m), Some(s)) = (one(f.hours), one(f.minutes), sec) {
        return if s == 0 { format!("at {h:02}:{m:02}") } else { format!("at {h:02}:{m:02}:{s:02}") };
    }
    let every_hour = f.hours.count() == 24;
    let plural = if f.hours.count() > 1 { "hours" } else { "hour" };
    let hours = if every_hour {
        "every hour".to_string()
    } else {
        format!("during {plural} {}", list(f.hours, |n| format!("{n:02}")))
    };
    let minutes = match (every(f.minutes, 60), one(f.minutes)) {
        (Some(1), _) => "every minute".to_string(),
        (Some(k), _) => format!("every {k} minutes"),
        (None, Some(m)) if every_hour => format!("at minute {m} of every hour"),
        (None, _) => format!("at minute {}", list(f.minutes, |n| n.to_string())),
    };
    let mut text = if every_hour { minutes } else { format!("{minutes} {hours}") };
    if seconds {
        let secs = match (every(f.seconds, 60), one(f.seconds)) {
            (Some(1), _) => "every second".to_string(),
            (Some(k), _) => format!("every {k} seconds"),
            (None, Some(0)) => String::new(),
            (None, _) => format!("at second {}", list(f.seconds, |n| n.to_string())),
        };
        let every_minute = f.minutes.count() == 60 && every_hour;
        text = match (secs.is_empty(), every_minute) {
            (true, _) => text,
            (false, true) => secs,
            (false, false) => format!("{secs}, {text}"),
        };
    }
    text
}

/// `k` when the set is 0, k, 2k, … to the end of a field of `size`.
fn every(b: Bits, size: u32) -> Option<u32> {
    let members: Vec<u32> = b.members().collect();
    let k = match members.as_slice() {
        [0] => return None,
        [0, second, ..] => *second,
        _ => return None,
    };
    let expected: Vec<u32> = (0..size).step_by(k as usize).collect();
    (members == expected).then_some(k)
}

/// `9-17`, `1, 15`, `MON-FRI` style: runs of three or more become ranges.
fn list(b: Bits, name: impl Fn(u32) -> String) -> String {
    let members: Vec<u32> = b.members().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < members.len() {
        let mut j = i;
        while j + 1 < members.len() && members[j + 1] == members[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            out.push(format!("{} through {}", name(members[i]), name(members[j])));
        } else {
            out.extend(members[i..=j].iter().map(|n| name(*n)));
        }
        i = j + 1;
    }
    join_and(&out)
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn days(f: &Fields) -> String {
    let dom = if f.dom_star { None } else { Some(dom_words(f)) };
    let dow = if f.dow_star { None } else { Some(dow_words(f)) };
    match (dom, dow) {
        (None, None) => String::new(),
        (Some(d), None) | (None, Some(d)) => d,
        (Some(a), Some(b)) => format!("{a} or {b}"),
    }
}

fn dom_words(f: &Fields) -> String {
    let s = &f.dom_special;
    let mut words = Vec::new();
    if f.dom.count() > 0 {
        words.push(format!("on day {} of the month", list(f.dom, |n| n.to_string())));
    }
    if s.last {
        words.push("on the last day of the month".into());
    }
    if s.last_weekday {
        words.push("on the last weekday of the month".into());
    }
    for n in &s.nearest_weekday {
        words.push(format!("on the weekday nearest day {n}"));
    }
    join_and(&words)
}

fn dow_words(f: &Fields) -> String {
    let s = &f.dow_special;
    let mut words = Vec::new();
    if f.dow.count() > 0 {
        let names = list(f.dow, |n| WEEKDAYS[n as usize % 7].to_string());
        words.push(if f.dow.count() >= 3 && names.contains("through") { names } else { format!("on {names}") });
    }
    for n in &s.last {
        words.push(format!("on the last {} of the month", WEEKDAYS[*n as usize % 7]));
    }
    for (n, k) in &s.nth {
        words.push(format!(
            "on the {} {} of the month",
            ORDINALS[(*k as usize).saturating_sub(1) % 5],
            WEEKDAYS[*n as usize % 7]
        ));
    }
    join_and(&words)
}

fn months(b: Bits) -> String {
    if b.count() == 12 {
        return String::new();
    }
    format!("in {}", list(b, |n| MONTHS[(n as usize + 11) % 12].to_string()))
}
