//! Durations as users write them (`30s`, `5m`, `1h30m`, `250ms`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration accepted: beyond it, instants stop being representable.
const MAX: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// A span of time written with units; stored and shown in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration: {reason} (write e.g. `250ms`, `30s`, `5m`, `1h30m`, `2d`)")]
pub struct DurationError {
    pub text: String,
    pub reason: String,
}

impl Duration {
    pub fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }

    pub fn std(self) -> std::time::Duration {
        self.0
    }

    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| DurationError { text: text.to_string(), reason };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(error("it is empty".into()));
        }
        if trimmed.chars().all(|c| c.is_ascii_digit()) {
            return Err(error("it has no unit".into()));
        }
        let parsed = humantime::parse_duration(trimmed).map_err(|e| error(e.to_string()))?;
        if parsed > MAX {
            return Err(error("it is longer than 100 years".into()));
        }
        Ok(Duration(parsed))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = humantime::format_duration(self.0).to_string();
        f.write_str(&text.replace(' ', ""))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!("30s".parse::<Duration>().unwrap(), Duration::from_secs(30));
        assert_eq!("1h30m".parse::<Duration>().unwrap(), Duration::from_secs(5400));
        assert_eq!("250ms".parse::<Duration>().unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn rejects_missing_units_and_garbage() {
        assert!("30".parse::<Duration>().unwrap_err().to_string().contains("no unit"));
        assert!("5 parsecs".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
        let huge = "18446744073709551615s".parse::<Duration>().unwrap_err();
        assert!(huge.to_string().contains("longer than 100 years"), "{huge}");
    }

    #[test]
    fn display_round_trips() {
        for text in ["1h30m", "250ms", "2days", "45s"] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d, "{text}");
        }
    }
}
