//! Times as fluxbrain exports them: RFC 3339, UTC, `Z`, whole seconds.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, exported as RFC 3339 UTC with whole seconds (`2026-04-21T09:30:00Z`).
///
/// Sub-second precision is dropped on construction (towards the past), so equal exports mean
/// equal values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Timestamp);

impl Time {
    /// `ts` truncated to the whole second.
    pub fn new(ts: Timestamp) -> Self {
        let seconds = ts.as_second() - i64::from(ts.subsec_nanosecond() < 0);
        // Whole seconds of a valid timestamp are a valid timestamp.
        Time(Timestamp::from_second(seconds).unwrap_or(ts))
    }

    /// The Unix epoch.
    pub const UNIX_EPOCH: Time = Time(Timestamp::UNIX_EPOCH);

    /// The underlying timestamp.
    pub fn timestamp(self) -> Timestamp {
        self.0
    }

    /// `self` plus `seconds` (saturating at the ends of the supported range).
    pub fn add_seconds(self, seconds: i64) -> Time {
        let secs = self.0.as_second().saturating_add(seconds);
        Timestamp::from_second(secs).map_or(self, Time)
    }

    /// Parses an RFC 3339 time (any offset; sub-seconds are dropped).
    pub fn parse(s: &str) -> Option<Time> {
        crate::parse::fields::parse_rfc3339(s).map(Time::new)
    }
}

impl From<Timestamp> for Time {
    fn from(ts: Timestamp) -> Self {
        Time::new(ts)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // jiff prints whole-second UTC timestamps as `YYYY-MM-DDTHH:MM:SSZ`.
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Time::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_utc() {
        let t = Time::parse("2026-04-21T11:30:00.987+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-04-21T09:30:00Z");
        let before_epoch = Time::parse("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(before_epoch.to_string(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn rejects_go_time_string() {
        assert!(Time::parse("2026-04-21 09:14:07 +0000 UTC").is_none());
        assert!(Time::parse("2026-04-21 09:14:07Z").is_none());
    }
}
