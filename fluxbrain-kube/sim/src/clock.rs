//! The simulator's injected clock and the ages its Tables show.
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
