//! Reading a cron expression exactly as baton defines it (docs/schedules.md):
//! 5 fields, or 6 with seconds first; `*`, `a`, `a-b`, `*/n`, `a-b/n`, `a/n`,
//! lists; names `JAN`–`DEC`, `SUN`–`SAT`; `L`, `LW`, `nW`, `?` in
//! day-of-month; `nL`, `n#k`, `?` in day-of-week; `@` nicknames. Anything
//! else is refused with the field and the reason.

use std::fmt;

use super::fields::{Bits, DomSpecial, DowSpecial, Fields};

/// Why an expression was refused, naming the field when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    pub field: Option<&'static str>,
    pub text: String,
    pub reason: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{field} field `{}`: {}", self.text, self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

impl std::error::Error for CronError {}

/// Whether a job follows the wall clock or elapsed time across DST changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A gap's times fire once after the gap; a repeated time fires once.
    WallClock,
    /// A gap's times never fire; a repeated time fires twice.
    Elapsed,
}

struct Spec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value of `names[0]`.
    names_from: u32,
}

const SECOND: Spec = Spec { name: "second", min: 0, max: 59, names: &[], names_from: 0 };
const MINUTE: Spec = Spec { name: "minute", min: 0, max: 59, names: &[], names_from: 0 };
const HOUR: Spec = Spec { name: "hour", min: 0, max: 23, names: &[], names_from: 0 };
const DOM: Spec = Spec { name: "day-of-month", min: 1, max: 31, names: &[], names_from: 0 };
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    names_from: 1,
};
const DOW: Spec = Spec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    names_from: 0,
};

const NICKNAMES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Parses `text`; returns the fields, the DST class, and whether it has seconds.
pub fn parse(text: &str) -> Result<(Fields, Class, bool), CronError> {
    let whole = |reason: String| CronError { field: None, text: text.to_string(), reason };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(whole("the expression is empty".into()));
    }
    let expanded = if trimmed.starts_with('@') { nickname(trimmed)? } else { trimmed };
    let parts: Vec<&str> = expanded.split_ascii_whitespace().collect();
    let (seconds, rest) = match parts.len() {
        5 => ("0", &parts[..]),
        6 => (parts[0], &parts[1..]),
        n => {
            return Err(whole(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found {n}"
            )));
        }
    };
    let [minute, hour, dom, month, dow] = [rest[0], rest[1], rest[2], rest[3], rest[4]];
    let (dom_bits, dom_special) = day_of_month(dom)?;
    let (dow_bits, dow_special) = day_of_week(dow)?;
    let fields = Fields {
        seconds: plain(seconds, &SECOND)?,
        minutes: plain(minute, &MINUTE)?,
        hours: plain(hour, &HOUR)?,
        dom: dom_bits,
        dom_special,
        months: plain(month, &MONTH)?,
        dow: dow_bits,
        dow_special,
        dom_star: starts_with_star(dom),
        dow_star: starts_with_star(dow),
    };
    // Debian cron's rule: a job whose minute and hour are both fixed keeps to
    // the wall clock; every other job (all 6-field ones) to elapsed time.
    let wall_clock = parts.len() == 5 && !minute.starts_with('*') && !hour.starts_with('*');
    Ok((fields, if wall_clock { Class::WallClock } else { Class::Elapsed }, parts.len() == 6))
}

fn starts_with_star(text: &str) -> bool {
    text.starts_with('*') || text.starts_with('?')
}

fn nickname(text: &str) -> Result<&'static str, CronError> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, expansion)) = NICKNAMES.iter().find(|(name, _)| *name == lower) {
        return Ok(expansion);
    }
    let reason = if lower == "@reboot" {
        "`@reboot` is not supported: a schedule fires at times, not when a node starts".to_string()
    } else {
        let known: Vec<&str> = NICKNAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown nickname `{text}` (known: {})", known.join(", "))
    };
    Err(CronError { field: None, text: text.to_string(), reason })
}

fn error(spec: &Spec, text: &str, reason: impl Into<String>) -> CronError {
    CronError { field: Some(spec.name), text: text.to_string(), reason: reason.into() }
}

/// A field of numbers, ranges and steps only.
fn plain(text: &str, spec: &Spec) -> Result<Bits, CronError> {
    let mut bits = Bits::default();
    for term in terms(text, spec)? {
        range_term(term, text, spec, &mut bits)?;
    }
    Ok(bits)
}

