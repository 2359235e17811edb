//! Instants as the MEF APIs write them: RFC 3339 text, kept as given so it is echoed unchanged,
//! with the milliseconds since the epoch it stands for.

use std::fmt;
use std::str::FromStr;

/// An RFC 3339 date-time that keeps the text it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTime {
    text: String,
    millis: i64,
}

impl DateTime {
    /// Parses RFC 3339 text.
    pub fn parse(text: &str) -> Result<Self, String> {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| DateTime { text: text.to_owned(), millis: t.timestamp_millis() })
            .map_err(|e| format!("`{text}` is not an RFC 3339 date-time ({e})"))
    }

    /// The time `millis` after the epoch, written in UTC with milliseconds.
    pub fn from_millis(millis: i64) -> Self {
        let text = chrono::DateTime::from_timestamp_millis(millis)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        DateTime { text, millis }
    }

    /// Milliseconds since the epoch.
    pub fn millis(&self) -> i64 {
        self.millis
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for DateTime {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        DateTime::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_kept_and_the_instant_compared() {
        let t: DateTime = "2025-01-02T03:04:05+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2025-01-02T03:04:05+01:00");
        assert_eq!(t.millis(), DateTime::parse("2025-01-02T02:04:05Z").unwrap().millis());
        assert!("yesterday".parse::<DateTime>().unwrap_err().contains("`yesterday` is not an RFC 3339 date-time"));
        assert_eq!(DateTime::from_millis(0).as_str(), "1970-01-01T00:00:00.000Z");
    }
}
