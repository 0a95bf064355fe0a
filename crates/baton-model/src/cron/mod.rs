//! Cron expressions with baton's exact semantics: the syntax, the Vixie day
//! rule, local wall time in an IANA zone, and the two DST classes (see
//! docs/schedules.md). Pure: the caller gives the instant to search from.

mod explain;
mod fields;
mod next;
mod parse;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use fields::Fields;
pub use next::{DstNote, Fire, SEARCH_YEARS};
pub use parse::{Class, CronError};

/// Which DST rule a schedule follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DstRule {
    /// Debian cron's rule: fixed minute and hour (5 fields) keep to the wall
    /// clock; everything else to elapsed time.
    #[default]
    Auto,
    WallClock,
    Elapsed,
}

impl DstRule {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(DstRule::Auto),
            "wall_clock" => Some(DstRule::WallClock),
            "elapsed" => Some(DstRule::Elapsed),
            _ => None,
        }
    }
}

/// A checked cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    source: String,
    fields: Fields,
    class: Class,
    seconds: bool,
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(text: &str) -> Result<Self, CronError> {
        let (fields, class, seconds) = parse::parse(text)?;
        Ok(Cron { source: text.trim().to_string(), fields, class, seconds })
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Cron {
    /// The class the expression has by Debian cron's rule.
    pub fn class(&self) -> Class {
        self.class
    }

    pub fn has_seconds(&self) -> bool {
        self.seconds
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    fn class_under(&self, rule: DstRule) -> Class {
        match rule {
            DstRule::Auto => self.class,
            DstRule::WallClock => Class::WallClock,
            DstRule::Elapsed => Class::Elapsed,
        }
    }

    /// The first fire strictly after `after`, matching wall time in `tz`;
    /// `None` if there is none within 50 years.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz, rule: DstRule) -> Option<Fire> {
        next::next(&self.fields, self.class_under(rule), tz, after)
    }

    /// The next `n` fires after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, tz: Tz, rule: DstRule, n: usize) -> Vec<Fire> {
        let mut fires: Vec<Fire> = Vec::with_capacity(n);
        let mut from = after;
        while fires.len() < n {
            let Some(fire) = self.next_after(from, tz, rule) else { break };
            from = fire.at;
            fires.push(fire);
        }
        fires
    }

    /// When it fires, in words: "at 09:00, Monday through Friday".
    pub fn explain(&self) -> String {
        explain::explain(&self.source, &self.fields, self.seconds)
    }
}