fn terms<'t>(text: &'t str, spec: &Spec) -> Result<Vec<&'t str>, CronError> {
    let terms: Vec<&str> = text.split(',').collect();
    if terms.iter().any(|t| t.is_empty()) {
        return Err(error(spec, text, "a list has an empty item"));
    }
    Ok(terms)
}

/// `*`, `?` (day fields), `a`, `a-b`, with an optional `/n`.
fn range_term(term: &str, field: &str, spec: &Spec, bits: &mut Bits) -> Result<(), CronError> {
    let (range, step) = match term.split_once('/') {
        Some((range, step)) => (range, Some(number(step, field, spec, false)?)),
        None => (term, None),
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(error(spec, field, "a step must be at least 1"));
    }
    let day_field = spec.name == DOM.name || spec.name == DOW.name;
    let (from, to) = if range == "*" || (range == "?" && day_field) {
        (spec.min, spec.max)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a, b) = (value(a, field, spec)?, value(b, field, spec)?);
        if a > b {
            return Err(error(spec, field, format!("the range {a}-{b} is reversed (ranges do not wrap around)")));
        }
        (a, b)
    } else {
        let a = value(range, field, spec)?;
        // `a/n` runs from a to the field's end.
        (a, if term.contains('/') { spec.max } else { a })
    };
    let mut v = from;
    while v <= to {
        // Day-of-week 7 is Sunday, as 0 is.
        bits.add(if spec.name == DOW.name && v == 7 { 0 } else { v });
        v += step;
    }
    Ok(())
}

/// A number or a name, in the field's range.
fn value(text: &str, field: &str, spec: &Spec) -> Result<u32, CronError> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = spec.names.iter().position(|n| *n == upper) {
        return Ok(spec.names_from + i as u32);
    }
    let v = number(text, field, spec, true)?;
    if v < spec.min || v > spec.max {
        return Err(error(spec, field, format!("{v} is out of range {}-{}", spec.min, spec.max)));
    }
    Ok(v)
}

fn number(text: &str, field: &str, spec: &Spec, may_be_name: bool) -> Result<u32, CronError> {
    if let Some(c) = text.chars().find(|c| c.is_numeric() && !c.is_ascii_digit()) {
        return Err(error(spec, field, format!("`{c}` is not an ASCII digit")));
    }
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        let names = match (may_be_name, spec.names.first(), spec.names.last()) {
            (true, Some(first), Some(last)) => format!(" or a name {first}-{last}"),
            _ => String::new(),
        };
        return Err(error(spec, field, format!("`{text}` is not a number{names}")));
    }
    text.parse().map_err(|_| error(spec, field, format!("{text} is out of range {}-{}", spec.min, spec.max)))
}

fn day_of_month(text: &str) -> Result<(Bits, DomSpecial), CronError> {
    let mut bits = Bits::default();
    let mut special = DomSpecial::default();
    for term in terms(text, &DOM)? {
        let upper = term.to_ascii_uppercase();
        if upper == "L" {
            special.last = true;
        } else if upper == "LW" {
            special.last_weekday = true;
        } else if let Some(n) = upper.strip_suffix('W') {
            special.nearest_weekday.push(value(n, text, &DOM)?);
        } else {
            range_term(term, text, &DOM, &mut bits)?;
        }
    }
    Ok((bits, special))
}

fn day_of_week(text: &str) -> Result<(Bits, DowSpecial), CronError> {
    let mut bits = Bits::default();
    let mut special = DowSpecial::default();
    let sunday_as_zero = |v: u32| if v == 7 { 0 } else { v };
    for term in terms(text, &DOW)? {
        let upper = term.to_ascii_uppercase();
        if let Some((n, k)) = upper.split_once('#') {
            let k = number(k, text, &DOW, false)?;
            if !(1..=5).contains(&k) {
                return Err(error(
                    &DOW,
                    text,
                    format!("in `{term}`, {k} is out of range 1-5 (the k-th weekday of a month)"),
                ));
            }
            special.nth.push((sunday_as_zero(value(n, text, &DOW)?), k));
        } else if let Some(n) = upper.strip_suffix('L').filter(|n| !n.is_empty()) {
            special.last.push(sunday_as_zero(value(n, text, &DOW)?));
        } else {
            range_term(term, text, &DOW, &mut bits)?;
        }
    }
    Ok((bits, special))
}
