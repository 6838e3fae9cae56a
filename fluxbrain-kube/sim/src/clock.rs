//! The simulator's injected clock and duration text (`90s`, `1m30s`, `500ms`).
//!
//! The simulator never reads the wall clock for anything it reports: object timestamps, event
//! times, log `sinceSeconds` and script steps all use this clock, which only moves when
//! [`Simulator::advance`](super::Simulator::advance) is called (tests) or a real-time driver
//! advances it (`fluxbrain sim serve`).

use std::time::Duration;

use jiff::Timestamp;

/// A manual clock: a start instant plus the time advanced since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    start: Timestamp,
    elapsed: Duration,
}

impl Clock {
    /// A clock reading `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            start,
            elapsed: Duration::ZERO,
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> Timestamp {
        let span =
            jiff::SignedDuration::try_from(self.elapsed).unwrap_or(jiff::SignedDuration::MAX);
        self.start.checked_add(span).unwrap_or(Timestamp::MAX)
    }

    /// Time advanced since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.elapsed = self.elapsed.saturating_add(by);
    }
}

/// Parses a Go-style duration: a sequence of `<number><unit>` with units `ms`, `s`, `m`, `h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".to_string());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        let secs = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration {text:?}: unit must be ms, s, m or h"
                ));
            }
        };
        total = total.saturating_add(
            Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {text:?}"))?,
        );
        rest = tail;
    }
    Ok(total)
}

/// The API server's short human age (`45s`, `12m`, `3h5m`, `2d`), as Table cells show it.
pub(crate) fn human_age(secs: i64) -> String {
    let secs = secs.max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        let s = secs % 60;
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        let mm = m % 60;
        if mm == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{mm}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        let hh = h % 24;
        if hh == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{hh}h")
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        let dd = d % 365;
        if dd == 0 {
            format!("{}y", d / 365)
        } else {
            format!("{}y{dd}d", d / 365)
        }
    } else {
        format!("{}y", d / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(150), "2m30s");
        assert_eq!(human_age(1500), "25m");
        assert_eq!(human_age(4 * 3600 + 120), "4h2m");
        assert_eq!(human_age(30 * 3600), "30h");
        assert_eq!(human_age(3 * 86400 + 3600), "3d1h");
    }

    #[test]
    fn clock_advances_only_when_told() {
        let start = Timestamp::UNIX_EPOCH;
        let mut clock = Clock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now().as_second(), 61);
    }
}
